"""Edits: the options of an edit (:mod:`~specblur.edit.options`), where it happens
(:mod:`~specblur.edit.plan`, :mod:`~specblur.edit.region`), the effects (:mod:`~specblur.edit.effects`),
an edit of samples in memory (:mod:`~specblur.edit.segment`) and of files
(:mod:`~specblur.edit.on_file`), and audio to codes and back (:mod:`~specblur.edit.codec`).

The faces (the command line, the editor, the Python API in :mod:`specblur`) are thin layers over the
names below. Nothing here imports torch or :mod:`specblur.learn`. The names load on first use, so
the command line can read :mod:`specblur.edit.options`' limits without numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "check_codes": "codec",
    "decode": "codec",
    "encode": "codec",
    "FileEdit": "on_file",
    "blur_file": "on_file",
    "blur_file_regions": "on_file",
    "edit_in_place": "on_file",
    "EditOptions": "options",
    "Plan": "plan",
    "plan": "plan",
    "BlurResult": "segment",
    "blur": "segment",
    "edit_segment": "segment",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specblur.edit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specblur.edit.{_WHERE[name]}"), name)
