"""Audio files in and out with soundfile, keeping rate, channels, format and subtype.

``-`` means stdin or stdout: soundfile cannot read from a pipe and writes broken WAV/FLAC headers
to one, so the bytes go through an in-memory buffer. Files are written to a temporary file in the
destination folder and renamed into place, so an error or Ctrl-C never leaves a partial file.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf

from specblur import _testhooks, container, metadata
from specblur.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass
class Audio:
    """Samples ``(frames, channels)`` as floats in [-1, 1], and what is needed to write them back."""

    samples: np.ndarray
    sample_rate: int
    format: str = "WAV"
    subtype: str = "PCM_16"

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


class Source:
    """An input: a file, or stdin's bytes (``-``), with its container layout when
    :mod:`specblur.container` understands it (``None``: compressed or unknown, read by libsndfile).

    Samples of an understood layout are read from the bytes that a patch will replace, so what is
    edited and what is written back always address the same bytes.
    """

    def __init__(self, name: str | Path) -> None:
        self.name = str(name)
        self.label = "stdin" if self.name == "-" else self.name
        self._data: bytes | None = None
        if self.name == "-":
            self._data = sys.stdin.buffer.read()
            self.size = len(self._data)
        else:
            _check_path(self.name)
            self.size = os.path.getsize(self.name)
        try:
            with self.open() as f:
                self.layout = container.parse(f, self.size)
        except OSError as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)})") from exc

    def open(self) -> BinaryIO:
        """The raw bytes, seekable."""
        return io.BytesIO(self._data) if self._data is not None else open(self.name, "rb")

    def soundfile(self, mode: str = "r") -> sf.SoundFile:
        return sf.SoundFile(io.BytesIO(self._data) if self._data is not None else self.name, mode)

    def info(self) -> Info:
        layout = self.layout
        if layout is not None:
            promised = layout.promised_frames if layout.truncated else None
            return Info(layout.frames, layout.sample_rate, layout.channels, layout.format, layout.subtype, promised)
        try:
            with self.soundfile() as f:
                return Info(f.frames, f.samplerate, f.channels, f.format, f.subtype)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)}); give a WAV, FLAC or OGG file") from exc

    def read_span(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` as float64 ``(frames, channels)``; the rest is not read."""
        layout = self.layout
        try:
            if layout is not None:
                stop = min(stop, layout.frames)
                with self.open() as f:
                    f.seek(layout.data_offset + start * layout.frame_bytes)
                    return container.decode(f.read(max(0, stop - start) * layout.frame_bytes), layout)
            with self.soundfile() as f:
                f.seek(start)
                return f.read(stop - start, dtype="float64", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)})") from exc

    def read(self, dtype: str = "float64") -> Audio:
        head = self.info()
        return Audio(
            self.read_span(0, head.frames).astype(dtype, copy=False), head.sample_rate, head.format, head.subtype
        )


def read(path: str | Path, dtype: str = "float32") -> Audio:
    """Read a file (or ``-`` for stdin). Raises :class:`AudioError` with a one-line reason.

    ``dtype="float64"`` holds every PCM subtype exactly (32-bit integers do not fit a float32), so a
    sample read and written back unchanged is bit-identical.
    """
    return Source(path).read(dtype)


@dataclass(frozen=True)
class Info:
    """What a file holds, read from its header only."""

    frames: int
    sample_rate: int
    channels: int
    format: str
    subtype: str
    promised_frames: int | None = None
    """For a file cut short, the frames its header promises (``frames`` is what is there)."""

    @property
    def truncated(self) -> bool:
        return self.promised_frames is not None and self.promised_frames > self.frames


def info(path: str | Path) -> Info:
    """The header of an audio file (no samples are read). Raises :class:`AudioError`."""
    return Source(path).info()


