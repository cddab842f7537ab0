"""The VQ-VAE's encoder and decoder on onnxruntime: the runtime side, numpy and onnxruntime only (no torch).

:class:`OnnxModel` loads the two graphs written by :func:`specblur.learn.export.export_onnx` and offers
:meth:`~OnnxModel.encode` and :meth:`~OnnxModel.decode` with the semantics of
:meth:`specblur.learn.model.VQVAE2.encode` and :meth:`~specblur.learn.model.VQVAE2.decode`: images of any width
are padded here with the floor value to whole top-level code cells (the graphs take padded sizes
only), and decoded images are cropped back to ``frames``.

Measured against torch (``tests/test_onnx_model.py``): the code maps are identical for the bundled
default model and the tiny preset at every width tried (1 to 251 frames, real and random images);
decoded images agree within 2e-6 (the test allows 1e-4). Exporting takes 5-8 s for the default model
(see :mod:`specblur.learn.export`). Speed on a 4 s clip (251 frames, batch 1), default model, one thread
each, best of 40 on a shared 2-core machine: encode 9.6 ms here against 14 ms with torch, decode
8.3 ms against 11 ms. With two threads onnxruntime was no faster on that machine, and torch's
OpenMP threads slowed down badly whenever the other core was busy; onnxruntime's pool threads are
told not to spin here, so they do not compete with the numpy work between calls.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from specblur.config import Config
from specblur.errors import CheckpointError, first_line
from specblur.runtime.session import default_threads, session

FORMAT = "specblur-onnx"
FORMAT_VERSION = 1


class OnnxModel:
    """Encoder and decoder sessions of one exported model.

    ``encoder`` and ``decoder`` are the serialised graphs (:class:`specblur.learn.export.OnnxExport`'s
    fields, or the bytes of the ``.onnx`` files); ``threads`` is onnxruntime's intra-op thread count
    (default: up to 4, never more than the machine has).
    """

    def __init__(self, encoder: bytes, decoder: bytes, threads: int | None = None, origin: str = "the model") -> None:
        self.origin = origin
        self.threads = default_threads() if threads is None else threads
        # the graphs' metadata is read from their bytes; the sessions are made when first run, so a
        # model whose edits all run on other sessions (a whole-file edit's tile workers, which run
        # their own: :meth:`specblur.runtime.model.RuntimeModel.with_threads`) never holds these
        # (the two, one intra-op thread each, took 9.4 MB of a process's memory)
        self._graphs: dict[str, bytes] | None = {"encoder": bytes(encoder), "decoder": bytes(decoder)}
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        meta = graph_metadata(encoder)
        other = graph_metadata(decoder)
        if meta.get("specblur.format") != FORMAT or meta.get("specblur.role") != "encoder":
            raise ValueError("not a specblur ONNX encoder (no specblur metadata)")
        if other.get("specblur.role") != "decoder":
            raise ValueError("not a specblur ONNX decoder (no specblur metadata)")
        if meta.get("specblur.format_version") != str(FORMAT_VERSION):
            raise ValueError(
                f"specblur ONNX format version {meta.get('specblur.format_version')}, this version reads "
                f"{FORMAT_VERSION}; export the model again"
            )
        if other.get("specblur.model_hash") != meta.get("specblur.model_hash"):
            raise ValueError("the ONNX encoder and decoder come from different models")
        self.metadata: dict[str, str] = dict(meta)
        self.config = Config.from_dict(json.loads(meta["specblur.config"]))
        self.hash: str = meta["specblur.model_hash"]
        self.cell: dict[str, tuple[int, int]] = {
            "top": tuple(json.loads(meta["specblur.cell_top"])),  # type: ignore[dict-item]
            "bottom": tuple(json.loads(meta["specblur.cell_bottom"])),  # type: ignore[dict-item]
        }
        self.floor_value = float(meta["specblur.floor_value"])

    def _session(self, role: str) -> Any:
        """The ``role`` graph's session, made on first use (under a lock: worker threads may share the
        model); once both are made the graphs' bytes are let go."""
        made = self._sessions.get(role)
        if made is None:
            with self._lock:
                made = self._sessions.get(role)
                if made is None:
                    assert self._graphs is not None
                    try:
                        made = session(self._graphs[role], self.threads)
                    except Exception as exc:  # onnxruntime raises its own kinds for damaged graphs
                        raise CheckpointError(
                            f"{self.origin}: the {role} does not load ({first_line(exc)}); export the model again"
                        ) from exc
                    self._sessions[role] = made
                    if len(self._sessions) == 2:
                        self._graphs = None
        return made

    @classmethod
    def from_export(cls, export: Any, threads: int | None = None) -> OnnxModel:
        """From a :class:`specblur.learn.export.OnnxExport` (or anything with ``encoder`` and ``decoder`` bytes)."""
        return cls(export.encoder, export.decoder, threads)

    # -- geometry (as VQVAE2) --------------------------------------------------------------------
    @property
    def n_bins(self) -> int:
        return self.config.spectrogram.n_bins

    def code_shape(self, frames: int) -> dict[str, tuple[int, int]]:
        """(rows, columns) of each level's code map for an image of ``frames`` frames."""
        ftop, ttop = self.cell["top"]
        bins = -(-self.n_bins // ftop) * ftop
        padded = -(-frames // ttop) * ttop
        return {level: (bins // fb, padded // tb) for level, (fb, tb) in self.cell.items()}

    def _pad(self, images: np.ndarray) -> np.ndarray:
        fb, tb = self.cell["top"]
        bins, frames = images.shape[-2:]
        pad_f, pad_t = -bins % fb, -frames % tb
        if not pad_f and not pad_t:
            return images
        return np.pad(images, [(0, 0), (0, 0), (0, pad_f), (0, pad_t)], constant_values=np.float32(self.floor_value))

    # -- the two halves --------------------------------------------------------------------------
    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images ``(batch, 1, bins, frames)`` → (top, bottom) int64 code maps ``(batch, rows, columns)``."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] != self.n_bins:
            raise ValueError(f"expected images (batch, 1, {self.n_bins}, frames), got {images.shape}")
        if images.shape[-1] < 1:
            raise ValueError("cannot encode an image of 0 frames")
        top, bottom = self._session("encoder").run(None, {"images": np.ascontiguousarray(self._pad(images))})
        return top, bottom

    def decode(self, top: np.ndarray, bottom: np.ndarray, frames: int) -> np.ndarray:
        """Code maps → images ``(batch, 1, bins, frames)`` float32, cropped to ``frames``."""
        top = np.ascontiguousarray(top, dtype=np.int64)
        bottom = np.ascontiguousarray(bottom, dtype=np.int64)
        if top.ndim != 3 or bottom.ndim != 3 or top.shape[0] != bottom.shape[0]:
            raise ValueError(f"expected code maps (batch, rows, columns), got {top.shape} and {bottom.shape}")
        shape = self.code_shape(top.shape[2] * self.cell["top"][1])
        for level, codes in (("top", top), ("bottom", bottom)):
            if codes.shape[1:] != shape[level]:
                raise ValueError(
                    f"{level} code map of shape {codes.shape[1:]} does not fit the model (expected {shape[level]})"
                )
            num_codes = getattr(self.config.model, level).num_codes
            if codes.size and (codes.min() < 0 or codes.max() >= num_codes):
                raise ValueError(f"{level} code map has codes outside 0..{num_codes - 1}")
        (images,) = self._session("decoder").run(None, {"top": top, "bottom": bottom})
        return images[..., : self.n_bins, :frames]


def graph_metadata(data: bytes) -> dict[str, str]:
    """The ``metadata_props`` of a serialised ONNX ``ModelProto`` (what onnxruntime's
    ``get_modelmeta().custom_metadata_map`` gives), read from the protobuf's top-level fields without
    building a session. Raises ``ValueError`` for bytes that are not a protobuf message."""
    view = memoryview(data)
    meta: dict[str, str] = {}
    at = 0
    while at < len(view):
        key, at = _varint(view, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(view, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            size, at = _varint(view, at)
            if at + size > len(view):
                raise ValueError("truncated ONNX graph")
            if field == 14:  # ModelProto.metadata_props: StringStringEntryProto (key 1, value 2)
                entry = _strings(view[at : at + size])
                meta[entry.get(1, "")] = entry.get(2, "")
            at += size
        else:
            raise ValueError(f"not an ONNX graph (protobuf wire type {wire})")
    if at != len(view):
        raise ValueError("truncated ONNX graph")
    return meta


def _varint(view: memoryview, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(view) or shift > 63:
            raise ValueError("truncated ONNX graph")
        byte = view[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _strings(view: memoryview) -> dict[int, str]:
    """The length-delimited fields of a small message, as UTF-8 text by field number."""
    out: dict[int, str] = {}
    at = 0
    while at < len(view):
        key, at = _varint(view, at)
        if key & 7 != 2:
            raise ValueError("not an ONNX metadata entry")
        size, at = _varint(view, at)
        out[key >> 3] = bytes(view[at : at + size]).decode("utf-8")
        at += size
    return out
