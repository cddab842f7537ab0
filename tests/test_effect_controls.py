"""The effect's controls: a strength that starts at zero, and stereo edits that keep the image."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import specblur
from specblur.edit import segment
from tests.conftest import cli_in_process, tone


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return cli_in_process(capsys, *args)


def _distance(x: np.ndarray, y: np.ndarray) -> float:
    """RMS difference in dB of the two signals' magnitude spectra (frames of 1024)."""
    n = len(x) // 1024 * 1024
    a = np.abs(np.fft.rfft(x[:n].reshape(-1, 1024) * np.hanning(1024), axis=1)) + 1e-6
    b = np.abs(np.fft.rfft(y[:n].reshape(-1, 1024) * np.hanning(1024), axis=1)) + 1e-6
    return float(np.sqrt(np.mean((20 * np.log10(a / b)) ** 2)))


def test_strength_starts_at_zero_and_grows(tiny_model: Path) -> None:
    rate = 16000
    x = tone(2.0, rate, (220.0, 440.0, 660.0))[:, 0].astype(np.float64)
    edits = {
        s: segment.blur(specblur.load_model("tiny"), x, rate, time=(0.6, 1.4), amount=s, seed=1)
        for s in (0.0, 0.1, 0.5, 1.0)
    }
    assert np.array_equal(edits[0.0].samples, x) and edits[0.0].span == (0, 0)
    d = {s: _distance(x, e.samples) for s, e in edits.items()}
    assert 0 < d[0.1] < d[0.5] < d[1.0]


def test_linked_stereo_keeps_identical_channels_identical(tiny_model: Path) -> None:
    rate = 22050
    mono = tone(2.0, rate, (196.0, 392.0, 800.0))[:, 0].astype(np.float64)
    x = np.stack([mono, mono], axis=1)
    linked = segment.blur(specblur.load_model("tiny"), x, rate, time=(0.5, 1.5), seed=2).samples
    independent = segment.blur(specblur.load_model("tiny"), x, rate, time=(0.5, 1.5), seed=2, linked=False).samples
    assert not np.array_equal(linked, x)
    assert np.array_equal(linked[:, 0], linked[:, 1])  # one draw, one change: the image holds
    assert not np.array_equal(independent[:, 0], independent[:, 1])


def test_linked_stereo_keeps_the_balance(tiny_model: Path) -> None:
    """A source panned left (right = 0.5 x left, delayed): the edit changes the sound, not where it sits."""
    rate = 16000
    left = tone(2.0, rate, (330.0, 660.0))[:, 0].astype(np.float64)
    x = np.stack([left, 0.5 * np.roll(left, 7)], axis=1)
    before = 20 * np.log10(np.std(x[8000:24000, 0]) / np.std(x[8000:24000, 1]))
    for seed in range(3):
        y = segment.blur(specblur.load_model("tiny"), x, rate, time=(0.5, 1.5), seed=seed).samples
        after = 20 * np.log10(np.std(y[8000:24000, 0]) / np.std(y[8000:24000, 1]))
        assert abs(after - before) < 0.5, (seed, before, after)


def test_linked_stereo_draws_from_both_channels(tiny_model: Path) -> None:
    """Different content per channel: the one draw comes from the channels' mean magnitude, which does
    not depend on their order, so swapping the input's channels swaps the output's, exactly. A draw
    from one channel only (the first, the last) breaks that."""
    rate = 16000
    x = np.stack(
        [tone(2.0, rate, (220.0, 440.0), seed=1)[:, 0], tone(2.0, rate, (587.0, 1175.0, 2350.0), seed=2)[:, 0]], axis=1
    ).astype(np.float64)
    for seed in (1, 2):
        edit = segment.blur(specblur.load_model("tiny"), x, rate, time=(0.5, 1.5), seed=seed)
        swapped = segment.blur(specblur.load_model("tiny"), x[:, ::-1].copy(), rate, time=(0.5, 1.5), seed=seed)
        assert edit.changed_codes > 0 and not np.array_equal(edit.samples, x)
        assert np.array_equal(swapped.samples, edit.samples[:, ::-1]), seed
        # one draw, one change: the first channel's own draw (as a mono file) is not it
        alone = segment.blur(specblur.load_model("tiny"), x[:, :1].copy(), rate, time=(0.5, 1.5), seed=seed)
        assert not np.array_equal(alone.samples[:, 0], edit.samples[:, 0])


def test_amount_and_linking_from_the_command_line(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.0, 16000, (220.0, 330.0), channels=2), 16000, subtype="FLOAT")
    outs = {}
    for args in (("--amount", "0.5"), ("-a", "50%"), ("--amount", "1"), ("--unlinked",)):
        out = tmp_path / f"o{len(outs)}.wav"
        code, err = cli(capsys, "blur", str(src), str(out), "-m", "tiny", "-t", "0.5-1.5", *args)
        assert code == 0, err
        outs[args] = out.read_bytes()
    raw = src.read_bytes()
    assert outs[("--amount", "0.5")] == outs[("-a", "50%")] != raw  # the same amount, written twice
    assert len({raw, outs[("--amount", "0.5")], outs[("--amount", "1")], outs[("--unlinked",)]}) == 4
    # half the change in dB: between the input and the whole edit
    x, half, whole = (
        sf.read(io.BytesIO(b), dtype="float64")[0] for b in (raw, outs[("--amount", "0.5")], outs[("--amount", "1")])
    )
    assert 0 < _distance(x[:, 0], half[:, 0]) < _distance(x[:, 0], whole[:, 0])
    # amount 0 on a float file: every byte the input's (a change of 1e-5 would show in thousands)
    for zero in ("0", "0%"):
        code, err = cli(
            capsys, "blur", str(src), str(tmp_path / "z.wav"), "-m", "tiny", "-t", "0.5-1.5", "-a", zero, "-f"
        )
        assert code == 0, err
        assert (tmp_path / "z.wav").read_bytes() == raw
    for bad in ("1.5", "150%", "-1", "half", "nan"):
        code, err = cli(capsys, "blur", str(src), str(tmp_path / "b.wav"), "-m", "tiny", "--amount", bad)
        assert code == 1 and "from 0 to 1" in err and err.count("\n") == 1
