"""Regions as Audacity label files: parsing and writing (specblur/labels.py), and ``--labels`` through
the real command line on real files (several regions per call, one write, bit-identical outside)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from specblur import labels
from specblur.edit.region import parse_freq, parse_time
from specblur.errors import UsageError
from tests import containers as B
from tests.conftest import cli_in_process, tone

# What Audacity 3 writes (File > Export > Export Labels) for three labels: one with a spectral
# selection, one without (no second line), one with only a high frequency set (-1: undefined).
AUDACITY = "0.500000\t1.000000\tcough\n\\\t200.000000\t2000.000000\n1.2\t1.6\t\n2.500000\t2.900000\tlow\n\\\t-1\t1000\n"


def test_audacity_label_file_is_read() -> None:
    regions = labels.parse(AUDACITY, "l.txt")
    assert [(r.start, r.end, r.low, r.high, r.text, r.line) for r in regions] == [
        (0.5, 1.0, 200.0, 2000.0, "cough", 1),
        (1.2, 1.6, None, None, "", 3),
        (2.5, 2.9, None, 1000.0, "low", 4),
    ]
    assert regions[0].time == (0.5, 1.0) and regions[1].freq == (None, None)


def test_variants_audacity_accepts() -> None:
    text = "\ufeff0,5\t1,25\tcomma decimals\r\n\\\t100\t300\r\n\\\tfuture\tline\r\n\r\n2\t3\ttext\twith tab\r\n"
    regions = labels.parse(text)
    assert [(r.start, r.end, r.low, r.high, r.text) for r in regions] == [
        (0.5, 1.25, 100.0, 300.0, "comma decimals"),  # further '\' lines are skipped, as Audacity does
        (2.0, 3.0, None, None, "text\twith tab"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.000000\t1.000000\tclick\n", "l.txt:1: a point label (at 1 s)"),
        ("0\t1\ta\n1.5\tpoint label\n", "l.txt:2: a point label (at 1.5 s)"),  # Audacity's one-time form
        ("0\t1\ta\n\\\t200\t100\n", "l.txt:2: the high frequency (100 Hz) is not above the low one"),
        ("2\t1\tbackwards\n", "l.txt:1: the label ends (1 s) before it starts (2 s)"),
        ("-1\t1\tx\n", "l.txt:1: the label starts at -1 s"),
        ("start\tend\ttext\n", "l.txt:1: not a label line"),
        ("\\\t100\t200\n", "l.txt:1: a frequency line ('\\' first) with no label line before it"),
        ("0\t1\tx\n\\\tlow\thigh\n", "l.txt:2: not a frequency line"),
        ("0\tinf\tx\n", "l.txt:1: a point label"),  # inf is no number: Audacity reads "0 <text>"
        ("\n\n", "l.txt: no labels"),
    ],
)
def test_bad_label_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        labels.parse(text, "l.txt")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_point_label_message_gives_a_region_that_works() -> None:
    with pytest.raises(UsageError, match=r"e\.g\. 1<TAB>2<TAB>TEXT"):
        labels.parse("1\t1\tx\n")
    assert labels.parse("1\t2\tTEXT\n")[0].time == (1.0, 2.0)


_seconds = st.floats(0, 3600, allow_nan=False).map(lambda v: round(v, 6))
_hz = st.one_of(st.none(), st.floats(0, 48000, allow_nan=False).map(lambda v: round(v, 3)))


@given(st.lists(st.tuples(_seconds, st.floats(1e-3, 60).map(lambda v: round(v, 6)), _hz, _hz, st.text()), max_size=8))
def test_written_labels_read_back(items: list) -> None:
    made = []
    for start, length, low, high, text in items:
        if low is not None and high is not None and high <= low:
            low, high = round(high - 1, 3) if high >= 1 else None, high
        end = round(start + length, 6)
        if end > start:
            made.append(labels.Label(start, end, low, high, text))
    if not made:
        return
    back = labels.parse(labels.dumps(made))
    clean = [t.replace("\t", " ").replace("\n", " ").replace("\r", " ").strip() for t in (m.text for m in made)]
    assert [(r.start, r.end, r.low, r.high, r.text) for r in back] == [
        (m.start, m.end, m.low, m.high, t) for m, t in zip(made, clean, strict=True)
    ]


@pytest.mark.parametrize(
    ("parse", "spec"), [(parse_time, "1-1"), (parse_time, "2-1"), (parse_time, "0-0"), (parse_freq, "1k-1k")]
)
def test_empty_or_inverted_range_suggests_a_range_that_is_accepted(parse, spec: str) -> None:
    with pytest.raises(UsageError, match="e.g.") as info:
        parse(spec)
    example = str(info.value).split("e.g. ")[1]
    low, high = parse(example)  # the example is itself accepted
    assert high > low


# -- --labels through the command line ---------------------------------------------------------------


def _write_labels(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_one_label_writes_the_same_bytes_as_time_and_freq(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.5, 44100, (220.0, 660.0), channels=2), 44100, subtype="PCM_24")
    lab = _write_labels(tmp_path / "one.txt", "0.8\t1.4\tx\n\\\t200\t1500\n")
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert cli_in_process(capsys, "blur", str(src), str(a), "-m", "tiny", "--labels", str(lab), "-s", "3")[0] == 0
    assert (
        cli_in_process(capsys, "blur", str(src), str(b), "-m", "tiny", "-t", "0.8-1.4", "-F", "200-1500", "-s", "3")[0]
        == 0
    )
    assert a.read_bytes() == b.read_bytes() != src.read_bytes()


def test_several_regions_in_one_call_keep_every_other_byte(tiny_model: Path, tmp_path: Path, capsys) -> None:
    rate = 22050
    x = B.tone(6.0, rate, 2)
    info_chunk = b"INFOISFT\x04\x00\x00\x00ab\x00\x00"
    built = B.riff(x, rate, "PCM_16", before=((b"bext", b"B" * 602),), after=((b"LIST", info_chunk),))
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    built.write(src)
    raw = src.read_bytes()
    # two regions far apart, a third overlapping the first (it sees the first's edit), one over the whole band
    lab = _write_labels(
        tmp_path / "regions.txt",
        "0.6\t1.0\ta\n\\\t300\t2000\n4.4\t4.9\tb\n0.9\t1.3\tc\n\\\t-1\t1200\n",
    )
    code, err = cli_in_process(capsys, "blur", str(src), str(out), "-m", "tiny", "--labels", str(lab), "-v")
    assert code == 0, err
    assert err.count("edited bottom cells") == 3  # -v: each region
    assert src.read_bytes() == raw
    data = out.read_bytes()
    assert len(data) == len(raw)
    assert data[: built.offset] == raw[: built.offset]  # header and bext
    assert data[built.offset + built.length :] == raw[built.offset + built.length :]  # LIST after the samples
    before = sf.read(io.BytesIO(raw), dtype="float64", always_2d=True)[0]
    after = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)[0]
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (rate, 2, len(x), "PCM_16")
    changed = np.nonzero(np.any(after != before, axis=1))[0] / rate
    margin = 0.45  # feather (3 sigma of one cell) + the STFT window
    assert changed.min() > 0.6 - margin and changed.max() < 4.9 + margin
    assert not np.any((changed > 1.3 + margin) & (changed < 4.4 - margin))  # between the regions: untouched
    for a, b in ((0.6, 1.0), (4.4, 4.9), (1.0, 1.3)):
        inside = slice(int(a * rate), int(b * rate))
        assert np.abs(after[inside] - before[inside]).max() > 1e-3
    # the region far from the others is the same edit as on its own
    alone = tmp_path / "alone.wav"
    assert cli_in_process(capsys, "blur", str(src), str(alone), "-m", "tiny", "-t", "4.4-4.9")[0] == 0
    single = sf.read(alone, dtype="float64", always_2d=True)[0]
    late = slice(int(2.5 * rate), None)
    assert np.array_equal(after[late], single[late])


def test_labels_on_flac_and_repair(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src, out = tmp_path / "in.flac", tmp_path / "out.flac"
    sf.write(src, tone(4.0, 16000, (300.0, 900.0), channels=1), 16000, subtype="PCM_24", format="FLAC")
    lab = _write_labels(tmp_path / "l.txt", "0.5\t0.8\tone\n2.5\t2.8\ttwo\n\\\t100\t3000\n")
    code, err = cli_in_process(capsys, "repair", str(src), str(out), "-m", "tiny", "--labels", str(lab))
    assert code == 0, err
    info = sf.info(out)
    assert (info.format, info.subtype, info.frames) == ("FLAC", "PCM_24", 64000)
    before, after = sf.read(src, dtype="float64")[0], sf.read(out, dtype="float64")[0]
    changed = np.nonzero(after != before)[0] / 16000
    assert len(changed) and changed.min() > 0.05 and changed.max() < 3.25
    assert not np.any((changed > 1.25) & (changed < 2.05))


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("0.5\t1\ta\n2\t2\tpoint\n", (), "l.txt:2: a point label (at 2 s)"),
        ("0.5\t1\ta\n9\t10\tlate\n", (), "l.txt:2: --time starts at 9 s but the file lasts 2"),
        ("0.5\t1\ta\n", ("-t", "0-1"), "give --labels or --time/--freq, not both"),
        ("0.5\t1\ta\n\\\t9000\t-1\n", (), "l.txt:1: --freq starts at 9000 Hz"),
    ],
)
def test_bad_labels_are_command_line_errors_and_nothing_is_written(
    tiny_model: Path, tmp_path: Path, capsys, text: str, extra: tuple, message: str
) -> None:
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, tone(2.0, 16000, (440.0,)), 16000)
    lab = _write_labels(tmp_path / "l.txt", text)
    code, err = cli_in_process(capsys, "blur", str(src), str(out), "-m", "tiny", "--labels", str(lab), *extra)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "l.txt"]


def test_missing_label_file(tmp_path: Path, capsys) -> None:
    code, err = cli_in_process(capsys, "blur", "in.wav", str(tmp_path / "o.wav"), "--labels", str(tmp_path / "no.txt"))
    assert code == 1 and "no.txt: no such file" in err


@pytest.mark.parametrize("effect", ["blur", "repair"])
def test_a_region_that_fails_after_others_were_written_leaves_no_out(
    tiny_model: Path, tmp_path: Path, capsys, effect: str
) -> None:
    """Regions whose parts overlap are written as they are done (memory follows the regions in
    reach); one that fails after earlier spans went out (NaN in its part) still gives one line,
    exit 2 and no OUT, not even a temporary file."""
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    x = tone(30.0, 16000, (220.0, 330.0)).astype(np.float64)
    x[int(25.05 * 16000)] = np.nan
    sf.write(src, x, 16000, subtype="FLOAT")
    text = "".join(f"{1 + 0.5 * k:.3f}\t{1.2 + 0.5 * k:.3f}\t{effect}\n" for k in range(49))
    lab = _write_labels(tmp_path / "l.txt", text)
    code, err = cli_in_process(capsys, effect, str(src), str(out), "-m", "tiny", "--labels", str(lab))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "NaN or infinite" in lines[0] and "in.wav" in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "l.txt"]
