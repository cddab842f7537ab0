"""The data path composed: audio → codes (``encode``) and codes → audio (``decode``).

These functions take and return in-memory objects; the CLI adds files, and scripts can call them
directly.
"""

from __future__ import annotations

import numpy as np
import torch

from specblur import audio
from specblur.checkpoint import LoadedModel
from specblur.codes import CodeFile
from specblur.errors import CodesError
from specblur.model import Codes


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
