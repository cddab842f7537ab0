"""The committed man pages match what the click app generates now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_man_pages_are_current(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_man.py"), "--target", str(tmp_path)], check=True)
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.1")}
    committed = {p.name: p.read_text() for p in (ROOT / "man").glob("*.1")}
    assert "specblur.1" in fresh and "specblur-train.1" in fresh
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"man pages out of date: {stale}; run 'python tools/make_man.py'"
