"""`specblur repair`: the region's codes are thrown away and filled from the context; everything the
blur guarantees still holds (bit-identical outside, format kept, pipes, seeds, the Python API)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import specblur
from tests.conftest import cli_in_process, run_cli, tone

RATE = 16000


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return cli_in_process(capsys, *args)


def _with_burst(seed: int = 0) -> np.ndarray:
    """Two seconds of a steady stereo tone with a loud noise burst at 0.9-1.1 s (the thing to remove)."""
    x = 0.3 * tone(2.0, RATE, (220.0, 440.0), channels=2, seed=seed).astype(np.float64)
    t = np.arange(len(x)) / RATE
    x[:, 0] *= 1 / np.exp(-t * 0.8)  # undo the decay: steady
    x[:, 1] *= 1 / np.exp(-t * 0.8)
    burst = (t >= 0.9) & (t < 1.1)
    x[burst] += 0.5 * np.random.default_rng(seed).standard_normal((int(burst.sum()), 2))
    return x


def test_repair_removes_a_burst_and_keeps_everything_else(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _with_burst(), RATE, subtype="PCM_24")
    raw = src.read_bytes()
    code, err = cli(capsys, "repair", str(src), str(out), "-m", "tiny", "-t", "0.9-1.1")
    assert code == 0, err
    assert src.read_bytes() == raw
    x, _ = sf.read(src, dtype="float64")
    y, _ = sf.read(out, dtype="float64")
    assert sf.info(out).subtype == "PCM_24" and y.shape == x.shape
    margin = int(0.45 * RATE)
    assert np.array_equal(y[: int(0.9 * RATE) - margin], x[: int(0.9 * RATE) - margin])
    assert np.array_equal(y[int(1.1 * RATE) + margin :], x[int(1.1 * RATE) + margin :])
    inside = slice(int(0.93 * RATE), int(1.07 * RATE))
    around = np.r_[int(0.5 * RATE) : int(0.8 * RATE), int(1.2 * RATE) : int(1.5 * RATE)]
    rms = lambda z: float(np.sqrt(np.mean(z**2)))  # noqa: E731
    # the burst made the region far louder than its surroundings; repaired, it is much closer to them
    assert rms(x[inside]) > 2 * rms(x[around])
    assert abs(np.log(rms(y[inside]) / rms(x[around]))) < 0.5 * abs(np.log(rms(x[inside]) / rms(x[around])))


def test_repair_seeds_api_and_pipes(tiny_model: Path, tmp_path: Path) -> None:
    x = _with_burst(1)
    src = tmp_path / "in.wav"
    sf.write(src, x, RATE, subtype="FLOAT")
    a = run_cli("repair", str(src), "-", "-m", "tiny", "-t", "0.9-1.1", "-s", "3")
    b = run_cli("repair", "-", "-", "-m", "tiny", "-t", "0.9-1.1", "-s", "3", stdin=src.read_bytes())
    assert a.returncode == 0 and a.stdout == b.stdout  # same seed, same bytes, file or pipe
    y = sf.read(__import__("io").BytesIO(a.stdout), dtype="float64")[0]
    api = specblur.repair(sf.read(src, dtype="float64")[0], RATE, "0.9-1.1", seed=3, model="tiny")
    assert np.array_equal(np.float32(api), np.float32(y))
    # the model's fill is a draw: another seed, another fill
    model = specblur.repair(x, RATE, "0.9-1.1", seed=3, model="tiny", method="model")
    other = specblur.repair(x, RATE, "0.9-1.1", seed=4, model="tiny", method="model")
    assert not np.array_equal(other, model)


def test_both_priors_drive_blur_and_repair(tiny_model: Path) -> None:
    x = _with_burst(2)
    model_repair = functools.partial(specblur.repair, method="model")
    for edit in (specblur.blur, model_repair):
        nb = edit(x, RATE, "0.8-1.2", seed=0, model="tiny", prior="naive-bayes")
        nn = edit(x, RATE, "0.8-1.2", seed=0, model="tiny", prior="transformer")
        assert not np.array_equal(nb, x) and not np.array_equal(nn, x) and not np.array_equal(nb, nn)
    # the classical methods use no prior: the same fill whichever is named
    nb = specblur.repair(x, RATE, "0.8-1.2", seed=0, model="tiny", prior="naive-bayes", method="envelope")
    nn = specblur.repair(x, RATE, "0.8-1.2", seed=0, model="tiny", prior="transformer", method="envelope")
    assert np.array_equal(nb, nn) and not np.array_equal(nb, x)


def test_repair_needs_a_span_and_a_prior_that_exists(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, _with_burst(), RATE)
    code, err = cli(capsys, "repair", str(src), str(tmp_path / "o.wav"), "-m", "tiny")
    assert code == 1 and "repair needs --time" in err and err.count("\n") == 1
    code, err = cli(capsys, "repair", str(src), str(tmp_path / "o.wav"), "-t", "0.9-1.1", "--prior", "transformer")
    assert code == 0, err  # the bundled model carries a transformer prior
    import dataclasses

    import specblur
    from specblur.edit import segment
    from specblur.errors import UsageError

    without = dataclasses.replace(specblur.load_model("tiny"), prior_nn={})
    with pytest.raises(UsageError, match="has no transformer prior"):
        segment.blur(
            without, _with_burst()[:, 0], RATE, time=(0.9, 1.1), prior="transformer", effect="repair", method="model"
        )
