"""What an output is (issue 19): named for its input's format (or refused with a one-line hint),
the input's own bytes wherever a sample's value does not change (mu-law's two zeros, a float's
-0.0), an exact copy of the input when nothing changes (``--amount 0``), every Vorbis comment and
picture of a FLAC or Ogg input carried over when it is re-encoded, and every output path, ``--plot``
included, checked before any work.

Files are made here: samples by soundfile, tags and pictures by mutagen, WAV headers byte by byte
(tests/containers.py).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC, CueSheet, CueSheetTrack, CueSheetTrackIndex, MetadataBlock, Picture

from specblur import audio, container
from specblur.errors import UsageError
from tests import containers as B
from tests.conftest import cli_in_process

RATE = 16000
REGION = ("-t", "0.4-0.6")


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return cli_in_process(capsys, *args)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- files made here -----------------------------------------------------------------------------

TAGS = [
    ("TITLE", "a take"),
    ("ARTIST", "Zoë Ångström"),
    ("ARTIST", "a second artist"),  # a repeated key
    ("ALBUM", "東京 sessions ✓"),
    ("DATE", "2026-12-04"),
    ("TRACKNUMBER", "3"),
    ("COMMENT", "two\nlines"),
    ("REPLAYGAIN_TRACK_GAIN", "-3.10 dB"),
    ("MUSICBRAINZ_TRACKID", "8f7a3b3c-0000-4000-8000-000000000000"),
    ("X-RECORDED-WITH", "a hand-made mic"),  # names nobody defined
    ("my own key", "lower case, with a space"),
    ("EMPTY", ""),
]
"""Twelve Vorbis comments, libsndfile knows five of their names."""


def _picture() -> Picture:
    picture = Picture()
    picture.type = 3
    picture.mime = "image/png"
    picture.desc = "front ✓"
    picture.width, picture.height, picture.depth = 1, 1, 24
    picture.data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    return picture


def _cuesheet(frames: int) -> CueSheet:
    sheet = CueSheet(None)
    sheet.media_catalog_number = b"1234567890123"
    sheet.lead_in_samples = 0
    sheet.compact_disc = False
    first = CueSheetTrack(1, 0, b"ABCDE1234567")
    first.indexes.append(CueSheetTrackIndex(1, 0))
    second = CueSheetTrack(2, frames // 2)
    second.indexes.append(CueSheetTrackIndex(1, 0))
    sheet.tracks = [first, second, CueSheetTrack(255, frames)]
    return sheet


def tagged(path: Path, subtype: str, seconds: float = 1.0, rate: int = RATE) -> Path:
    """A FLAC, Ogg Vorbis or Ogg Opus file (by ``subtype``) with :data:`TAGS` and a picture (a FLAC
    PICTURE block, or an Ogg METADATA_BLOCK_PICTURE comment); a FLAC also gets a cue sheet and an
    APPLICATION block."""
    fmt = "FLAC" if subtype.startswith("PCM") else "OGG"
    sf.write(path, B.tone(seconds, rate, 2), rate, format=fmt, subtype=subtype)
    tags = mutagen.File(path)
    if tags.tags is None:
        tags.add_tags()
    del tags.tags[:]
    tags.tags.extend(TAGS)
    if isinstance(tags, FLAC):
        tags.add_picture(_picture())
        tags.metadata_blocks.append(_cuesheet(int(seconds * rate)))
        application = MetadataBlock(b"spbl" + b"application data")
        application.code = 2
        tags.metadata_blocks.append(application)
    else:
        tags.tags.append(("METADATA_BLOCK_PICTURE", base64.b64encode(_picture().write()).decode("ascii")))
    tags.save()
    return path


def carried(path: Path) -> tuple[list[tuple[str, str]], list[bytes], list[tuple[int, bytes]]]:
    """What :func:`tagged` put in: the comments in order, the pictures, the other FLAC blocks."""
    tags = mutagen.File(path)
    pictures = [p.write() for p in getattr(tags, "pictures", [])]
    blocks = [(b.code, b.write()) for b in getattr(tags, "metadata_blocks", []) if b.code in (2, 5)]
    return list(tags.tags), pictures, blocks


def mu_law_with_both_zeros(seconds: float = 1.0, subtype: str = "ULAW") -> tuple[B.Built, np.ndarray]:
    """A mu-law (or A-law) WAV of a tone in which every fifth sample is silent, stored (mu-law) as
    +0 (0xFF) and -0 (0x7F) in turn; and the sample indices of the silent ones."""
    x = B.tone(seconds, RATE, 1)
    x[::5] = 0.0
    built = B.riff(x, RATE, subtype)
    data = bytearray(built.data)
    zeros = np.arange(0, built.frames, 5)
    if subtype == "ULAW":
        for k, i in enumerate(zeros):
            data[built.offset + i] = 0x7F if k % 2 else 0xFF
    built.data = bytes(data)
    return built, zeros


def _layout(path: Path) -> container.Layout:
    with open(path, "rb") as f:
        layout = container.parse(f, path.stat().st_size)
    assert layout is not None
    return layout


def changed_samples(before: Path, after: Path) -> tuple[np.ndarray, np.ndarray]:
    """For two files of one layout: the samples whose bytes differ, and those whose values differ."""
    layout = _layout(before)
    lo, hi = layout.data_offset, layout.data_offset + layout.data_bytes
    a, b = before.read_bytes(), after.read_bytes()
    assert len(a) == len(b) and a[:lo] == b[:lo] and a[hi:] == b[hi:], "bytes outside the samples changed"
    raw_a, raw_b = np.frombuffer(a[lo:hi], np.uint8), np.frombuffer(b[lo:hi], np.uint8)
    bytes_differ = np.nonzero((raw_a != raw_b).reshape(-1, layout.width).any(axis=1))[0]
    values_differ = np.nonzero(
        container.decode(a[lo:hi], layout).reshape(-1) != container.decode(b[lo:hi], layout).reshape(-1)
    )[0]
    return bytes_differ, values_differ


# -- --plot and OUT checked before any work --------------------------------------------------------


def _plot_cases(tmp: Path) -> list[tuple[str, str]]:
    (tmp / "there.png").write_bytes(b"keep")
    return [
        (str(tmp / "nodir" / "x.png"), "folder"),
        (str(tmp / "there.png"), "exists; use --force"),
        (str(tmp / "out.wav"), "is OUT too"),
        (str(tmp / "plot.txt"), "name it .png or .pdf or .svg"),
        ("-", "cannot go to stdout"),
        (str(tmp), "is a directory"),
    ]


def test_plot_path_is_checked_before_any_work(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """Was: OUT written, then 'internal error: FileNotFoundError' for a plot in a missing folder."""
    src = tmp_path / "in.wav"
    sf.write(src, B.tone(1.0, RATE, 1), RATE)
    for plot, message in _plot_cases(tmp_path):
        before = _files(tmp_path)
        code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny", *REGION, "--plot", plot)
        assert code == 1 and err.startswith(f"specblur: --plot {plot}") and message in err, (plot, err)
        assert err.count("\n") == 1 and _files(tmp_path) == before, plot
    assert (tmp_path / "there.png").read_bytes() == b"keep"


def test_plot_takes_its_format_from_its_name_and_leaves_no_temporary_file(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, B.tone(1.0, RATE, 1), RATE)
    code, err = cli(
        capsys, "blur", str(src), str(tmp_path / "o.wav"), "-m", "tiny", *REGION, "--plot", str(tmp_path / "p.svg")
    )
    assert code == 0, err
    assert b"<svg" in (tmp_path / "p.svg").read_bytes()[:1000]
    assert _files(tmp_path) == ["in.wav", "o.wav", "p.svg"]


# -- OUT's name and IN's format ---------------------------------------------------------------------


def _wav(path: Path) -> None:
    sf.write(path, B.tone(1.0, RATE, 1), RATE, subtype="PCM_16")


def _flac(path: Path) -> None:
    sf.write(path, B.tone(1.0, RATE, 1), RATE, format="FLAC")


def _vorbis(path: Path) -> None:
    sf.write(path, B.tone(1.0, RATE, 1), RATE, format="OGG", subtype="VORBIS")


def _aiff(path: Path) -> None:
    sf.write(path, B.tone(1.0, RATE, 1), RATE, format="AIFF", subtype="PCM_24")


NAMES = [
    ("in.wav", _wav, "out.flac", "WAV (PCM_16) audio", "out.wav"),
    ("in.wav", _wav, "out.mp3", "WAV (PCM_16) audio", "out.wav"),
    ("in.wav", _wav, "out.m4a", "WAV (PCM_16) audio", "out.wav"),
    ("in.flac", _flac, "out.wav", "FLAC (PCM_16) audio", "out.flac"),
    ("in.flac", _flac, "out.ogg", "FLAC (PCM_16) audio", "out.flac"),
    ("in.ogg", _vorbis, "out.opus", "OGG (VORBIS) audio", "out.ogg"),
    ("in.aif", _aiff, "out.wav", "AIFF (PCM_24) audio", "out.aif"),
    ("take", _flac, "out.wav", "FLAC (PCM_16) audio", "out.flac"),  # IN without a suffix
]


@pytest.mark.parametrize(("name", "make", "out", "what", "fits"), NAMES, ids=[f"{n}->{o}" for n, _, o, _, _ in NAMES])
def test_out_named_for_another_format_is_refused(
    tiny_model: Path, tmp_path: Path, capsys, name: str, make, out: str, what: str, fits: str
) -> None:
    """Was: 'blur in.wav out.flac' wrote a RIFF WAV under a .flac name."""
    src = tmp_path / name
    make(src)
    code, err = cli(capsys, "blur", str(src), str(tmp_path / out), "-m", "tiny", *REGION)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"specblur: {src}: {what} cannot be written as {tmp_path / out}"), err
    assert f"name it {tmp_path / fits}" in err and "sox" in err
    assert _files(tmp_path) == [name]


def test_out_without_an_audio_extension_keeps_ins_format(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.flac"
    _flac(src)
    for out in ("out", "out.edited", "OUT.FLAC"):
        code, err = cli(capsys, "blur", str(src), str(tmp_path / out), "-m", "tiny", *REGION)
        assert code == 0, err
        assert sf.info(tmp_path / out).format == "FLAC"
    rf64 = B.riff(B.tone(1.0, RATE, 1), RATE, "PCM_16", kind="RF64")
    rf64.write(tmp_path / "long.wav")
    assert (
        cli(capsys, "blur", str(tmp_path / "long.wav"), str(tmp_path / "long.out.wav"), "-m", "tiny", *REGION)[0] == 0
    )
    assert (tmp_path / "long.out.wav").read_bytes()[:4] == b"RF64"


def test_batch_names_the_input_whose_name_lies_and_goes_on(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """--output-dir keeps each input's name: a FLAC named .wav cannot keep it."""
    _wav(tmp_path / "good.wav")
    _flac(tmp_path / "flac.wav")
    (tmp_path / "out").mkdir()
    files = [str(tmp_path / "flac.wav"), str(tmp_path / "good.wav")]
    code, err = cli(capsys, "blur", *files, "-o", str(tmp_path / "out"), "-m", "tiny", *REGION)
    assert code == 1
    assert "flac.wav: FLAC (PCM_16) audio cannot be written as" in err
    assert _files(tmp_path / "out") == ["good.wav"]


