"""Audio to codes and back, for ``specblur encode`` and ``specblur decode``: every channel through
the model's encoder (at the model's rate), and code files checked against the model before decoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from specblur import audio
from specblur.codes import CodeFile
from specblur.errors import CodesError
from specblur.runtime.dsp import resample
from specblur.runtime.loader import load_model
from specblur.runtime.model import Codes, RuntimeModel


def encode(loaded: Any, sound: audio.Audio) -> CodeFile:
    """Each channel of ``sound`` → code maps of ``loaded``'s model (at the model's rate)."""
    loaded = load_model(loaded)
    model = loaded.model
    rate = model.config.spectrogram.sample_rate
    wave = resample(np.ascontiguousarray(sound.samples.T, dtype=np.float32), sound.sample_rate, rate)
    images = model.spectrogram.features(wave)[:, None]
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
    return CodeFile(top=codes.top, bottom=codes.bottom, meta=meta)


def check_codes(loaded: RuntimeModel, codes: CodeFile, name: str) -> None:
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


def decode(loaded: Any, codes: CodeFile, original_rate: bool = False) -> audio.Audio:
    """Code maps → audio at the model's rate (or the source's with ``original_rate``)."""
    loaded = load_model(loaded)
    check_codes(loaded, codes, "codes")
    model = loaded.model
    meta = codes.meta
    frames, length = int(meta["frames"]), int(meta["length"])
    maps = Codes(top=codes.top.astype(np.int64), bottom=codes.bottom.astype(np.int64))
    images = model.decode(maps, frames)[:, 0]
    wave = model.spectrogram.waveform(images, length)
    rate = int(meta["sample_rate"])
    if original_rate and int(meta["source_sample_rate"]) != rate:
        wave = resample(wave, rate, int(meta["source_sample_rate"]))
        rate = int(meta["source_sample_rate"])
    samples = np.asarray(wave).T.astype(np.float32)
    return audio.Audio(np.clip(samples, -1.0, 1.0), rate, "WAV", "PCM_16")
