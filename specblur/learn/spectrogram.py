"""STFT, the log-magnitude image the model sees, and the way back to a waveform.

The forward path: STFT (``torch.stft``, centred, zero-padded ends so any length works) → magnitude
divided by the window's sum → mel bands (``torchaudio.functional.melscale_fbanks``) or linear bins →
dB floored at ``floor_db`` → ``(dB - norm_mean_db) / norm_std_db``. The way back inverts each step;
mel bands go back to linear bins through the filterbank's pseudo-inverse (clamped at zero), and the
phase is rebuilt by fast Griffin-Lim (Perraudin et al., 2013), optionally from a given start.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF
from torch import Tensor

from specblur.config import SpectrogramConfig

_WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}


class Spectrogram:
    """The representation of one :class:`SpectrogramConfig` (stateless apart from cached tensors)."""

    def __init__(self, config: SpectrogramConfig) -> None:
        if config.window not in _WINDOWS:
            raise ValueError(f"unknown window {config.window!r}; known: {sorted(_WINDOWS)}")
        if config.scale not in ("mel", "linear"):
            raise ValueError(f"unknown scale {config.scale!r}; use 'mel' or 'linear'")
        self.config = config
        self.window = _WINDOWS[config.window](config.win_length)
        self.window_sum = float(self.window.sum())
        n_freqs = config.n_fft // 2 + 1
        if config.scale == "mel":
            fb = AF.melscale_fbanks(
                n_freqs, config.f_min, config.f_max, config.n_mels, config.sample_rate, norm=None, mel_scale="htk"
            )
            self.fbank: Tensor | None = fb  # (n_freqs, n_mels)
            self.fbank_pinv: Tensor | None = torch.linalg.pinv(fb)  # (n_mels, n_freqs)
        else:
            self.fbank = self.fbank_pinv = None

    # -- forward ---------------------------------------------------------------------------------
    def frames(self, n_samples: int) -> int:
        """Number of STFT frames for a signal of ``n_samples``."""
        return n_samples // self.config.hop_length + 1

    def stft(self, wave: Tensor) -> Tensor:
        """Complex STFT of ``(..., samples)`` → ``(..., n_fft // 2 + 1, frames)``."""
        c = self.config
        shape = wave.shape
        flat = wave.reshape(-1, shape[-1]).float()
        spec = torch.stft(
            flat,
            c.n_fft,
            c.hop_length,
            c.win_length,
            self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return spec.reshape(*shape[:-1], *spec.shape[-2:])

    def features_from_magnitude(self, magnitude: Tensor) -> Tensor:
        """Linear STFT magnitude → normalised log image ``(..., n_bins, frames)``."""
        c = self.config
        mag = magnitude / self.window_sum
        if self.fbank is not None:
            mag = torch.matmul(mag.transpose(-1, -2), self.fbank).transpose(-1, -2)
        db = 20.0 * torch.log10(mag.clamp_min(10.0 ** (c.floor_db / 20.0)))
        return (db - c.norm_mean_db) / c.norm_std_db

    def features(self, wave: Tensor) -> Tensor:
        """Waveform ``(..., samples)`` → normalised log image ``(..., n_bins, frames)``."""
        return self.features_from_magnitude(self.stft(wave).abs())

    def to_db(self, features: Tensor) -> Tensor:
        """Normalised image → dB."""
        return features * self.config.norm_std_db + self.config.norm_mean_db

    @property
    def floor_value(self) -> float:
        """The normalised value of silence (what padding uses)."""
        c = self.config
        return (c.floor_db - c.norm_mean_db) / c.norm_std_db

    # -- way back --------------------------------------------------------------------------------
    def magnitude_from_features(self, features: Tensor) -> Tensor:
        """Normalised image → linear STFT magnitude ``(..., n_fft // 2 + 1, frames)``."""
        mag = 10.0 ** (self.to_db(features) / 20.0)
        if self.fbank_pinv is not None:
            mag = torch.matmul(mag.transpose(-1, -2), self.fbank_pinv).transpose(-1, -2).clamp_min(0.0)
        return mag * self.window_sum

    def istft(self, spec: Tensor, length: int) -> Tensor:
        """Inverse of :meth:`stft`, cropped to ``length`` samples."""
        c = self.config
        shape = spec.shape
        flat = spec.reshape(-1, *shape[-2:])
        wave = torch.istft(flat, c.n_fft, c.hop_length, c.win_length, self.window, center=True, length=length)
        return wave.reshape(*shape[:-2], wave.shape[-1])

    def griffin_lim(
        self, magnitude: Tensor, length: int, phase: Tensor | None = None, iters: int | None = None
    ) -> Tensor:
        """Waveform whose STFT magnitude approaches ``magnitude`` (fast Griffin-Lim, momentum 0.99).

        ``phase`` (angles, same shape) is the starting phase; random when ``None``.
        """
        iters = self.config.griffin_lim_iters if iters is None else iters
        if phase is None:
            gen = torch.Generator().manual_seed(0)
            phase = torch.rand(magnitude.shape, generator=gen) * (2 * math.pi)
        angles = torch.polar(torch.ones_like(magnitude), phase)
        previous = torch.zeros_like(angles)
        momentum = 0.99
        for _ in range(iters):
            wave = self.istft(magnitude * angles, length)
            rebuilt = self.stft(wave)
            accelerated = rebuilt - (momentum / (1 + momentum)) * previous
            angles = accelerated / accelerated.abs().clamp_min(1e-16)
            previous = rebuilt
        return self.istft(magnitude * angles, length)

    def waveform(self, features: Tensor, length: int) -> Tensor:
        """Normalised image → waveform of ``length`` samples (phase by Griffin-Lim)."""
        return self.griffin_lim(self.magnitude_from_features(features), length)
