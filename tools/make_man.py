"""Regenerate the man pages in ``man/`` from the click app: ``python tools/make_man.py``.

``--target DIR`` writes them to DIR instead (the test suite compares that with ``man/``). The date is
fixed so the pages change only when the CLI does. click-man's library writes one page for
``specblur`` and one per subcommand (its command-line tool would pick the first click command it finds
in the entry point's module, since our entry point is a plain function).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAN_DATE = "2026-11-24"
ROOT = Path(__file__).resolve().parent.parent


def generate(target: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from click_man.core import write_man_pages

    from specblur import __version__
    from specblur.cli import cli

    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.1"):
        old.unlink()
    write_man_pages("specblur", cli, version=__version__, target_dir=str(target), date=MAN_DATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "man", help="where to write (default: man/)")
    args = parser.parse_args()
    generate(args.target)
    print(f"wrote {len(list(args.target.glob('*.1')))} man pages to {args.target}")


if __name__ == "__main__":
    main()
