"""Where the samples of an uncompressed audio file sit, read from the container's own structure.

A patched output must be the input with only the changed samples' bytes replaced: no library may
rewrite the header (libsndfile in ``r+`` mode rewrites it in its own layout and leaves the samples
at their old offsets). So this module walks the chunks of RIFF/RIFX/RF64/BW64 WAV, Sony Wave64,
AIFF/AIFC, CAF and Sun/NeXT AU files itself, finds the first sample's byte offset and the sample
encoding (integer, unsigned, float, mu-law or A-law; width; byte order), and decodes and encodes
samples in exactly that encoding. A file it does not understand gives ``None`` and is streamed
through libsndfile by the caller instead.

Sample values follow libsndfile's reading convention, so a file reads the same here as with
soundfile: an integer of ``b`` bits is divided by ``2**(b-1)`` (unsigned 8-bit first loses its
offset of 128), mu-law and A-law decode to 16-bit values (G.711) divided by 32768, floats are
taken as they are. Encoding is the exact inverse for every value that decoding can produce, so a
sample read and written back unchanged keeps its bytes.

Formats and size fields (all measured in bytes unless said):

- RIFF (little-endian) and RIFX (big-endian) ``WAVE``: chunks ``id, u32 size`` padded to even
  sizes; ``fmt `` holds tag, channels, rate, byte rate, block align, bits (then ``cbSize`` and, for
  ``WAVE_FORMAT_EXTENSIBLE``, valid bits, channel mask and the sub-format GUID). A ``data`` size of
  0xFFFFFFFF (what ffmpeg and others write to a pipe) means "to the end of the file".
- RF64 / BW64: as RIFF, with a ``ds64`` chunk first whose 64-bit data size replaces the
  ``data`` chunk's 0xFFFFFFFF.
- Wave64: 16-byte GUIDs and 64-bit sizes that include the 24-byte chunk header, chunks aligned to
  8 bytes.
- AIFF / AIFC (big-endian): ``COMM`` (channels, frames, bits, 80-bit extended rate, and for AIFC
  a compression type), ``SSND`` (offset, block size, then samples).
- CAF: ``desc`` (float64 rate, format id, flags, bytes per packet, frames per packet, channels,
  bits) and ``data`` (a 32-bit edit count, then samples; size -1 means "to the end of the file").
- AU: ``.snd`` (big-endian) or ``dns.`` (little-endian): header offset, data size (0xFFFFFFFF
  unknown), encoding, rate, channels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

UNKNOWN_32 = 0xFFFFFFFF


@dataclass(frozen=True)
class SizeField:
    """A header field that states a size, and how to recompute it when the data holds ``n`` bytes
    and ends the file: ``base + n`` (``data``), ``base + n // frame_bytes`` (``frames``) or
    ``base + n + padding`` (``file``: a size that runs to the end of the file)."""

    offset: int
    width: int
    byteorder: str
    what: str
    base: int = 0


@dataclass(frozen=True)
class Layout:
    """Where and how an uncompressed file stores its samples."""

    container: str
    """RIFF, RIFX, RF64, BW64, W64, AIFF, AIFC, CAF or AU."""
    sample_rate: int
    channels: int
    encoding: str
    """``int`` (two's complement), ``uint`` (offset binary), ``float``, ``ulaw`` or ``alaw``."""
    width: int
    """Bytes per stored sample."""
    byteorder: str
    """``<`` or ``>``."""
    data_offset: int
    """Absolute byte offset of the first sample."""
    data_bytes: int
    """Bytes of whole frames present in the file."""
    promised_bytes: int | None
    """What the header says the data holds; ``None`` for a stream of unknown length."""
    valid_bits: int = 0
    """Meaningful bits of each sample when fewer than ``8 * width`` (0: all of them)."""
    size_fields: tuple[SizeField, ...] = field(default=())
    """The header fields that state sizes (to correct them for a file cut short)."""
    chunks: tuple[str, ...] = ()
    """The ids of the container's chunks, in file order."""

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes

    @property
    def promised_frames(self) -> int | None:
        return None if self.promised_bytes is None else self.promised_bytes // self.frame_bytes

    @property
    def truncated(self) -> bool:
        return self.promised_bytes is not None and self.promised_bytes > self.data_bytes

    @property
    def format(self) -> str:
        """soundfile's name of the major format."""
        return {"RIFF": "WAV", "RIFX": "WAV", "BW64": "RF64", "AIFC": "AIFF"}.get(self.container, self.container)

    @property
    def subtype(self) -> str:
        """soundfile's name of the sample encoding."""
        if self.encoding in ("ulaw", "alaw"):
            return self.encoding.upper()
        if self.encoding == "float":
            return "FLOAT" if self.width == 4 else "DOUBLE"
        if self.width == 1:
            return "PCM_U8" if self.encoding == "uint" else "PCM_S8"
        return f"PCM_{8 * self.width}"


class _Unsupported(Exception):
    """The file's layout is not one this module can patch (the caller streams it instead)."""


def parse(f: BinaryIO, size: int) -> Layout | None:
    """The layout of the file open in ``f`` (``size`` bytes long), or ``None`` if not understood."""
    f.seek(0)
    head = f.read(16)
    try:
        if head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
            return _riff(f, size, head[:4].decode())
        if head == _W64_RIFF:
            return _w64(f, size)
        if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            return _aiff(f, size, head[8:12].decode())
        if head[:4] == b"caff":
            return _caf(f, size)
        if head[:4] in (b".snd", b"dns."):
            return _au(f, size, head)
    except (_Unsupported, struct.error):
        return None
    return None


def chunk_ids(f: BinaryIO, size: int) -> list[str]:
    """The chunk ids of a RIFF-like or AIFF file, whatever its encoding (empty if not such a file)."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12:
        return []
    if head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        order = ">" if head[:4] == b"RIFX" else "<"
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        order = ">"
    else:
        return []
    ids = []
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        cid, csize = struct.unpack(order[0] + "4sI", f.read(8))
        ids.append(cid.decode("latin-1"))
        if csize == UNKNOWN_32:
            break
        pos += 8 + csize + (csize & 1)
    return ids


# -- RIFF, RIFX, RF64, BW64 -------------------------------------------------------------------------

_TAG_PCM, _TAG_FLOAT, _TAG_ALAW, _TAG_ULAW, _TAG_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _riff(f: BinaryIO, size: int, kind: str) -> Layout:
    order = ">" if kind == "RIFX" else "<"
    wide = kind in ("RF64", "BW64")
    riff_fields: list[tuple[int, int]] = []  # (offset, width) of sizes that run to the end of the file
    fields: list[SizeField] = []
    if not wide and struct.unpack(order + "I", _read(f, 4, 4))[0] != UNKNOWN_32:
        riff_fields.append((4, 4))
    ds64_data: int | None = None
    fmt: bytes | None = None
    ids: list[str] = []
    pos = 12
    while pos + 8 <= size:
        cid, csize = struct.unpack(order + "4sI", _read(f, pos, 8))
        ids.append(cid.decode("latin-1"))
        body = pos + 8
        if cid == b"ds64" and wide:
            ds64_data = struct.unpack("<Q", _read(f, body + 8, 8))[0]
            riff_fields.append((body, 8))
            fields.append(SizeField(body + 8, 8, "<", "data"))
            if csize >= 24 and struct.unpack("<Q", _read(f, body + 16, 8))[0]:
                fields.append(SizeField(body + 16, 8, "<", "frames"))
        elif cid == b"fmt ":
            fmt = _read(f, body, min(csize, 40))
        elif cid == b"fact" and csize >= 4:
            if struct.unpack(order + "I", _read(f, body, 4))[0] != UNKNOWN_32:
                fields.append(SizeField(body, 4, order, "frames"))
        elif cid == b"data":
            if fmt is None:
                raise _Unsupported("data before fmt")
            declared: int | None = csize
            if csize == UNKNOWN_32:
                declared = ds64_data if wide else None
            else:
                fields.append(SizeField(pos + 4, 4, order, "data"))
            fields += [SizeField(o, w, "<" if w == 8 else order, "file", body - 8) for o, w in riff_fields]
            encoding, width, valid, channels, rate = _wav_format(fmt, order)
            return _layout(kind, rate, channels, encoding, width, order, body, declared, size, valid, fields, ids)
        if csize == UNKNOWN_32:
            raise _Unsupported("a chunk of unknown size before data")
        pos = body + csize + (csize & 1)
    raise _Unsupported("no data chunk")


def _wav_format(fmt: bytes, order: str) -> tuple[str, int, int, int, int]:
    if len(fmt) < 16:
        raise _Unsupported("short fmt chunk")
    tag, channels, rate, _, block, bits = struct.unpack(order + "HHIIHH", fmt[:16])
    valid = 0
    if tag == _TAG_EXTENSIBLE:
        if len(fmt) < 40:
            raise _Unsupported("short extensible fmt chunk")
        valid = struct.unpack(order + "H", fmt[18:20])[0]
        tag = struct.unpack(order + "H", fmt[24:26])[0]
    if channels < 1 or block < channels or block % channels:
        raise _Unsupported("odd block alignment")
    width = block // channels
    valid = valid or bits
    if tag == _TAG_PCM and 1 <= width <= 4 and bits <= 8 * width:
        return ("uint" if width == 1 else "int"), width, valid, channels, rate
    if tag == _TAG_FLOAT and width in (4, 8):
        return "float", width, 0, channels, rate
    if tag in (_TAG_ULAW, _TAG_ALAW) and width == 1:
        return ("ulaw" if tag == _TAG_ULAW else "alaw"), 1, 0, channels, rate
    raise _Unsupported(f"WAV format tag {tag:#x}, {bits} bits")


# -- Sony Wave64 ------------------------------------------------------------------------------------

_W64_TAIL = bytes.fromhex("f3acd3118cd100c04f8edb8a")
_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_W64_WAVE = b"wave" + _W64_TAIL
_W64_FMT = b"fmt " + _W64_TAIL
_W64_DATA = b"data" + _W64_TAIL


def _w64(f: BinaryIO, size: int) -> Layout:
    if _read(f, 24, 16) != _W64_WAVE:
        raise _Unsupported("not a Wave64 WAVE file")
    fmt: bytes | None = None
    ids: list[str] = []
    pos = 40
    while pos + 24 <= size:
        guid = _read(f, pos, 16)
        csize = struct.unpack("<Q", _read(f, pos + 16, 8))[0]
        ids.append(guid[:4].decode("latin-1") if guid[4:] == _W64_TAIL else guid.hex())
        if csize < 24:
            raise _Unsupported("bad Wave64 chunk size")
        body = pos + 24
        if guid == _W64_FMT:
            fmt = _read(f, body, min(csize - 24, 40))
        elif guid == _W64_DATA:
            if fmt is None:
                raise _Unsupported("data before fmt")
            encoding, width, valid, channels, rate = _wav_format(fmt, "<")
            fields = (SizeField(16, 8, "<", "file", body), SizeField(pos + 16, 8, "<", "data", 24))
            return _layout("W64", rate, channels, encoding, width, "<", body, csize - 24, size, valid, fields, ids)
        pos += (csize + 7) // 8 * 8
    raise _Unsupported("no data chunk")


# -- AIFF, AIFC ------------------------------------------------------------------------------------

_AIFC_TYPES = {
    b"NONE": ("int", ">"),
    b"twos": ("int", ">"),
    b"in24": ("int", ">"),
    b"in32": ("int", ">"),
    b"sowt": ("int", "<"),
    b"raw ": ("uint", ">"),
    b"fl32": ("float", ">"),
    b"FL32": ("float", ">"),
    b"fl64": ("float", ">"),
    b"FL64": ("float", ">"),
    b"ulaw": ("ulaw", ">"),
    b"ULAW": ("ulaw", ">"),
    b"alaw": ("alaw", ">"),
    b"ALAW": ("alaw", ">"),
}


def _aiff(f: BinaryIO, size: int, kind: str) -> Layout:
    comm: bytes | None = None
    comm_at = 0
    ids: list[str] = []
    pos = 12
    while pos + 8 <= size:
        cid, csize = struct.unpack(">4sI", _read(f, pos, 8))
        ids.append(cid.decode("latin-1"))
        body = pos + 8
        if cid == b"COMM":
            comm, comm_at = _read(f, body, min(csize, 26)), body
        elif cid == b"SSND":
            if comm is None or len(comm) < 18:
                raise _Unsupported("SSND before COMM")
            channels, frames, bits = struct.unpack(">hIh", comm[:8])
            rate = _extended(comm[8:18])
            encoding, order = "int", ">"
            if kind == "AIFC":
                if len(comm) < 22:
                    raise _Unsupported("short AIFC COMM chunk")
                if comm[18:22] not in _AIFC_TYPES:
                    raise _Unsupported(f"AIFC compression {comm[18:22]!r}")
                encoding, order = _AIFC_TYPES[comm[18:22]]
            if encoding in ("ulaw", "alaw"):
                width = 1
            elif encoding == "float":
                width = 8 if comm[18:22] in (b"fl64", b"FL64") else 4
            else:
                width = (bits + 7) // 8
            if channels < 1 or not 1 <= width <= 8 or rate <= 0:
                raise _Unsupported("bad COMM chunk")
            offset = struct.unpack(">I", _read(f, body, 4))[0]
            start = body + 8 + offset
            declared = frames * width * channels
            fields = (
                SizeField(4, 4, ">", "file", start - 8),
                SizeField(comm_at + 2, 4, ">", "frames"),
                SizeField(pos + 4, 4, ">", "data", 8 + offset),
            )
            valid = bits if encoding in ("int", "uint") and bits < 8 * width else 0
            return _layout(kind, rate, channels, encoding, width, order, start, declared, size, valid, fields, ids)
        pos = body + csize + (csize & 1)
    raise _Unsupported("no SSND chunk")


def _extended(raw: bytes) -> int:
    """An 80-bit IEEE 754 extended float (AIFF's sample rate) as an integer."""
    exponent, mantissa = struct.unpack(">HQ", raw)
    sign = -1 if exponent & 0x8000 else 1
    exponent &= 0x7FFF
    if exponent == 0 and mantissa == 0:
        return 0
    return int(round(sign * mantissa * 2.0 ** (exponent - 16383 - 63)))


# -- CAF --------------------------------------------------------------------------------------------


def _caf(f: BinaryIO, size: int) -> Layout:
    desc: bytes | None = None
    ids: list[str] = []
    pos = 8
    while pos + 12 <= size:
        cid, csize = struct.unpack(">4sq", _read(f, pos, 12))
        ids.append(cid.decode("latin-1"))
        body = pos + 12
        if cid == b"desc":
            desc = _read(f, body, 32)
        elif cid == b"data":
            if desc is None:
                raise _Unsupported("data before desc")
            rate, fid, flags, per_packet, frames_per_packet, channels, bits = struct.unpack(">d4sIIIII", desc)
            if channels < 1 or frames_per_packet != 1 or per_packet % channels:
                raise _Unsupported("CAF packets of other than one frame")
            width = per_packet // channels
            if fid == b"lpcm":
                encoding = "float" if flags & 1 else "int"
                order = "<" if flags & 2 else ">"
                if encoding == "float" and width not in (4, 8):
                    raise _Unsupported("CAF float width")
            elif fid in (b"ulaw", b"alaw") and width == 1:
                encoding, order = fid.decode(), ">"
            else:
                raise _Unsupported(f"CAF format {fid!r}")
            declared = None if csize == -1 else csize - 4
            fields = () if csize == -1 else (SizeField(pos + 4, 8, ">", "data", 4),)
            valid = bits if encoding == "int" and bits < 8 * width else 0
            return _layout(
                "CAF", int(round(rate)), channels, encoding, width, order, body + 4, declared, size, valid, fields, ids
            )
        if csize < 0:
            raise _Unsupported("a chunk of unknown size before data")
        pos = body + csize
    raise _Unsupported("no data chunk")


# -- AU ---------------------------------------------------------------------------------------------

_AU_ENCODINGS = {
    1: ("ulaw", 1),
    2: ("int", 1),
    3: ("int", 2),
    4: ("int", 3),
    5: ("int", 4),
    6: ("float", 4),
    7: ("float", 8),
    27: ("alaw", 1),
}


def _au(f: BinaryIO, size: int, head: bytes) -> Layout:
    order = ">" if head[:4] == b".snd" else "<"
    offset, data_size, code, rate, channels = struct.unpack(order + "5I", _read(f, 4, 20))
    if code not in _AU_ENCODINGS or channels < 1 or offset < 24:
        raise _Unsupported(f"AU encoding {code}")
    encoding, width = _AU_ENCODINGS[code]
    declared = None if data_size == UNKNOWN_32 else data_size
    fields = () if declared is None else (SizeField(8, 4, order, "data"),)
    return _layout("AU", rate, channels, encoding, width, order, offset, declared, size, 0, fields, ["header"])


# -- shared -----------------------------------------------------------------------------------------


def _read(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    data = f.read(n)
    if len(data) < n:
        raise _Unsupported("header cut short")
    return data


def _layout(
    kind: str,
    rate: int,
    channels: int,
    encoding: str,
    width: int,
    order: str,
    start: int,
    declared: int | None,
    size: int,
    valid: int,
    fields: tuple[SizeField, ...] | list[SizeField],
    ids: list[str],
) -> Layout:
    if rate <= 0 or start > size:
        raise _Unsupported("bad rate or data offset")
    present = size - start if declared is None else min(declared, size - start)
    frame = width * channels
    if width == 1 and encoding == "int" and order == "<":
        order = ">"  # byte order means nothing for one byte; keep one spelling
    return Layout(
        kind,
        rate,
        channels,
        encoding,
        width,
        order,
        start,
        present // frame * frame,
        declared,
        valid if 0 < valid < 8 * width else 0,
        tuple(fields),
        tuple(ids),
    )


# -- samples ----------------------------------------------------------------------------------------


def _g711_tables() -> tuple[np.ndarray, np.ndarray]:
    """16-bit values of every mu-law and A-law byte (ITU-T G.711, as libsndfile decodes them)."""
    ulaw = np.empty(256, dtype=np.int32)
    alaw = np.empty(256, dtype=np.int32)
    for byte in range(256):
        u = ~byte & 0xFF
        t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        ulaw[byte] = (0x84 - t) if u & 0x80 else (t - 0x84)
        a = byte ^ 0x55
        seg = (a & 0x70) >> 4
        t = (a & 0x0F) << 4
        t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1)
        alaw[byte] = t if a & 0x80 else -t
    return ulaw, alaw


_ULAW, _ALAW = _g711_tables()


def _g711_encoder(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(table, kind="stable")
    values = table[order].astype(np.float64)
    return values, order.astype(np.uint8), (values[1:] + values[:-1]) / 2


_ULAW_ENC, _ALAW_ENC = _g711_encoder(_ULAW), _g711_encoder(_ALAW)


def decode(raw: bytes, layout: Layout) -> np.ndarray:
    """Bytes of whole frames → float64 samples ``(frames, channels)``."""
    w, enc, order = layout.width, layout.encoding, layout.byteorder
    n = len(raw) // layout.frame_bytes * layout.frame_bytes
    buf = np.frombuffer(raw, dtype=np.uint8, count=n)
    if enc == "float":
        values = np.frombuffer(raw, dtype=f"{order}f{w}", count=n // w).astype(np.float64)
    elif enc in ("ulaw", "alaw"):
        values = (_ULAW if enc == "ulaw" else _ALAW)[buf] / 32768.0
    elif enc == "uint":
        values = (buf.astype(np.float64) - 128.0) / 128.0
    elif w == 3:
        b = buf.reshape(-1, 3).astype(np.int32)
        lo, mid, hi = (b[:, 0], b[:, 1], b[:, 2]) if order == "<" else (b[:, 2], b[:, 1], b[:, 0])
        ints = lo | (mid << 8) | (hi << 16)
        ints = np.where(ints & 0x800000, ints - (1 << 24), ints)
        values = ints / float(1 << 23)
    else:
        values = np.frombuffer(raw, dtype=f"{order}i{w}", count=n // w) / float(1 << (8 * w - 1))
    return np.asarray(values, dtype=np.float64).reshape(-1, layout.channels)


def encode(samples: np.ndarray, layout: Layout) -> bytes:
    """float samples ``(frames, channels)`` → bytes in ``layout``'s encoding (the inverse of
    :func:`decode`). Integers are rounded and clipped to their range (and, with fewer valid bits
    than the container holds, rounded to those bits); non-finite samples are refused."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError("refusing to write non-finite samples")
    w, enc, order = layout.width, layout.encoding, layout.byteorder
    if enc == "float":
        return x.astype(f"{order}f{w}").tobytes()
    if enc in ("ulaw", "alaw"):
        values, codes, edges = _ULAW_ENC if enc == "ulaw" else _ALAW_ENC
        return codes[np.searchsorted(edges, x * 32768.0)].tobytes()
    if enc == "uint":
        return (np.clip(np.round(x * 128.0), -128, 127) + 128).astype(np.uint8).tobytes()
    bits = 8 * w
    valid = layout.valid_bits or bits
    ints = np.clip(np.round(x * float(1 << (valid - 1))), -(1 << (valid - 1)), (1 << (valid - 1)) - 1)
    ints = ints.astype(np.int64) << (bits - valid)
    if w == 3:
        u = (ints & 0xFFFFFF).astype(np.uint32)
        parts = [u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF]
        if order == ">":
            parts.reverse()
        return np.stack(parts, axis=1).astype(np.uint8).tobytes()
    return ints.astype(f"{order}i{w}").tobytes()


def end_padding(layout: Layout) -> bytes:
    """The pad bytes the container wants after data that ends the file."""
    n = layout.data_bytes
    if layout.container in ("RIFF", "RIFX", "RF64", "BW64", "AIFF", "AIFC"):
        return b"\x00" * (n & 1)
    if layout.container == "W64":
        return b"\x00" * (-n % 8)
    return b""


def corrected_sizes(layout: Layout) -> list[tuple[int, bytes]]:
    """(offset, bytes) of every size field rewritten to state the data actually present, for a file
    cut short whose data then ends the file, followed by :func:`end_padding`."""
    n = layout.data_bytes
    out = []
    for sf_ in layout.size_fields:
        if sf_.what == "frames":
            value = sf_.base + n // layout.frame_bytes
        elif sf_.what == "file":
            value = sf_.base + n + len(end_padding(layout))
        else:
            value = sf_.base + n
        out.append((sf_.offset, value.to_bytes(sf_.width, "little" if sf_.byteorder == "<" else "big")))
    return out


def keep_unchanged(old: bytes, new: bytes, layout: Layout, samples: np.ndarray | None = None) -> bytes:
    """``new`` (bytes of whole frames, :func:`encode`'s output) with every sample whose value does not
    change taking ``old``'s bytes back: a sample that decodes the same from ``old`` and ``new``, or whose
    ``samples`` value (what :func:`encode` was given) is what ``old`` decodes to. Some values have
    several encodings (mu-law's +0 and -0, a float's -0.0, bits beyond a sample's valid ones), and an
    unchanged sample must keep the input's."""
    if len(old) != len(new):
        raise ValueError(f"{len(old)} bytes to keep from, {len(new)} written")
    before = decode(old, layout).reshape(-1)
    same = before == decode(new, layout).reshape(-1)
    if samples is not None:
        same |= before == np.asarray(samples, dtype=np.float64).reshape(-1)
    if not same.any():
        return new
    keep = np.repeat(same, layout.width)
    out = np.frombuffer(new, dtype=np.uint8).copy()
    out[keep] = np.frombuffer(old, dtype=np.uint8)[keep]
    return out.tobytes()