def test_library_and_editor_refuse_a_name_that_lies(tiny_model: Path, tmp_path: Path) -> None:
    from specblur.edit import on_file
    from specblur.editor import server

    src = tmp_path / "in.wav"
    _wav(src)
    with pytest.raises(UsageError, match="WAV .PCM_16. audio cannot be written as"):
        on_file.blur_file("tiny", str(src), str(tmp_path / "o.flac"), time=(0.4, 0.6))
    with pytest.raises(UsageError, match="cannot be written as"):
        server.Session(src, tmp_path / "o.flac", "tiny")
    with pytest.raises(UsageError, match="cannot be written as"):
        audio.write_patches(src, tmp_path / "o.flac", [])
    assert _files(tmp_path) == ["in.wav"]


def test_decode_refuses_an_audio_extension_it_does_not_write(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src, codes = tmp_path / "in.wav", tmp_path / "c.npz"
    _wav(src)
    assert cli(capsys, "encode", str(src), str(codes), "-m", "tiny")[0] == 0
    for out in ("back.mp3", "back.aiff"):
        code, err = cli(capsys, "decode", str(codes), str(tmp_path / out))
        assert code == 1 and "decode writes WAV, FLAC or OGG" in err and err.count("\n") == 1, err
    assert _files(tmp_path) == ["c.npz", "in.wav"]


# -- an unchanged sample keeps its bytes ------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW", "FLOAT"])
def test_samples_a_patch_does_not_change_keep_their_bytes(tmp_path: Path, subtype: str) -> None:
    """A patch over frames 4000-12000 that changes 6000-8000 only: the samples around, whose values it
    gives back nudged (mu-law, A-law: by less than a step) or as +0.0 for -0.0 (float), keep their
    bytes; mu-law's -0 (0x7F) and a float's -0.0 were rewritten as +0 before. (A-law has one code per
    value: its case holds the rule for an encoding without twins.)"""
    if subtype == "FLOAT":
        x = B.tone(1.0, RATE, 1)
        x[::5] = -0.0
        built = B.riff(x, RATE, "FLOAT")
    else:
        built, _ = mu_law_with_both_zeros(subtype=subtype)
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    built.write(src)
    original = audio.read_span(src, 4000, 12000)
    patch = original.copy()
    patch[2000:4000] *= 0.5
    if subtype == "FLOAT":
        patch[patch == 0] = 0.0
    else:
        patch[:2000] += 1e-6
        patch[4000:] -= 1e-6
    assert audio.write_patches(src, out, [(4000, patch)]) == []
    bytes_differ, values_differ = changed_samples(src, out)
    assert len(values_differ) > 1000 and np.all((values_differ >= 6000) & (values_differ < 8000))
    assert np.array_equal(bytes_differ, values_differ)


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_mu_law_edit_keeps_every_byte_of_unchanged_samples(tiny_model: Path, tmp_path: Path, capsys, subtype) -> None:
    """Was: a mu-law WAV came back with bytes flipped between +0 and -0 where nothing changed (A-law,
    one code per value, holds the same rule)."""
    built, zeros = mu_law_with_both_zeros(subtype=subtype)
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    built.write(src)
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", *REGION)
    assert code == 0, err
    bytes_differ, values_differ = changed_samples(src, out)
    assert len(values_differ) > 100
    assert np.array_equal(bytes_differ, values_differ)
    # silent samples of both codes lie between the first and the last changed one
    inside = zeros[(zeros > values_differ[0]) & (zeros < values_differ[-1])]
    assert len(inside) > 10


# -- an edit that changes nothing copies IN ----------------------------------------------------------


def _pcm_wav_with_chunks(path: Path) -> None:
    B.riff(B.tone(1.0, RATE, 2), RATE, "PCM_16", after=((b"LIST", b"INFOISFT\x04\x00\x00\x00abc\x00"),)).write(path)


def _mu_law(path: Path) -> None:
    mu_law_with_both_zeros()[0].write(path)


def _cut_short(path: Path) -> None:
    built = B.riff(B.tone(1.0, RATE, 1), RATE, "PCM_24")
    path.write_bytes(built.data[: built.offset + 3 * 12001])


def _adpcm(path: Path) -> None:
    sf.write(path, B.tone(1.0, RATE, 1), RATE, format="WAV", subtype="IMA_ADPCM")


def _flac_tagged(path: Path) -> None:
    tagged(path, "PCM_16")


def _vorbis_tagged(path: Path) -> None:
    tagged(path, "VORBIS")


COPIES = [
    ("in.wav", _pcm_wav_with_chunks),
    ("in.wav", _mu_law),
    ("cut.wav", _cut_short),
    ("adpcm.wav", _adpcm),
    ("in.aiff", _aiff),
    ("in.flac", _flac_tagged),
    ("in.ogg", _vorbis_tagged),
]


@pytest.mark.parametrize(("name", "make"), COPIES, ids=[m.__name__.strip("_") for _, m in COPIES])
def test_amount_zero_copies_the_file(tiny_model: Path, tmp_path: Path, capsys, name: str, make) -> None:
    """Was: a FLAC re-encoded, 4 of its 12 tags dropped (and OGG, ADPCM WAV re-encoded, a WAV cut
    short given new sizes)."""
    src = tmp_path / name
    make(src)
    out = tmp_path / f"out{src.suffix}"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", *REGION, "--amount", "0")
    assert code == 0, err
    assert "not kept" not in err
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("make", [_flac_tagged, _vorbis_tagged, _mu_law], ids=["flac", "vorbis", "mu-law"])
def test_patches_that_change_no_stored_value_copy_the_file(tmp_path: Path, make) -> None:
    """Samples nudged by less than the format's step are no change: the file is copied as it is."""
    src = tmp_path / ("in.flac" if make is _flac_tagged else "in.ogg" if make is _vorbis_tagged else "in.wav")
    make(src)
    out = tmp_path / f"out{src.suffix}"
    original = audio.read_span(src, 4000, 9000)
    nudge = 1e-9 if make is not _vorbis_tagged else 0.0  # Vorbis: lossy, only the very samples
    assert audio.write_patches(src, out, [(4000, original + nudge)]) == []
    assert out.read_bytes() == src.read_bytes()


# -- FLAC and Ogg tags and pictures come back ---------------------------------------------------------


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "VORBIS", "OPUS"])
def test_flac_and_ogg_keep_every_tag_and_picture(tiny_model: Path, tmp_path: Path, capsys, subtype: str) -> None:
    """Was: libsndfile's five known names kept, the rest (and the picture) named as lost."""
    rate = 48000 if subtype == "OPUS" else RATE
    suffix = {"PCM_16": ".flac", "PCM_24": ".flac", "VORBIS": ".ogg", "OPUS": ".opus"}[subtype]
    src, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    tagged(src, subtype, rate=rate)
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", *REGION)
    assert code == 0 and "not kept" not in err, err
    comments, pictures, blocks = carried(out)
    assert (comments, pictures, blocks) == carried(src)
    assert comments[: len(TAGS)] == TAGS
    if suffix == ".flac":
        assert len(pictures) == 1 and [code for code, _ in blocks] == [5, 2]
    else:
        assert len(comments) == len(TAGS) + 1 and comments[-1][0] == "METADATA_BLOCK_PICTURE"
    a, b = sf.info(src), sf.info(out)
    assert (b.format, b.subtype, b.samplerate, b.channels, b.frames) == (
        a.format,
        a.subtype,
        a.samplerate,
        a.channels,
        a.frames,
    )
    x, y = sf.read(src, dtype="float64")[0], sf.read(out, dtype="float64")[0]
    assert not np.array_equal(x, y)
    if suffix == ".flac":  # lossless: every sample after the edit's reach is the input's
        assert np.array_equal(x[int(1.1 * rate) :], y[int(1.1 * rate) :])


