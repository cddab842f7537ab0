"""A model's runtime form: what an edit needs, loaded without torch.

One ``NAME.onnx.npz`` file (a zip of numpy arrays, read with ``allow_pickle=False``: loading runs
no code) holds the encoder and decoder as ONNX graphs (:mod:`specblur.learn.export` writes them), the
prior's count tables per level, and a JSON record: format version, the model's config, its weight
hash (what code files are tied to, the same as its training checkpoint's), the prior's scalars,
what training saw, a sha256 of each array, and a sha256 over the record itself. The record is checked
on every load; each array is read and checked when an edit first needs it (an edit with one prior never
reads the other's tables; version 1 files, which carry one hash over everything, are checked whole).

``train``, ``fit-prior`` and ``tools/bundle_model.py`` write it beside the training checkpoint
(``NAME.pt``, which only training reads). :class:`RuntimeModel` offers the attributes the edit
path uses (``model.encode``, ``model.decode``, ``model.spectrogram``, ``prior``, ``name``,
``hash``), computed with numpy (:mod:`specblur.runtime.dsp`) and onnxruntime (:mod:`specblur.runtime.onnx_model`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specblur.config import Config
from specblur.errors import CheckpointError, first_line
from specblur.priors.naive_bayes import LevelPrior
from specblur.version import __version__

FORMAT = "specblur-runtime"
FORMAT_VERSION = 2
READS_VERSIONS = (1, 2)
SUFFIX = ".onnx.npz"
_PRIOR_ARRAYS = ("class_count", "neighbour_count", "row_count")


@dataclass
class Codes:
    """Code maps of a batch of images: ``(batch, rows, columns)`` int64 per level."""

    top: np.ndarray
    bottom: np.ndarray


class Engine:
    """The VQ-VAE at run time: features by :class:`specblur.runtime.dsp.Features`, codes by onnxruntime."""

    def __init__(
        self,
        encoder: bytes,
        decoder: bytes,
        threads: int | None = None,
        graphs: Callable[[], tuple[bytes, bytes]] | None = None,
        origin: str = "the model",
    ) -> None:
        """``threads``: onnxruntime's intra-op threads (default :func:`specblur.runtime.session.default_threads`);
        ``graphs``: gives the two graphs' bytes again, for :meth:`with_threads` (default: these);
        ``origin``: what an error names (the file). The sessions are made on first use
        (:class:`~specblur.runtime.onnx_model.OnnxModel`)."""
        from specblur.runtime.dsp import Features
        from specblur.runtime.onnx_model import OnnxModel

        self.onnx = OnnxModel(encoder, decoder, threads, origin)
        self._origin = origin
        self.config: Config = self.onnx.config
        self.cell = self.onnx.cell
        self.spectrogram = Features(self.config.spectrogram)
        self._graphs = graphs if graphs is not None else (lambda: (encoder, decoder))

    def with_threads(self, threads: int) -> Engine:
        """The same model on sessions of their own with ``threads`` intra-op threads (for a worker
        thread that runs beside others: its runs do not queue on a shared pool)."""
        return Engine(*self._graphs(), threads=threads, graphs=self._graphs, origin=self._origin)

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
    """A model ready for edits (the runtime counterpart of :class:`specblur.learn.checkpoint.LoadedModel`)."""

    model: Engine
    name: str
    hash: str
    path: Path | None = None
    training: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, LevelPrior] = field(default_factory=dict)
    prior_nn: dict[str, Any] = field(default_factory=dict)
    """The neural prior per level (:class:`specblur.priors.transformer.NeuralPrior`), where trained."""
    default_prior: str = "naive-bayes"

    def with_threads(self, threads: int) -> RuntimeModel:
        """The same model for a worker thread: onnxruntime sessions of its own (the encoder, the
        decoder, the neural priors) with ``threads`` intra-op threads each; the Naive Bayes tables are
        shared (they are only read). The results are the same bytes (onnxruntime's do not depend on
        its thread count)."""
        prior_nn = self.prior_nn.with_threads(threads) if isinstance(self.prior_nn, _NeuralPriors) else self.prior_nn
        return dataclasses.replace(self, model=self.model.with_threads(threads), prior_nn=prior_nn)


class _LazyLevels(dict):
    """level -> a prior built on first use (``_build``); ``dict(...)``, ``items()`` and ``values()``
    build too, so a copy never holds a placeholder."""

    def __init__(self, levels: Any) -> None:
        super().__init__({level: None for level in levels})
        self._lock = threading.Lock()  # worker threads that share the priors build each once

    def _build(self, level: str) -> Any:
        raise NotImplementedError

    def __getitem__(self, level: str) -> Any:
        prior = super().__getitem__(level)
        if prior is None:
            with self._lock:
                prior = super().__getitem__(level)
                if prior is None:
                    prior = self._build(level)
                    super().__setitem__(level, prior)
        return prior

    def __iter__(self) -> Any:
        return iter(list(super().keys()))

    def get(self, level: str, default: Any = None) -> Any:
        return self[level] if level in self else default

    def values(self) -> Any:
        return [self[level] for level in self]

    def items(self) -> Any:
        return [(level, self[level]) for level in self]


class _NeuralPriors(_LazyLevels):
    """The neural prior per level, its onnxruntime session built on first use (an edit that uses
    the Naive Bayes prior never pays for it). The graphs' bytes are verified with the file."""

    def __init__(
        self, graphs: dict[str, Any], num_codes: dict[str, int], path: Path, threads: int | None = None
    ) -> None:
        """``graphs``: level -> the file's arrays (its graph is ``prior_nn.LEVEL`` there); ``threads``:
        the sessions' intra-op threads (default: the runtime's)."""
        super().__init__(graphs)
        self._graphs, self._num_codes, self._path, self._threads = graphs, num_codes, path, threads

    def with_threads(self, threads: int) -> _NeuralPriors:
        """The same priors on sessions of their own with ``threads`` threads (built on first use)."""
        return _NeuralPriors(self._graphs, self._num_codes, self._path, threads)

    def _build(self, level: str) -> Any:
        from specblur.priors.transformer import NeuralPrior

        try:
            prior = NeuralPrior(self._graphs[level][f"prior_nn.{level}"].tobytes(), self._threads)
        except CheckpointError:
            raise
        except Exception as exc:  # onnxruntime raises its own kinds for damaged graphs
            raise CheckpointError(f"{self._path}: the {level} neural prior does not load ({exc})") from exc
        if prior.num_codes != self._num_codes[level]:
            raise CheckpointError(f"{self._path}: the {level} neural prior does not match the model")
        return prior


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "content_sha256"}, sort_keys=True).encode())
    for key in sorted(arrays):
        _update(h, key, arrays[key])
    return h.hexdigest()


