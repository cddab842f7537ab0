"""The data path composed: audio → codes (``encode``), codes → audio (``decode``), and the effect
(``blur``): encode, redraw a region's codes from the prior, resynthesise only that region.

These functions take and return in-memory objects; the CLI adds files, and scripts can call them
directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from specblur import audio
from specblur.checkpoint import LoadedModel
from specblur.codes import CodeFile
from specblur.errors import CodesError, UsageError
from specblur.model import Codes
from specblur.region import Region, band_centres, locate
from specblur.resynth import apply_change


def encode(loaded: LoadedModel, sound: audio.Audio) -> CodeFile:
    """Each channel of ``sound`` → code maps of ``loaded``'s model (at the model's rate)."""
    model = loaded.model
    rate = model.config.spectrogram.sample_rate
    channels = torch.from_numpy(np.ascontiguousarray(sound.samples.T))
    wave = audio.resample(channels, sound.sample_rate, rate)
    images = model.spectrogram.features(wave).unsqueeze(1)
    codes = model.encode(images)
    meta = {
        "model_name": loaded.name,
        "model_hash": loaded.hash,
        "sample_rate": rate,
        "length": int(wave.shape[-1]),
        "frames": int(images.shape[-1]),
        "source_sample_rate": sound.sample_rate,
        "source_channels": sound.channels,
        "source_length": sound.frames,
        "source_format": sound.format,
        "source_subtype": sound.subtype,
        "representation": model.config.spectrogram.__dict__.copy(),
    }
    return CodeFile(top=codes.top.numpy(), bottom=codes.bottom.numpy(), meta=meta)


def check_codes(loaded: LoadedModel, codes: CodeFile, name: str) -> None:
    """Refuse codes made by another model, or code maps of the wrong shape or range."""
    meta = codes.meta
    if meta.get("model_hash") != loaded.hash:
        raise CodesError(
            f"{name}: made by model {meta.get('model_name')!r} ({str(meta.get('model_hash'))[:12]}), not "
            f"{loaded.name!r} ({loaded.hash[:12]}); decode with --model {meta.get('model_name')}"
        )
    shape = loaded.model.code_shape(int(meta["frames"]))
    for level in ("top", "bottom"):
        maps = getattr(codes, level)
        k = getattr(loaded.model.config.model, level).num_codes
        if tuple(maps.shape[1:]) != shape[level] or maps.min(initial=0) < 0 or maps.max(initial=0) >= k:
            raise CodesError(f"{name}: {level} code map does not fit the model; re-encode the audio")


def decode(loaded: LoadedModel, codes: CodeFile, original_rate: bool = False) -> audio.Audio:
    """Code maps → audio at the model's rate (or the source's with ``original_rate``)."""
    check_codes(loaded, codes, "codes")
    model = loaded.model
    meta = codes.meta
    frames, length = int(meta["frames"]), int(meta["length"])
    maps = Codes(top=torch.from_numpy(codes.top).long(), bottom=torch.from_numpy(codes.bottom).long())
    images = model.decode(maps, frames).squeeze(1)
    wave = model.spectrogram.waveform(images, length)
    rate = int(meta["sample_rate"])
    if original_rate and int(meta["source_sample_rate"]) != rate:
        wave = audio.resample(wave, rate, int(meta["source_sample_rate"]))
        rate = int(meta["source_sample_rate"])
    samples = wave.numpy().T.astype(np.float32)
    return audio.Audio(np.clip(samples, -1.0, 1.0), rate, "WAV", "PCM_16")


# -- the effect ----------------------------------------------------------------------------------

SCALES = {"micro": ("bottom",), "macro": ("top",), "both": ("top", "bottom")}


@dataclass
class BlurResult:
    """The edited samples and what was done."""

    samples: np.ndarray
    """Same shape and dtype as the input."""
    regions: list[Region]
    """The region actually edited, per level (snapped outward to whole code cells)."""
    changed_codes: float
    """Fraction of the region's codes (all channels, all levels) that were redrawn to another code."""
    span: tuple[int, int]
    """Half-open sample range that may differ from the input; every other sample is identical."""
    views: list[dict[str, Any]] = field(default_factory=list)
    """Per channel: images and code maps before and after (for ``--plot``)."""


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