def read_span(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of a file as float64 ``(frames, channels)``; the rest is not read."""
    return Source(path).read_span(start, stop)


BLOCK_FRAMES = 1 << 18
"""Frames per block when a file is streamed through (bounded memory whatever the file's length)."""
COPY_BYTES = 1 << 22
"""Bytes per block when a file's bytes are copied."""


def _native_dtype(subtype: str) -> str:
    """The dtype that reads and writes a subtype's samples without any change."""
    if subtype in ("PCM_S8", "PCM_U8", "PCM_16"):
        return "int16"
    if subtype in ("PCM_24", "PCM_32"):
        return "int32"
    return "float64" if subtype == "DOUBLE" else "float32"


def write_patched(src: Source | str | Path, dst: str | Path, start: int, samples: np.ndarray) -> list[str]:
    """:func:`write_patches` with one patch: ``samples`` at frame ``start``."""
    return write_patches(src, dst, [(start, samples)])


def write_patches(src: Source | str | Path, dst: str | Path, patches: list[tuple[int, np.ndarray]]) -> list[str]:
    """Write ``dst`` (a file, or ``-`` for stdout) = ``src`` with, for each ``(start, samples)`` of
    ``patches``, frames ``[start, start + len(samples))`` replaced by ``samples`` (the patches must
    not overlap); returns warnings (one line each) about anything that could not be kept.

    An uncompressed file whose layout :mod:`specblur.container` understands is copied byte for byte
    and only the changed samples' bytes are written, in the file's own encoding: header, metadata
    chunks, chunks after the data, pad bytes and every other sample stay the input's. A file cut
    short gets its size fields corrected to what is there (nothing else changes). Other files (FLAC,
    OGG, compressed WAV) are streamed through libsndfile in blocks of their own sample type with the
    metadata it knows (title, artist, ...); what is lost is named in the returned warning. Memory
    stays bounded by the patch and one block whatever the file's length. Files are written to a
    temporary file beside ``dst`` and renamed. Non-finite samples are refused.
    """
    source = src if isinstance(src, Source) else Source(src)
    patches = sorted(((int(start), np.asarray(samples, dtype=np.float64)) for start, samples in patches), key=_first)
    for (a, x), (b, _) in zip(patches, patches[1:], strict=False):
        if a + len(x) > b:
            raise ValueError(f"patches at frames {a} and {b} overlap")
    if not all(np.all(np.isfinite(x)) for _, x in patches):
        raise AudioError("the edited samples are not all finite; nothing written")
    if source.layout is not None:
        layout = source.layout
        pieces = _patched_bytes(source, layout, [(start, container.encode(x, layout)) for start, x in patches])
        if str(dst) == "-":
            for piece in pieces:
                sys.stdout.buffer.write(piece)
            sys.stdout.buffer.flush()
            return []

        def produce_bytes(tmp: Path) -> None:
            with open(tmp, "wb") as out:
                for piece in pieces:
                    out.write(piece)
                    _testhooks.pause_point("writing")  # tests: a signal while the output is half written

        atomic_write(Path(dst), produce_bytes)
        return []
    return _stream_patched(source, dst, patches)


def _first(patch: tuple[int, Any]) -> int:
    return patch[0]


def _patched_bytes(source: Source, layout: container.Layout, patches: list[tuple[int, bytes]]) -> Iterator[bytes]:
    """The output's bytes, in blocks: the input's, with each patch's bytes at its frame (and, for a
    file cut short, its size fields corrected and the data ending the file)."""
    end = source.size
    fixes = []
    if layout.truncated:
        end = layout.data_offset + layout.data_bytes
        fixes = container.corrected_sizes(layout)
    new = [(layout.data_offset + start * layout.frame_bytes, data) for start, data in patches]
    edits = sorted([*fixes, *new], key=_first)
    with source.open() as f:
        pos = 0
        for offset, data in edits:
            yield from _copy_range(f, pos, offset)
            yield data
            pos = offset + len(data)
        yield from _copy_range(f, pos, end)
    if layout.truncated:
        yield container.end_padding(layout)


def _copy_range(f: BinaryIO, lo: int, hi: int) -> Iterator[bytes]:
    f.seek(lo)
    while lo < hi:
        block = f.read(min(COPY_BYTES, hi - lo))
        if not block:
            return
        yield block
        lo += len(block)


def _stream_patched(source: Source, dst: str | Path, patches: list[tuple[int, np.ndarray]]) -> list[str]:
    """The patches for files that cannot be patched in place: re-encoded through libsndfile."""
    head = source.info()
    dtype = _native_dtype(head.subtype)

    def produce(out: Any) -> None:
        with source.soundfile() as fin:
            tags = {k: v for k, v in fin.copy_metadata().items() if v}
            with sf.SoundFile(out, "w", head.sample_rate, head.channels, head.subtype, format=head.format) as fout:
                for key, value in tags.items():
                    try:
                        setattr(fout, key, value)
                    except (sf.LibsndfileError, RuntimeError):
                        pass  # counted as lost below

                def copy(lo: int, hi: int) -> None:
                    fin.seek(lo)
                    while lo < hi:
                        block = fin.read(min(BLOCK_FRAMES, hi - lo), dtype=dtype, always_2d=True)
                        if not len(block):
                            return
                        fout.write(block)
                        lo += len(block)

                pos = 0
                for start, samples in patches:
                    copy(pos, start)
                    fout.write(samples)
                    pos = start + len(samples)
                copy(pos, head.frames)

    if str(dst) == "-":
        buffer = io.BytesIO()
        produce(buffer)
        kept = metadata.describe(buffer, len(buffer.getvalue()))
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
    else:

        def produce_file(tmp: Path) -> None:
            nonlocal kept
            produce(str(tmp))
            with open(tmp, "rb") as f:
                kept = metadata.describe(f, tmp.stat().st_size)

        kept: set[str] = set()
        atomic_write(Path(dst), produce_file)
    with source.open() as f:
        lost = metadata.describe(f, source.size) - kept
    if not lost:
        return []
    return [f"{source.label}: re-encoded as {head.format}; not kept: {', '.join(sorted(lost))}"]


def write(path: str | Path, audio: Audio, overwrite: bool = True) -> None:
    """Write ``audio`` atomically to ``path`` (or stdout for ``-``), keeping its format and subtype."""
    name = str(path)
    buffer = io.BytesIO()
    try:
        sf.write(buffer, audio.samples, audio.sample_rate, format=audio.format, subtype=audio.subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{name}: cannot encode {audio.format}/{audio.subtype} ({_reason(exc)})") from exc
    if name == "-":
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
        return
    atomic_write_bytes(Path(name), buffer.getvalue(), overwrite=overwrite)


def atomic_write_bytes(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""

    def produce(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, produce, overwrite)


def atomic_write(path: Path, produce: Any, overwrite: bool = True) -> None:
    """``produce(tmp)`` writes a temporary file beside ``path``, which is synced and renamed into
    place; on any error or Ctrl-C the temporary file is removed and ``path`` is untouched."""
    folder = path.parent
    if not folder.is_dir():
        raise AudioError(f"{path}: folder {folder} does not exist; create it first")
    if not overwrite and path.exists():
        raise AudioError(f"{path}: exists; use --force to replace it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise AudioError(f"{path}: cannot write in {folder} ({_reason(exc)})") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.close(fd)
        produce(Path(tmp))
        _testhooks.pause_point("renaming")  # tests: a signal after the write, before the rename
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)):  # libsndfile's errors are RuntimeErrors
            raise AudioError(f"{path}: cannot write ({_reason(exc)})") from exc
        raise


def fit_subtype(samples: np.ndarray, subtype: str) -> np.ndarray:
    """Clip to [-1, 1] for integer subtypes (libsndfile would wrap around); floats pass as they are."""
    if subtype.startswith("PCM") or subtype in ("ULAW", "ALAW"):
        return np.clip(samples, -1.0, 1.0)
    return samples


def to_mono(samples: np.ndarray) -> np.ndarray:
    """``(frames, channels)`` → ``(frames,)`` by averaging the channels."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample(wave: Any, rate_in: int, rate_out: int) -> Any:
    """Resample a float tensor or array along its last axis (torchaudio's windowed sinc)."""
    if rate_in == rate_out:
        return wave
    import torch
    import torchaudio.functional as AF

    tensor = torch.as_tensor(wave, dtype=torch.float32)
    out = AF.resample(tensor, rate_in, rate_out)
    return out if isinstance(wave, torch.Tensor) else out.numpy()


def _check_path(name: str) -> None:
    if Path(name).is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not Path(name).exists():
        raise AudioError(f"{name}: no such file")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
