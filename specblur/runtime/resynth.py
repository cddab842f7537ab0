""":func:`reference_resynth.apply_change` in numpy alone (no torch): the same signature, the same steps.

The change of log-magnitude computed on the model's grid is interpolated onto a float64 STFT of the
input at its own rate (:func:`specblur.runtime.dsp.stft`, the same semantics as the ``torch.stft`` call in
:mod:`specblur.resynth`), applied to the magnitude with the input's phase kept (or rebuilt by a few
Griffin-Lim iterations on the changed frames), inverted (:func:`specblur.runtime.dsp.istft`), and only the
samples that a changed frame touches are replaced. Everything is float64, as in the torch version;
the two agree to about 1e-15 relative to the signal (``tests/test_dsp.py`` checks 1e-12), and the
returned span is identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specblur.runtime.dsp import istft, scaled_resynthesis, stft, window

__all__ = ["PHASE_STARTS", "PlannedChange", "apply_change", "apply_planned", "plan_change", "resynthesise", "stft_size"]

PHASE_STARTS = ("input", "extrapolate", "random")


def stft_size(rate: int, model_rate: int, model_n_fft: int) -> tuple[int, int]:
    """(n_fft, hop) at ``rate`` with the model's window length in seconds, 75% overlap (as
    :func:`specblur.resynth.stft_size`, which this module may not import: it imports torch)."""
    n_fft = max(16, 2 * round(model_n_fft * rate / model_rate / 2))
    return n_fft, n_fft // 4


def apply_change(
    wave: np.ndarray,
    rate: int,
    change_db: np.ndarray,
    frame_times: np.ndarray,
    band_hz: np.ndarray,
    top_hz: float,
    model_rate: int,
    model_n_fft: int,
    phase_iters: int = 0,
    phase_start: str = "input",
) -> tuple[np.ndarray, tuple[int, int]]:
    """Scale ``wave``'s STFT magnitude by ``change_db`` (bands x model frames); returns the new wave
    and the half-open sample span that may differ from the input (empty when nothing changed).

    ``frame_times`` (s) and ``band_hz`` locate the columns and rows of ``change_db``; above
    ``top_hz`` nothing changes. ``phase_iters`` > 0 rebuilds the phase of the changed frames by that
    many Griffin-Lim iterations, starting from the input's phase with the unchanged frames held.
    ``phase_start`` is the phase the changed cells start from: ``"input"`` (the input's own),
    ``"extrapolate"`` (each bin's phase carried on from the two frames before its changed run at the
    bin's measured frequency, as a phase vocoder would; the input's phase where there are no two such
    frames) or ``"random"`` (uniform, seeded: a fixed start for Griffin-Lim).

    :func:`plan_change` and :func:`apply_planned` are the two halves: channels that take the same
    change (a linked stereo edit) share one plan.
    """
    plan = plan_change(len(wave), rate, change_db, frame_times, band_hz, top_hz, model_rate, model_n_fft)
    return apply_planned(wave, plan, phase_iters, phase_start)


@dataclass
class PlannedChange:
    """A change of log-magnitude carried onto the STFT grid of a signal at its own rate: what
    :func:`apply_planned` multiplies each channel's STFT by."""

    start: int
    stop: int
    """The samples ``[start, stop)`` whose STFT is changed (the changed frames and 2 windows each side)."""
    n_fft: int
    hop: int
    factor: np.ndarray
    """The linear gain per STFT cell (bins x frames of the samples' STFT)."""
    cells: np.ndarray
    """Where the gain is not 0 dB (bins x frames)."""
    changed: np.ndarray
    """The STFT frames with a changed cell."""


def plan_change(
    n: int,
    rate: int,
    change_db: np.ndarray,
    frame_times: np.ndarray,
    band_hz: np.ndarray,
    top_hz: float,
    model_rate: int,
    model_n_fft: int,
) -> PlannedChange | None:
    """:func:`apply_change`'s change for a signal of ``n`` samples at ``rate``, on its STFT grid;
    ``None`` where nothing changes."""
    active = np.nonzero(np.abs(change_db).max(axis=0) > 0)[0]
    if not len(active):
        return None
    n_fft, hop = stft_size(rate, model_rate, model_n_fft)
    step = frame_times[1] - frame_times[0] if len(frame_times) > 1 else 1.0
    t_lo = frame_times[active[0]] - step
    t_hi = frame_times[active[-1]] + step
    a = max(0, int(np.floor(t_lo * rate)) - 2 * n_fft)
    b = min(n, int(np.ceil(t_hi * rate)) + 2 * n_fft)
    n_frames = 1 + (b - a) // hop  # stft's frame count (centred, zero-padded)
    bins_hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    times = (a + np.arange(n_frames) * hop) / rate

    # frequency: model bands -> linear bins (nothing above the model's band)
    lo_f, hi_f = active[0], active[-1] + 1
    by_freq = _interp_rows(bins_hz, np.asarray(band_hz, dtype=np.float64), change_db[:, lo_f:hi_f])
    by_freq[bins_hz > top_hz] = 0.0
    # time: model frames -> input frames (zero outside the changed frames)
    sub_times = frame_times[lo_f:hi_f]
    gain_db = np.zeros((len(bins_hz), len(times)))
    inside = (times >= sub_times[0]) & (times <= sub_times[-1])
    if inside.any():
        pos = np.interp(times[inside], sub_times, np.arange(len(sub_times)))
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, len(sub_times) - 1)
        w = pos - i0
        # (in place, into the frames they fill, a contiguous run: fewer arrays made)
        f0, f1 = np.flatnonzero(inside)[[0, -1]]
        mixed = gain_db[:, f0 : f1 + 1]
        np.take(by_freq, i0, axis=1, out=mixed)
        mixed *= 1 - w
        other = np.take(by_freq, i1, axis=1)
        other *= w
        mixed += other
        del other
    del by_freq
    cells = gain_db != 0
    changed = np.nonzero(cells.any(axis=0))[0]
    if not len(changed):
        return None
    factor = gain_db
    factor *= np.log(10.0) / 20.0
    np.exp(factor, out=factor)  # 10 ** (dB / 20) (exp: less than half the time of power)
    return PlannedChange(a, b, n_fft, hop, factor, cells, changed)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, fp[:, k], right=0.0)`` for every column ``k`` of ``fp`` at once
    (``(len(x), columns)``; ``xp`` increasing; the same formula as numpy's, slope times the distance
    from the point below plus its value)."""
    fp = np.asarray(fp, dtype=np.float64)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 1)
    nxt = np.minimum(j + 1, len(xp) - 1)
    span = xp[nxt] - xp[j]
    safe = np.where(span > 0, span, 1.0)
    out = (fp[nxt] - fp[j]) / safe[:, None]
    out *= (x - xp[j])[:, None]
    out += fp[j]
    out[x <= xp[0]] = fp[0]  # left of the first point (and on it): its value
    out[x == xp[-1]] = fp[-1]
    out[x > xp[-1]] = 0.0
    return out


def apply_planned(
    wave: np.ndarray, plan: PlannedChange | None, phase_iters: int = 0, phase_start: str = "input"
) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`apply_change` with its change planned (:func:`plan_change`): ``wave`` (float64 samples)
    with ``plan`` applied, and the span that may differ."""
    piece, span = resynthesise(wave, plan, phase_iters, phase_start)
    out = wave.copy()
    if piece is not None:
        out[span[0] : span[1]] = piece
    return out, span


