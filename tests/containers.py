"""Build audio files byte by byte, the way other tools write them, for the integrity tests.

Sample bytes come from libsndfile's headerless RAW writer (an encoder independent of specblur's);
the containers around them are assembled here from their specifications, with any chunks before
and after the samples. Each builder returns the file's bytes and where its samples sit, so a test
can check that an edit touched nothing else.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import numpy as np
import soundfile as sf

# subtype -> (WAV format tag, bytes per sample)
WAV_TAGS = {
    "PCM_U8": (1, 1),
    "PCM_16": (1, 2),
    "PCM_24": (1, 3),
    "PCM_32": (1, 4),
    "FLOAT": (3, 4),
    "DOUBLE": (3, 8),
    "ULAW": (7, 1),
    "ALAW": (6, 1),
}
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


@dataclass
class Built:
    data: bytes
    offset: int
    """Byte offset of the first sample."""
    length: int
    """Bytes of samples."""
    frames: int
    channels: int
    rate: int
    subtype: str
    suffix: str = ".wav"

    def write(self, path) -> None:
        with open(path, "wb") as f:
            f.write(self.data)


def samples_bytes(x: np.ndarray, rate: int, subtype: str, big: bool) -> bytes:
    """``x`` (frames, channels) encoded by libsndfile's RAW writer."""
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="RAW", subtype=subtype, endian="BIG" if big else "LITTLE")
    return buf.getvalue()


def tone(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = np.stack([0.3 * np.sin(2 * np.pi * (300 + 110 * c) * t) * np.exp(-t) for c in range(channels)], axis=1)
    return x + 0.01 * rng.standard_normal(x.shape)


def _chunk(cid: bytes, body: bytes, order: str = "<", pad: bool = True) -> bytes:
    return cid + struct.pack(order + "I", len(body)) + body + (b"\x00" if pad and len(body) % 2 else b"")


def riff(
    x: np.ndarray,
    rate: int,
    subtype: str,
    *,
    kind: str = "RIFF",
    fmt_size: int = 16,
    extensible: bool = False,
    valid_bits: int | None = None,
    before: tuple[tuple[bytes, bytes], ...] = (),
    after: tuple[tuple[bytes, bytes], ...] = (),
    unknown_sizes: bool = False,
) -> Built:
    """RIFF (``kind`` RIFF), RIFX (big-endian), RF64 or BW64 (with ``ds64``) WAVE files."""
    big = kind == "RIFX"
    order = ">" if big else "<"
    tag, width = WAV_TAGS[subtype]
    channels = x.shape[1]
    bits = valid_bits or 8 * width
    if bits < 8 * width:  # what a recorder of fewer bits writes: the low bits zero
        x = np.round(x * 2.0 ** (bits - 1)) / 2.0 ** (bits - 1)
    data = samples_bytes(x, rate, subtype, big)
    fmt = struct.pack(
        order + "HHIIHH",
        0xFFFE if extensible else tag,
        channels,
        rate,
        rate * width * channels,
        width * channels,
        8 * width,
    )
    if extensible:
        fmt += struct.pack(order + "HHI", 22, bits, 0) + struct.pack(order + "H", tag) + _GUID_TAIL
    elif fmt_size >= 18:
        fmt += struct.pack(order + "H", 0) + bytes(fmt_size - 18)
    body = b"WAVE"
    wide = kind in ("RF64", "BW64")
    if wide:
        body += _chunk(b"ds64", bytes(28))  # filled in below
    body += _chunk(b"fmt ", fmt, order)
    if tag != 1:
        body += _chunk(b"fact", struct.pack(order + "I", len(x)), order)
    for cid, content in before:
        body += _chunk(cid, content, order)
    offset = 8 + len(body) + 8
    data_size = 0xFFFFFFFF if (wide or unknown_sizes) else len(data)
    body += b"data" + struct.pack(order + "I", data_size) + data + (b"\x00" if len(data) % 2 else b"")
    for cid, content in after:
        body += _chunk(cid, content, order)
    riff_size = 0xFFFFFFFF if (wide or unknown_sizes) else len(body)
    out = bytearray(kind.encode() + struct.pack(order + "I", riff_size) + body)
    if wide:
        out[20:48] = struct.pack("<QQQI", len(out) - 8, len(data), len(x), 0)
    return Built(bytes(out), offset, len(data), len(x), channels, rate, subtype)


_W64 = bytes.fromhex("f3acd3118cd100c04f8edb8a")


def w64(x: np.ndarray, rate: int, subtype: str, before=(), after=()) -> Built:
    """Sony Wave64: GUID chunk ids, 64-bit sizes that count the 24-byte header, 8-byte alignment."""
    tag, width = WAV_TAGS[subtype]
    channels = x.shape[1]
    data = samples_bytes(x, rate, subtype, False)

    def chunk(name: bytes, content: bytes) -> bytes:
        guid = name + _W64 if len(name) == 4 else name
        return guid + struct.pack("<Q", 24 + len(content)) + content + bytes(-len(content) % 8)

    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * width * channels, width * channels, 8 * width)
    body = b"wave" + _W64 + chunk(b"fmt ", fmt)
    for cid, content in before:
        body += chunk(cid, content)
    offset = 24 + len(body) + 24
    body += chunk(b"data", data)
    for cid, content in after:
        body += chunk(cid, content)
    head = bytes.fromhex("726966662e91cf11a5d628db04c10000")
    return Built(
        head + struct.pack("<Q", 24 + len(body)) + body, offset, len(data), len(x), channels, rate, subtype, ".w64"
    )


