"""What metadata a file carries, named, so that a re-encoded output can say what it did not keep;
and the tags of a FLAC or Ogg file carried over to its re-encoded output.

Files that cannot be patched in place (FLAC, OGG, compressed WAV) are re-encoded by libsndfile,
which carries over only the string fields it knows (title, artist, comment, date, ...).
:func:`carry` then gives a FLAC or Ogg (Vorbis, Opus, FLAC) output every Vorbis comment of its input,
in order, repeated keys and all, and every picture (FLAC ``PICTURE`` blocks, Ogg
``METADATA_BLOCK_PICTURE`` comments), with mutagen; a FLAC output also gets the input's cue sheet
and application blocks (the output has the input's length, so their sample offsets still hold).
:func:`describe` lists, from the bytes themselves: FLAC metadata blocks (pictures, cue sheets,
application blocks) and Vorbis comment keys, the comment keys of Ogg Vorbis and Opus streams, and
the chunk ids of RIFF/AIFF files. Comparing the input's list with the output's gives what was lost.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from specblur import container
from specblur.errors import AudioError

_FLAC_BLOCKS = {2: "APPLICATION block", 5: "CUESHEET block", 6: "PICTURE block"}
_SAMPLE_CHUNKS = {"fmt ", "data", "fact", "PEAK", "COMM", "SSND", "FVER"}
HEAD_BYTES = 1 << 24
"""At most this much of a file's start is searched for FLAC or Ogg metadata."""


_FLAC_CARRIED = (2, 5)
"""FLAC blocks carried as they are besides comments and pictures: APPLICATION, CUESHEET."""


def carry(src: BinaryIO, dst: BinaryIO) -> None:
    """Give ``dst`` (open for reading and writing), a FLAC or Ogg file re-encoded from ``src``, every
    Vorbis comment and picture of ``src`` in place of its own (and, FLAC to FLAC, its cue sheet and
    application blocks). Anything else, or a file mutagen cannot read, is left as it is (what is lost
    is then named by comparing :func:`describe` of both)."""
    import mutagen
    from mutagen.flac import FLAC
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    kinds = (FLAC, OggVorbis, OggOpus, OggFLAC)
    try:
        src.seek(0)
        old: Any = mutagen.File(src)
        dst.seek(0)
        new: Any = mutagen.File(dst)
    except (mutagen.MutagenError, ValueError):
        return
    if not isinstance(old, kinds) or not isinstance(new, kinds) or old.tags is None:
        return
    if new.tags is None:
        new.add_tags()
    del new.tags[:]
    new.tags.extend((key, value) for key, value in old.tags if _writable(key, value))
    if isinstance(old, FLAC) and isinstance(new, FLAC):
        new.clear_pictures()
        for picture in old.pictures:
            new.add_picture(picture)
        new.metadata_blocks = [b for b in new.metadata_blocks if b.code not in _FLAC_CARRIED]
        new.metadata_blocks += [b for b in old.metadata_blocks if b.code in _FLAC_CARRIED]
    dst.seek(0)
    try:
        new.save(dst)
    except (mutagen.MutagenError, ValueError) as exc:
        raise AudioError(f"cannot write the tags of the output ({exc})") from exc
    dst.flush()


def _writable(key: Any, value: Any) -> bool:
    """A Vorbis comment mutagen writes back: a key of printable ASCII other than ``=`` (a damaged
    input's other keys are left out, and then named as lost), a text value."""
    return (
        isinstance(key, str)
        and isinstance(value, str)
        and key != ""
        and all(0x20 <= ord(c) <= 0x7D and c != "=" for c in key)
    )


def describe(f: BinaryIO, size: int) -> set[str]:
    """Names of the metadata items in the file open in ``f`` (``size`` bytes)."""
    f.seek(0)
    magic = f.read(4)
    if magic in (b"RIFF", b"RIFX", b"RF64", b"BW64", b"FORM"):
        return {f"{cid.strip()} chunk" for cid in container.chunk_ids(f, size) if cid not in _SAMPLE_CHUNKS}
    f.seek(0)
    head = f.read(min(size, HEAD_BYTES))
    items: set[str] = set()
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        items.add("ID3v2 tag")
        start = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9] & 0x7F)
    if head[start : start + 4] == b"fLaC":
        return items | _flac(head, start + 4)
    if head[:4] == b"OggS":
        return items | _ogg(head)
    return items


def _flac(head: bytes, pos: int) -> set[str]:
    items = set()
    while pos + 4 <= len(head):
        kind, length = head[pos] & 0x7F, int.from_bytes(head[pos + 1 : pos + 4], "big")
        if kind in _FLAC_BLOCKS:
            items.add(_FLAC_BLOCKS[kind])
        elif kind == 4:
            items |= _comments(head[pos + 4 : pos + 4 + length])
        if head[pos] & 0x80:
            break
        pos += 4 + length
    return items


def _comments(block: bytes) -> set[str]:
    """Keys of a Vorbis comment block (vendor string, count, then ``KEY=value`` entries)."""
    items = set()
    try:
        (vendor,) = struct.unpack_from("<I", block, 0)
        pos = 4 + vendor
        (count,) = struct.unpack_from("<I", block, pos)
        pos += 4
        for _ in range(count):
            (length,) = struct.unpack_from("<I", block, pos)
            entry = block[pos + 4 : pos + 4 + length]
            pos += 4 + length
            key = entry.split(b"=", 1)[0].decode("ascii", "replace").upper()
            if key:
                items.add(f"tag {key}")
    except struct.error:
        pass
    return items


def _ogg(head: bytes) -> set[str]:
    """Comment keys of the first logical stream (its second packet: Vorbis or Opus tags)."""
    packets: list[bytes] = []
    current = b""
    serial = None
    pos = 0
    while pos + 27 <= len(head) and len(packets) < 2 and head[pos : pos + 4] == b"OggS":
        page_serial = head[pos + 14 : pos + 18]
        count = head[pos + 26]
        lacing = head[pos + 27 : pos + 27 + count]
        body = pos + 27 + count
        if serial is None:
            serial = page_serial
        if page_serial == serial:
            for lace in lacing:
                current += head[body : body + lace]
                body += lace
                if lace < 255:
                    packets.append(current)
                    current = b""
        pos = pos + 27 + count + sum(lacing)
    if len(packets) < 2:
        return set()
    tags = packets[1]
    if tags[:7] == b"\x03vorbis":
        return _comments(tags[7:])
    if tags[:8] == b"OpusTags":
        return _comments(tags[8:])
    return set()
