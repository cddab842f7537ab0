"""The neural prior (issue 12): the tiny preset learns a planted structure, its ONNX export gives the
torch model's log-probabilities, and the runtime's fill/resample keep their promises."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from specblur.learn import prior_transformer as prior_nn  # noqa: E402
from specblur.priors.transformer import NeuralPrior, window_starts  # noqa: E402

K = 16
ROWS = 8


def _row_maps(count: int, cols: int, seed: int) -> list[np.ndarray]:
    """Each row one code, held across the map: every cell is predictable from its row's visible cells."""
    rng = np.random.default_rng(seed)
    return [np.repeat(rng.integers(0, K, (ROWS, 1)), cols, axis=1) for _ in range(count)]


def _tops(maps: list[np.ndarray]) -> list[np.ndarray]:
    return [m[::2, ::2].copy() for m in maps]


@pytest.fixture(scope="module")
def trained():
    maps = _row_maps(96, 20, seed=0)
    prior = prior_nn.fit_prior_nn(
        maps, K, level="bottom", top_maps=_tops(maps), preset="tiny", steps=250, seed=0, log=lambda _: None, threads=1
    )
    return prior, NeuralPrior(prior_nn.export_prior_nn(prior), threads=1)


@pytest.fixture(scope="module")
def trained_top():
    maps = _row_maps(64, 12, seed=3)
    prior = prior_nn.fit_prior_nn(maps, K, level="top", preset="tiny", steps=60, seed=0, log=lambda _: None, threads=1)
    return prior, NeuralPrior(prior_nn.export_prior_nn(prior), threads=1)


def test_tiny_prior_learns_the_structure(trained) -> None:
    prior, runtime = trained
    held = _row_maps(6, 20, seed=1)
    measured = runtime.evaluate(held, _tops(held), offsets=None)
    # chance is 1/16 (4 bits); with the rest of its row visible every cell is known
    assert measured["accuracy"] > 0.6
    assert measured["bits"] < 2.5
    assert measured["bits_half"] < 3.0
    assert prior.parameter_count() < 2_000_000


def test_export_matches_torch(trained, trained_top) -> None:
    rng = np.random.default_rng(5)
    for prior, runtime in (trained, trained_top):
        c = prior.config
        codes = rng.integers(0, K, (3, c.rows, c.window))
        codes[0, :, -2:] = -1  # outside the map
        mask = rng.random(codes.shape) < 0.4
        top = top_mask = None
        if c.top_codes:
            top = rng.integers(0, K, (3, c.rows // 2, c.window // 2))
            top_mask = rng.random(top.shape) < 0.3
        expected = prior.predict(codes, mask, top, top_mask)
        got = runtime.predict(codes, mask, top, top_mask)
        assert got.shape == (3, c.rows, c.window, K)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert runtime.level == c.level and runtime.num_codes == K and runtime.window == c.window


def test_fill_never_looks_inside_and_keeps_outside(trained) -> None:
    _, runtime = trained
    codes = _row_maps(1, 30, seed=7)[0]  # wider than the window: several windows
    top = codes[::2, ::2].copy()
    hole = np.zeros_like(codes, dtype=bool)
    hole[2:6, 10:15] = True
    other = codes.copy()
    other[hole] = np.random.default_rng(0).integers(0, K, int(hole.sum()))
    a = runtime.fill(codes, hole, np.random.default_rng(3), top=top)
    b = runtime.fill(other, hole, np.random.default_rng(3), top=top)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[~hole], codes[~hole])
    assert a.min() >= 0 and a.max() < K
    # the rows are constant: filling from the rest of the row gets most of the hole right
    assert (a[hole] == codes[hole]).mean() > 0.3  # chance: 1/16
    c = runtime.fill(codes, hole, np.random.default_rng(3), top=top)
    np.testing.assert_array_equal(a, c)


def test_resample_changes_only_masked_cells_and_is_seeded(trained) -> None:
    _, runtime = trained
    codes = np.random.default_rng(2).integers(0, K, (ROWS, 26))
    top = codes[::2, ::2].copy()
    mask = np.zeros(codes.shape)
    mask[1:7, 4:22] = 1.0
    mask[1:7, 3] = 0.5  # a brush edge
    a = runtime.resample(codes, mask, np.random.default_rng(4), top=top)
    b = runtime.resample(codes, mask, np.random.default_rng(4), top=top)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[mask == 0], codes[mask == 0])
    assert (a[mask == 1] != codes[mask == 1]).any()
    assert runtime.resample(codes, np.zeros(codes.shape), np.random.default_rng(4), top=top) is not codes
    np.testing.assert_array_equal(runtime.resample(codes, np.zeros(codes.shape), np.random.default_rng(4)), codes)


def test_top_level_and_narrow_maps(trained_top) -> None:
    _, runtime = trained_top
    codes = _row_maps(1, 5, seed=9)[0]  # narrower than the window: padded
    hole = np.zeros_like(codes, dtype=bool)
    hole[:, 2] = True
    filled = runtime.fill(codes, hole, np.random.default_rng(0))
    np.testing.assert_array_equal(filled[~hole], codes[~hole])
    redrawn = runtime.resample(codes, hole, np.random.default_rng(0), sweeps=1)
    np.testing.assert_array_equal(redrawn[~hole], codes[~hole])


def test_window_starts_cover_and_centre() -> None:
    starts, owner = window_starts(100, 30, 70, 24, align=2)
    assert all(s % 2 == 0 and 0 <= s <= 76 for s in starts)
    local = np.arange(30, 70) - np.asarray(starts)[owner]
    assert local.min() >= 0 and local.max() < 24
    # every column of a wide region sits at least a sixth of a window from its window's edges (inside the map)
    assert local.min() >= 4 and local.max() <= 19
    assert window_starts(10, 2, 5, 24) == ([0], pytest.approx(np.zeros(3)))


def test_resume_continues_to_the_same_weights(tmp_path) -> None:
    maps = _row_maps(32, 12, seed=4)
    kwargs = {"level": "top", "preset": "tiny", "seed": 1, "log": lambda _: None, "threads": 1}
    whole = prior_nn.fit_prior_nn(maps, K, steps=30, **kwargs)
    state = tmp_path / "state.pt"
    prior_nn.fit_prior_nn(maps, K, steps=30, state_path=state, until=13, **kwargs)  # stops, saves
    resumed = prior_nn.fit_prior_nn(maps, K, steps=30, state_path=state, resume=True, **kwargs)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_runtime_does_not_import_torch() -> None:
    code = "import sys, specblur.priors.transformer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Clock:
    """A clock that moves 10 ms each time it is read, whatever the machine's load: the deadline
    arrives after a fixed number of reads, not after a share of a busy CPU."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        self.now += 0.01
        return self.now

    perf_counter = time


def test_deadline_brings_the_cool_down_forward(monkeypatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(prior_nn, "time", clock)
    maps = _row_maps(16, 12, seed=6)
    prior = prior_nn.fit_prior_nn(
        maps, K, level="top", preset="tiny", steps=1_000_000, stop_at=clock.now + 4.0, log=lambda _: None, threads=1
    )
    assert 0 < prior.record["steps"] < 1_000_000
    assert not prior.record["finished"]  # (cooled_down too, unless the last step overran the deadline)