def blur(
    loaded: LoadedModel,
    samples: np.ndarray,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    temperature: float = 1.0,
    sweeps: int = 3,
    seed: int = 0,
    feather: float = 1.0,
    scale: str = "micro",
    keep_views: bool = False,
) -> BlurResult:
    """Redraw the codes of a time-frequency region from the prior and resynthesise that region.

    ``samples`` is ``(frames,)`` or ``(frames, channels)``; each channel is edited on its own.
    ``temperature`` multiplies the prior's fitted temperature (1: the prior as calibrated; higher
    strays further from the original). ``feather`` is the Gaussian brush's width in code cells.
    """
    if not loaded.prior:
        raise CodesError(f"model {loaded.name!r} has no prior over codes; fit one with 'specblur fit-prior DATA'")
    if scale not in SCALES:
        raise UsageError(f"--scale {scale!r}: use micro, macro or both")
    model = loaded.model
    spec_cfg = model.config.spectrogram
    mono = samples.ndim == 1
    data = samples[:, None] if mono else samples
    n, channels = data.shape
    if n == 0:
        raise UsageError("the input has no audio frames")
    duration = n / rate
    n_model = int(round(n * spec_cfg.sample_rate / rate))
    n_frames = model.spectrogram.frames(n_model)
    regions = [
        locate(spec_cfg, model.cell[level], level, duration, n_frames, time, freq, rate) for level in SCALES[scale]
    ]
    n_bins = spec_cfg.n_bins
    fine = regions[-1]
    sigma = (feather * model.cell[fine.level][0], feather * model.cell[fine.level][1])
    pixel = brush(n_bins, n_frames, fine.bins, fine.frames, sigma)
    frame_times = np.arange(n_frames) * spec_cfg.hop_length / spec_cfg.sample_rate
    centres = band_centres(spec_cfg)

    out = np.array(data, copy=True)
    changed = total = 0
    span = (n, 0)
    views = []
    for ch in range(channels):
        wave = audio.resample(
            torch.from_numpy(np.ascontiguousarray(data[:, ch], dtype=np.float32)), rate, spec_cfg.sample_rate
        )
        image = model.spectrogram.features(wave)[None, None]
        codes = model.encode(image)
        new = Codes(top=codes.top.clone(), bottom=codes.bottom.clone())
        rng = np.random.default_rng([seed, ch])
        for region in regions:
            level = region.level
            maps = getattr(new, level)[0].numpy()
            fb, tb = model.cell[level]
            rows, cols = maps.shape
            # the brush seen by cells: the pixel brush averaged over each cell
            padded = np.zeros((rows * fb, cols * tb))
            padded[: min(n_bins, rows * fb), : min(n_frames, cols * tb)] = pixel[: rows * fb, : cols * tb]
            weight = padded.reshape(rows, fb, cols, tb).mean(axis=(1, 3))
            weight[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = 1.0
            prior = loaded.prior[level]
            redrawn = prior.resample(maps, weight, rng, sweeps=sweeps, temperature=prior.temperature * temperature)
            inside = np.zeros_like(maps, dtype=bool)
            inside[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = True
            changed += int((redrawn != maps)[inside].sum())
            total += int(inside.sum())
            getattr(new, level)[0] = torch.from_numpy(redrawn)
        before = model.decode(codes, n_frames)[0, 0].numpy()
        after = model.decode(new, n_frames)[0, 0].numpy()
        change_db = (after - before) * spec_cfg.norm_std_db * pixel
        edited, s = apply_change(
            np.asarray(data[:, ch], dtype=np.float64),
            rate,
            change_db,
            frame_times,
            centres,
            min(spec_cfg.f_max, rate / 2),
            spec_cfg.sample_rate,
            spec_cfg.n_fft,
        )
        out[:, ch] = edited.astype(out.dtype)
        if s[1] > s[0]:
            span = (min(span[0], s[0]), max(span[1], s[1]))
        if keep_views:
            views.append(
                {
                    "before": image[0, 0].numpy(),
                    "after_db": model.spectrogram.to_db(image[0, 0]).numpy() + change_db,
                    "codes_before": codes,
                    "codes_after": new,
                    "change_db": change_db,
                }
            )
    if span[0] >= span[1]:
        span = (0, 0)
    result = out[:, 0] if mono else out
    return BlurResult(result, regions, changed / max(total, 1), span, views)
