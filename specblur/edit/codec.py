"""Audio to codes and back, for ``specblur encode`` and ``specblur decode``: every channel through
the model's encoder (at the model's rate), and code files checked against the model before decoding.
Both stream: :func:`encode_file` reads a block of the file at a time, :func:`decode_file` makes and
writes a block of the sound at a time, so memory follows a block, not the file."""

from __future__ import annotations

import math
from collections.abc import Iterator
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
    """Code maps → audio at the model's rate (or the source's with ``original_rate``), made whole in
    memory (:func:`decode_blocks` makes the same samples a block at a time)."""
    loaded = load_model(loaded)
    check_codes(loaded, codes, "codes")
    model = loaded.model
    meta = codes.meta
    frames, length = int(meta["frames"]), int(meta["length"])
    maps = Codes(top=codes.top.astype(np.int64), bottom=codes.bottom.astype(np.int64))
    images = model.decode(maps, frames)[:, 0]
    wave = model.spectrogram.griffin_lim(_magnitude(model.spectrogram, images, 0), length)
    rate = int(meta["sample_rate"])
    if original_rate and int(meta["source_sample_rate"]) != rate:
        wave = resample(wave, rate, int(meta["source_sample_rate"]))
        rate = int(meta["source_sample_rate"])
    samples = np.asarray(wave).T.astype(np.float32)
    return audio.Audio(np.clip(samples, -1.0, 1.0), rate, "WAV", "PCM_16")


DECODE_BLOCK_TOP_CELLS = 32
"""Top-level code columns decoded and written at a time by :func:`decode_blocks` (about 3 s at 44.1
kHz): one block's image and Griffin-Lim, with their margins, are what memory holds (measured, 5
minutes of codes: a peak of 270 MB with 32, 358 MB with 64)."""


