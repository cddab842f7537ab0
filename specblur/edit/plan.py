"""Where an edit happens: the region located on the model's code grid, the brush over it, and the
samples to work on, all worked out from the file's length before any audio is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from specblur.edit.effects import EFFECTS
from specblur.edit.limits import SCALES
from specblur.edit.options import EditOptions
from specblur.edit.region import Region, locate
from specblur.errors import AudioError
from specblur.runtime.model import RuntimeModel

# Context kept around the brush, in top-level code cells, when only part of a file is encoded.
# Measured on the default model: codes three top cells (24 frames) or more from a crop's edge equal
# those of the whole file; the decoder reaches about as far again, so the brush's pixels see the same
# codes, and so the same change, as when the whole file is processed.
CONTEXT_TOP_CELLS = 6
# Of those, what the decoder needs around the brush: specblur.edit.effects.base.DECODER_CONTEXT_TOP_CELLS.


@dataclass
class Plan:
    """Where an edit happens, worked out from the file's length before any audio is read.

    ``regions`` are on the whole file's model grid. Only input samples ``[start, stop)`` are encoded,
    edited and decoded: the region, the brush's soft edge and :data:`CONTEXT_TOP_CELLS` of context,
    starting on a top-cell boundary (model frame ``frame0``) so the crop's code grid is the file's.
    """

    regions: list[Region]
    start: int
    stop: int
    frame0: int
    sigma: tuple[float, float]
    """The brush's Gaussian shoulders (bins, frames) on the model's image grid."""
    hole: tuple[float, float] = (0.0, 0.0)
    """The time span asked for (s, in the file; open ends resolved), before snapping to cells."""
    band: tuple[float, float] | None = None
    """The band asked for (Hz, open ends resolved to 0 and the file's Nyquist frequency); ``None``:
    the whole band."""
    seconds: float = 0.0
    """The file's length."""
    rate: int = 0
    """The file's sample rate."""


def brush(
    n_rows: int, n_cols: int, rows: tuple[int, int], cols: tuple[int, int], sigma: tuple[float, float]
) -> np.ndarray:
    """A rectangle of ones with Gaussian shoulders of ``sigma`` (rows, cols), cut to 0 at 3 sigma."""

    def profile(n: int, span: tuple[int, int], s: float) -> np.ndarray:
        x = np.arange(n) + 0.5
        d = np.maximum(span[0] - x, 0) + np.maximum(x - span[1], 0)
        if s <= 0:
            return (d == 0).astype(np.float64)
        out = np.exp(-0.5 * (d / s) ** 2)
        out[d > 3 * s] = 0.0
        return out

    return profile(n_rows, rows, sigma[0])[:, None] * profile(n_cols, cols, sigma[1])[None, :]


def plan(
    loaded: RuntimeModel,
    frames: int,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    options: EditOptions | None = None,
) -> Plan:
    """Locate the region on ``loaded``'s grid and choose the samples to work on, for an edit with
    ``options`` (an :class:`~specblur.edit.options.EditOptions`: its scale and feather; default: a
    blur's).

    Raises :class:`~specblur.errors.UsageError` for a region outside the file, empty, or above what
    the model covers.
    """
    options = options or EditOptions()
    scale, feather = options.scale, options.feather
    if frames == 0:
        raise AudioError("has no audio frames; nothing to blur")
    model = loaded.model
    spec_cfg = model.config.spectrogram
    n_model = int(round(frames * spec_cfg.sample_rate / rate))
    n_frames = model.spectrogram.frames(n_model)
    regions = [
        locate(spec_cfg, model.cell[level], level, frames / rate, n_frames, time, freq, rate) for level in SCALES[scale]
    ]
    fine = model.cell[regions[-1].level]
    sigma = (feather * fine[0], feather * fine[1])
    top_t = model.cell["top"][1]
    seconds = frames / rate
    hole = (0.0 if time[0] is None else time[0], seconds if time[1] is None else min(time[1], seconds))
    lo, hi = reach(model, regions, sigma)
    further = EFFECTS[options.effect].reach_seconds(options, hole[1] - hole[0])  # (repair's search)
    if further > 0:
        extra = int(np.ceil(further * spec_cfg.sample_rate / spec_cfg.hop_length))
        lo, hi = lo - extra, hi + extra
    frame0 = max(0, lo // top_t * top_t)
    frame1 = -(-hi // top_t) * top_t
    samples_per_frame = spec_cfg.hop_length * rate / spec_cfg.sample_rate
    start = int(round(frame0 * samples_per_frame))
    stop = frames if frame1 >= n_frames else min(frames, int(round(frame1 * samples_per_frame)) + 1)
    band = None if freq == (None, None) else (freq[0] or 0.0, rate / 2 if freq[1] is None else freq[1])
    return Plan(regions, start, stop, frame0, sigma, hole, band, seconds, rate)


def reach(model: Any, regions: list[Region], sigma: tuple[float, float]) -> tuple[int, int]:
    """The model frames an edit of ``regions`` works on: the regions, the brush's shoulders (3 sigma)
    and :data:`CONTEXT_TOP_CELLS` of context on each side (the low end may be negative)."""
    margin = int(np.ceil(3 * sigma[1])) + CONTEXT_TOP_CELLS * model.cell["top"][1]
    return min(r.frames[0] for r in regions) - margin, max(r.frames[1] for r in regions) + margin


def extent(loaded: RuntimeModel, where: Plan) -> Any:
    """Where the edit ``where`` may change the file: the snapped region and how far the brush's
    feather reaches, in Hz and seconds (:class:`specblur.edit.shape.Extent`; ``-v`` prints it)."""
    from specblur.edit.shape import band_extent

    spec = loaded.model.config.spectrogram
    return band_extent(spec, where.regions[-1], where.sigma, where.rate, where.seconds)


def shift(region: Region, frame0: int, cell: tuple[int, int]) -> Region:
    """The region on the grid of a crop that starts at model frame ``frame0`` (a top-cell boundary)."""
    cols = frame0 // cell[1]
    return dataclasses.replace(
        region,
        cols=(region.cols[0] - cols, region.cols[1] - cols),
        frames=(region.frames[0] - frame0, region.frames[1] - frame0),
    )