def _update(h: Any, key: str, array: np.ndarray) -> Any:
    a = np.ascontiguousarray(array)
    h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h


def _member_digest(key: str, array: np.ndarray) -> str:
    return _update(hashlib.sha256(), key, array).hexdigest()


class _Members:
    """The file's arrays, each read and checked against its recorded sha256 on first use."""

    def __init__(self, archive: Any, digests: dict[str, str], path: Path) -> None:
        self._archive, self._digests, self._path = archive, digests, path
        self._cache: dict[str, np.ndarray] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._digests

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            if key not in self._digests:
                raise CheckpointError(f"{self._path}: not a complete model file (no {key!r})")
            try:
                array = self._archive[key]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
                raise CheckpointError(f"{self._path}: corrupt or truncated model file ({first_line(exc)})") from exc
            if _member_digest(key, array) != self._digests[key]:
                raise CheckpointError(f"{self._path}: {key} does not match its recorded hash; the file is damaged")
            self._cache[key] = array
        return self._cache[key]


class _LevelPriors(_LazyLevels):
    """The Naive Bayes prior per level, built from its tables on first use."""

    def __init__(self, scalars: dict[str, Any], members: Any, num_codes: dict[str, int], path: Path) -> None:
        super().__init__(scalars)
        self._scalars, self._members, self._num_codes, self._path = scalars, members, num_codes, path

    def _build(self, level: str) -> LevelPrior:
        tables = {key: self._members[f"prior.{level}.{key}"] for key in _PRIOR_ARRAYS}
        try:
            prior = LevelPrior.from_arrays(self._scalars[level], tables)
        except Exception as exc:
            raise CheckpointError(f"{self._path}: the {level} prior does not load ({first_line(exc)})") from exc
        if prior.num_codes != self._num_codes[level]:
            raise CheckpointError(f"{self._path}: prior for level {level!r} does not match the model")
        return prior


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
    meta["members"] = {key: _member_digest(key, array) for key, array in arrays.items()}
    meta["content_sha256"] = _digest(meta, {})
    buffer = io.BytesIO()
    # stored, not deflated: loading is the start of every edit, and the graphs' floats hardly compress
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def load(path: Path | str) -> RuntimeModel:
    """Load and verify a runtime file; every failure is a :class:`CheckpointError` naming the file.

    The record and the encoder and decoder are read and checked here; a prior's arrays when an edit
    first uses that prior (the archive stays open for that, as long as the model lives)."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        meta_bytes = archive["meta"]
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file") from exc
    except KeyError as exc:
        raise CheckpointError(f"{path}: not a specblur model file") from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated model file ({first_line(exc)}); re-copy it") from exc
    try:
        meta = json.loads(meta_bytes.tobytes().decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a specblur model file") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a specblur model file")
    if meta.get("format_version") not in READS_VERSIONS:
        raise CheckpointError(
            f"{path}: model format version {meta.get('format_version')}, this specblur ({__version__}) reads "
            f"versions {', '.join(map(str, READS_VERSIONS))}; export the model again (tools/bundle_model.py) "
            "or use a matching specblur"
        )
    damaged = f"{path}: contents do not match the hash recorded in the file; the file is damaged"
    if meta["format_version"] == 1:  # one hash over everything: read it all now
        try:
            arrays = {key: archive[key] for key in archive.files if key != "meta"}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise CheckpointError(f"{path}: corrupt or truncated model file ({first_line(exc)}); re-copy it") from exc
        if _digest(meta, arrays) != meta.get("content_sha256"):
            raise CheckpointError(damaged)
        members: Any = arrays
    else:
        digests = meta.get("members")
        if not isinstance(digests, dict) or _digest(meta, {}) != meta.get("content_sha256"):
            raise CheckpointError(damaged)
        if set(digests) != set(archive.files) - {"meta"}:
            raise CheckpointError(damaged)
        members = _Members(archive, digests, path)
    try:
        engine = Engine(
            members["encoder"].tobytes(),
            members["decoder"].tobytes(),
            graphs=lambda: (members["encoder"].tobytes(), members["decoder"].tobytes()),
            origin=str(path),
        )
    except CheckpointError:
        raise
    except Exception as exc:  # onnxruntime raises its own kinds for damaged graphs
        raise CheckpointError(f"{path}: does not load ({first_line(exc)}); export the model again") from exc
    if engine.onnx.hash != meta.get("model_hash"):
        raise CheckpointError(f"{path}: its graphs belong to another model than its record says")
    num_codes = {level: getattr(engine.config.model, level).num_codes for level in ("top", "bottom")}
    scalars = dict(meta.get("prior") or {})
    if any(level not in num_codes for level in scalars) or any(
        f"prior.{level}.{key}" not in members for level in scalars for key in _PRIOR_ARRAYS
    ):
        raise CheckpointError(f"{path}: not a complete model file (prior tables missing)")
    prior = _LevelPriors(scalars, members, num_codes, path)
    levels = list(meta.get("prior_nn") or [])
    if any(f"prior_nn.{level}" not in members for level in levels):
        raise CheckpointError(f"{path}: not a complete model file (neural prior missing)")
    prior_nn = _NeuralPriors({level: members for level in levels}, num_codes, path)
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
