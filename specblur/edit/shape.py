"""Keep a blur's shape: of a change in dB on the model's grid, only the detail below the blur's scale.

A blur applies ``decode(new) - decode(old)`` (dB, model bands x frames, under the brush) to the input's
own magnitude. Left as it is, that change carries a coarse part (issue 18): a level offset over the
region and a smooth envelope, which moved a 1 s x 1-8 kHz region by -13 to +4 dB depending on the
material and on the input's gain, and filled pauses. :func:`keep_shape` removes the change's coarse
component, its local mean over about 0.2 s and a third of an octave weighted by the brush, so the
region keeps its level and its coarse envelope and only finer detail changes. Nothing is added outside
the brush: the result is the change minus ``brush * coarse``, and the brush is 0 there.

:func:`band_extent` states where a band edit reaches: the band snapped to code cells and the brush's
feather (its Gaussian shoulders, cut at 3 sigma) in Hz and seconds, which is what ``-v`` prints.
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["COARSE_OCTAVES", "COARSE_SECONDS", "Extent", "band_extent", "coarse", "keep_shape"]

COARSE_SECONDS = 0.2
"""Time scale of the coarse envelope a blur keeps (s): the width of a box of the same variance."""
COARSE_OCTAVES = 1.0 / 3.0
"""Frequency scale of the coarse envelope a blur keeps (octaves), likewise."""
ITERATIONS = 4
"""Rounds of taking the coarse gain out (see :func:`coarse`)."""
_LOW_HZ = 50.0  # below this, bands are treated as at 50 Hz on the log-frequency axis


def _time_kernel(frame_s: float, seconds: float) -> np.ndarray:
    sigma = max(seconds / np.sqrt(12.0) / frame_s, 1e-6)
    half = int(np.ceil(3 * sigma))
    x = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _freq_matrix(band_hz: np.ndarray, octaves: float) -> np.ndarray:
    """Rows: a Gaussian in log2-frequency around each band (sigma from a box of ``octaves``)."""
    octave = np.log2(np.maximum(np.asarray(band_hz, dtype=np.float64), _LOW_HZ))
    sigma = max(octaves / np.sqrt(12.0), 1e-6)
    d = (octave[:, None] - octave[None, :]) / sigma
    m = np.exp(-0.5 * d**2)
    m[np.abs(d) > 3] = 0.0
    return m


def _smooth(values: np.ndarray, freq: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``values`` (bands x frames) smoothed by the band matrix and the time kernel (zero beyond the ends)."""
    by_freq = freq @ values
    half = len(kernel) // 2
    padded = np.pad(by_freq, ((0, 0), (half, half)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, len(kernel), axis=1)
    return windows @ kernel[::-1]


def coarse(
    change_db: np.ndarray,
    brush: np.ndarray,
    band_hz: np.ndarray,
    frame_s: float,
    level_db: np.ndarray | None = None,
    seconds: float = COARSE_SECONDS,
    octaves: float = COARSE_OCTAVES,
) -> np.ndarray:
    """The coarse component (dB) of a brushed change ``change_db = brush * raw``: at each cell under
    the brush, the mean of ``raw`` around it over about ``seconds`` and ``octaves``, weighted by the
    brush. With ``level_db`` (the input's own image in dB, same shape) the mean is of power: the gain
    in dB that the change makes to the input's power around the cell (so removing it keeps the power
    level, which the loudest cells set, and not only the mean of dB). 0 where the brush is 0."""
    change_db = np.asarray(change_db, dtype=np.float64)
    brush = np.asarray(brush, dtype=np.float64)
    out = np.zeros_like(change_db)
    cols = np.nonzero(brush.max(axis=0) > 0)[0]
    rows = np.nonzero(brush.max(axis=1) > 0)[0]
    if not len(cols):
        return out
    kernel = _time_kernel(frame_s, seconds)
    # work on the brush's bounding box (the kernels see zeros beyond it)
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    freq = _freq_matrix(np.asarray(band_hz)[box[0]], octaves)
    w = brush[box]
    if level_db is None:
        num = _smooth(change_db[box], freq, kernel)
        den = _smooth(w, freq, kernel)
        out[box] = np.where(w > 0, num / np.maximum(den, 1e-300), 0.0)
        return out
    raw = np.where(w > 0, change_db[box] / np.where(w > 0, w, 1.0), 0.0)
    level = np.asarray(level_db, dtype=np.float64)[box]
    power = w * 10.0 ** ((level - level[w > 0].max()) / 10.0)
    den = _smooth(power, freq, kernel)
    total = np.zeros_like(raw)
    for _ in range(ITERATIONS):
        # the change's gain of the input's power around each cell, taken out; again, as what is left
        # around a quiet cell (a pause) is dominated by its loud neighbours the first time
        num = _smooth(power * 10.0 ** ((raw - total) / 10.0), freq, kernel)
        ok = (w > 0) & (den > 0) & (num > 0)
        total += np.where(ok, 10.0 * np.log10(np.where(ok, num, 1.0) / np.where(ok, den, 1.0)), 0.0)
    out[box] = total
    return out


def keep_shape(
    change_db: np.ndarray,
    brush: np.ndarray,
    band_hz: np.ndarray,
    frame_s: float,
    level_db: np.ndarray | None = None,
    wash: float = 0.0,
    seconds: float = COARSE_SECONDS,
    octaves: float = COARSE_OCTAVES,
) -> np.ndarray:
    """A blur's change with its coarse component removed: ``change_db - (1 - wash) * brush * coarse``.

    ``change_db``: dB, bands x frames, already multiplied by ``brush`` (0 to 1, same shape);
    ``band_hz``: each band's centre; ``frame_s``: the frame step (s); ``level_db``: the input's image
    in dB (the coarse part is then a gain of power, see :func:`coarse`). ``wash`` (0 to 1) is the share
    of the coarse change let through: 0 (the default) keeps the region's level and envelope, 1 is the
    change as decoded (the region's level and envelope follow the decoder: the old "wash").
    Cells where the brush is 0 stay 0.
    """
    if not 0.0 <= wash <= 1.0:
        raise ValueError(f"wash {wash!r}: use 0 to 1")
    if wash == 1.0:
        return np.asarray(change_db, dtype=np.float64).copy()
    low = coarse(change_db, brush, band_hz, frame_s, level_db, seconds, octaves)
    return np.asarray(change_db, dtype=np.float64) - (1.0 - wash) * np.asarray(brush, dtype=np.float64) * low


@dataclass(frozen=True)
class Extent:
    """Where an edit may change the sound: the snapped region and the brush's feather around it."""

    low: float
    """Snapped band (Hz): what the region's code cells cover."""
    high: float
    start: float
    """Snapped span (s)."""
    end: float
    feather_low: float
    """Lowest frequency the feather reaches (Hz): nothing below changes."""
    feather_high: float
    """Highest frequency the feather reaches (Hz): nothing above changes."""
    feather_start: float
    """Earliest time the feather reaches (s)."""
    feather_end: float
    """Latest time the feather reaches (s)."""

    def describe(self) -> str:
        return (
            f"band {self.low:.0f}-{self.high:.0f} Hz, feather to {self.feather_low:.0f}-{self.feather_high:.0f} Hz; "
            f"{self.start:.3f}-{self.end:.3f} s, feather to {self.feather_start:.3f}-{self.feather_end:.3f} s"
        )
