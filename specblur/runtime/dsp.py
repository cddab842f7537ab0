"""The signal processing of :mod:`specblur.learn.spectrogram` and of resampling, in numpy alone (no torch).

This is the runtime side of the representation: the same STFT, mel bands, dB normalisation, inverse
STFT and Griffin-Lim as :class:`specblur.learn.spectrogram.Spectrogram`, and the same windowed-sinc
resampler as ``torchaudio.functional.resample`` (its default ``sinc_interp_hann``,
``lowpass_filter_width=6``, ``rolloff=0.99``), so that features computed here match what the model
was trained on. Each function follows the torch one's semantics step by step:

* :func:`stft` is ``torch.stft(..., center=True, pad_mode="constant", onesided=True)``: the signal is
  zero-padded by ``n_fft // 2`` on both ends, so any length works; a window shorter than ``n_fft`` is
  zero-padded to it, centred.
* :func:`istft` is ``torch.istft(..., center=True, length=...)``: overlap-add of the windowed inverse
  FFTs, divided by the overlap-added squared window, cropped (or zero-padded) to ``length``.
* :func:`mel_filterbank` is ``torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk")``;
  :func:`pinv` is ``torch.linalg.pinv`` (the same cut-off of small singular values, computed in
  float64).
* :func:`resample` computes the same polyphase kernel as torchaudio (in float32 as torchaudio does
  for float32 input) and applies it as its strided ``conv1d`` does.

Tolerances: max abs differences from the torch versions, measured on random noise (four configs,
lengths 1 to 23457) and on ``examples/note.wav`` brought to 8, 16, 22.05, 44.1 and 48 kHz and back
(``tests/test_dsp.py`` asserts each with a margin):

* windows: 2.7e-7 (float32 rounding; float64 windows agree to 1e-15);
* mel filterbank: 1.6e-5 on weights of at most 1 (torchaudio rounds every step to float32; here
  float64 is rounded once); its pseudo-inverse: 1e-6 of its largest entry;
* STFT (float32 in, complex64 out, as torch): 2e-7 of the largest bin; ISTFT: 4e-7; float64 in, out
  within 1e-12;
* resample: 7e-7 on full-scale float32 noise, 4.5e-8 on the recording; float64: 1e-15;
* features (normalised image, 1 unit = ``norm_std_db`` dB), after resampling: 5e-5 on the
  recording, 4e-5 on noise (the largest in quiet bands near the floor, where float32 rounding of the
  FFT is a larger share of the magnitude); magnitude from features: 2e-5 of the largest;
* Griffin-Lim from a given phase: 3e-6 of the peak after 6 iterations, 4e-4 after 32 (the momentum
  amplifies rounding). Its random start phase (when none is given) comes from numpy's seeded
  generator, not torch's, so that waveform differs from torch's; its quality does not.
"""

from __future__ import annotations

import math

import numpy as np

from specblur.config import SpectrogramConfig

WINDOWS = ("hann", "hamming", "blackman")


