"""Audio files in and out with soundfile, keeping rate, channels, format and subtype.

``-`` means stdin or stdout: soundfile cannot read from a pipe and writes broken WAV/FLAC headers
to one, so the bytes go through an in-memory buffer. Files are written to a temporary file in the
destination folder and renamed into place, so an error or Ctrl-C never leaves a partial file.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

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


def read(path: str | Path, dtype: str = "float32") -> Audio:
    """Read a file (or ``-`` for stdin). Raises :class:`AudioError` with a one-line reason.

    ``dtype="float64"`` holds every PCM subtype exactly (32-bit integers do not fit a float32), so a
    sample read and written back unchanged is bit-identical.
    """
    name = str(path)
    try:
        if name == "-":
            source: Any = io.BytesIO(sys.stdin.buffer.read())
        else:
            _check_path(name)
            source = name
        with sf.SoundFile(source) as f:
            samples = f.read(dtype=dtype, always_2d=True)
            return Audio(samples, f.samplerate, f.format, f.subtype)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        where = "stdin" if name == "-" else name
        raise AudioError(f"{where}: cannot read audio ({_reason(exc)}); give a WAV, FLAC or OGG file") from exc


@dataclass(frozen=True)
class Info:
    """What a file holds, read from its header only."""

    frames: int
    sample_rate: int
    channels: int
    format: str
    subtype: str
    promised_frames: int | None = None
    """For a WAV file cut short, the frames its header promises (``frames`` is what is there)."""

    @property
    def truncated(self) -> bool:
        return self.promised_frames is not None and self.promised_frames > self.frames


def _wav_promised_frames(path: str) -> int | None:
    """Frames a RIFF WAV header promises in its ``data`` chunk (``None`` if not a plain RIFF WAV)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                size = int.from_bytes(chunk[4:8], "little")
                if chunk[:4] == b"fmt ":
                    fmt = f.read(size)
                    block = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                    f.seek(size % 2, os.SEEK_CUR)
                elif chunk[:4] == b"data":
                    return size // block if block else None
                else:
                    f.seek(size + size % 2, os.SEEK_CUR)
    except OSError:
        return None


def info(path: str | Path) -> Info:
    """The header of an audio file (no samples are read). Raises :class:`AudioError`."""
    name = str(path)
    _check_path(name)
    try:
        with sf.SoundFile(name) as f:
            promised = _wav_promised_frames(name) if f.format == "WAV" else None
            return Info(f.frames, f.samplerate, f.channels, f.format, f.subtype, promised)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioError(f"{name}: cannot read audio ({_reason(exc)}); give a WAV, FLAC or OGG file") from exc


def read_span(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of a file as float64 ``(frames, channels)``; the rest is not read."""
    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(start)
            return f.read(stop - start, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioError(f"{path}: cannot read audio ({_reason(exc)})") from exc


# Formats whose samples sit uncompressed at fixed offsets: a copy of the file can be patched in place.
_PATCHABLE_FORMATS = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "CAF", "AU")
_PATCHABLE_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW")
BLOCK_FRAMES = 1 << 18
"""Frames per block when a file is streamed through (bounded memory whatever the file's length)."""


def _native_dtype(subtype: str) -> str:
    """The dtype that reads and writes a subtype's samples without any change."""
    if subtype in ("PCM_S8", "PCM_U8", "PCM_16"):
        return "int16"
    if subtype in ("PCM_24", "PCM_32"):
        return "int32"
    return "float64" if subtype == "DOUBLE" else "float32"


def write_patched(src: str | Path, dst: str | Path, start: int, samples: np.ndarray) -> None:
    """Write ``dst`` = ``src`` with frames ``[start, start + len(samples))`` replaced by ``samples``.

    Every other sample is the input's, bit for bit, and the file's format and subtype are kept.
    Uncompressed files are copied byte for byte and patched in place; others (FLAC, OGG), and WAV
    files cut short (whose header would lie), are streamed through in blocks of their own sample
    type. Memory stays bounded by the patch and one block, whatever the file's length. Written to a
    temporary file beside ``dst`` and renamed.
    """
    head = info(src)
    target = Path(dst)

    def produce(tmp: Path) -> None:
        if head.format in _PATCHABLE_FORMATS and head.subtype in _PATCHABLE_SUBTYPES and not head.truncated:
            shutil.copyfile(src, tmp)
            if len(samples):
                with sf.SoundFile(tmp, "r+") as f:
                    f.seek(start)
                    f.write(samples)
            return
        dtype = _native_dtype(head.subtype)
        stop = start + len(samples)
        with (
            sf.SoundFile(str(src)) as fin,
            sf.SoundFile(tmp, "w", head.sample_rate, head.channels, head.subtype, format=head.format) as fout,
        ):

            def copy(lo: int, hi: int) -> None:
                fin.seek(lo)
                while lo < hi:
                    block = fin.read(min(BLOCK_FRAMES, hi - lo), dtype=dtype, always_2d=True)
                    if not len(block):
                        return
                    fout.write(block)
                    lo += len(block)

            copy(0, start)
            fout.write(samples)
            copy(stop, head.frames)

    atomic_write(target, produce)


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
