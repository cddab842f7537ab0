"""The effect's controls: a strength that starts at zero, and stereo edits that keep the image."""

from __future__ import annotations

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


def test_amount_and_linking_from_the_command_line(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.0, 16000, (220.0, 330.0), channels=2), 16000)
    for args in (("--amount", "0.5"), ("-a", "50%"), ("--unlinked",)):
        code, err = cli(capsys, "blur", str(src), str(tmp_path / "o.wav"), "-m", "tiny", "-t", "0.5-1.5", "-f", *args)
        assert code == 0, err
    assert not np.array_equal(sf.read(tmp_path / "o.wav")[0], sf.read(src)[0])
    code, _ = cli(capsys, "blur", str(src), str(tmp_path / "z.wav"), "-m", "tiny", "--amount", "0")
    assert code == 0 and np.array_equal(sf.read(tmp_path / "z.wav")[0], sf.read(src)[0])
    for bad in ("1.5", "150%", "-1", "half", "nan"):
        code, err = cli(capsys, "blur", str(src), str(tmp_path / "b.wav"), "-m", "tiny", "--amount", bad)
        assert code == 1 and "from 0 to 1" in err and err.count("\n") == 1