def decode_blocks(
    loaded: Any, codes: CodeFile, original_rate: bool = False, progress: Any = None
) -> Iterator[np.ndarray]:
    """The sound :func:`decode` makes of ``codes``, as consecutive ``(frames, channels)`` float32
    blocks (clipped to [-1, 1]) of :data:`DECODE_BLOCK_TOP_CELLS` columns each, made one at a time.

    Each block is decoded from its codes with :data:`specblur.edit.plan.CONTEXT_TOP_CELLS` of
    context (the decoder's image of it is then the whole map's, value for value), and its phase
    found by the same Griffin-Lim over the block and a margin of frames on each side that the
    iterations cannot see across (each reaches ``n_fft / hop`` frames further), started from the
    same random phase, frame for frame, as the whole image's (:func:`_start_phase`): the blocks are
    :func:`decode`'s samples (tested). At the source's rate (``original_rate``) the samples are
    resampled a whole group of the resampler's at a time (:class:`_Resampler`), so blocks then come
    a group at a time. ``progress(done, total)`` is called as
    blocks are done."""
    from specblur.edit.plan import CONTEXT_TOP_CELLS
    from specblur.edit.tiles import _give_back

    loaded = load_model(loaded)
    check_codes(loaded, codes, "codes")
    model = loaded.model
    spec = model.spectrogram
    meta = codes.meta
    n_frames, length, rate = int(meta["frames"]), int(meta["length"]), int(meta["sample_rate"])
    hop = spec.config.hop_length
    cell = model.cell["top"][1]
    fine = cell // model.cell["bottom"][1]
    columns = codes.top.shape[2]
    channels = codes.top.shape[0]
    bins = spec.config.n_fft // 2 + 1
    # frames whose Griffin-Lim result a block's edge can reach: each iteration (and the last inverse)
    # spreads a frame's error to the frames its samples overlap
    margin = (spec.config.n_fft // hop) * (spec.config.griffin_lim_iters + 2)
    blocks = list(range(0, columns, DECODE_BLOCK_TOP_CELLS))
    target = int(meta["source_sample_rate"]) if original_rate else rate
    resampler = _Resampler(rate, target, length, channels) if target != rate else None
    for k, c0 in enumerate(blocks):
        c1 = min(columns, c0 + DECODE_BLOCK_TOP_CELLS)
        keep0, keep1 = c0 * cell * hop, min(length, c1 * cell * hop) if c1 < columns else length
        # the frames worked on: the block and its margins, widened to whole chunks of _magnitude's grid
        g0 = max(0, (c0 * cell - margin) // MAGNITUDE_FRAMES * MAGNITUDE_FRAMES)
        g1 = min(n_frames, -(-(c1 * cell + margin) // MAGNITUDE_FRAMES) * MAGNITUDE_FRAMES)
        a = max(0, g0 // cell - CONTEXT_TOP_CELLS)
        b = min(columns, -(-g1 // cell) + CONTEXT_TOP_CELLS)
        maps = Codes(
            top=codes.top[:, :, a:b].astype(np.int64), bottom=codes.bottom[:, :, a * fine : b * fine].astype(np.int64)
        )
        image = model.decode(maps, (b - a) * cell)[:, 0, :, g0 - a * cell : g1 - a * cell]
        magnitude = _magnitude(spec, image, g0)
        del image
        phase = _start_phase((channels, bins, n_frames), g0, g1)
        # the block's samples start at frame g0's centre; at the file's end they stop where it does
        span = length - g0 * hop if g1 == n_frames else (g1 - g0 - 1) * hop
        wave = spec.griffin_lim(magnitude, span, phase=phase)
        del magnitude, phase
        part = np.ascontiguousarray(wave[:, keep0 - g0 * hop : keep1 - g0 * hop])
        del wave
        _give_back()
        for out in [part] if resampler is None else resampler.feed(part, last=k == len(blocks) - 1):
            if out.shape[1]:
                yield np.clip(out.T, -1.0, 1.0).astype(np.float32)
        if progress is not None:
            progress(k + 1, len(blocks))


MAGNITUDE_FRAMES = 64
"""Frames of an image turned into magnitudes at a time, on a grid fixed from the first frame."""


def _magnitude(spec: Any, image: np.ndarray, first: int) -> np.ndarray:
    """``spec.magnitude_from_features(image)`` of image frames ``first...``, made
    :data:`MAGNITUDE_FRAMES` frames at a time on a grid fixed from the sound's first frame: a
    matrix product's rounding depends on where a row falls in it (the BLAS splits it by size), so
    a frame's magnitude is the same whatever span of the image is turned at once."""
    frames = image.shape[-1]
    out = np.empty((*image.shape[:-2], spec.config.n_fft // 2 + 1, frames), dtype=np.float32)
    cut = [0, *range(-first % MAGNITUDE_FRAMES or MAGNITUDE_FRAMES, frames, MAGNITUDE_FRAMES), frames]
    for lo, hi in zip(cut, cut[1:], strict=False):
        if hi > lo:
            out[..., lo:hi] = spec.magnitude_from_features(image[..., lo:hi])
    return out


def _start_phase(shape: tuple[int, int, int], f0: int, f1: int) -> np.ndarray:
    """Frames ``[f0, f1)`` of the random phase :meth:`specblur.runtime.dsp.Features.griffin_lim`
    starts a whole image of ``shape`` ``(channels, bins, frames)`` from
    (``numpy.random.default_rng(0).random(shape, dtype=float32) * 2 pi``), made without the rest:
    element ``i`` of that array is the low (even ``i``) or high (odd ``i``) half of PCG64's
    ``i // 2``-th output, which ``advance`` reaches directly."""
    channels, bins, frames = shape
    n = f1 - f0
    generator = np.random.PCG64(0)
    start = generator.state
    out = np.empty((channels, bins, n), dtype=np.float32)
    for row in range(channels * bins):
        first = row * frames + f0
        generator.state = start
        generator.advance(first // 2)
        raw = generator.random_raw((first % 2 + n + 1) // 2)
        halves = np.empty(2 * len(raw), dtype=np.uint32)
        halves[0::2] = raw & 0xFFFFFFFF
        halves[1::2] = raw >> 32
        out.reshape(-1, n)[row] = (halves[first % 2 : first % 2 + n] >> 8) * np.float32(1.0 / 16777216.0)
    return out * np.float32(2 * math.pi)


class _Resampler:
    """:func:`specblur.runtime.dsp.resample` of a sound fed in consecutive blocks, sample for sample.

    The resampler makes its output blocks (``new`` samples from ``orig`` in) in matrix products of
    ``group`` blocks from the first, and a product's rounding depends on where a row falls in it; so
    here too blocks are made a whole group at a time, on the same grid, once the input the group's
    kernels read has come, from input held since the group before (the kernels reach back into
    it). Memory: two groups of input (about 44 s at 44.1 kHz) and a block."""

    def __init__(self, rate: int, target: int, length: int, channels: int) -> None:
        from specblur.runtime.dsp import _sinc_kernel

        gcd = math.gcd(rate, target)
        self.rate, self.target, self.length = rate, target, length
        self.orig, self.new = rate // gcd, target // gcd
        kernel, width = _sinc_kernel(self.orig, self.new, np.float32)
        self.group = max(1, (1 << 20) // kernel.shape[1])  # as dsp.resample steps through its blocks
        self.reach = width + self.orig + width  # input a block's kernel reads, from width before it
        self.width = width
        self.held = np.zeros((channels, 0), dtype=np.float32)
        self.held_start = 0  # a multiple of orig * group: the held input's first sample
        self.next = 0  # the next output block to give (a multiple of group)
        self.total = -(-self.new * length // self.orig)  # output samples in all

    def feed(self, part: np.ndarray, last: bool) -> Iterator[np.ndarray]:
        self.held = np.concatenate([self.held, part], axis=1)
        have = self.held_start + self.held.shape[1]
        if last:
            upto = -(-self.total // self.new)
        else:
            ready = max(0, (have + self.width - self.reach) // self.orig + 1)  # blocks whose input has come
            upto = ready // self.group * self.group
        if upto <= self.next:
            return
        first = self.held_start // self.orig  # the held input's first block
        out = resample(self.held, self.rate, self.target)
        hi = min((upto - first) * self.new, self.total - first * self.new)
        yield out[:, (self.next - first) * self.new : hi]
        self.next = upto
        keep = max(0, (self.next - self.group) * self.orig)  # the group before: the kernels reach into it
        self.held = self.held[:, keep - self.held_start :]
        self.held_start = keep


def decode_file(
    loaded: Any,
    codes: CodeFile,
    dst: str,
    original_rate: bool = False,
    format: str = "WAV",
    subtype: str = "PCM_16",
    progress: Any = None,
) -> None:
    """Decode ``codes`` into file (or ``-``) ``dst`` block by block (:func:`decode_blocks`), each
    written as it is made: memory follows a block, not the sound. The file is what :func:`decode`'s
    sound written whole would be (at the model's rate, byte for byte for WAV; tested)."""
    loaded = load_model(loaded)
    rate = int(codes.meta["source_sample_rate"]) if original_rate else int(codes.meta["sample_rate"])
    blocks = decode_blocks(loaded, codes, original_rate=original_rate, progress=progress)
    audio.write_blocks(dst, blocks, rate, int(codes.top.shape[0]), format, subtype)
