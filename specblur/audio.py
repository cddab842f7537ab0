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
            if Path(name).is_dir():
                raise AudioError(f"{name}: is a directory, not an audio file")
            if not Path(name).exists():
                raise AudioError(f"{name}: no such file")
            source = name
        with sf.SoundFile(source) as f:
            samples = f.read(dtype=dtype, always_2d=True)
            return Audio(samples, f.samplerate, f.format, f.subtype)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        where = "stdin" if name == "-" else name
        raise AudioError(f"{where}: cannot read audio ({_reason(exc)}); give a WAV, FLAC or OGG file") from exc


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
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
