"""Export a model's encoder and decoder to ONNX, for the torch-free runtime (:mod:`specblur.runtime.onnx_model`).

Training side: this module imports torch (and the exporter needs ``onnx`` and ``onnxscript``). Two
graphs, opset 17, batch and time axes dynamic:

* encoder: ``images`` ``(batch, 1, bins, frames)`` float32, already padded with the floor value to a
  multiple of the top code cell on both axes → ``top`` and ``bottom`` int64 code maps. Padding stays
  outside the graph, since a traced ``F.pad`` would freeze the sizes it saw.
* decoder: ``top`` and ``bottom`` int64 code maps → ``images`` of the padded size (the caller crops).

The graphs do exactly what :meth:`VQVAE2.encode` and :meth:`VQVAE2.decode` do, in the same order of
operations: the nearest codeword by the same expanded squared distance, the top level's quantised map
passed on as the straight-through value ``z + (e - z)`` (which is not always bit-equal to ``e``), so
the only difference left is float rounding inside onnxruntime's convolutions, which could flip a
near-tie between two codewords in principle; on every input tested the codes were identical. The
config, the model's
hash and the geometry travel in each graph's metadata (``specblur.*`` keys), so the runtime needs
nothing else.

Exporting both graphs of the default model takes about 7 s the first time in a process and 5 s
after that (2 CPU cores shared with other work; torch 2.14's ``torch.export``-based exporter with
onnxscript's optimiser, then a conversion from the exporter's opset 18 down to 17); the tiny preset
takes 4.5 s. The graphs are 1.8 MB and 1.3 MB for the default model (float32 weights).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specblur.learn.model import VQVAE2

OPSET = 17
FORMAT = "specblur-onnx"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class OnnxExport:
    """The two serialised ONNX graphs of one model, and how long exporting them took."""

    encoder: bytes
    decoder: bytes
    seconds: float


def _nearest(z: Tensor, codebook: Tensor) -> Tensor:
    """:meth:`VectorQuantizer.nearest` on ``(..., D)`` vectors, shaped back to ``z.shape[:-1]``."""
    flat = z.reshape(-1, codebook.shape[1])
    distances = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ codebook.t() + codebook.pow(2).sum(1).unsqueeze(0)
    return distances.argmin(1).reshape(z.shape[:-1])


class _Encoder(nn.Module):
    """Padded images → (top, bottom) code maps, as ``VQVAE2._quantize`` in eval mode."""

    def __init__(self, model: VQVAE2) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        m = self.model
        h_bottom = m.enc_bottom(images)
        h_top = m.enc_top(h_bottom)
        z_top = m.pre_top(h_top).permute(0, 2, 3, 1)
        top = _nearest(z_top, m.quant_top.codebook)
        e_top = F.embedding(top, m.quant_top.codebook)
        top_map = (z_top + (e_top - z_top)).permute(0, 3, 1, 2)  # the straight-through value torch passes on
        cond = m.dec_top(top_map)
        z_bottom = m.pre_bottom(torch.cat([h_bottom, cond], 1)).permute(0, 2, 3, 1)
        bottom = _nearest(z_bottom, m.quant_bottom.codebook)
        return top, bottom


class _Decoder(nn.Module):
    """(top, bottom) code maps → images of the padded size, as :meth:`VQVAE2.decode` before cropping."""

    def __init__(self, model: VQVAE2) -> None:
        super().__init__()
        self.model = model

    def forward(self, top: Tensor, bottom: Tensor) -> Tensor:
        m = self.model
        top_map = F.embedding(top, m.quant_top.codebook).permute(0, 3, 1, 2)
        bottom_map = F.embedding(bottom, m.quant_bottom.codebook).permute(0, 3, 1, 2)
        return m._decode_quantized(top_map, bottom_map)


def metadata(model: VQVAE2, model_hash: str | None = None) -> dict[str, str]:
    """What the runtime needs besides the graphs: config, hash and geometry, as strings."""
    if model_hash is None:
        from specblur.learn.checkpoint import model_hash as compute

        model_hash = compute(model)
    cell = model.cell
    return {
        "specblur.format": FORMAT,
        "specblur.format_version": str(FORMAT_VERSION),
        "specblur.config": json.dumps(model.config.to_dict(), sort_keys=True),
        "specblur.model_hash": model_hash,
        "specblur.cell_top": json.dumps(list(cell["top"])),
        "specblur.cell_bottom": json.dumps(list(cell["bottom"])),
        "specblur.floor_value": repr(float(model.spectrogram.floor_value)),
    }


def _serialise(program: Any, meta: dict[str, str], role: str) -> bytes:
    proto = program.model_proto
    del proto.metadata_props[:]
    for key, value in {**meta, "specblur.role": role}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs warnings about the opset conversion and missing torchvision; not ours to show."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(model: Any, example_top_cells: int = 3) -> OnnxExport:
    """Export ``model`` (a :class:`VQVAE2` or a :class:`~specblur.learn.checkpoint.LoadedModel`) as two ONNX
    graphs (see the module docstring). ``example_top_cells`` sets the width of the example input the
    exporter traces with (any width works afterwards; at least 2 keeps the time axis from being
    specialised to 1)."""
    model_hash = getattr(model, "hash", None)
    vqvae: VQVAE2 = getattr(model, "model", model)
    if not isinstance(vqvae, VQVAE2):
        raise TypeError(f"expected a VQVAE2 or a LoadedModel, got {type(model).__name__}")
    was_training = vqvae.training
    vqvae.eval()
    meta = metadata(vqvae, model_hash)
    fb, tb = vqvae.cell["top"]
    bins = -(-vqvae.config.spectrogram.n_bins // fb) * fb
    cells = max(2, example_top_cells)
    images = torch.full((2, 1, bins, cells * tb), vqvae.spectrogram.floor_value)
    images += 0.1 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1, max=1024)
    columns = torch.export.Dim("columns", min=1, max=1 << 20)
    b_cols = tb // vqvae.cell["bottom"][1]  # bottom columns per top column
    start = time.perf_counter()
    try:
        with torch.no_grad(), _quiet_exporter():
            encoder = _Encoder(vqvae).eval()
            enc_program = torch.onnx.export(
                encoder,
                (images,),
                dynamo=True,
                opset_version=OPSET,
                input_names=["images"],
                output_names=["top", "bottom"],
                dynamic_shapes={"images": {0: batch, 3: tb * columns}},
                verbose=False,
            )
            top, bottom = encoder(images)
            dec_program = torch.onnx.export(
                _Decoder(vqvae).eval(),
                (top, bottom),
                dynamo=True,
                opset_version=OPSET,
                input_names=["top", "bottom"],
                output_names=["images"],
                dynamic_shapes={"top": {0: batch, 2: columns}, "bottom": {0: batch, 2: b_cols * columns}},
                verbose=False,
            )
        out = OnnxExport(
            encoder=_serialise(enc_program, meta, "encoder"),
            decoder=_serialise(dec_program, meta, "decoder"),
            seconds=time.perf_counter() - start,
        )
    finally:
        vqvae.train(was_training)
    return out


def runtime_bytes(loaded: Any) -> bytes:
    """A :class:`~specblur.learn.checkpoint.LoadedModel`'s runtime form (:mod:`specblur.runtime.model`): its
    graphs, prior and record, for edits without torch."""
    from specblur.runtime import model as runtime

    graphs = export_onnx(loaded)
    config = loaded.model.config
    return runtime.to_bytes(
        graphs.encoder,
        graphs.decoder,
        loaded.name,
        loaded.hash,
        config,
        loaded.prior,
        loaded.training,
        prior_nn=getattr(loaded, "prior_nn", None),
        default_prior=getattr(loaded, "default_prior", "naive-bayes"),
    )


def runtime_path(checkpoint: Path) -> Path:
    """Where a training checkpoint's runtime form lives: beside it, ``NAME.onnx.npz``."""
    from specblur.runtime.model import SUFFIX

    return checkpoint.with_name(checkpoint.name.removesuffix(".pt") + SUFFIX)


def write_runtime(loaded: Any, target: Path) -> Path:
    """Write ``loaded``'s runtime form to ``target`` atomically; returns ``target``."""
    from specblur.files import atomic_write_bytes

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, runtime_bytes(loaded))
    return target