def test_tags_come_back_through_pipes(tiny_model: Path) -> None:
    from tests.conftest import run_cli

    data = io.BytesIO()
    sf.write(data, B.tone(1.0, RATE, 1), RATE, format="FLAC")
    data.seek(0)
    meta = FLAC(data)
    if meta.tags is None:
        meta.add_tags()
    del meta.tags[:]
    meta.tags.extend(TAGS)
    meta.add_picture(_picture())
    data.seek(0)
    meta.save(data)
    result = run_cli("blur", "-", "-", "-m", "tiny", *REGION, stdin=data.getvalue())
    assert result.returncode == 0 and b"not kept" not in result.stderr, result.stderr
    back = FLAC(io.BytesIO(result.stdout))
    assert list(back.tags) == TAGS and [p.data for p in back.pictures] == [_picture().data]


def test_describe_names_every_tag_it_finds(tmp_path: Path) -> None:
    """The yardstick of the tests above (a warning names what is lost): it sees all twelve keys."""
    from specblur import metadata

    src = tagged(tmp_path / "in.flac", "PCM_16")
    with open(src, "rb") as f:
        found = metadata.describe(f, src.stat().st_size)
    assert {f"tag {k.upper()}" for k, _ in TAGS} <= found
    assert {"PICTURE block", "CUESHEET block", "APPLICATION block"} <= found
