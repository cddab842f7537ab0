"""Integrity (docs/RELIABILITY.md, "Headers and containers"): an edit changes the bytes of the edited
samples and nothing else, whatever header the file has.

Every file is built byte by byte in the test (tests/containers.py): WAV (RIFF, RIFX, RF64, BW64,
WAVE_FORMAT_EXTENSIBLE, 18-byte ``fmt ``), Wave64, AIFF/AIFC, CAF and AU, in every sample encoding,
1, 2 and 6 channels, little- and big-endian, with metadata chunks before and after the samples.
Each edit is checked from outside: the output's bytes differ from the input's only inside the
samples, near the edited time span; the output reads back with soundfile and with ``soxi``.
"""

from __future__ import annotations

import io
import shutil
import string
import struct
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from specblur import container, metadata
from tests import containers as B
from tests.conftest import cli_in_process, run_cli

RATE = 16000
SECONDS = 1.0
T0, T1 = 0.4, 0.6
MARGIN = 0.45
"""Seconds around the region that may change (the brush's feather and the STFT window)."""
LONG = 6.0
R0, R1 = 2.9, 3.1
"""Files of the format matrix: long enough that the region and its margin are a small part of them
(1.35 of 6 s), so that where each sample lands is checked (a patch one frame early must fail)."""

SOXI = shutil.which("soxi")


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return cli_in_process(capsys, *args)


def _readable(data: bytes) -> bytes:
    """BW64 is RF64 under another name; libsndfile and sox know only the latter."""
    return b"RF64" + data[4:] if data[:4] == b"BW64" else data


