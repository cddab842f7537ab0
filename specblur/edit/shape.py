"""Keep a blur's shape: of a change in dB on the model's grid, only the detail below the blur's scale.

A blur applies ``decode(new) - decode(old)`` (dB, model bands x frames, under the brush) to the input's
own magnitude. Left as it is, that change carries a coarse part (issue 18): the redrawn codes decode
to another level (the prior fills quiet cells, by +40 to +60 dB where the image is at the model's
floor, and lowers loud ones), which moved a 1 s x 1-8 kHz region of speech by -7 dB and filled its
pause, and the model's image is normalised to fixed dB, so what a blur did followed the input's gain.

* :func:`encoder_gain`: the part that is encoded is seen at one peak level, whatever the input's gain.
* :func:`keep_shape`: the change's coarse component (:func:`coarse`: its mean in dB over 0.1 s and a
  third of an octave, then its gain of the input's power over 0.2 s and a third of an octave) is taken
  out, so the region keeps its level and its coarse envelope and only finer detail changes. Nothing
  is added outside the brush: the result is ``brush * (raw - coarse)``.
* :func:`band_extent`: where a band edit reaches, the band snapped to code cells and the brush's
  feather (Gaussian shoulders cut at 3 sigma) in Hz and seconds, which is what ``-v`` prints.

numpy only (and no BLAS: on a shared machine a small matmul took 10 ms). Measured in
``docs/eval/blur.md`` (``tools/evaluate_blur.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COARSE_OCTAVES",
    "COARSE_SECONDS",
    "ENCODER_PEAK_DBFS",
    "SHAPE_SECONDS",
    "Extent",
    "band_extent",
    "coarse",
    "encoder_gain",
    "keep_shape",
]

COARSE_SECONDS = 0.2
"""Time scale of the coarse envelope a blur keeps (s): the width of a box of the same variance as
the Gaussian used. The band level over this scale is kept (as power)."""
COARSE_OCTAVES = 1.0 / 3.0
"""Frequency scale of the coarse envelope a blur keeps (octaves), likewise."""
SHAPE_SECONDS = 0.1
"""Time scale below which the change's mean in dB is also taken out (s), before the power level: at
0.2 s a pause shorter than that filled up by up to +9 dB (speech); at 0.1 s +2 dB, at 0.05 s +0.2 dB
but the blur then changes little (fine-detail change 4.6 dB against 8.2 dB at 0.1 s, 14 dB at 0.2 s)."""
SPREAD = 2.0
"""The detail change at a cell is held within this many times the input's own detail around it (the
standard deviation of its dB over ``SHAPE_SECONDS`` and ``COARSE_OCTAVES``): a blur redraws the detail
that is there. Where the model sees nothing (a pause, at the model's floor) the decoder invents
sound, +40 to +60 dB over the input; this keeps it out."""
ROUNDS = 4
"""Rounds of taking the power gain out (see :func:`coarse`)."""
_DB_POWER = np.log(10.0) / 10.0
"""dB to a power ratio by ``exp(dB * _DB_POWER)`` (numpy's exp takes less than half the time of ``10 ** x``)."""
_LOW_HZ = 50.0  # below this, bands are treated as at 50 Hz on the log-frequency axis


def _time_kernel(frame_s: float, seconds: float) -> np.ndarray:
    sigma = max(seconds / np.sqrt(12.0) / frame_s, 1e-6)
    half = int(np.ceil(3 * sigma))
    x = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _freq_matrix(band_hz: np.ndarray, octaves: float) -> np.ndarray:
    """Rows: a Gaussian in log2-frequency around each band (sigma from a box of ``octaves``), cut at 3 sigma."""
    octave = np.log2(np.maximum(np.asarray(band_hz, dtype=np.float64), _LOW_HZ))
    sigma = max(octaves / np.sqrt(12.0), 1e-6)
    d = (octave[:, None] - octave[None, :]) / sigma
    m = np.exp(-0.5 * d**2)
    m[np.abs(d) > 3] = 0.0
    return m


@functools.lru_cache(maxsize=32)
def _bands(band_hz: tuple[float, ...], octaves: float) -> list[tuple[int, np.ndarray]]:
    """The band matrix as (offset, the weights of row i on row i + offset) for each offset used."""
    matrix = _freq_matrix(np.asarray(band_hz), octaves)
    n = len(matrix)
    out = []
    for k in range(-(n - 1), n):
        rows = np.arange(max(0, -k), min(n, n - k))
        w = np.zeros(n)
        w[rows] = matrix[rows, rows + k]
        if w.any():
            out.append((k, w[:, None]))
    return out


def _smooth(values: np.ndarray, freq: list[tuple[int, np.ndarray]], kernel: np.ndarray) -> np.ndarray:
    """``values`` (bands x frames) smoothed by the banded band matrix and the (symmetric) time kernel,
    zero beyond the ends. No BLAS: on a shared machine a small matmul took 10 ms, this about 0.3 ms."""
    n_rows, n_cols = values.shape
    by_freq = np.zeros_like(values)
    for k, w in freq:
        if k >= 0:
            by_freq[: n_rows - k] += w[: n_rows - k] * values[k:]
        else:
            by_freq[-k:] += w[-k:] * values[: n_rows + k]
    # time: linear convolution by FFT (zero-padded, so nothing wraps), cropped back to the frames
    n = n_cols + len(kernel) - 1
    size = 1 << (n - 1).bit_length()
    full = np.fft.irfft(np.fft.rfft(by_freq, size, axis=1) * np.fft.rfft(kernel, size), size, axis=1)
    half = len(kernel) // 2
    return full[:, half : half + n_cols]


def coarse(
    change_db: np.ndarray,
    brush: np.ndarray,
    band_hz: np.ndarray,
    frame_s: float,
    level_db: np.ndarray | None = None,
    seconds: float = COARSE_SECONDS,
    octaves: float = COARSE_OCTAVES,
    shape_seconds: float = SHAPE_SECONDS,
    spread: float = SPREAD,
    floor_db: float | None = None,
) -> np.ndarray:
    """The coarse component (dB) of a brushed change ``change_db = brush * raw`` (bands x frames):
    what :func:`keep_shape` takes out. 0 where the brush is 0.

    Without ``level_db``: at each cell, the brush-weighted mean of ``raw`` around it (a Gaussian over
    about ``seconds`` and ``octaves``). With ``level_db`` (the input's own image in dB, same shape):
    first the mean of ``raw`` in dB over ``shape_seconds`` and ``octaves`` (every cell counts alike,
    so a quiet stretch's own change is taken out and a pause stays a pause), then, in
    :data:`ROUNDS` rounds, the gain that what is left makes to the input's power around each cell
    over ``seconds`` and ``octaves`` (the loudest cells set a band's level, so a change with no mean
    in dB can still move it: Jensen)."""
    change_db = np.asarray(change_db, dtype=np.float64)
    brush = np.asarray(brush, dtype=np.float64)
    out = np.zeros_like(change_db)
    cols = np.nonzero(brush.max(axis=0) > 0)[0]
    rows = np.nonzero(brush.max(axis=1) > 0)[0]
    if not len(cols):
        return out
    # work on the brush's bounding box (the kernels see zeros beyond it)
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    freq = _bands(tuple(float(f) for f in np.asarray(band_hz)[box[0]]), float(octaves))
    w = brush[box]
    on = w > 0

    def mean_db(kernel: np.ndarray, den: np.ndarray | None = None) -> np.ndarray:
        num = _smooth(change_db[box], freq, kernel)
        den = _smooth(w, freq, kernel) if den is None else den
        return np.where(on, num / np.maximum(den, 1e-300), 0.0)

    kernel = _time_kernel(frame_s, seconds)
    if level_db is None:
        out[box] = mean_db(kernel)
        return out
    raw = np.where(on, change_db[box] / np.where(on, w, 1.0), 0.0)
    level = np.asarray(level_db, dtype=np.float64)[box]
    short = _time_kernel(frame_s, shape_seconds) if shape_seconds > 0 else np.ones(1)
    # each cell's power relative to its surroundings' mean dB (over the short scale): a quiet stretch
    # weighs as much in its own neighbourhood as a loud one does in its own
    # (the brush's and the level's smoothings over the short scale serve three of the steps below)
    weight = _smooth(w, freq, short)
    around = _smooth(w * level, freq, short) / np.maximum(weight, 1e-300)
    power = w * np.exp(np.clip(level - around, -60.0, 60.0) * _DB_POWER)
    den = _smooth(power, freq, kernel)
    total = mean_db(short, weight) if shape_seconds > 0 else np.zeros_like(raw)
    bound = None
    if spread > 0:
        # the input's own detail around each cell: the spread of its dB about their local mean
        mean = around
        var = _smooth(w * level**2, freq, short) / np.maximum(weight, 1e-300) - mean**2
        bound = spread * np.sqrt(np.maximum(var, 0.0))
        total = raw - np.clip(raw - total, -bound, bound)
    if floor_db is not None:
        # at the model's floor the input is below what the model sees: nothing to redraw, nothing to raise
        at_floor = level <= floor_db + 0.5
        total = np.where(at_floor, np.maximum(total, raw), total)
    for _ in range(ROUNDS):
        # again, as around a quiet cell the gain left is set by its loud neighbours the first time
        num = _smooth(power * np.exp((raw - total) * _DB_POWER), freq, kernel)
        ok = on & (den > 0) & (num > 0)
        total += np.where(ok, 10.0 * np.log10(np.where(ok, num, 1.0) / np.where(ok, den, 1.0)), 0.0)
    if bound is not None:
        total = raw - np.clip(raw - total, -bound, bound)
    if floor_db is not None:
        total = np.where(at_floor, np.maximum(total, raw), total)
    out[box] = np.where(on, total, 0.0)
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
    shape_seconds: float = SHAPE_SECONDS,
    spread: float = SPREAD,
    floor_db: float | None = None,
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
    low = coarse(change_db, brush, band_hz, frame_s, level_db, seconds, octaves, shape_seconds, spread, floor_db)
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


def _reach(first: int, stop: int, sigma: float, n: int) -> tuple[int, int]:
    """The half-open range of rows (or columns) where the brush of rows ``[first, stop)`` with a
    Gaussian shoulder of ``sigma``, cut at 3 sigma (:func:`specblur.edit.plan.brush`), is not 0."""
    x = np.arange(n) + 0.5
    d = np.maximum(first - x, 0) + np.maximum(x - stop, 0)
    on = np.nonzero(d == 0 if sigma <= 0 else d <= 3 * sigma)[0]
    return int(on[0]), int(on[-1]) + 1


def band_extent(spec: object, region: object, sigma: tuple[float, float], rate: int, duration: float) -> Extent:
    """Where an edit of ``region`` (a :class:`specblur.edit.region.Region` on the file's model grid, the
    finest level's: ``plan.regions[-1]``) with the brush's shoulders ``sigma`` (bins, frames:
    ``plan.sigma``) may change a file of ``rate`` Hz and ``duration`` s; ``spec`` is the model's
    :class:`~specblur.config.SpectrogramConfig`.

    In frequency: the brush's last band on each side (3 sigma out), and then as far as
    :func:`specblur.runtime.resynth.apply_change` carries it onto the file's bins (linearly to the next
    band's centre; below the first band's centre, all the way down; nothing above the model's band or
    the file's Nyquist frequency). In time: the brush's first and last frames, widened by half the
    STFT window that applies the change.
    """
    from specblur.edit.region import band_centres

    centres = band_centres(spec)
    n_bins = len(centres)
    top_hz = min(spec.f_max, rate / 2)
    b0, b1 = _reach(region.bins[0], region.bins[1], sigma[0], n_bins)
    low = 0.0 if b0 == 0 else float(centres[b0 - 1])
    high = top_hz if b1 >= n_bins else float(min(centres[b1], top_hz))
    frame_s = spec.hop_length / spec.sample_rate
    n_frames = int(np.floor(duration * spec.sample_rate / spec.hop_length)) + 1
    f0, f1 = _reach(region.frames[0], region.frames[1], sigma[1], n_frames)
    # the model's frames are STFT window centres; the window (the model's length in seconds) reaches half of it out
    half = spec.n_fft / 2 / spec.sample_rate
    return Extent(
        low=float(region.low),
        high=float(region.high),
        start=float(region.start),
        end=float(region.end),
        feather_low=low,
        feather_high=high,
        feather_start=max(0.0, f0 * frame_s - half),
        feather_end=min(duration, (f1 - 1) * frame_s + half),
    )


ENCODER_PEAK_DBFS = -6.0
"""The sample peak the encoder sees the part it encodes at (dBFS), whatever the input's gain: the
model's image is normalised to fixed dB (``norm_mean_db``, ``floor_db``), so a quiet input sat at the
floor and a blur of it redrew nothing (piano, 1-8 kHz, at -30 dB: a fine-detail change of 0.04 dB
against 2 dB at 0 dB)."""


def encoder_gain(samples: np.ndarray, peak_dbfs: float = ENCODER_PEAK_DBFS) -> float:
    """The linear gain that brings ``samples``' peak to ``peak_dbfs`` for the encoder (1 for silence).
    The change is computed on the image of the scaled input and applied to the input as it is."""
    peak = float(np.max(np.abs(samples))) if np.size(samples) else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return 1.0
    return float(10.0 ** (peak_dbfs / 20.0) / peak)
