"""Audio to codes and back, for ``specblur encode`` and ``specblur decode``: every channel through
the model's encoder (at the model's rate), and code files checked against the model before decoding."""

from __future__ import annotations

import math
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


ENCODE_BLOCK_TOP_CELLS = 256
"""Top-level code columns encoded at a time by :func:`encode_file` (about 24 s at 44.1 kHz)."""


def encode_file(loaded: Any, src: str, progress: Any = None) -> CodeFile:
    """The code maps of file (or ``-``) ``src``, as :func:`encode` gives them, made a block of
    :data:`ENCODE_BLOCK_TOP_CELLS` columns at a time from the samples around it (with
    :data:`specblur.edit.plan.CONTEXT_TOP_CELLS` of context, as an edit crops), so memory follows a
    block, not the file. The codes are those of the whole file, cell for cell at the model's rate;
    at another rate each block is resampled from a whole block of the resampler's, as the whole file
    is, and all but a rare tie agree (1 bottom code in 103,360 on a minute at 48 kHz; tested).
    ``progress(done, total)`` is called as blocks are done."""
    from specblur.edit.plan import CONTEXT_TOP_CELLS

    loaded = load_model(loaded)
    model = loaded.model
    spec = model.config.spectrogram
    source = audio.Source(src)
    head = source.info()
    if head.frames == 0:
        raise audio.AudioError(f"{source.label}: has no audio frames")
    rate, hop = spec.sample_rate, spec.hop_length
    reach = -(-(spec.n_fft // 2) // hop)  # frames whose window reaches past a crop's first or last frame
    length = head.frames if head.sample_rate == rate else int(round(head.frames * rate / head.sample_rate))
    n_frames = model.spectrogram.frames(length)
    cell = model.cell["top"][1]
    columns = -(-n_frames // cell)
    fine = model.cell["top"][1] // model.cell["bottom"][1]
    tops, bottoms = [], []
    blocks = range(0, columns, ENCODE_BLOCK_TOP_CELLS)
    for k, c0 in enumerate(blocks):
        c1 = min(columns, c0 + ENCODE_BLOCK_TOP_CELLS)
        a, b = max(0, c0 - CONTEXT_TOP_CELLS), min(columns, c1 + CONTEXT_TOP_CELLS)
        f0, f1 = a * cell, min(n_frames, b * cell)
        # the samples of frames f0 - reach .. f1 - 1 + reach; the centred STFT of them holds frames
        # f0 .. f1 - 1 exactly as the whole file's does (each reads only samples inside the crop)
        wave = _model_samples(source, head, rate, (f0 - reach) * hop, (f1 - 1 + reach) * hop + 1, length)
        image = model.spectrogram.features(wave)[:, None, :, reach : reach + f1 - f0]
        codes = model.encode(image)
        tops.append(codes.top[:, :, c0 - a : c1 - a])
        bottoms.append(codes.bottom[:, :, (c0 - a) * fine : (c1 - a) * fine])
        if progress is not None:
            progress(k + 1, len(blocks))
    meta = {
        "model_name": loaded.name,
        "model_hash": loaded.hash,
        "sample_rate": rate,
        "length": int(length),
        "frames": int(n_frames),
        "source_sample_rate": head.sample_rate,
        "source_channels": head.channels,
        "source_length": head.frames,
        "source_format": head.format,
        "source_subtype": head.subtype,
        "representation": spec.__dict__.copy(),
    }
    return CodeFile(top=np.concatenate(tops, axis=2), bottom=np.concatenate(bottoms, axis=2), meta=meta)


def _model_samples(source: Any, head: Any, rate: int, lo: int, hi: int, length: int) -> np.ndarray:
    """``(channels, hi - lo)`` float32 samples ``[lo, hi)`` of the file at the model's ``rate``
    (``length`` of them in all), zeros outside it, as the whole file's centred STFT pads."""
    a, b = max(0, lo), min(length, hi)
    if head.sample_rate == rate:
        part = source.read_span(a, b).T.astype(np.float32)
    else:
        # the resampler works in blocks of ``orig`` input samples, each giving ``new`` output samples:
        # a crop starting on a block's edge is resampled as the whole file is, sample for sample (the
        # kernel's reach is inside the margin)
        gcd = math.gcd(head.sample_rate, rate)
        orig, new = head.sample_rate // gcd, rate // gcd
        margin = 64 * orig
        ia = max(0, (a * orig // new - margin) // orig * orig)
        ib = min(head.frames, -(-b * orig // new) + margin)
        wide = resample(np.ascontiguousarray(source.read_span(ia, ib).T, dtype=np.float32), head.sample_rate, rate)
        start = ia // orig * new
        part = np.zeros((head.channels, b - a), dtype=np.float32)
        got = wide[:, a - start : b - start]
        part[:, : got.shape[1]] = got
    out = np.zeros((head.channels, hi - lo), dtype=np.float32)
    out[:, a - lo : b - lo] = part
    return out


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
