"""Training side to runtime: a checkpoint's (or an in-memory trained model's) runtime form, the
file edits load (:mod:`specblur.runtime.model`). The runtime never imports this; the faces pass it
in where torch is installed (:func:`specblur.load_model`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from specblur.learn import checkpoint, export
from specblur.runtime import loader
from specblur.runtime.model import RuntimeModel, load


def write_runtime_file(source: Path, target: Path) -> Path:
    """Convert the checkpoint ``source`` into the runtime file ``target`` (atomically)."""
    return export.write_runtime(checkpoint.load(source), target)


def runtime_of(trained: Any) -> RuntimeModel:
    """The runtime form of a :class:`~specblur.learn.checkpoint.LoadedModel` held in memory, made
    once per model and prior."""

    def build() -> RuntimeModel:
        with tempfile.TemporaryDirectory() as folder:
            return load(export.write_runtime(trained, Path(folder) / f"{trained.name}.onnx.npz"))

    return loader.remember(f"loaded:{trained.hash}:{id(trained.prior)}", build)