def resynthesise(
    wave: np.ndarray, plan: PlannedChange | None, phase_iters: int = 0, phase_start: str = "input"
) -> tuple[np.ndarray | None, tuple[int, int]]:
    """What :func:`apply_planned` changes: the new samples of the span that may differ (float64;
    ``None`` and an empty span where nothing changes) and that span, in ``wave``'s samples. ``wave``
    may be any 1-D view (a channel of a block of frames): only the part the plan names is read."""
    if phase_start not in PHASE_STARTS:
        raise ValueError(f"phase start {phase_start!r}: use one of {', '.join(PHASE_STARTS)}")
    if plan is None:
        return None, (0, 0)
    a, b, n_fft, hop, changed = plan.start, plan.stop, plan.n_fft, plan.hop, plan.changed
    segment = np.ascontiguousarray(wave[a:b], dtype=np.float64)
    win = window("hann", n_fft, np.float64)
    if phase_iters == 0 and phase_start == "input":
        # the input's phase kept: the STFT, the gain and its inverse a block of frames at a time
        return _patch(scaled_resynthesis(segment, n_fft, hop, win, plan.factor, b - a), plan)
    spec = stft(segment, n_fft, hop, win)
    spec *= plan.factor
    if phase_start != "input":
        spec = _restart_phase(spec, plan.cells, hop, n_fft, phase_start)
    if phase_iters > 0:
        target = np.abs(spec)
        held = np.ones(spec.shape[-1], dtype=bool)
        held[changed] = False
        for _ in range(phase_iters):
            trial = istft(spec, n_fft, hop, win, b - a)
            again = stft(trial, n_fft, hop, win)
            rebuilt_phase = again / np.maximum(np.abs(again), 1e-12)
            spec = np.where(held[None, :], spec, target * rebuilt_phase)
    return _patch(istft(spec, n_fft, hop, win, b - a), plan)


def _patch(rebuilt: np.ndarray, plan: PlannedChange) -> tuple[np.ndarray, tuple[int, int]]:
    """The samples that a changed frame touches, taken from ``rebuilt`` (the resynthesis of the
    plan's samples), and their span in the signal's samples."""
    a, b, n_fft, hop, changed = plan.start, plan.stop, plan.n_fft, plan.hop, plan.changed
    s0 = max(0, changed[0] * hop - n_fft // 2)
    s1 = min(b - a, changed[-1] * hop + n_fft // 2 + 1)
    return rebuilt[s0:s1], (a + s0, a + s1)


def _restart_phase(spec: np.ndarray, cells: np.ndarray, hop: int, n_fft: int, how: str) -> np.ndarray:
    """``spec`` with the phase of ``cells`` (bins x frames, true where the magnitude was changed)
    replaced as :func:`apply_change`'s ``phase_start`` says; magnitudes untouched."""
    magnitude = np.abs(spec)
    phase = np.angle(spec)
    if how == "random":
        new = np.random.default_rng(0).uniform(-np.pi, np.pi, size=spec.shape)
    else:  # extrapolate: per bin, from the two frames before its first changed frame
        frames = spec.shape[-1]
        first = np.where(cells.any(axis=1), cells.argmax(axis=1), frames)
        ref = first - 1
        usable = ref >= 1
        bins = np.arange(spec.shape[0])
        r = np.clip(ref, 1, frames - 1)
        expected = 2 * np.pi * bins * hop / n_fft  # phase advance per hop at each bin's centre frequency
        deviation = np.angle(np.exp(1j * (phase[bins, r] - phase[bins, r - 1] - expected)))
        advance = expected + deviation  # the measured advance: the bin's partial's own frequency
        steps = np.arange(frames)[None, :] - r[:, None]
        new = phase[bins, r][:, None] + advance[:, None] * steps
        new = np.where(usable[:, None], new, phase)
    return np.where(cells, magnitude * np.exp(1j * new), spec)