def window(name: str, length: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Periodic window of ``length`` samples, as ``torch.{hann,hamming,blackman}_window(length)``."""
    if length <= 0:
        raise ValueError(f"window length must be positive, got {length}")
    if length == 1:
        return np.ones(1, dtype=dtype)
    phase = 2.0 * math.pi * np.arange(length, dtype=np.float64) / length
    if name == "hann":
        w = 0.5 - 0.5 * np.cos(phase)
    elif name == "hamming":
        w = 0.54 - 0.46 * np.cos(phase)
    elif name == "blackman":
        w = 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    else:
        raise ValueError(f"unknown window {name!r}; known: {sorted(WINDOWS)}")
    return w.astype(dtype)


def _full_window(win: np.ndarray, n_fft: int) -> np.ndarray:
    """A window shorter than ``n_fft`` zero-padded to it, centred (as torch.stft does)."""
    if len(win) > n_fft:
        raise ValueError(f"window of {len(win)} samples is longer than n_fft={n_fft}")
    if len(win) == n_fft:
        return win
    left = (n_fft - len(win)) // 2
    out = np.zeros(n_fft, dtype=win.dtype)
    out[left : left + len(win)] = win
    return out


def _float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def stft(wave: np.ndarray, n_fft: int, hop: int, win: np.ndarray) -> np.ndarray:
    """Complex one-sided STFT of ``(..., samples)`` → ``(..., n_fft // 2 + 1, frames)``.

    ``torch.stft(wave, n_fft, hop, len(win), win, center=True, pad_mode="constant")``. float32 input
    gives complex64, float64 input complex128 (the window is cast to the input's precision).
    """
    frames, win = _frames(wave, n_fft, hop, win)
    n_frames = frames.shape[-2]
    dtype = np.result_type(frames.dtype, np.complex64)
    spec = np.empty((*frames.shape[:-2], n_frames, n_fft // 2 + 1), dtype=dtype)
    step = _block(frames.shape, frames.itemsize)
    for i in range(0, n_frames, step):  # (..., frames, bins)
        spec[..., i : i + step, :] = np.fft.rfft(frames[..., i : i + step, :] * win, axis=-1)
    return np.swapaxes(spec, -1, -2)


def stft_magnitude(wave: np.ndarray, n_fft: int, hop: int, win: np.ndarray) -> np.ndarray:
    """``np.abs(stft(wave, n_fft, hop, win))``, the magnitudes taken a block of frames at a time (the
    complex spectrum of the whole signal, twice the magnitudes' size, is never held): the same
    numbers, bit for bit."""
    frames, win = _frames(wave, n_fft, hop, win)
    n_frames = frames.shape[-2]
    out = np.empty((*frames.shape[:-2], n_frames, n_fft // 2 + 1), dtype=frames.dtype)
    step = _block(frames.shape, frames.itemsize)
    for i in range(0, n_frames, step):
        np.abs(np.fft.rfft(frames[..., i : i + step, :] * win, axis=-1), out=out[..., i : i + step, :])
    return np.swapaxes(out, -1, -2)


def _frames(wave: np.ndarray, n_fft: int, hop: int, win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The STFT's frames of ``(..., samples)``, ``(..., frames, n_fft)`` (a view of the signal
    zero-padded by ``n_fft // 2`` each side, as ``torch.stft(center=True)`` pads it), and the window
    padded to ``n_fft`` in the signal's precision."""
    wave = _float(wave)
    half = n_fft // 2
    padded = np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(half, half)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
    return frames, _full_window(np.asarray(win), n_fft).astype(wave.dtype)


_BLOCK_BYTES = 1 << 20
"""The FFTs of :func:`stft` and :func:`istft` run on about this many bytes of frames at a time: numpy's
FFT holds work arrays of about 5 times its output, which then follow the block, not the signal (the
STFT of a 6 s 44.1 kHz channel peaked at 38 MB in one call, for a 6 MB result). The same numbers:
each frame's FFT is its own, and blocks are whole multiples of 64 frames, so the FFT groups frames
for its vector lanes as it would in one call (tests/test_dsp.py)."""


def _block(shape: tuple[int, ...], itemsize: int) -> int:
    """Frames per block of :data:`_BLOCK_BYTES` for frames of ``shape`` ``(..., frames, n)``."""
    per_frame = int(np.prod(shape[:-2], dtype=np.int64)) * shape[-1] * itemsize
    return max(64, _BLOCK_BYTES // max(per_frame, 1) // 64 * 64)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """``(..., n_frames, n)`` → ``(..., n + hop * (n_frames - 1))``: frame ``i`` added at ``i * hop``."""
    *lead, n_frames, n = frames.shape
    r = -(-n // hop)
    if r * hop != n:
        frames = np.concatenate([frames, np.zeros((*lead, n_frames, r * hop - n), dtype=frames.dtype)], axis=-1)
    chunks = frames.reshape(*lead, n_frames, r, hop)
    out = np.zeros((*lead, n_frames + r - 1, hop), dtype=frames.dtype)
    for k in range(r):
        out[..., k : k + n_frames, :] += chunks[..., :, k, :]
    return out.reshape(*lead, -1)[..., : n + hop * (n_frames - 1)]


def istft(spec: np.ndarray, n_fft: int, hop: int, win: np.ndarray, length: int | None = None) -> np.ndarray:
    """Inverse of :func:`stft`: ``(..., n_fft // 2 + 1, frames)`` → ``(..., length)``.

    ``torch.istft(spec, n_fft, hop, len(win), win, center=True, length=length)``: the windowed inverse
    FFTs are overlap-added and divided by the overlap-added squared window; the first ``n_fft // 2``
    samples are dropped and the rest cropped to ``length`` (zero-padded if it asks for more). Raises
    ``ValueError`` where the window envelope vanishes (under 1e-11), as torch raises.
    """
    spec = np.asarray(spec)
    real = np.float64 if spec.dtype == np.complex128 else np.float32
    win = _full_window(np.asarray(win), n_fft).astype(real)
    n_frames = spec.shape[-1]
    columns = np.swapaxes(spec, -1, -2)  # (..., frames, bins)
    frames = np.empty((*columns.shape[:-1], n_fft), dtype=real)
    step = _block(frames.shape, 16)
    for i in range(0, n_frames, step):
        frames[..., i : i + step, :] = (
            np.fft.irfft(columns[..., i : i + step, :], n=n_fft, axis=-1).astype(real, copy=False) * win
        )
    y = _overlap_add(frames, hop)
    envelope = _overlap_add(np.broadcast_to(win * win, (n_frames, n_fft)), hop)
    total = n_fft + hop * (n_frames - 1)
    start = n_fft // 2
    end = total - start if length is None else start + length
    y = y[..., start:end]
    envelope = envelope[start:end]
    if envelope.size and np.abs(envelope).min() < 1e-11:
        raise ValueError("istft: window overlap-add is zero somewhere (hop too large for the window)")
    y = y / envelope
    if end > total:
        y = np.concatenate([y, np.zeros((*y.shape[:-1], end - total), dtype=y.dtype)], axis=-1)
    return y


def scaled_resynthesis(
    wave: np.ndarray, n_fft: int, hop: int, win: np.ndarray, gain: np.ndarray, length: int | None = None
) -> np.ndarray:
    """``istft(stft(wave) * gain, length)`` for a 1-D ``wave`` and a real ``gain`` of the STFT's
    shape ``(n_fft // 2 + 1, frames)``, a block of frames at a time: the spectrum and the inverse
    FFTs' frames of the whole signal (each 8x the signal's own size in float64) are never held, only
    a block's and the overlap-added samples. The same numbers as the two calls, bit for bit: the
    blocks are :func:`istft`'s, and each output hop adds its frames in the order
    :func:`_overlap_add` adds them (tests/test_dsp.py)."""
    if np.ndim(wave) != 1:
        raise ValueError(f"expected one channel of samples, got shape {np.shape(wave)}")
    frames, win = _frames(wave, n_fft, hop, win)
    real = frames.dtype
    half = n_fft // 2
    n_frames = len(frames)
    if gain.shape != (half + 1, n_frames):
        raise ValueError(f"gain of shape {gain.shape} for an STFT of {(half + 1, n_frames)}")
    r = -(-n_fft // hop)
    total = n_fft + hop * (n_frames - 1)
    end = total - half if length is None else half + length
    envelope = _overlap_add(np.broadcast_to(win * win, (n_frames, n_fft)), hop)[half:end]
    if envelope.size and np.abs(envelope).min() < 1e-11:
        raise ValueError("istft: window overlap-add is zero somewhere (hop too large for the window)")
    slots = np.zeros((n_frames + r - 1, hop), dtype=real)  # the overlap-added samples, a hop a row
    held = np.zeros((0, r, hop), dtype=real)  # the last r - 1 frames before the block, in hops

    def add(near: np.ndarray, first: int, lo: int, hi: int) -> None:
        # hops [lo, hi) from the frames near (frame `first` onwards): hop s takes the k-th hop of
        # frame s - k, k ascending, as _overlap_add adds them
        acc = np.zeros((hi - lo, hop), dtype=real)
        for k in range(r):
            a, b = max(lo, first + k, k), min(hi, n_frames + k, first + len(near) + k)
            if b > a:
                acc[a - lo : b - lo] += near[a - k - first : b - k - first, k]
        slots[lo:hi] = acc

    step = _block((n_frames, n_fft), 16)
    for i in range(0, n_frames, step):
        j = min(i + step, n_frames)
        spec = np.fft.rfft(frames[i:j] * win, axis=-1)
        spec *= gain[:, i:j].T
        block = np.fft.irfft(spec, n=n_fft, axis=-1).astype(real, copy=False) * win
        del spec
        if r * hop != n_fft:
            block = np.concatenate([block, np.zeros((j - i, r * hop - n_fft), dtype=real)], axis=-1)
        near = np.concatenate([held, block.reshape(j - i, r, hop)])
        add(near, i - len(held), i, j)  # every frame these hops take is in near
        held = near[len(near) - min(r - 1, len(near)) :]
    add(held, n_frames - len(held), n_frames, n_frames + r - 1)  # the hops after the last frame
    y = slots.reshape(-1)[:total][half:end] / envelope
    if end > total:
        y = np.concatenate([y, np.zeros(end - total, dtype=real)])
    return y


# -- mel bands -------------------------------------------------------------------------------------


def _hz_to_mel(freq: float) -> float:
    return 2595.0 * math.log10(1.0 + freq / 700.0)


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> np.ndarray:
    """HTK triangular mel filterbank ``(n_freqs, n_mels)``, float32, no area normalisation:
    ``torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None,
    mel_scale="htk")``. Computed in float64 and rounded once (torchaudio rounds each step to float32,
    so the two differ by up to about 2e-5 on weights of at most 1)."""
    all_freqs = np.linspace(0.0, float(sample_rate // 2), n_freqs)
    m_pts = np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


def pinv(matrix: np.ndarray) -> np.ndarray:
    """Moore-Penrose pseudo-inverse with ``torch.linalg.pinv``'s cut-off (singular values under
    ``max(rows, cols) * eps(dtype)`` of the largest are dropped), computed in float64."""
    matrix = np.asarray(matrix)
    eps = np.finfo(matrix.dtype).eps if matrix.dtype in (np.float32, np.float64) else np.finfo(np.float32).eps
    u, s, vt = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)
    keep = s > max(matrix.shape) * eps * (s[0] if len(s) else 0.0)
    inv_s = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    return ((vt.T * inv_s) @ u.T).astype(matrix.dtype)


# -- resampling ------------------------------------------------------------------------------------


def _sinc_kernel(orig: int, new: int, dtype: type, lowpass_filter_width: int = 6, rolloff: float = 0.99):
    """torchaudio's polyphase ``sinc_interp_hann`` kernel ``(new, 2 * width + orig)`` and ``width``
    (``orig`` and ``new`` already divided by their gcd), computed in ``dtype`` as torchaudio does."""
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    idx = np.arange(-width, width + orig, dtype=dtype)[None, :] / dtype(orig)
    t = (np.arange(0, -new, -1, dtype=dtype)[:, None] / dtype(new) + idx).astype(dtype)
    t = np.clip(t * dtype(base), -lowpass_filter_width, lowpass_filter_width).astype(dtype)
    win = np.cos(t * dtype(math.pi) / dtype(lowpass_filter_width) / dtype(2)) ** 2
    t = t * dtype(math.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.where(t == 0, dtype(1.0), np.sin(t) / t).astype(dtype)
    kernel = kernel * (win * dtype(base / orig))
    return kernel.astype(dtype), width


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample ``x`` along its last axis from ``rate_in`` to ``rate_out`` (integers, Hz).

    ``torchaudio.functional.resample(x, rate_in, rate_out)`` with its defaults: the rates are divided
    by their gcd, each output phase gets a Hann-windowed sinc of 6 zero crossings at 0.99 of the lower
    Nyquist, the input is zero-padded and the result cut to ``ceil(len * rate_out / rate_in)``.
    float32 stays float32 (the kernel is computed in float32, as torchaudio does), float64 float64;
    anything else becomes float32. Equal rates return ``x`` unchanged.
    """
    if int(rate_in) != rate_in or int(rate_out) != rate_out or rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive integers, got {rate_in} and {rate_out}")
    x = _float(x)
    if rate_in == rate_out:
        return x
    gcd = math.gcd(int(rate_in), int(rate_out))
    orig, new = int(rate_in) // gcd, int(rate_out) // gcd
    dtype = x.dtype.type
    kernel, width = _sinc_kernel(orig, new, dtype)
    length = x.shape[-1]
    pad = [(0, 0)] * (x.ndim - 1) + [(width, width + orig)]
    padded = np.pad(x, pad)
    taps = kernel.shape[1]
    blocks = np.lib.stride_tricks.sliding_window_view(padded, taps, axis=-1)[..., ::orig, :]  # (..., n, taps)
    n_blocks = blocks.shape[-2]
    out = np.empty((*blocks.shape[:-2], n_blocks, new), dtype=x.dtype)
    # the blocks overlap (taps > orig), so a copy of them all could be many times the input: a few MB at a time
    step = max(1, (1 << 20) // taps)
    for i in range(0, n_blocks, step):
        np.matmul(blocks[..., i : i + step, :], kernel.T, out=out[..., i : i + step, :])
    out = out.reshape(*out.shape[:-2], -1)
    return np.ascontiguousarray(out[..., : -(-new * length // orig)])


# -- the model's representation --------------------------------------------------------------------


class Features:
    """The representation of one :class:`SpectrogramConfig`: :class:`specblur.learn.spectrogram.Spectrogram`
    without torch. Waveforms are ``(..., samples)`` arrays; images ``(..., n_bins, frames)`` float32."""

    def __init__(self, config: SpectrogramConfig) -> None:
        if config.window not in WINDOWS:
            raise ValueError(f"unknown window {config.window!r}; known: {sorted(WINDOWS)}")
        if config.scale not in ("mel", "linear"):
            raise ValueError(f"unknown scale {config.scale!r}; use 'mel' or 'linear'")
        self.config = config
        self.window = window(config.window, config.win_length)
        self.window_sum = float(self.window.sum())
        n_freqs = config.n_fft // 2 + 1
        if config.scale == "mel":
            self.fbank: np.ndarray | None = mel_filterbank(
                n_freqs, config.f_min, config.f_max, config.n_mels, config.sample_rate
            )
            self.fbank_pinv: np.ndarray | None = pinv(self.fbank)  # (n_mels, n_freqs)
        else:
            self.fbank = self.fbank_pinv = None

    # -- forward ---------------------------------------------------------------------------------
    def frames(self, n_samples: int) -> int:
        """Number of STFT frames for a signal of ``n_samples``."""
        return n_samples // self.config.hop_length + 1

    def stft(self, wave: np.ndarray) -> np.ndarray:
        """Complex STFT (complex64) of ``(..., samples)`` → ``(..., n_fft // 2 + 1, frames)``."""
        c = self.config
        return stft(np.asarray(wave, dtype=np.float32), c.n_fft, c.hop_length, self.window)

    def magnitude(self, wave: np.ndarray) -> np.ndarray:
        """``np.abs(self.stft(wave))`` (float32), in blocks of frames (:func:`stft_magnitude`)."""
        c = self.config
        return stft_magnitude(np.asarray(wave, dtype=np.float32), c.n_fft, c.hop_length, self.window)

    def features_from_magnitude(self, magnitude: np.ndarray) -> np.ndarray:
        """Linear STFT magnitude → normalised log image ``(..., n_bins, frames)``."""
        c = self.config
        mag = np.asarray(magnitude, dtype=np.float32) / np.float32(self.window_sum)
        if self.fbank is not None:
            mag = np.swapaxes(np.swapaxes(mag, -1, -2) @ self.fbank, -1, -2)
        db = np.float32(20.0) * np.log10(np.maximum(mag, np.float32(10.0 ** (c.floor_db / 20.0))))
        return ((db - np.float32(c.norm_mean_db)) / np.float32(c.norm_std_db)).astype(np.float32)

    def features(self, wave: np.ndarray) -> np.ndarray:
        """Waveform ``(..., samples)`` → normalised log image ``(..., n_bins, frames)``."""
        return self.features_from_magnitude(np.abs(self.stft(wave)))

    def to_db(self, features: np.ndarray) -> np.ndarray:
        """Normalised image → dB."""
        return features * self.config.norm_std_db + self.config.norm_mean_db

    @property
    def floor_value(self) -> float:
        """The normalised value of silence (what padding uses)."""
        c = self.config
        return (c.floor_db - c.norm_mean_db) / c.norm_std_db

    # -- way back --------------------------------------------------------------------------------
    def magnitude_from_features(self, features: np.ndarray) -> np.ndarray:
        """Normalised image → linear STFT magnitude ``(..., n_fft // 2 + 1, frames)`` (float32)."""
        mag = (np.float32(10.0) ** (self.to_db(np.asarray(features, dtype=np.float32)) / np.float32(20.0))).astype(
            np.float32
        )
        if self.fbank_pinv is not None:
            mag = np.maximum(np.swapaxes(np.swapaxes(mag, -1, -2) @ self.fbank_pinv, -1, -2), np.float32(0.0))
        return mag * np.float32(self.window_sum)

    def istft(self, spec: np.ndarray, length: int) -> np.ndarray:
        """Inverse of :meth:`stft`, cropped to ``length`` samples."""
        c = self.config
        return istft(spec, c.n_fft, c.hop_length, self.window, length)

    def griffin_lim(
        self, magnitude: np.ndarray, length: int, phase: np.ndarray | None = None, iters: int | None = None
    ) -> np.ndarray:
        """Waveform whose STFT magnitude approaches ``magnitude`` (fast Griffin-Lim, momentum 0.99).

        ``phase`` (angles, same shape) is the starting phase; when ``None``, uniform random angles
        from ``numpy.random.default_rng(0)`` (so not the same start as the torch version's).
        """
        iters = self.config.griffin_lim_iters if iters is None else iters
        magnitude = np.asarray(magnitude, dtype=np.float32)
        if phase is None:
            phase = np.random.default_rng(0).random(magnitude.shape, dtype=np.float32) * np.float32(2 * math.pi)
        phase = np.asarray(phase, dtype=np.float32)
        angles = (np.cos(phase) + 1j * np.sin(phase)).astype(np.complex64)
        previous = np.zeros_like(angles)
        momentum = 0.99
        factor = np.float32(momentum / (1 + momentum))
        for _ in range(iters):
            wave = self.istft(magnitude * angles, length)
            rebuilt = self.stft(wave)
            accelerated = rebuilt - factor * previous
            angles = accelerated / np.maximum(np.abs(accelerated), np.float32(1e-16))
            previous = rebuilt
        return self.istft(magnitude * angles, length)

    def waveform(self, features: np.ndarray, length: int) -> np.ndarray:
        """Normalised image → waveform of ``length`` samples (phase by Griffin-Lim)."""
        return self.griffin_lim(self.magnitude_from_features(features), length)