def _extended(rate: int) -> bytes:
    exponent = int(math.floor(math.log2(rate)))
    return struct.pack(">HQ", 16383 + exponent, rate << (63 - exponent))


# AIFC compression types -> (subtype, little-endian samples)
AIFC_TYPES = {
    b"NONE": ("PCM_16", False),
    b"sowt": ("PCM_16", True),
    b"fl32": ("FLOAT", False),
    b"fl64": ("DOUBLE", False),
    b"ulaw": ("ULAW", False),
    b"alaw": ("ALAW", False),
}


def aiff(
    x: np.ndarray, rate: int, subtype: str, *, compression: bytes | None = None, before=(), after=(), offset_pad=0
) -> Built:
    """AIFF (``compression`` None; signed big-endian integers) or AIFC."""
    channels = x.shape[1]
    little = compression is not None and AIFC_TYPES[compression][1]
    data = samples_bytes(x, rate, subtype, not little)
    bits = {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}.get(subtype, 16)
    comm = struct.pack(">hIh", channels, len(x), bits) + _extended(rate)
    if compression is not None:
        comm += compression + b"\x00\x00"  # an empty Pascal string, padded to even
    body = b"AIFC" if compression is not None else b"AIFF"
    if compression is not None:
        body += _chunk(b"FVER", struct.pack(">I", 0xA2805140), ">")
    body += _chunk(b"COMM", comm, ">")
    for cid, content in before:
        body += _chunk(cid, content, ">")
    ssnd = struct.pack(">II", offset_pad, 0) + bytes(offset_pad) + data
    offset = 8 + len(body) + 8 + 8 + offset_pad
    body += _chunk(b"SSND", ssnd, ">")
    for cid, content in after:
        body += _chunk(cid, content, ">")
    suffix = ".aifc" if compression is not None else ".aiff"
    return Built(
        b"FORM" + struct.pack(">I", len(body)) + body, offset, len(data), len(x), channels, rate, subtype, suffix
    )


def caf(x: np.ndarray, rate: int, subtype: str, *, little: bool = False, before=(), after=()) -> Built:
    """Core Audio Format: 64-bit chunk sizes, ``desc`` then ``data`` (an edit count, then samples)."""
    channels = x.shape[1]
    width = {"PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
    w = width[subtype]
    fid = {"ULAW": b"ulaw", "ALAW": b"alaw"}.get(subtype, b"lpcm")
    flags = (1 if subtype in ("FLOAT", "DOUBLE") else 0) | (2 if little else 0)
    data = samples_bytes(x, rate, subtype, not little)

    def chunk(cid: bytes, content: bytes) -> bytes:
        return cid + struct.pack(">q", len(content)) + content

    body = b"caff" + struct.pack(">HH", 1, 0)
    body += chunk(b"desc", struct.pack(">d4sIIIII", float(rate), fid, flags, w * channels, 1, channels, 8 * w))
    for cid, content in before:
        body += chunk(cid, content)
    offset = len(body) + 12 + 4
    body += chunk(b"data", struct.pack(">I", 0) + data)
    for cid, content in after:
        body += chunk(cid, content)
    return Built(body, offset, len(data), len(x), channels, rate, subtype, ".caf")


AU_CODES = {"ULAW": 1, "PCM_S8": 2, "PCM_16": 3, "PCM_24": 4, "PCM_32": 5, "FLOAT": 6, "DOUBLE": 7, "ALAW": 27}


def au(
    x: np.ndarray, rate: int, subtype: str, *, little: bool = False, annotation: bytes = b"", unknown_size: bool = False
) -> Built:
    """Sun/NeXT AU (``.snd``, big-endian) or its little-endian twin (``dns.``)."""
    channels = x.shape[1]
    data = samples_bytes(x, rate, subtype, not little)
    order = "<" if little else ">"
    offset = 24 + len(annotation)
    size = 0xFFFFFFFF if unknown_size else len(data)
    head = (b"dns." if little else b".snd") + struct.pack(order + "5I", offset, size, AU_CODES[subtype], rate, channels)
    return Built(head + annotation + data, offset, len(data), len(x), channels, rate, subtype, ".au")
