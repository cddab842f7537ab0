"""Apply a change of log-magnitude, computed on the model's grid, to the input's own STFT.

The model's decoder never touches the output directly: the change is
``decode(new codes) - decode(original codes)`` in dB, so the decoder's own reconstruction error
cancels and unchanged codes change nothing. That change is interpolated from the model's grid (mel
bands, 16 ms frames at the model's rate) onto an STFT of the input at its own rate with the same
time and frequency resolution, applied to the magnitude with the input's phase kept, and inverted.
Only the samples that a changed STFT frame touches are replaced; every other sample is copied from
the input untouched, so it is bit-identical.
"""

from __future__ import annotations

import numpy as np
import torch


def stft_size(rate: int, model_rate: int, model_n_fft: int) -> tuple[int, int]:
    """(n_fft, hop) at ``rate`` with the model's window length in seconds, 75% overlap."""
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
) -> tuple[np.ndarray, tuple[int, int]]:
    """Scale ``wave``'s STFT magnitude by ``change_db`` (bands x model frames); returns the new wave
    and the half-open sample span that may differ from the input (empty when nothing changed).

    ``frame_times`` (s) and ``band_hz`` locate the columns and rows of ``change_db``; above
    ``top_hz`` nothing changes. ``phase_iters`` > 0 rebuilds the phase of the changed frames by that
    many Griffin-Lim iterations, starting from the input's phase with the unchanged frames held
    (``tools/evaluate.py resynth`` measures it against keeping the input's phase, the default).
    """
    n = len(wave)
    active = np.nonzero(np.abs(change_db).max(axis=0) > 0)[0]
    if not len(active):
        return wave.copy(), (0, 0)
    n_fft, hop = stft_size(rate, model_rate, model_n_fft)
    step = frame_times[1] - frame_times[0] if len(frame_times) > 1 else 1.0
    t_lo = frame_times[active[0]] - step
    t_hi = frame_times[active[-1]] + step
    a = max(0, int(np.floor(t_lo * rate)) - 2 * n_fft)
    b = min(n, int(np.ceil(t_hi * rate)) + 2 * n_fft)
    segment = torch.from_numpy(np.ascontiguousarray(wave[a:b], dtype=np.float64))
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(segment, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    bins_hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    times = (a + np.arange(spec.shape[-1]) * hop) / rate

    # frequency: model bands -> linear bins (nothing above the model's band)
    lo_f, hi_f = active[0], active[-1] + 1
    by_freq = np.stack([np.interp(bins_hz, band_hz, change_db[:, f], right=0.0) for f in range(lo_f, hi_f)], axis=1)
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
        gain_db[:, inside] = by_freq[:, i0] * (1 - w) + by_freq[:, i1] * w
    changed = np.nonzero(np.abs(gain_db).max(axis=0) > 0)[0]
    if not len(changed):
        return wave.copy(), (0, 0)
    spec = spec * torch.from_numpy(10.0 ** (gain_db / 20.0))
    if phase_iters > 0:
        target = spec.abs()
        held = torch.ones(spec.shape[-1], dtype=torch.bool)
        held[torch.from_numpy(changed)] = False
        for _ in range(phase_iters):
            trial = torch.istft(spec, n_fft, hop, window=window, center=True, length=b - a)
            again = torch.stft(trial, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
            rebuilt_phase = again / again.abs().clamp_min(1e-12)
            spec = torch.where(held[None, :], spec, target * rebuilt_phase)
    rebuilt = torch.istft(spec, n_fft, hop, window=window, center=True, length=b - a).numpy()
    s0 = max(0, changed[0] * hop - n_fft // 2)
    s1 = min(b - a, changed[-1] * hop + n_fft // 2 + 1)
    out = wave.copy()
    out[a + s0 : a + s1] = rebuilt[s0:s1]
    return out, (a + s0, a + s1)
