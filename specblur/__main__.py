"""``python -m specblur``: the same entry point as the ``specblur`` console script."""

from specblur.cli import main

if __name__ == "__main__":
    main()
