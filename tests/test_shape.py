"""Issue 18: a blur keeps the region's level and coarse shape (:mod:`specblur.edit.shape`), and a
band edit changes nothing beyond its snapped band and stated feather. Synthetic signals and the
bundled default model only."""

from __future__ import annotations

import numpy as np
import pytest

from specblur.edit.shape import band_extent, coarse, keep_shape

RATE = 44100


def _grid(n_bins: int = 40, n_frames: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A brush (ones inside, Gaussian shoulders) and log-spaced band centres."""
    from specblur.edit.plan import brush

    return brush(n_bins, n_frames, (10, 30), (30, 90), (2.0, 3.0)), np.geomspace(500, 12000, n_bins)


def _fine(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Cell-to-cell detail: white noise in dB, no coarse component to speak of."""
    return np.random.default_rng(seed).standard_normal(shape) * 6.0


def test_keep_shape_removes_the_coarse_part_and_keeps_the_detail() -> None:
    pixel, bands = _grid()
    t = np.arange(pixel.shape[1])
    coarse_part = -10.0 + 4.0 * np.sin(2 * np.pi * t / 200)[None, :]  # a level offset and a slow drift
    detail = _fine(pixel.shape)
    change = pixel * (coarse_part + detail)
    out = keep_shape(change, pixel, bands, 0.0116)
    inside = pixel == 1
    assert np.all(out[pixel == 0] == 0), "nothing may be added outside the brush"
    # the coarse component of the change is found (the offset and drift), of what is left about 0
    found = coarse(change, pixel, bands, 0.0116)[10:30, 40:80]
    assert np.mean(np.abs(found - np.broadcast_to(coarse_part, pixel.shape)[10:30, 40:80])) < 1.5
    assert np.all(out[inside] != change[inside])
    left = coarse(out, pixel, bands, 0.0116)[10:30, 40:80]
    assert abs(np.mean(out[10:30, 40:80])) < 0.3 and np.mean(np.abs(left)) < 0.5
    # the detail is still there: most of its variance, and correlated with it
    kept = out[10:30, 40:80]
    assert np.std(kept) > 0.7 * np.std(detail[10:30, 40:80])
    assert np.corrcoef(kept.ravel(), detail[10:30, 40:80].ravel())[0, 1] > 0.8


def test_keep_shape_with_the_input_level_keeps_the_power() -> None:
    """A change with no mean in dB can still move a band's power (it lowers peaks); given the input's
    level, keep_shape takes that out too."""
    pixel, bands = _grid()
    rng = np.random.default_rng(1)
    level = -40 + 15 * rng.standard_normal(pixel.shape)  # peaky input
    change = pixel * np.where(level > -40, -8.0, 8.0)  # lowers the peaks, raises the valleys: mean 0 dB
    out = keep_shape(change, pixel, bands, 0.0116, level_db=level)
    box = (slice(12, 28), slice(40, 80))
    p = 10 ** (level[box] / 10)

    def gain(c: np.ndarray) -> float:
        return 10 * np.log10(np.sum(p * 10 ** (c[box] / 10)) / np.sum(p))

    assert gain(change) < -4
    assert abs(gain(out)) < 0.5
    assert np.all(out[pixel == 0] == 0)
    assert np.std(out[box]) > 3  # still a change


def test_wash_lets_the_coarse_change_through() -> None:
    pixel, bands = _grid()
    change = pixel * (-10.0 + _fine(pixel.shape))
    assert np.array_equal(keep_shape(change, pixel, bands, 0.0116, wash=1.0), change)
    half = keep_shape(change, pixel, bands, 0.0116, wash=0.5)
    assert -7 < np.mean(half[pixel == 1]) < -3
    with pytest.raises(ValueError):
        keep_shape(change, pixel, bands, 0.0116, wash=2.0)


# -- through the blur, with the bundled model -------------------------------------------------------


@pytest.fixture(scope="module")
def default_model():
    import specblur

    return specblur.load_model("default")


def _power(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from specblur.runtime import dsp

    n_fft = 2048
    p = np.abs(dsp.stft(np.asarray(x, dtype=np.float64), n_fft, 512, dsp.window("hann", n_fft, np.float64))) ** 2
    return p, np.arange(n_fft // 2 + 1) * RATE / n_fft, np.arange(p.shape[1]) * 512 / RATE


def _level(x: np.ndarray, y: np.ndarray, t: tuple[float, float], f: tuple[float, float]) -> float:
    px, freqs, times = _power(x)
    py, _, _ = _power(y)
    cell = np.ix_((freqs >= f[0]) & (freqs <= f[1]), (times >= t[0]) & (times <= t[1]))
    return float(10 * np.log10(py[cell].sum() / px[cell].sum()))


def _words(seed: int = 0) -> np.ndarray:
    """Two 'words' (buzzy harmonic tones with a formant sweep and noise) around a quiet pause."""
    rng = np.random.default_rng(seed)
    n = int(1.8 * RATE)
    t = np.arange(n) / RATE
    buzz = sum(np.sin(2 * np.pi * 140 * k * t + k) / k for k in range(1, 60))
    hiss = rng.standard_normal(n)
    word = ((t > 0.1) & (t < 0.7)) | ((t > 1.05) & (t < 1.7))
    env = np.convolve(word.astype(float), np.hanning(881) / np.hanning(881).sum(), mode="same")
    voiced = buzz * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return 0.1 * env * (voiced + 0.3 * hiss) + 1e-4 * hiss


def _blur(model, x: np.ndarray, t: tuple[float, float], f: tuple[float, float], seed: int = 0) -> np.ndarray:
    import specblur

    return specblur.blur(x, RATE, t, f, model=model, seed=seed)


def test_a_blur_keeps_a_pause_quiet_and_the_band_level(default_model) -> None:
    x = _words()
    y = _blur(default_model, x, (0.3, 1.4), (1000, 8000))
    pause = _level(x, y, (0.8, 0.95), (1000, 8000))
    assert abs(pause) < 3.0, f"the pause moved by {pause:+.1f} dB"
    level = _level(x, y, (0.3, 1.4), (1000, 8000))
    assert abs(level) < 1.5, f"the band moved by {level:+.1f} dB"
    assert np.max(np.abs(y - x)) > 1e-3, "the blur changed nothing"


def test_a_blur_does_not_depend_on_the_input_gain(default_model) -> None:
    x = _words(1) * 0.3
    moves = []
    for gain_db in (-30.0, 10.0):
        g = 10 ** (gain_db / 20)
        moves.append(
            _level(x * g, _blur(default_model, x * g, (0.3, 1.4), (1000, 8000), seed=2), (0.3, 1.4), (1000, 8000))
        )
    assert abs(moves[0] - moves[1]) <= 1.0, f"level change {moves[0]:+.2f} dB at -30 dB, {moves[1]:+.2f} dB at +10 dB"


@pytest.mark.parametrize("feather", [1.0, 1.0 / 3.0])
def test_a_band_edit_changes_nothing_beyond_band_and_feather(default_model, feather: float) -> None:
    import specblur
    from specblur.edit import plan
    from specblur.edit.options import EditOptions

    x = np.random.default_rng(3).standard_normal(3 * RATE) * 0.05
    where = plan.plan(default_model, len(x), RATE, (1.0, 2.0), (10000, 16000), EditOptions(feather=feather))
    extent = band_extent(default_model.model.config.spectrogram, where.regions[-1], where.sigma, RATE, 3.0)
    assert extent.feather_low < extent.low <= 10000 and 16000 <= extent.high < extent.feather_high + 1e-9
    assert extent.feather_start < extent.start <= 1.0 and 2.0 <= extent.end < extent.feather_end
    y = specblur.blur(x, RATE, (1.0, 2.0), (10000, 16000), model=default_model, seed=0, feather=feather)
    px, freqs, times = _power(x)
    py, _, _ = _power(y)
    span = (times >= extent.feather_start) & (times <= extent.feather_end)
    per_bin = 10 * np.log10(py[:, span].sum(axis=1) / px[:, span].sum(axis=1))
    beyond = (freqs < extent.feather_low) | (freqs > extent.feather_high)
    assert np.abs(per_bin[(freqs >= extent.low) & (freqs <= extent.high)]).max() > 0.5  # the band did change
    if beyond.any():
        assert np.abs(per_bin[beyond]).max() <= 0.5
    # and in time: frames wholly outside the feather's span (and the analysis window) are untouched
    half = 1024 / RATE
    outside = (times < extent.feather_start - half) | (times > extent.feather_end + half)
    assert np.abs(py[:, outside] - px[:, outside]).max() <= 1e-9 * px.max()


@pytest.mark.parametrize("level_db", [-40.0, -6.0])
def test_the_plot_shows_the_input_at_its_own_level(level_db: float) -> None:
    """The encoder sees the part at one peak level (``encoder_gain``), but ``--plot``'s "before" is the
    input as it is, like "after" (the output's own spectrogram): outside the brush, where the output
    is the input, the two pictures agree (they were the encoder's gain apart: 34 dB at -40 dBFS)."""
    from specblur.edit import segment
    from specblur.runtime.loader import load_model

    loaded = load_model(None)
    t = np.arange(3 * RATE) / RATE
    x = np.sin(2 * np.pi * 330.0 * t) + 0.3 * np.random.default_rng(0).standard_normal(len(t))
    x *= 10 ** (level_db / 20) / np.abs(x).max()
    result = segment.blur(loaded, x, RATE, (1.2, 1.8), (500.0, 4000.0), keep_views=True)
    view = result.views[0]
    cfg = loaded.model.config.spectrogram
    before = view["before"] * cfg.norm_std_db + cfg.norm_mean_db
    frames = np.arange(before.shape[1]) * cfg.hop_length / cfg.sample_rate + view["t0"]
    far = (frames < 0.8) | (frames > 2.2)
    loud = before[:, far] > cfg.floor_db + 20  # (cells clear of the floor)
    gap = np.abs(view["after_db"][:, far] - before[:, far])[loud]
    assert loud.sum() > 100 and np.median(gap) < 0.5, np.median(gap)
