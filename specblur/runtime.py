"""A model's runtime form: what an edit needs, loaded without torch.

One ``NAME.onnx.npz`` file (a zip of numpy arrays, read with ``allow_pickle=False``: loading runs
no code) holds the encoder and decoder as ONNX graphs (:mod:`specblur.export` writes them), the
prior's count tables per level, and a JSON record: format version, the model's config, its weight
hash (what code files are tied to, the same as its training checkpoint's), the prior's scalars,
what training saw, and a sha256 over everything else in the file, checked on every load.

``train``, ``fit-prior`` and ``tools/bundle_model.py`` write it beside the training checkpoint
(``NAME.pt``, which only training reads). :class:`RuntimeModel` offers the attributes the edit
path uses (``model.encode``, ``model.decode``, ``model.spectrogram``, ``prior``, ``name``,
``hash``), computed with numpy (:mod:`specblur.dsp`) and onnxruntime (:mod:`specblur.onnx_model`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specblur import __version__
from specblur.config import Config
from specblur.errors import CheckpointError
from specblur.prior import LevelPrior

FORMAT = "specblur-runtime"
FORMAT_VERSION = 1
SUFFIX = ".onnx.npz"
_PRIOR_ARRAYS = ("class_count", "neighbour_count", "row_count")


@dataclass
class Codes:
    """Code maps of a batch of images: ``(batch, rows, columns)`` int64 per level."""

    top: np.ndarray
    bottom: np.ndarray


class Engine:
    """The VQ-VAE at run time: features by :class:`specblur.dsp.Features`, codes by onnxruntime."""

    def __init__(self, encoder: bytes, decoder: bytes) -> None:
        from specblur.dsp import Features
        from specblur.onnx_model import OnnxModel

        self.onnx = OnnxModel(encoder, decoder)
        self.config: Config = self.onnx.config
        self.cell = self.onnx.cell
        self.spectrogram = Features(self.config.spectrogram)

    def code_shape(self, frames: int) -> dict[str, tuple[int, int]]:
        return self.onnx.code_shape(frames)

    def encode(self, images: np.ndarray) -> Codes:
        """Images ``(batch, 1, bins, frames)`` → their codes."""
        top, bottom = self.onnx.encode(images)
        return Codes(top=top, bottom=bottom)

    def decode(self, codes: Codes, frames: int) -> np.ndarray:
        """Codes → images ``(batch, 1, bins, frames)``."""
        return self.onnx.decode(codes.top, codes.bottom, frames)


@dataclass
class RuntimeModel:
    """A model ready for edits (the runtime counterpart of :class:`specblur.checkpoint.LoadedModel`)."""

    model: Engine
    name: str
    hash: str
    path: Path | None = None
    training: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, LevelPrior] = field(default_factory=dict)
    prior_nn: dict[str, Any] = field(default_factory=dict)
    """The neural prior per level (:class:`specblur.prior_nn_runtime.NeuralPrior`), where trained."""
    default_prior: str = "naive-bayes"


class _NeuralPriors(dict):
    """The neural prior per level, its onnxruntime session built on first use (an edit that uses
    the Naive Bayes prior never pays for it). The graphs' bytes are verified with the file."""

    def __init__(self, graphs: dict[str, bytes], num_codes: dict[str, int], path: Path) -> None:
        super().__init__({level: None for level in graphs})
        self._graphs, self._num_codes, self._path = graphs, num_codes, path

    def __getitem__(self, level: str) -> Any:
        prior = super().__getitem__(level)
        if prior is None:
            from specblur.prior_nn_runtime import NeuralPrior

            try:
                prior = NeuralPrior(self._graphs[level])
            except Exception as exc:  # onnxruntime raises its own kinds for damaged graphs
                raise CheckpointError(f"{self._path}: the {level} neural prior does not load ({exc})") from exc
            if prior.num_codes != self._num_codes[level]:
                raise CheckpointError(f"{self._path}: the {level} neural prior does not match the model")
            super().__setitem__(level, prior)
        return prior

    def get(self, level: str, default: Any = None) -> Any:
        return self[level] if level in self else default

    def values(self) -> Any:
        return [self[level] for level in self]

    def items(self) -> Any:
        return [(level, self[level]) for level in self]


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "content_sha256"}, sort_keys=True).encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def to_bytes(
    encoder: bytes,
    decoder: bytes,
    name: str,
    model_hash: str,
    config: Config,
    prior: dict[str, LevelPrior] | None = None,
    training: dict[str, Any] | None = None,
    prior_nn: dict[str, bytes] | None = None,
    default_prior: str = "naive-bayes",
) -> bytes:
    """The runtime file's bytes (``np.savez`` layout)."""
    arrays: dict[str, np.ndarray] = {
        "encoder": np.frombuffer(encoder, dtype=np.uint8),
        "decoder": np.frombuffer(decoder, dtype=np.uint8),
    }
    priors = {}
    for level, p in (prior or {}).items():
        scalars, tables = p.to_arrays()
        priors[level] = scalars
        for key, table in tables.items():
            arrays[f"prior.{level}.{key}"] = table
    for level, graph in (prior_nn or {}).items():
        arrays[f"prior_nn.{level}"] = np.frombuffer(graph, dtype=np.uint8)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "specblur_version": __version__,
        "name": name,
        "model_hash": model_hash,
        "config": config.to_dict(),
        "prior": priors,
        "prior_nn": sorted(prior_nn or {}),
        "default_prior": default_prior,
        "training": json.loads(json.dumps(training or {}, default=_jsonable)),
    }
    meta["content_sha256"] = _digest(meta, arrays)
    buffer = io.BytesIO()
    # stored, not deflated: loading is the start of every edit, and the graphs' floats hardly compress
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def load(path: Path | str) -> RuntimeModel:
    """Load and verify a runtime file; every failure is a :class:`CheckpointError` naming the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file") from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated model file ({_first_line(exc)}); re-copy it") from exc
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a specblur model file") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a specblur model file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model format version {meta.get('format_version')}, this specblur ({__version__}) reads "
            f"version {FORMAT_VERSION}; export the model again (tools/bundle_model.py) or use a matching specblur"
        )
    if _digest(meta, arrays) != meta.get("content_sha256"):
        raise CheckpointError(f"{path}: contents do not match the hash recorded in the file; the file is damaged")
    try:
        engine = Engine(arrays["encoder"].tobytes(), arrays["decoder"].tobytes())
        prior = {}
        for level, scalars in (meta.get("prior") or {}).items():
            tables = {key: arrays[f"prior.{level}.{key}"] for key in _PRIOR_ARRAYS}
            prior[level] = LevelPrior.from_arrays(scalars, tables)
            if getattr(engine.config.model, level).num_codes != prior[level].num_codes:
                raise ValueError(f"prior for level {level!r} does not match the model")
        prior_nn = _NeuralPriors(
            {level: arrays[f"prior_nn.{level}"].tobytes() for level in meta.get("prior_nn") or []},
            {level: getattr(engine.config.model, level).num_codes for level in ("top", "bottom")},
            path,
        )
    except CheckpointError:
        raise
    except Exception as exc:  # onnxruntime raises its own kinds for damaged graphs
        raise CheckpointError(f"{path}: does not load ({_first_line(exc)}); export the model again") from exc
    if engine.onnx.hash != meta.get("model_hash"):
        raise CheckpointError(f"{path}: its graphs belong to another model than its record says")
    return RuntimeModel(
        engine,
        str(meta.get("name", path.name)),
        str(meta["model_hash"]),
        path,
        dict(meta.get("training") or {}),
        prior,
        prior_nn,
        str(meta.get("default_prior") or "naive-bayes"),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
