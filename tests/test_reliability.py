"""The reliability matrix (docs/RELIABILITY.md): bad audio, bad arguments, untrusted files,
interruptions. Each case: the exit code (1 command line, 2 file or processing), one line on stderr
naming the file, the input untouched, and no output, partial or whole, unless the case succeeds."""

from __future__ import annotations

import errno
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from specblur import audio, files
from specblur.learn import checkpoint
from tests.conftest import Paused, cli_in_process, run_cli, tone


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return cli_in_process(capsys, *args)


def _noise(frames: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal((frames, channels))


def _write(path: Path, data: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> Path:
    sf.write(path, data, rate, subtype=subtype)
    return path


# -- bad audio ------------------------------------------------------------------------------------


def _missing(d: Path) -> Path:
    return d / "missing.wav"


def _directory(d: Path) -> Path:
    (d / "folder.wav").mkdir()
    return d / "folder.wav"


def _empty(d: Path) -> Path:
    (d / "empty.wav").write_bytes(b"")
    return d / "empty.wav"


def _text(d: Path) -> Path:
    (d / "text.wav").write_text("this is not audio\n")
    return d / "text.wav"


def _header_only(d: Path) -> Path:
    full = _write(d / "full.wav", _noise(16000))
    (d / "header.wav").write_bytes(full.read_bytes()[:44])
    return d / "header.wav"


def _unsupported(d: Path) -> Path:
    (d / "song.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    return d / "song.mp3"


def _nan(d: Path) -> Path:
    x = _noise(16000)
    x[4000], x[5000] = np.nan, np.inf
    return _write(d / "nan.wav", x, subtype="FLOAT")


def _zero_frames(d: Path) -> Path:
    return _write(d / "zero.wav", np.zeros((0, 1)))


BAD_AUDIO: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing file", _missing, "no such file"),
    ("a directory", _directory, "is a directory"),
    ("an empty file", _empty, "cannot read audio"),
    ("a text file named .wav", _text, "cannot read audio"),
    ("a header with no data", _header_only, "no audio frames"),
    ("an unsupported format", _unsupported, "cannot read audio"),
    ("NaN or Inf samples in a float WAV", _nan, "NaN or infinite"),
    ("zero frames", _zero_frames, "no audio frames"),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD_AUDIO, ids=[c for c, _, _ in BAD_AUDIO])
def test_bad_audio_is_refused(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture, case: str, make: Callable, message: str
) -> None:
    src = make(tmp_path)
    before = src.read_bytes() if src.is_file() else None
    out = tmp_path / "out.wav"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny")
    assert code == 2, err
    assert err.count("\n") == 1 and src.name in err and message in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.wav.*"))
    if before is not None:
        assert src.read_bytes() == before


GOOD_ODD_AUDIO = [
    ("shorter than one code cell", 100, 1, 16000, "PCM_16"),
    ("one frame", 1, 1, 16000, "PCM_16"),
    ("8-bit unsigned", 24000, 1, 16000, "PCM_U8"),
    ("6 channels", 24000, 6, 16000, "PCM_16"),
    ("8 kHz", 12000, 1, 8000, "PCM_16"),
    ("96 kHz", 144000, 2, 96000, "PCM_24"),
]


@pytest.mark.parametrize(
    ("case", "frames", "channels", "rate", "subtype"), GOOD_ODD_AUDIO, ids=[c[0] for c in GOOD_ODD_AUDIO]
)
def test_odd_but_valid_audio_is_edited(
    tiny_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    case: str,
    frames: int,
    channels: int,
    rate: int,
    subtype: str,
) -> None:
    src = _write(tmp_path / "in.wav", _noise(frames, channels), rate, subtype)
    before = src.read_bytes()
    out = tmp_path / "out.wav"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-q")
    assert code == 0 and err == "", err
    assert src.read_bytes() == before
    a, b = sf.info(src), sf.info(out)
    assert (b.frames, b.channels, b.samplerate, b.subtype) == (a.frames, a.channels, a.samplerate, a.subtype)


def _clipped_input() -> np.ndarray:
    """A tone driven well past full scale and clipped: a third of its samples sit at +-1."""
    x = np.clip(8 * tone(1.5, 16000, (200.0, 400.0)), -1.0, 1.0)
    assert np.mean(np.abs(x) == 1.0) > 0.3
    return x


def test_clipped_input_is_edited_with_a_warning(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """An integer file cannot hold the edit's overshoot past full scale: those samples are held under
    it by short dips in gain (specblur.edit.overs), not clipped, and one warning line counts them (as
    many as the library's edit puts past +-1) and says how deep the dips go."""
    import specblur
    from specblur.edit import overs, segment

    x = _clipped_input()
    src = _write(tmp_path / "loud.wav", x)
    decoded = sf.read(src, dtype="float64", always_2d=True)[0]
    edit = segment.blur(specblur.load_model("tiny"), decoded, 16000, time=(0.3, 1.0), temperature=4.0).samples
    over = np.flatnonzero(np.abs(edit[:, 0]) > 1.0)
    assert len(over) > 0
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny", "-t", "0.3-1", "-T", "4")
    assert code == 0
    deepest = 20 * np.log10(1 / np.abs(edit).max())
    assert err.splitlines() == [
        f"specblur: warning: {src}: {len(over)} edited samples were over full scale: held under it by dips in "
        f"gain of up to {deepest:.1f} dB, {1000 * overs.REACH_SECONDS:g} ms each side, not clipped"
    ], err
    y = sf.read(tmp_path / "out.wav", dtype="float64")[0]
    assert len(y) == len(x) and np.abs(y).max() <= 1.0
    reach = int(round(overs.REACH_SECONDS * 16000))
    near = np.zeros(len(x), dtype=bool)
    for at in over:
        near[max(0, at - reach) : at + reach + 1] = True
    step = 1 / 32768
    assert np.abs(y[~near] - edit[~near, 0]).max() <= step  # beyond the dips: the edit as made
    # near the overs: brought down, not squared off (clipping keeps every sample under full scale as it
    # was and flattens the overs to +-1; the dips lower the samples around them too)
    under = near & (np.abs(edit[:, 0]) < 0.99)
    assert np.all(np.abs(y[under]) <= np.abs(edit[under, 0]) + step)
    assert np.mean(np.abs(y[under]) < np.abs(edit[under, 0]) - 2 * step) > 0.5
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "q.wav"), "-m", "tiny", "-t", "0.3-1", "-T", "4", "-q")
    assert code == 0 and err == ""  # -q silences warnings
    assert (tmp_path / "q.wav").read_bytes() == (tmp_path / "out.wav").read_bytes()


def test_a_long_edit_counts_each_over_once(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """A whole-file blur of 40 s is edited in tiles that overlap (each edits 0.5 s more either side
    than it gives, and crossfades 0.25 s into the next): the warning counts the overs of the frames
    written, each once, not the overs of every tile's whole edit (26% more here before). The same
    edit of the same samples in a float file keeps its overs: that is the count."""
    rate = 16000
    t = np.arange(40 * rate) / rate
    x = np.clip(8 * (np.sin(2 * np.pi * 200 * t) + 0.5 * np.sin(2 * np.pi * 400 * t)) / 1.5, -1, 1)
    src = _write(tmp_path / "loud.wav", np.stack([x, 0.9 * x], axis=1), rate)
    floats = _write(tmp_path / "loud.f.wav", sf.read(src, always_2d=True)[0], rate, "FLOAT")
    code, err = cli(capsys, "blur", str(floats), str(tmp_path / "out.f.wav"), "-m", "tiny", "-T", "4")
    assert code == 0 and err == "", err
    made = sf.read(tmp_path / "out.f.wav", always_2d=True)[0]
    truth = int(np.count_nonzero(np.abs(made).max(axis=1) > 1.0))
    assert truth > 10000, "the blur went over too little to tell a count from a double count"
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny", "-T", "4")
    assert code == 0
    said = int(re.search(r"(\d+) edited samples were over full scale", err).group(1))
    # (in a crossfade the output blends two tiles' edits; the count is the earlier tile's: within 2%)
    assert abs(said - truth) <= 0.02 * truth, (said, truth)


def test_clipped_input_in_a_float_file_keeps_the_overshoot(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """A float file holds samples past +-1: the edit is written as it is, nothing clipped, no warning."""
    import specblur
    from specblur.edit import segment

    src = _write(tmp_path / "loud.wav", _clipped_input(), subtype="FLOAT")
    decoded = sf.read(src, dtype="float64", always_2d=True)[0]
    edit = segment.blur(specblur.load_model("tiny"), decoded, 16000, time=(0.3, 1.0), temperature=4.0).samples
    assert np.abs(edit).max() > 1.0
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny", "-t", "0.3-1", "-T", "4")
    assert code == 0 and err == "", err
    y = sf.read(tmp_path / "out.wav", dtype="float64", always_2d=True)[0]
    assert np.array_equal(y, edit.astype(np.float32))


def test_truncated_wav_warns_and_keeps_what_is_there(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """As sox does ('premature EOF'): a warning, then the frames that are there; the output's header
    is right."""
    full = _write(tmp_path / "full.wav", tone(2.0, 16000, (300.0,)))
    src = tmp_path / "cut.wav"
    src.write_bytes(full.read_bytes()[:30044])  # 15,000 of 32,000 frames
    out = tmp_path / "out.wav"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", "0.1-0.2")
    assert code == 0
    assert "cut.wav: file cut short" in err and err.count("\n") == 1
    info = sf.info(out)
    assert info.frames == 15000 and out.stat().st_size == 44 + 2 * 15000
    kept = sf.read(src, dtype="float64")[0]
    after = sf.read(out, dtype="float64")[0]
    assert np.array_equal(after[11000:], kept[11000:])  # beyond the span: feather + window


def _decodes(path: Path) -> np.ndarray:
    """What libsndfile decodes of ``path`` read straight through, a little at a time, up to where it
    ends or fails."""
    blocks = []
    try:
        with sf.SoundFile(path) as f:
            while len(block := f.read(1024, dtype="float64", always_2d=True)):
                blocks.append(block)
    except (sf.LibsndfileError, RuntimeError):
        pass
    return np.concatenate(blocks)


def test_flac_cut_short_warns_and_keeps_what_decodes(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """A FLAC cut mid-stream (a download stopped) is edited as a cut WAV is: one warning, then the
    frames that decode (it used to fail with 'cannot write (flac decoder lost sync)', exit 2)."""
    full = tmp_path / "full.flac"
    sf.write(full, tone(2.0, 16000, (300.0, 2200.0)), 16000, subtype="PCM_16")
    src = tmp_path / "cut.flac"
    src.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    there = _decodes(src)
    assert 0.3 * 32000 < len(there) < 32000
    out = tmp_path / "out.flac"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", "0.1-0.2")
    assert code == 0, err
    assert "cut.flac: the audio ends early: its header promises 2.000 s" in err and err.count("\n") == 1, err
    after = sf.read(out, dtype="float64", always_2d=True)[0]  # (up to a block short: where the decoder fails
    # depends on how much is asked of it at once)
    assert len(there) - 1024 <= len(after) <= len(there) and np.array_equal(after[11000:], there[11000 : len(after)])


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def test_an_ogg_that_promises_more_than_it_holds_is_edited_whole(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """An OGG whose last page says it ends later than its audio does (libsndfile counts frames from
    that page; one of Battle for Wesnoth's tracks promises 5,806 frames more than decode): a whole-file
    blur used to stop with 'the file changed while being read'. It is edited, what decodes of it,
    with a warning."""
    import struct

    src = tmp_path / "in.ogg"
    sf.write(src, tone(6.0, 16000, (300.0, 2200.0)), 16000, format="OGG", subtype="VORBIS")  # (several pages)
    data = src.read_bytes()
    at = data.rfind(b"OggS")  # the last page: its granule position 5,000 frames on, its checksum made again
    page = bytearray(data[at:])
    struct.pack_into("<q", page, 6, struct.unpack_from("<q", page, 6)[0] + 5000)
    struct.pack_into("<I", page, 22, 0)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    src.write_bytes(data[:at] + bytes(page))
    promised, there = sf.info(src).frames, len(_decodes(src))
    assert promised > there + 4000
    out = tmp_path / "out.ogg"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny")
    assert code == 0, err
    assert f"in.ogg: the audio ends early: its header promises {promised / 16000:.3f} s" in err, err
    assert err.count("\n") == 1 and sf.info(out).frames == there


def test_ogg_vorbis_keeps_its_format(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """Lossy OGG cannot be bit-identical (it is re-encoded); it keeps format, rate and length."""
    src = tmp_path / "in.ogg"
    sf.write(src, tone(2.0, 22050, (300.0,)), 22050, format="OGG", subtype="VORBIS")
    out = tmp_path / "out.ogg"
    assert cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", "0.5-1")[0] == 0
    a, b = sf.info(src), sf.info(out)
    assert (b.format, b.subtype, b.samplerate, b.frames) == (a.format, a.subtype, a.samplerate, a.frames)


# -- bad arguments --------------------------------------------------------------------------------

BAD_ARGS = [
    (("--time", "1-2-3"), "--time"),
    (("--time", "2-1"), "end must be above"),
    (("--time", "1-1"), "end must be above"),
    (("--time", "9-"), "file lasts"),
    (("--freq", "a-b"), "--freq"),
    (("--freq", "2k-1k"), "end must be above"),
    (("--freq", "3k-9k"), "Nyquist"),
    (("--freq", "9k-"), "start below"),
    (("--temperature", "1e9"), "temperature"),
    (("--temperature", "nan"), "temperature"),
    (("--sweeps", "100000"), "sweeps"),
    (("--feather", "-1"), "feather"),
    (("--scale", "huge"), "scale"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_arguments_are_command_line_errors(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: tuple[str, ...], message: str
) -> None:
    src = _write(tmp_path / "in.wav", _noise(32000))
    out = tmp_path / "out.wav"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", *args)
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_output_equal_to_input_is_refused(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "in.wav", _noise(16000))
    before = src.read_bytes()
    (tmp_path / "link.wav").symlink_to(src)
    for out in (str(src), str(tmp_path / "." / "in.wav"), str(tmp_path / "link.wav")):
        code, err = cli(capsys, "blur", str(src), out, "-m", "tiny", "-f")
        assert code == 1 and "output is the input" in err
    assert src.read_bytes() == before


def test_output_in_a_missing_folder(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "in.wav", _noise(16000))
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "nope" / "out.wav"), "-m", "tiny")
    assert code == 1 and "does not exist" in err


def test_existing_output_needs_force(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "in.wav", _noise(16000))
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny")
    assert code == 1 and "--force" in err and out.read_bytes() == b"keep me"


def test_output_in_a_read_only_folder(tiny_model: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Simulated (the tests may run as root, who may write anywhere): creating the temporary file fails."""
    src = _write(tmp_path / "in.wav", _noise(16000))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny")
    assert code == 2 and "out.wav" in err and "Permission denied" in err and err.count("\n") == 1
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_full_disk_leaves_nothing(tiny_model: Path, tmp_path: Path, capsys, monkeypatch, suffix: str) -> None:
    """Simulated: the disk fills while the output is written (WAV: bytes copied and patched;
    FLAC: streamed through libsndfile)."""
    src = tmp_path / f"in{suffix}"
    sf.write(src, _noise(32000), 16000)
    if suffix == ".wav":
        real_pieces = audio._patched_bytes

        def full_pieces(*args):
            pieces = real_pieces(*args)
            yield next(pieces)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(audio, "_patched_bytes", full_pieces)
    else:
        real_write = sf.SoundFile.write

        def full(self, data):
            real_write(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(sf.SoundFile, "write", full)
    out = tmp_path / f"out{suffix}"
    code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", "0.5-1")
    assert code == 2 and "No space left on device" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


# -- untrusted models and code files ----------------------------------------------------------------


class _Payload:
    """An object whose unpickling would run code (it would create ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _corrupt(d: Path, model: Path) -> Path:
    data = bytearray(model.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    (d / "corrupt.pt").write_bytes(bytes(data))
    return d / "corrupt.pt"


def _truncated(d: Path, model: Path) -> Path:
    (d / "truncated.pt").write_bytes(model.read_bytes()[:5000])
    return d / "truncated.pt"


def _wrong_version(d: Path, model: Path) -> Path:
    payload = torch.load(model, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, d / "future.pt")
    return d / "future.pt"


def _pickle(d: Path, model: Path) -> Path:
    torch.save({"format": "specblur-checkpoint", "evil": _Payload(d / "pwned")}, d / "evil.pt")
    return d / "evil.pt"


BAD_MODELS = [
    ("corrupt", _corrupt, ("corrupt", "damaged", "does not match")),
    ("truncated", _truncated, ("corrupt or truncated",)),
    ("wrong format version", _wrong_version, ("format version 99",)),
    ("a pickle carrying code", _pickle, ("refused",)),
]


@pytest.mark.parametrize(("case", "make", "messages"), BAD_MODELS, ids=[c for c, _, _ in BAD_MODELS])
def test_untrusted_models_are_refused(
    tiny_model: Path, tmp_path: Path, capsys, case: str, make: Callable, messages: tuple[str, ...]
) -> None:
    bad = make(tmp_path, tiny_model)
    src = _write(tmp_path / "in.wav", _noise(16000))
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", str(bad))
    assert code == 2 and err.count("\n") == 1 and bad.name in err, err
    assert any(m in err for m in messages), err
    assert not (tmp_path / "out.wav").exists()
    assert not (tmp_path / "pwned").exists()  # the pickle's code never ran


def test_code_files_of_another_version_or_garbage(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "in.wav", _noise(16000))
    codes = tmp_path / "c.npz"
    assert cli(capsys, "encode", str(src), str(codes), "-m", "tiny")[0] == 0
    with np.load(codes, allow_pickle=False) as z:
        arrays = dict(z)
    import json

    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "future.npz", **arrays)
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    for name in ("future.npz", "garbage.npz"):
        code, err = cli(capsys, "decode", str(tmp_path / name), str(tmp_path / "o.wav"), "-m", "tiny")
        assert code == 2 and name in err and err.count("\n") == 1, err
        assert not (tmp_path / "o.wav").exists()


# -- interruptions ----------------------------------------------------------------------------------


def test_interrupt_while_writing_leaves_nothing(tiny_model: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    src = _write(tmp_path / "in.wav", _noise(32000))
    real_pieces = audio._patched_bytes

    def interrupted(*args):
        pieces = real_pieces(*args)
        yield next(pieces)
        raise KeyboardInterrupt

    monkeypatch.setattr(audio, "_patched_bytes", interrupted)
    code, err = cli(capsys, "blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny")
    assert code == 130 and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


@pytest.mark.parametrize("point", ["writing", "renaming"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_write_leaves_no_partial_output(tiny_model: Path, tmp_path: Path, sig: int, point: str):
    """The command is held at a known point (specblur._testhooks): with the output half written to its
    temporary file, or written whole and not yet renamed. A signal there: exit 130, "interrupted", no
    output and no temporary file."""
    src = _write(tmp_path / "in.wav", _noise(48000, 2))
    before = src.read_bytes()
    out = tmp_path / "out.wav"
    paused = Paused(point, "blur", str(src), str(out), "-m", "tiny", "-t", "1-2")
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".out.wav.")]
    assert len(partial) == 1 and not out.exists()  # it is indeed mid-write
    size = partial[0].stat().st_size
    assert size < len(before) if point == "writing" else size == len(before)
    paused.proc.send_signal(sig)
    code, err = paused.finish()
    assert code == 130 and "interrupted" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
    assert src.read_bytes() == before


@pytest.mark.parametrize("point", ["writing", "renaming"])
def test_a_paused_write_resumed_completes(tiny_model: Path, tmp_path: Path, point: str) -> None:
    """The pause itself changes nothing: let go, the command writes the whole file."""
    src = _write(tmp_path / "in.wav", _noise(48000, 2))
    out = tmp_path / "out.wav"
    paused = Paused(point, "blur", str(src), str(out), "-m", "tiny", "-t", "1-2")
    paused.resume()
    code, err = paused.finish()
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]
    assert len(out.read_bytes()) == len(src.read_bytes()) and out.read_bytes() != src.read_bytes()


def test_sigterm_during_training_saves_a_resumable_run(tones_dir: Path, data_dir: Path) -> None:
    args = [sys.executable, "-m", "specblur", "train", str(tones_dir), "--name", "termed", "--preset", "tiny"]
    proc = subprocess.Popen([*args, "--steps", "1000000"], stderr=subprocess.PIPE, env=os.environ.copy())
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(b"step 100:"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and b"--resume" in err, err
    assert checkpoint.load(data_dir / "runs" / "termed.pt").extra["step"] >= 100


def test_stdin_that_is_not_audio(tiny_model: Path) -> None:
    result = run_cli("blur", "-", "-", "-m", "tiny", stdin=b"not audio at all")
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.startswith(b"specblur: stdin: cannot read audio") and result.stderr.count(b"\n") == 1


def test_stdout_gets_a_whole_file(tiny_model: Path) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, tone(1.2, 16000, (300.0,)), 16000, format="FLAC")
    result = run_cli("blur", "-", "-", "-m", "tiny", "-t", "0.2-0.8", stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr
    info = sf.info(io.BytesIO(result.stdout))
    assert info.format == "FLAC" and info.frames == 19200


def test_audio_helpers_never_leave_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(files.WriteError, match="I/O error"):
        files.atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_batch_goes_on_past_a_bad_file(tiny_model: Path, tmp_path: Path, capsys) -> None:
    good = _write(tmp_path / "good.wav", _noise(48000))
    short = _write(tmp_path / "short.wav", _noise(8000))
    broken = _text(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, err = cli(capsys, "blur", str(short), str(broken), str(good), "-o", str(out), "-m", "tiny", "-t", "1-2")
    assert code == 2  # the highest of the files' codes: region outside short.wav (1), unreadable file (2)
    lines = err.splitlines()
    assert any("short.wav" in ln and "file lasts" in ln for ln in lines)
    assert any("text.wav" in ln and "cannot read audio" in ln for ln in lines)
    assert lines[-1] == "specblur: 2 of 3 files failed (see above)"
    assert sorted(p.name for p in out.iterdir()) == ["good.wav"]
