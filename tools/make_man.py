"""Regenerate the man pages in ``man/`` from the click app: ``python tools/make_man.py``.

``--target DIR`` writes them to DIR instead (the test suite compares that with ``man/``). The date is
fixed so the pages change only when the CLI does. Needs specblur installed (click-man reads the
console-script entry point).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

MAN_DATE = "2026-11-24"
ROOT = Path(__file__).resolve().parent.parent


def generate(target: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from specblur import __version__

    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.1"):
        old.unlink()
    click_man = Path(sys.executable).with_name("click-man")
    subprocess.run(
        [str(click_man), "--target", str(target), "--man-version", __version__, "--man-date", MAN_DATE, "specblur"],
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "man", help="where to write (default: man/)")
    args = parser.parse_args()
    generate(args.target)
    print(f"wrote {len(list(args.target.glob('*.1')))} man pages to {args.target}")


if __name__ == "__main__":
    main()
