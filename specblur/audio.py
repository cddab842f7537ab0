"""Audio files in and out with soundfile, keeping rate, channels, format and subtype.

``-`` means stdin or stdout: soundfile cannot read from a pipe and writes broken WAV/FLAC headers
to one, so stdin is first copied to a temporary file, and what libsndfile writes for stdout goes
through one (memory stays bounded whatever the length). Files are written to a temporary file in the
destination folder and renamed into place, so an error or Ctrl-C never leaves a partial file.
"""

from __future__ import annotations

import heapq
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf

from specblur import _testhooks, container, metadata
from specblur.errors import AudioError, UsageError
from specblur.files import atomic_write, atomic_write_bytes
from specblur.files import reason as _reason

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    ".wav": ("WAV", "WAVEX", "RF64"),
    ".wave": ("WAV", "WAVEX", "RF64"),
    ".bwf": ("WAV", "WAVEX", "RF64"),
    ".rf64": ("RF64",),
    ".w64": ("W64",),
    ".aif": ("AIFF",),
    ".aiff": ("AIFF",),
    ".aifc": ("AIFF",),
    ".caf": ("CAF",),
    ".au": ("AU",),
    ".snd": ("AU",),
    ".flac": ("FLAC",),
    ".ogg": ("OGG",),
    ".oga": ("OGG",),
    ".opus": ("OGG",),
    ".mp3": ("MP3",),
    ".paf": ("PAF",),
    ".svx": ("SVX",),
    ".8svx": ("SVX",),
    ".nist": ("NIST",),
    ".sph": ("NIST",),
    ".voc": ("VOC",),
    ".ircam": ("IRCAM",),
    ".sf": ("IRCAM",),
    ".mat": ("MAT4", "MAT5"),
    ".pvf": ("PVF",),
    ".xi": ("XI",),
    ".htk": ("HTK",),
    ".sds": ("SDS",),
    ".avr": ("AVR",),
    ".sd2": ("SD2",),
    ".wve": ("WVE",),
    ".mpc": ("MPC2K",),
}
"""The audio formats (soundfile's names) a file name's extension may hold: an output named so must
hold one of them."""
OTHER_AUDIO_SUFFIXES = tuple(
    ".aac .ac3 .aiffc .alac .amr .ape .dts .m4a .m4b .mka .mp2 .mp4 .mpga .ra .spx .tta .webm .wma .wv".split()
)
"""Audio extensions of formats specblur never writes: an output so named would lie."""


def names_audio(path: str | Path) -> bool:
    """Whether ``path``'s extension names an audio format (one specblur writes or not)."""
    suffix = Path(path).suffix.lower()
    return suffix in FORMAT_SUFFIXES or suffix in OTHER_AUDIO_SUFFIXES


def check_output_name(dst: str | Path, head: Info, src: str) -> None:
    """Refuse (:class:`UsageError`) an output ``dst`` whose extension names another format than its
    input's (``head``, of file ``src``): an output keeps its input's format, so ``.flac`` for a WAV
    input would be a WAV file under a FLAC name. ``-`` (stdout) and extensions that name no audio
    format (none, ``.out``, ``.tmp``) take the input's format without a word; ``.opus`` wants Ogg Opus.
    """
    if str(dst) == "-":
        return
    suffix = Path(dst).suffix.lower()
    if not names_audio(dst):
        return
    formats = FORMAT_SUFFIXES.get(suffix)
    if formats is not None and head.format in formats and (suffix != ".opus" or head.subtype == "OPUS"):
        return
    fits = _suffix_for(head, src)
    target = Path(dst).with_suffix(fits) if fits else Path(dst).with_suffix("")
    raise UsageError(
        f"{src}: {head.format} ({head.subtype}) audio cannot be written as {dst}: the output keeps the input's format; "
        f"name it {target}, or convert that afterwards (e.g. sox {target} {dst})"
    )


