"""``--model NAME|PATH`` to a model ready to edit with, loaded once per process and file (a batch or a
script pays for loading once). Edits run on the model's runtime form (numpy and onnxruntime); a
training checkpoint (``.pt``) is converted by the training side, which the caller passes in as
``convert`` where torch is installed (:func:`specblur.load_model` does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from specblur.runtime import registry
from specblur.runtime.model import RuntimeModel, load

_LOADED: dict[str, RuntimeModel] = {}

Convert = Callable[[Path, Path], Path]
"""``(checkpoint.pt, target.onnx.npz) -> target``: writes a checkpoint's runtime form."""


def load_model(spec: Any = None, convert: Convert | None = None) -> RuntimeModel:
    """A loaded :class:`RuntimeModel` (returned as it is), or a name or path (``None``: the default
    model) resolved by :func:`specblur.runtime.registry.resolve_runtime` and loaded once."""
    if isinstance(spec, RuntimeModel):
        return spec
    path = registry.resolve_runtime(spec, convert)
    key = f"{path.resolve()}:{path.stat().st_mtime_ns}"
    if key not in _LOADED:
        _LOADED[key] = load(path)
    return _LOADED[key]


def remember(key: str, build: Callable[[], RuntimeModel]) -> RuntimeModel:
    """The model cached under ``key``, built by ``build()`` the first time."""
    if key not in _LOADED:
        _LOADED[key] = build()
    return _LOADED[key]