def check_edit(
    built: B.Built, before: bytes, after: bytes, t0: float = T0, t1: float = T1, soxi: bool = True, bits: int = 0
) -> None:
    """The output differs from the input only in sample bytes near [t0, t1]; it is finite, reads
    back with soundfile (same rate, channels, frames, subtype) and with soxi."""
    assert len(after) == len(before)
    diff = np.nonzero(np.frombuffer(before, np.uint8) != np.frombuffer(after, np.uint8))[0]
    assert len(diff), "nothing changed inside the region"
    assert diff[0] >= built.offset and diff[-1] < built.offset + built.length, "bytes outside the samples changed"
    frame_bytes = built.length // built.frames
    frames = (diff - built.offset) // frame_bytes
    assert frames[0] >= (t0 - MARGIN) * built.rate and frames[-1] <= (t1 + MARGIN) * built.rate
    readable = _readable(after)
    try:
        sf.info(io.BytesIO(_readable(before)))
    except sf.LibsndfileError:
        # Some valid layouts defeat libsndfile (an odd-sized chunk before an RF64 data chunk): the
        # output, whose header is the input's byte for byte, must fail the same way.
        with pytest.raises(sf.LibsndfileError):
            sf.info(io.BytesIO(readable))
        return
    x_in, rate = sf.read(io.BytesIO(_readable(before)), dtype="float64", always_2d=True)
    x_out, rate_out = sf.read(io.BytesIO(readable), dtype="float64", always_2d=True)
    assert rate_out == rate == built.rate and x_out.shape == x_in.shape
    if x_in.shape != (built.frames, built.channels):
        # Some valid layouts libsndfile reads with other frames than the file holds (a Wave64 chunk
        # with nothing in it before the data: 12 frames too many, found by the layouts test on a
        # fresh clone): the output, whose header is the input's byte for byte, reads the same way,
        # and its bytes were checked above.
        assert x_in.shape[1] == built.channels and x_in.shape[0] != built.frames
        return
    assert sf.info(io.BytesIO(readable)).subtype == built.subtype
    assert np.all(np.isfinite(x_out))
    # sample for sample: every frame outside the region and its margin is the input's (whatever its
    # bytes), and those inside are the library's own edit of the decoded input, at the same frames
    lo, hi = max(0, int((t0 - MARGIN) * built.rate)), int(np.ceil((t1 + MARGIN) * built.rate))
    assert np.array_equal(x_out[:lo], x_in[:lo]) and np.array_equal(x_out[hi:], x_in[hi:])
    inside = slice(int(t0 * built.rate), int(t1 * built.rate))
    assert np.abs(x_out[inside] - x_in[inside]).max() > 1e-3
    expected = _library_edit(x_in, built.rate, built.subtype, t0, t1)
    assert_same_samples(x_out[lo:hi], expected[lo:hi], built.subtype, bits)
    if soxi:
        assert SOXI, "soxi not found: tools/setup.sh installs sox (apt-get install sox)"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"out{built.suffix}"
            path.write_bytes(readable)
            proc = subprocess.run([SOXI, "-s", str(path)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert int(proc.stdout.split()[0]) == built.frames


def _library_edit(x: np.ndarray, rate: int, subtype: str, t0: float, t1: float) -> np.ndarray:
    """What the command line must write: :func:`specblur.edit.segment.blur` (same defaults) of the decoded
    input, held under full scale for integer encodings (:mod:`specblur.edit.overs`)."""
    import specblur
    from specblur import audio
    from specblur.edit import segment

    held = audio.clips(subtype)
    return segment.blur(specblur.load_model("tiny"), x, rate, time=(t0, t1), full_scale=held).samples


def quantum(subtype: str, x: np.ndarray, bits: int = 0) -> np.ndarray:
    """How far a sample may land from ``x`` once encoded in ``subtype`` (of ``bits`` valid bits, when
    fewer than the subtype's) and decoded: one step of the encoding (rounding, and libsndfile's
    2^(n-1) - 1 against specblur's 2^(n-1) scale)."""
    widths = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
    if subtype in widths:
        return np.full(x.shape, 2.0 ** (1 - (bits or widths[subtype])))
    if subtype in ("ULAW", "ALAW"):  # logarithmic: 16 steps per octave of level, 13-14 bits near zero
        return np.abs(x) / 16 + 2.0**-11
    return np.abs(x) * (2.0**-23 if subtype == "FLOAT" else 2.0**-52) + 1e-300


def assert_same_samples(got: np.ndarray, expected: np.ndarray, subtype: str, bits: int = 0) -> None:
    """``got`` (decoded) is ``expected`` encoded in ``subtype``, frame for frame: each sample within one
    step of the encoding, and nearer to its own frame than to the frames either side."""
    err = np.abs(got - expected)
    step = quantum(subtype, expected, bits)
    worst = np.unravel_index(np.argmax(err - step), err.shape)
    assert np.all(err <= step), f"frame {worst[0]} (of the compared part): {err[worst]:.3g} off"
    here = err[1:-1].mean()
    for shifted in (expected[:-2], expected[2:]):
        assert here < 0.5 * np.abs(got[1:-1] - shifted).mean(), "the samples sit a frame off their place"


def _warnings(err: str) -> list[str]:
    """Warning lines other than the count of samples held under full scale (the tiny model's edits are loud)."""
    return [line for line in err.splitlines() if "over full scale" not in line]


def _edit(capsys, tmp_path: Path, built: B.Built, *extra: str, t0: float = T0, t1: float = T1) -> tuple[bytes, str]:
    src, out = tmp_path / f"in{built.suffix}", tmp_path / f"out{built.suffix}"
    built.write(src)
    before = src.read_bytes()
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", f"{t0}-{t1}", "--force", *extra)
    assert code == 0, err
    assert src.read_bytes() == before
    return out.read_bytes(), err


# -- every container x encoding x channel count -----------------------------------------------------


def busy(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    """A steady tone per channel under noise: neighbouring samples differ by far more than an 8-bit or
    mu-law step, so a sample one frame off its place shows, all along the file."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = np.stack([0.25 * np.sin(2 * np.pi * (300 + 110 * c) * t) for c in range(channels)], axis=1)
    return x + 0.08 * rng.standard_normal(x.shape)


WAV_SUBTYPES = list(B.WAV_TAGS)
OTHER_SUBTYPES = ["PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]
MATRIX: list[tuple[str, str, Callable[..., B.Built]]] = []
for _kind in ("RIFF", "RIFX", "RF64", "BW64"):
    MATRIX += [(_kind, s, lambda x, s, k=_kind: B.riff(x, RATE, s, kind=k)) for s in WAV_SUBTYPES]
MATRIX += [("WAVE_FORMAT_EXTENSIBLE", s, lambda x, s: B.riff(x, RATE, s, extensible=True)) for s in WAV_SUBTYPES]
MATRIX += [("Wave64", s, lambda x, s: B.w64(x, RATE, s)) for s in WAV_SUBTYPES]
MATRIX += [("AIFF", s, lambda x, s: B.aiff(x, RATE, s)) for s in ("PCM_S8", "PCM_16", "PCM_24", "PCM_32")]
MATRIX += [
    (f"AIFC {c.decode()}", s, lambda x, s, c=c: B.aiff(x, RATE, s, compression=c)) for c, (s, _) in B.AIFC_TYPES.items()
]
MATRIX += [("CAF big-endian", s, lambda x, s: B.caf(x, RATE, s)) for s in OTHER_SUBTYPES]
MATRIX += [("CAF little-endian", s, lambda x, s: B.caf(x, RATE, s, little=True)) for s in OTHER_SUBTYPES[:6]]
MATRIX += [("AU", s, lambda x, s: B.au(x, RATE, s)) for s in OTHER_SUBTYPES]
MATRIX += [("AU little-endian", s, lambda x, s: B.au(x, RATE, s, little=True)) for s in OTHER_SUBTYPES]
CHANNELS = (1, 2, 6)


@pytest.mark.parametrize(
    ("case", "subtype", "build", "channels"),
    [(c, s, b, CHANNELS[i % 3]) for i, (c, s, b) in enumerate(MATRIX)],
    ids=[f"{c}-{s}-{CHANNELS[i % 3]}ch" for i, (c, s, _) in enumerate(MATRIX)],
)
def test_every_container_and_encoding_is_patched_in_place(
    tiny_model: Path, tmp_path: Path, capsys, case: str, subtype: str, build, channels: int
) -> None:
    built = build(busy(LONG, RATE, channels, seed=channels), subtype)
    after, err = _edit(capsys, tmp_path, built, t0=R0, t1=R1)
    # sox has no mu-law or A-law AIFC reader
    soxi = not (case.startswith("AIFC") and subtype in ("ULAW", "ALAW"))
    check_edit(built, built.data, after, R0, R1, soxi=soxi)
    assert _warnings(err) == []


# -- header variants as recorders, DAWs and other tools write them ---------------------------------

_INFO = b"INFO" + B._chunk(b"INAM", b"a take\x00") + B._chunk(b"IART", b"somebody\x00")
_BEXT = b"field recorder".ljust(256, b"\x00") + b"originator".ljust(32, b"\x00") + bytes(314)
_CUE = struct.pack("<I", 1) + struct.pack("<II4sIII", 1, 0, b"data", 0, 0, 8000)
VARIANTS: list[tuple[str, Callable[[np.ndarray], B.Built]]] = [
    ("float stereo, 18-byte fmt, fact", lambda x: B.riff(x, RATE, "FLOAT", fmt_size=18)),
    ("16-bit PCM, 18-byte fmt", lambda x: B.riff(x, RATE, "PCM_16", fmt_size=18)),
    ("24-bit, 20-byte fmt", lambda x: B.riff(x, RATE, "PCM_24", fmt_size=20)),
    (
        "Broadcast WAV: bext, iXML, LIST/INFO and an odd-sized chunk before data",
        lambda x: B.riff(
            x,
            RATE,
            "PCM_24",
            before=((b"bext", _BEXT), (b"iXML", b"<BWFXML><NOTE>odd</NOTE></BWFXML>"), (b"LIST", _INFO)),
        ),
    ),
    ("LIST chunk after data", lambda x: B.riff(x, RATE, "PCM_16", after=((b"LIST", _INFO),))),
    (
        "cue, smpl, id3, JUNK, PAD and unknown chunks around the data",
        lambda x: B.riff(
            x,
            RATE,
            "FLOAT",
            before=((b"JUNK", bytes(28)), (b"PAD ", bytes(3)), (b"zzz1", b"x")),
            after=((b"cue ", _CUE), (b"smpl", bytes(36)), (b"id3 ", b"ID3\x03\x00\x00\x00\x00\x00\x05hello")),
        ),
    ),
    (
        "odd-sized data chunk (8-bit mono, odd frames) with a pad byte, then a chunk",
        lambda x: B.riff(x[:-1, :1], RATE, "PCM_U8", after=((b"LIST", _INFO),)),
    ),
    ("RIFX with chunks after data", lambda x: B.riff(x, RATE, "PCM_32", kind="RIFX", after=((b"LIST", _INFO),))),
    (
        "RF64 with chunks around the data",
        lambda x: B.riff(x, RATE, "PCM_16", kind="RF64", before=((b"bext", _BEXT),), after=((b"LIST", _INFO),)),
    ),
    ("extensible, 20 valid bits of 24", lambda x: B.riff(x, RATE, "PCM_24", extensible=True, valid_bits=20)),
    (
        "AIFF with an SSND offset and chunks around",
        lambda x: B.aiff(x, RATE, "PCM_24", offset_pad=6, before=((b"NAME", b"odd"),), after=((b"ANNO", b"note"),)),
    ),
    ("CAF with chunks after data", lambda x: B.caf(x, RATE, "PCM_16", after=((b"info", b"\x00\x00\x00\x00"),))),
    ("AU with an annotation", lambda x: B.au(x, RATE, "PCM_16", annotation=b"recorded here\x00\x00\x00")),
    (
        # (no chunks after a Wave64 data chunk: libsndfile and sox read them as samples)
        "Wave64 with chunks before the data",
        lambda x: B.w64(x, RATE, "PCM_24", before=((b"bext", _BEXT), (b"LIST", _INFO))),
    ),
]


@pytest.mark.parametrize(("case", "build"), VARIANTS, ids=[c for c, _ in VARIANTS])
def test_header_variants_keep_every_byte_outside_the_samples(tiny_model: Path, tmp_path: Path, capsys, case, build):
    built = build(busy(LONG, RATE, 2, seed=3))
    after, err = _edit(capsys, tmp_path, built, t0=R0, t1=R1)
    # sox does not read WAVs whose valid bits are fewer than the container's; soundfile does
    check_edit(built, built.data, after, R0, R1, soxi="valid bits" not in case, bits=20 if "20 valid" in case else 0)
    assert _warnings(err) == []


def test_fewer_valid_bits_are_kept_zero(tiny_model: Path, tmp_path: Path, capsys) -> None:
    built = B.riff(B.tone(SECONDS, RATE, 1), RATE, "PCM_24", extensible=True, valid_bits=20)
    after, _ = _edit(capsys, tmp_path, built)
    samples = np.frombuffer(after[built.offset : built.offset + built.length], np.uint8).reshape(-1, 3)
    assert not np.any(samples[:, 0] & 0x0F)  # the 4 low bits of each little-endian 24-bit sample


# -- streams of unknown length ----------------------------------------------------------------------


def test_unknown_length_wav_is_read_to_the_end_and_patched(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """RIFF and data sizes 0xFFFFFFFF, as ffmpeg writes to a pipe: no "cut short" warning."""
    built = B.riff(B.tone(SECONDS, RATE, 2), RATE, "PCM_16", unknown_sizes=True)
    after, err = _edit(capsys, tmp_path, built)
    assert _warnings(err) == []
    # sox reads such a header as "length unknown"; soundfile, like specblur, reads to the end
    check_edit(built, built.data, after, soxi=False)


def test_unknown_length_wav_through_pipes(tiny_model: Path, tmp_path: Path) -> None:
    built = B.riff(B.tone(SECONDS, RATE, 1), RATE, "FLOAT", unknown_sizes=True, fmt_size=18)
    proc = run_cli("blur", "-", "-", "-m", "tiny", "-t", f"{T0}-{T1}", stdin=built.data)
    assert proc.returncode == 0 and _warnings(proc.stderr.decode()) == [], proc.stderr
    check_edit(built, built.data, proc.stdout, soxi=False)


@pytest.mark.parametrize("direction", ["file to stdout", "stdin to file"])
def test_pipes_keep_every_byte_outside_the_samples(tiny_model: Path, tmp_path: Path, direction: str) -> None:
    built = B.riff(B.tone(SECONDS, RATE, 2), RATE, "PCM_24", before=((b"bext", _BEXT),), after=((b"LIST", _INFO),))
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    built.write(src)
    if direction == "file to stdout":
        proc = run_cli("blur", str(src), "-", "-m", "tiny", "-t", f"{T0}-{T1}")
        after = proc.stdout
    else:
        proc = run_cli("blur", "-", str(out), "-m", "tiny", "-t", f"{T0}-{T1}", stdin=built.data)
        after = out.read_bytes()
    assert proc.returncode == 0 and _warnings(proc.stderr.decode()) == [], proc.stderr
    check_edit(built, built.data, after)


# -- files cut short ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RIFF", "RF64", "AIFF", "W64"])
def test_file_cut_short_keeps_its_chunks_and_gets_true_sizes(tiny_model: Path, tmp_path: Path, capsys, kind: str):
    x = B.tone(SECONDS, RATE, 2)
    if kind == "AIFF":
        built = B.aiff(x, RATE, "PCM_16", before=((b"NAME", b"a take"),))
    elif kind == "W64":
        built = B.w64(x, RATE, "PCM_16", before=((b"bext", _BEXT),))
    else:
        built = B.riff(x, RATE, "PCM_16", kind=kind, before=((b"bext", _BEXT), (b"LIST", _INFO)))
    cut = built.offset + int(0.8 * RATE) * 4 + 3  # 0.8 s and a partial frame
    src, out = tmp_path / f"cut{built.suffix}", tmp_path / f"out{built.suffix}"
    src.write_bytes(built.data[:cut])
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", f"{T0}-{T1}")
    assert code == 0 and "file cut short" in err and "holds 0.800 s" in err
    result = out.read_bytes()
    kept = built.offset + int(0.8 * RATE) * 4
    assert len(result) == kept + (-kept % 8 if kind == "W64" else 0)
    header_diff = np.nonzero(
        np.frombuffer(result[: built.offset], np.uint8) != np.frombuffer(built.data[: built.offset], np.uint8)
    )[0]
    layout = container.parse(io.BytesIO(built.data), len(built.data))
    size_bytes = {o + i for f in layout.size_fields for o, i in [(f.offset, k) for k in range(f.width)]}
    assert set(header_diff.tolist()) <= size_bytes  # only size fields were corrected
    x_out, _ = sf.read(io.BytesIO(_readable(result)), always_2d=True)
    assert x_out.shape == (int(0.8 * RATE), 2)
    assert SOXI, "soxi not found: tools/setup.sh installs sox (apt-get install sox)"
    out.write_bytes(_readable(result))
    soxi = subprocess.run([SOXI, "-s", str(out)], capture_output=True, text=True)
    assert soxi.stdout.strip() == str(int(0.8 * RATE)), soxi.stderr


# -- files re-encoded (compressed), with what could not be kept named ----------------------------


def _flac_block(kind: int, body: bytes, last: bool = False) -> bytes:
    return bytes([kind | (0x80 if last else 0)]) + len(body).to_bytes(3, "big") + body


def _vorbis_comments(**tags: str) -> bytes:
    vendor = b"test"
    out = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(tags))
    for key, value in tags.items():
        entry = f"{key}={value}".encode()
        out += struct.pack("<I", len(entry)) + entry
    return out


def _flac_with_metadata(path: Path) -> None:
    """A FLAC file with a title, a tag libsndfile does not know, a picture and a cue sheet."""
    buf = io.BytesIO()
    sf.write(buf, B.tone(SECONDS, RATE, 1), RATE, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    assert data[:4] == b"fLaC"
    pos, blocks = 4, []
    while True:
        kind, length = data[pos] & 0x7F, int.from_bytes(data[pos + 1 : pos + 4], "big")
        blocks.append((kind, data[pos + 4 : pos + 4 + length]))
        last = data[pos] & 0x80
        pos += 4 + length
        if last:
            break
    keep = [(k, b) for k, b in blocks if k not in (1, 4)]  # drop padding and any comments
    picture = struct.pack(">II", 3, 9) + b"image/png" + struct.pack(">I", 0) + struct.pack(">IIIII", 1, 1, 24, 0, 4)
    picture += b"\x89PNG"
    extra = [(4, _vorbis_comments(TITLE="a take", REPLAYGAIN_TRACK_GAIN="-3 dB")), (6, picture)]
    everything = keep + extra
    head = b"".join(_flac_block(k, b, i == len(everything) - 1) for i, (k, b) in enumerate(everything))
    path.write_bytes(b"fLaC" + head + data[pos:])


def test_flac_metadata_is_kept(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """A tag libsndfile does not know and a picture, written here byte by byte, come back (they were
    named as lost before mutagen carried them; tests/test_formats.py has the full set)."""
    src, out = tmp_path / "in.flac", tmp_path / "out.flac"
    _flac_with_metadata(src)
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", f"{T0}-{T1}")
    assert code == 0 and "not kept" not in err, err
    with open(src, "rb") as f:
        items = metadata.describe(f, src.stat().st_size)
    with open(out, "rb") as f:
        assert metadata.describe(f, out.stat().st_size) == items
    assert {"PICTURE block", "tag REPLAYGAIN_TRACK_GAIN", "tag TITLE"} <= items
    with sf.SoundFile(out) as f:
        assert f.title == "a take"
    x_in, _ = sf.read(src, dtype="float64")
    x_out, _ = sf.read(out, dtype="float64")
    after_edit = int((T1 + MARGIN) * RATE)
    assert np.array_equal(x_in[after_edit:], x_out[after_edit:]) and not np.array_equal(x_in, x_out)


def test_compressed_wav_is_streamed_and_names_lost_chunks(tiny_model: Path, tmp_path: Path, capsys) -> None:
    buf = io.BytesIO()
    sf.write(buf, B.tone(SECONDS, RATE, 1), RATE, format="WAV", subtype="IMA_ADPCM")
    data = bytearray(buf.getvalue())
    at = data.index(b"data")
    data[at:at] = B._chunk(b"bext", _BEXT)
    data[4:8] = struct.pack("<I", len(data) - 8)
    src, out = tmp_path / "adpcm.wav", tmp_path / "out.wav"
    src.write_bytes(bytes(data))
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", f"{T0}-{T1}")
    assert code == 0 and "not kept: bext chunk" in err, err
    assert sf.info(out).subtype == "IMA_ADPCM" and sf.info(out).frames == sf.info(src).frames


def test_non_finite_edits_are_never_written(tiny_model: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from specblur.edit import on_file

    real = on_file.edit_segment

    def poisoned(*args, **kwargs):
        result = real(*args, **kwargs)
        result.samples[result.span[0]] = np.nan
        return result

    monkeypatch.setattr(on_file, "edit_segment", poisoned)
    built = B.riff(B.tone(SECONDS, RATE, 1), RATE, "FLOAT")
    src = tmp_path / "in.wav"
    built.write(src)
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny", "-t", f"{T0}-{T1}")
    assert code == 2 and "not all finite" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


# -- sample encodings, exactly ------------------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW", "PCM_U8", "PCM_S8"])
def test_every_byte_value_decodes_as_libsndfile_and_encodes_back(subtype: str) -> None:
    codes = bytes(range(256))
    raw = io.BytesIO(codes)
    ref = sf.read(raw, dtype="float64", channels=1, samplerate=8000, format="RAW", subtype=subtype)[0]
    encoding = {"ULAW": "ulaw", "ALAW": "alaw", "PCM_U8": "uint", "PCM_S8": "int"}[subtype]
    layout = container.Layout("AU", 8000, 1, encoding, 1, ">", 0, 256, 256)
    values = container.decode(codes, layout)[:, 0]
    assert np.array_equal(values, ref)
    again = container.encode(values[:, None], layout)
    assert np.array_equal(container.decode(again, layout)[:, 0], values)  # mu-law's two zeros may swap


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("big", [False, True])
def test_wide_samples_round_trip_bit_exactly(subtype: str, big: bool) -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-1, 1, (997, 3)), [[-1.0, 0.0, 1.0 - 2.0**-31]]])
    raw = B.samples_bytes(x, 8000, subtype, big)
    width = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}[subtype]
    layout = container.Layout(
        "AU", 8000, 3, "float" if "PCM" not in subtype else "int", width, ">" if big else "<", 0, len(raw), len(raw)
    )
    ref = sf.read(
        io.BytesIO(raw),
        dtype="float64",
        channels=3,
        samplerate=8000,
        format="RAW",
        subtype=subtype,
        endian="BIG" if big else "LITTLE",
    )[0]
    values = container.decode(raw, layout)
    assert np.array_equal(values, ref)
    assert container.encode(values, layout) == raw


def test_unknown_layouts_are_left_to_libsndfile() -> None:
    for data in (b"", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC" + bytes(40), b"OggS" + bytes(40), bytes(64)):
        assert container.parse(io.BytesIO(data), len(data)) is None
    adpcm = io.BytesIO()
    sf.write(adpcm, np.zeros(1000), 8000, format="WAV", subtype="IMA_ADPCM")
    assert container.parse(adpcm, len(adpcm.getvalue())) is None


# -- random chunk layouts -----------------------------------------------------------------------------

_IDS = (
    st.text(string.ascii_letters + string.digits + " ", min_size=4, max_size=4)
    .map(str.encode)
    .filter(lambda b: b not in (b"data", b"fmt ", b"ds64", b"fact", b"COMM", b"SSND", b"desc", b"RIFF", b"LIST"))
)
_CHUNKS = st.lists(st.tuples(_IDS, st.binary(min_size=0, max_size=37)), max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["RIFF", "RIFX", "RF64", "W64", "AIFF"]),
    subtype=st.sampled_from(["PCM_16", "PCM_24", "PCM_32", "FLOAT"]),
    channels=st.integers(1, 3),
    before=_CHUNKS,
    after=_CHUNKS,
)
@example(kind="W64", subtype="PCM_16", channels=1, before=[], after=[(b"Zfxa", b"")])  # libsndfile: 12 frames too many
def test_random_chunk_layouts(tiny_model: Path, tmp_path_factory, capsys, kind, subtype, channels, before, after):
    x = B.tone(0.8, RATE, channels, seed=channels)
    if kind == "W64":  # libsndfile reads chunks after a Wave64 data chunk as samples: none there
        built = B.w64(x, RATE, subtype, before=tuple(before + after))
    elif kind == "AIFF":
        c = {"PCM_16": b"NONE", "FLOAT": b"fl32"}.get(subtype)
        built = B.aiff(x, RATE, subtype, compression=c, before=tuple(before), after=tuple(after))
    else:
        built = B.riff(x, RATE, subtype, kind=kind, before=tuple(before), after=tuple(after))
    folder = tmp_path_factory.mktemp("layout")
    after_bytes, _ = _edit(capsys, folder, built)
    check_edit(built, built.data, after_bytes, soxi=False)