def _suffix_for(head: Info, src: str) -> str:
    """The extension an output of ``head``'s format takes: the input's own where it fits."""
    own = Path(src).suffix.lower() if src not in ("-", "stdin") else ""
    if head.format in FORMAT_SUFFIXES.get(own, ()) and (own != ".opus" or head.subtype == "OPUS"):
        return Path(src).suffix
    if head.format == "OGG" and head.subtype == "OPUS":
        return ".opus"
    return next((suffix for suffix, formats in FORMAT_SUFFIXES.items() if head.format in formats), "")


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
    """An input: a file, or stdin (``-``), with its container layout when :mod:`specblur.container`
    understands it (``None``: compressed or unknown, read by libsndfile).

    stdin is first copied to a temporary file (:func:`_spool_stdin`: a pipe cannot seek), then read
    as a file is, so memory follows what is read of it, not its length; the copy is gone when the
    source is, and whatever ends the process.

    Samples of an understood layout are read from the bytes that a patch will replace, so what is
    edited and what is written back always address the same bytes.
    """

    def __init__(self, name: str | Path) -> None:
        self.name = str(name)
        self.label = "stdin" if self.name == "-" else self.name
        self._info: Info | None = None  # (read by libsndfile: its length probed once)
        self.path = self.name
        if self.name == "-":
            self.path, self.size, self._spooled = _spool_stdin()
        else:
            _check_path(self.name)
            self.size = os.path.getsize(self.name)
        try:
            with self.open() as f:
                self.layout = container.parse(f, self.size)
        except OSError as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)})") from exc

    def open(self) -> BinaryIO:
        """The raw bytes, seekable (each call its own reader)."""
        return open(self.path, "rb")

    def soundfile(self, mode: str = "r") -> sf.SoundFile:
        return sf.SoundFile(self.path, mode)

    def info(self) -> Info:
        layout = self.layout
        if layout is not None:
            promised = layout.promised_frames if layout.truncated else None
            return Info(layout.frames, layout.sample_rate, layout.channels, layout.format, layout.subtype, promised)
        if self._info is not None:
            return self._info
        try:
            with self.soundfile() as f:
                head = Info(f.frames, f.samplerate, f.channels, f.format, f.subtype)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)}); give a WAV, FLAC or OGG file") from exc
        there = self._decodable(head.frames, head.sample_rate)
        if there < head.frames:  # what is there is what is edited and written; the header's count is said
            head = replace(head, frames=there, promised_frames=head.frames)
        self._info = head
        return head

    def shortfall(self) -> str | None:
        """What to tell a user whose file holds less than its header promises (``None``: it holds
        all of it): a file cut short, or a compressed stream that decodes to less than it says."""
        head = self.info()
        if not head.truncated:
            return None
        what = "file cut short" if self.layout is not None else "the audio ends early"
        promised = (head.promised_frames or head.frames) / head.sample_rate
        return f"{what}: its header promises {promised:.3f} s, it holds {head.frames / head.sample_rate:.3f} s"

    def _decodable(self, frames: int, rate: int) -> int:
        """The frames a file read by libsndfile really holds, at most its header's ``frames``. A
        compressed stream's count comes from its last page or frame, which can promise more than
        decodes (an OGG of Battle for Wesnoth's music: 5,806 frames more), and a file cut short
        (a download stopped) promises all of it. The end is probed, a second back from what the
        header says (then 8, 64... seconds back while nothing reads there), so a whole file is not
        decoded to learn it; where the decoder cannot seek there (a FLAC cut mid-frame loses its
        sync), it is read through from the start. Either way a little at a time (memory follows a
        block, not the shortfall), up to where the decoder stops or fails."""
        back = max(1, rate)
        try:
            with self.soundfile() as f:
                while True:
                    start = max(0, frames - back)
                    f.seek(start)
                    got = _readable(f, frames - start)
                    if got or start == 0:
                        return start + got
                    back *= 8
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
            pass
        try:
            with self.soundfile() as f:
                return _readable(f, frames)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
            return 0

    def read_span(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` as float64 ``(frames, channels)``; the rest is not read."""
        layout = self.layout
        try:
            if layout is not None:
                stop = min(stop, layout.frames)
                want = max(0, stop - start) * layout.frame_bytes
                with self.open() as f:
                    f.seek(layout.data_offset + start * layout.frame_bytes)
                    data = f.read(want)
                if len(data) < want:
                    self._ended(start + len(data) // layout.frame_bytes)
                return container.decode(data, layout)
            with self.soundfile() as f:
                stop = min(stop, f.frames)
                f.seek(start)
                out = f.read(stop - start, dtype="float64", always_2d=True)
            if len(out) < stop - start:
                self._ended(start + len(out))
            return out
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise AudioError(f"{self.label}: cannot read audio ({_reason(exc)})") from exc

    def _ended(self, frame: int) -> None:
        """The file holds less than when it was opened (cut or rewritten while being read)."""
        raise AudioError(f"{self.label}: the audio ends early, at frame {frame}: the file changed while being read")

    def read(self, dtype: str = "float64") -> Audio:
        head = self.info()
        return Audio(
            self.read_span(0, head.frames).astype(dtype, copy=False), head.sample_rate, head.format, head.subtype
        )


def _readable(f: sf.SoundFile, most: int) -> int:
    """How many of the next ``most`` frames of ``f`` decode, read 1,024 at a time (a FLAC decoder
    that loses its sync drops the whole read it fails in) up to where it stops or fails."""
    count = 0
    try:
        while count < most:
            got = len(f.read(min(1024, most - count), dtype="int16", always_2d=True))
            if not got:
                break
            count += got
    except (sf.LibsndfileError, RuntimeError):
        pass
    return count


class _Spooled:
    """A temporary copy of stdin: its descriptor is held while the copy is in use; the file has no
    name where the system can open it by its descriptor (Linux's ``/proc/self/fd``), so nothing is
    left even if the process is killed; elsewhere the name is removed when the copy is closed or the
    process exits (Ctrl-C and SIGTERM included)."""

    def __init__(self, fd: int, name: str | None) -> None:
        import weakref

        self._finalizer = weakref.finalize(self, _release, fd, name)

    def close(self) -> None:
        self._finalizer()


def _release(fd: int, name: str | None) -> None:
    os.close(fd)
    if name is not None:
        Path(name).unlink(missing_ok=True)


def _by_descriptor(fd: int) -> str | None:
    """A path that opens the file open as ``fd`` anew (its own reader), where the system has one."""
    path = f"/proc/self/fd/{fd}"
    return path if os.path.exists(path) else None


def _spool_stdin() -> tuple[str, int, _Spooled]:
    """Copy stdin, a block at a time, to a temporary file (``$TMPDIR``, else the system's);
    returns a path that opens it, its size and the :class:`_Spooled` that owns it. A pipe whose
    writer dies mid-way gives what came before, as a file cut at that byte."""
    import shutil
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".specblur-stdin.", suffix=".part")
    except OSError as exc:
        raise AudioError(f"stdin: cannot make a temporary copy in {tempfile.gettempdir()} ({_reason(exc)})") from exc
    by_fd = _by_descriptor(fd)
    named: str | None = name
    if by_fd is not None:
        os.unlink(name)  # from now on only the descriptor holds it
        named = None
    spooled = _Spooled(fd, named)
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, COPY_BYTES)
        size = os.fstat(fd).st_size
    except OSError as exc:
        spooled.close()
        where = tempfile.gettempdir()
        raise AudioError(
            f"stdin: cannot make a temporary copy in {where} ({_reason(exc)}); set TMPDIR to a folder with room"
        ) from exc
    except BaseException:
        spooled.close()
        raise
    return by_fd or name, size, spooled


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


def write_patches(src: Source | str | Path, dst: str | Path, patches: Iterable[tuple[int, np.ndarray]]) -> list[str]:
    """Write ``dst`` (a file, or ``-`` for stdout) = ``src`` with, for each ``(start, samples)`` of
    ``patches``, frames ``[start, start + len(samples))`` replaced by ``samples`` (the patches must
    not overlap); returns warnings (one line each) about anything that could not be kept.

    ``patches`` is a list (in any order) or an iterator that yields them in file order as they are
    made: the output is written as they come, so a long edit holds one patch at a time, not the file.
    A patch that overlaps the one before, or holds a sample that is not finite, stops the write with
    nothing written.

    ``dst`` must be named for ``src``'s format (:func:`check_output_name`): the output keeps it.
    A patch changes only the samples whose stored value it changes: every other sample keeps the
    input's bytes (mu-law's two codes for zero, a float's -0.0). When no sample changes at all, the
    output is an exact copy of the input, whatever its format (nothing is re-encoded).

    An uncompressed file whose layout :mod:`specblur.container` understands is copied byte for byte
    and only the changed samples' bytes are written, in the file's own encoding: header, metadata
    chunks, chunks after the data, pad bytes and every other sample stay the input's. A file cut
    short gets its size fields corrected to what is there (nothing else changes). Other files (FLAC,
    OGG, compressed WAV) are streamed through libsndfile in blocks of their own sample type; a FLAC
    or Ogg file then gets every Vorbis comment and picture of the input back
    (:func:`specblur.metadata.carry`), other files the metadata libsndfile knows (title, artist,
    ...); what is lost is named in the returned warning. Memory stays bounded by one patch and one
    block whatever the file's length. Files are written to a temporary file beside ``dst`` and
    renamed.
    """
    source = src if isinstance(src, Source) else Source(src)
    if isinstance(patches, list | tuple):
        patches = sorted(patches, key=_first)
    head = source.info()
    check_output_name(dst, head, source.label)
    checked = _checked(patches)
    layout = source.layout
    if layout is not None:
        changed = False

        def encoded() -> Iterator[tuple[int, bytes]]:
            nonlocal changed
            for start, x in checked:
                data = _patch_bytes(source, layout, start, x)
                if data is not None:
                    changed = True
                    yield layout.data_offset + start * layout.frame_bytes, data

        def unchanged() -> Iterator[bytes] | None:
            # a file cut short keeps its size fields unless a sample changes: then an exact copy
            return None if changed else _patched_bytes(source, None, iter(()))

        _write_pieces(dst, _patched_bytes(source, layout, encoded()), unchanged if layout.truncated else None)
        return []
    return _stream_patched(source, dst, checked)


def _checked(patches: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
    """The patches as ``(frame, float64 samples)``, each checked as it comes: in order, not
    overlapping the one before, finite."""
    end = None
    for start, samples in patches:
        start, x = int(start), np.asarray(samples, dtype=np.float64)
        if end is not None and start < end[0]:
            raise ValueError(f"patches out of order: frame {start} comes after {end[0]}")
        if end is not None and start < end[1]:
            raise ValueError(f"patches at frames {end[0]} and {start} overlap")
        if not np.all(np.isfinite(x)):
            raise AudioError("the edited samples are not all finite; nothing written")
        end = (start, start + len(x))
        yield start, x


def _write_pieces(
    dst: str | Path, pieces: Iterator[bytes], instead: Callable[[], Iterator[bytes] | None] | None = None
) -> None:
    """Write ``pieces`` to stdout (``-``) or, atomically, to file ``dst``. ``instead`` (optional),
    asked once ``pieces`` are all made, may give other bytes to write in their place (to stdout,
    ``pieces`` are then held until it has answered)."""
    if str(dst) == "-":
        if instead is not None:
            held = list(pieces)
            pieces = instead() or iter(held)
        for piece in pieces:
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return

    def produce_bytes(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            for piece in pieces:
                out.write(piece)
                _testhooks.pause_point("writing")  # tests: a signal while the output is half written
            other = instead() if instead is not None else None
            if other is not None:
                out.seek(0)
                out.truncate()
                for piece in other:
                    out.write(piece)

    atomic_write(Path(dst), produce_bytes)


def _patch_bytes(source: Source, layout: container.Layout, start: int, samples: np.ndarray) -> bytes | None:
    """The bytes of a patch in ``layout``'s encoding, every sample it does not change keeping the
    input's own bytes; ``None`` when it changes no sample."""
    with source.open() as f:
        f.seek(layout.data_offset + start * layout.frame_bytes)
        old = f.read(len(samples) * layout.frame_bytes)
    new = container.keep_unchanged(old, container.encode(samples, layout), layout, samples)
    return None if new == old else new


def _native(samples: np.ndarray, subtype: str) -> np.ndarray:
    """Samples in the dtype and scale libsndfile reads ``subtype`` in (:func:`_native_dtype`: an
    integer of ``b`` bits in the top bits of an int16 or int32), rounded and clipped as
    :mod:`specblur.container` does, so that whether a patch changes a sample is decided on the
    values the file stores, and what is written is exactly that."""
    bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(subtype)
    dtype = _native_dtype(subtype)
    if bits is None:
        return samples.astype(dtype)
    top = float(1 << (bits - 1))
    ints = np.clip(np.round(samples * top), -top, top - 1).astype(np.int64)
    container_bits = 16 if dtype == "int16" else 32
    return (ints << (container_bits - bits)).astype(dtype)


def _changes(fin: sf.SoundFile, start: int, native: np.ndarray, subtype: str) -> bool:
    """Whether writing ``native`` at frame ``start`` of the input open as ``fin`` would change any
    of its samples."""
    fin.seek(start)
    old = fin.read(len(native), dtype=_native_dtype(subtype), always_2d=True)
    return old.shape != native.shape or not np.array_equal(old, native)


def _first(patch: tuple[int, Any]) -> int:
    return patch[0]


def _patched_bytes(
    source: Source, layout: container.Layout | None, patches: Iterator[tuple[int, bytes]]
) -> Iterator[bytes]:
    """The output's bytes, in blocks: the input's, with each ``(byte offset, bytes)`` of ``patches``
    (in order) written over them (and, for a file cut short, its size fields corrected and the data
    ending the file). With no ``layout`` (and no patches): the input's bytes, all of them, as they
    are."""
    end = source.size
    fixes: list[tuple[int, bytes]] = []
    if layout is not None and layout.truncated:
        end = layout.data_offset + layout.data_bytes
        fixes = sorted(container.corrected_sizes(layout), key=_first)
    with source.open() as f:
        pos = 0
        for offset, data in heapq.merge(fixes, patches, key=_first):
            yield from _copy_range(f, pos, offset)
            yield data
            pos = offset + len(data)
        yield from _copy_range(f, pos, end)
    if layout is not None and layout.truncated:
        yield container.end_padding(layout)


def _copy_range(f: BinaryIO, lo: int, hi: int) -> Iterator[bytes]:
    f.seek(lo)
    while lo < hi:
        block = f.read(min(COPY_BYTES, hi - lo))
        if not block:
            return
        yield block
        lo += len(block)


def _stream_patched(source: Source, dst: str | Path, patches: Iterator[tuple[int, np.ndarray]]) -> list[str]:
    """The patches, for files that cannot be patched in place: re-encoded through libsndfile in the
    file's own sample type (:func:`_native`), then the input's tags carried over; an exact copy of
    the input when no patch changes a sample."""
    head = source.info()
    dtype = _native_dtype(head.subtype)
    changed = False

    def produce(out: Any) -> None:
        nonlocal changed
        with source.soundfile() as fin, source.soundfile() as old:
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
                    native = _native(samples, head.subtype)
                    if not _changes(old, start, native, head.subtype):
                        continue  # copied from the input with what is around it
                    changed = True
                    copy(pos, start)
                    fout.write(native)
                    pos = start + len(native)
                copy(pos, head.frames)

    kept: set[str] = set()
    if str(dst) == "-":
        import tempfile

        # made in an unnamed temporary file (soundfile cannot write a header to a pipe), then copied out
        with tempfile.TemporaryFile() as buffer:
            produce(buffer)
            with source.open() as original:
                if not changed:
                    copied: BinaryIO = original
                    size = source.size
                else:
                    metadata.carry(original, buffer)
                    copied, size = buffer, buffer.seek(0, os.SEEK_END)
                    kept = metadata.describe(buffer, size)
                for block in _copy_range(copied, 0, size):
                    sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        if not changed:
            return []
    else:

        def produce_file(tmp: Path) -> None:
            nonlocal kept
            produce(str(tmp))
            if not changed:  # nothing to re-encode after all: the input's bytes, as they are
                with source.open() as original, open(tmp, "wb") as f:
                    for block in _copy_range(original, 0, source.size):
                        f.write(block)
                return
            with source.open() as original, open(tmp, "rb+") as f:
                metadata.carry(original, f)
                kept = metadata.describe(f, os.fstat(f.fileno()).st_size)

        atomic_write(Path(dst), produce_file)
    if not changed:
        return []
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


def write_blocks(
    path: str | Path, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, format: str, subtype: str
) -> None:
    """Write the ``(frames, channels)`` sample ``blocks`` one after another, as they come, as one
    file ``path`` (atomically) or to stdout (``-``: through an unnamed temporary file, as soundfile
    cannot write a header to a pipe), so memory follows a block; the bytes are :func:`write`'s of
    the blocks put together. Nothing is left of a write that fails or is stopped."""
    name = str(path)

    def produce(target: Any) -> None:
        try:
            out = sf.SoundFile(target, "w", sample_rate, channels, subtype, format=format)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(f"{name}: cannot encode {format}/{subtype} ({_reason(exc)})") from exc
        with out:
            for block in blocks:
                out.write(block)
                _testhooks.pause_point("writing")  # tests: a signal while the output is half written

    if name != "-":
        atomic_write(Path(name), lambda tmp: produce(str(tmp)))
        return
    import tempfile

    with tempfile.TemporaryFile() as spool:
        produce(spool)
        for block in _copy_range(spool, 0, spool.seek(0, os.SEEK_END)):
            sys.stdout.buffer.write(block)
    sys.stdout.buffer.flush()


def clips(subtype: str) -> bool:
    """Whether a file of this sample type stores integers, which cannot go beyond full scale."""
    return subtype.startswith("PCM") or subtype in ("ULAW", "ALAW")


def fit_subtype(samples: np.ndarray, subtype: str) -> np.ndarray:
    """Clip to [-1, 1] for integer subtypes (libsndfile would wrap around); floats pass as they are."""
    if clips(subtype):
        return np.clip(samples, -1.0, 1.0)
    return samples


def to_mono(samples: np.ndarray) -> np.ndarray:
    """``(frames, channels)`` → ``(frames,)`` by averaging the channels."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def _check_path(name: str) -> None:
    if Path(name).is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not Path(name).exists():
        raise AudioError(f"{name}: no such file")
