"""The Naive Bayes prior over neighbouring codes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.naive_bayes import CategoricalNB

from specblur.priors.naive_bayes import LevelPrior, neighbour_features, offsets


def _maps(n: int, seed: int, k: int = 12, rows: int = 6, cols: int = 20) -> np.ndarray:
    """Code maps with structure: each row mostly holds one code that drifts in time."""
    rng = np.random.default_rng(seed)
    maps = np.empty((n, rows, cols), dtype=np.int64)
    for i in range(n):
        base = rng.integers(0, k)
        for r in range(rows):
            walk = (base + r + np.cumsum(rng.random(cols) < 0.15)) % k
            noise = rng.random(cols) < 0.1
            maps[i, r] = np.where(noise, rng.integers(0, k, cols), walk)
    return maps


def test_offsets_and_features() -> None:
    assert len(offsets(1)) == 8 and len(offsets(2)) == 24
    feats = neighbour_features(np.arange(6).reshape(1, 2, 3), 1, 99)
    assert feats.shape == (1, 2, 3, 8)
    assert list(feats[0, 0, 0]) == [99, 99, 99, 99, 1, 99, 3, 4]


def test_matches_scikit_learn_categorical_nb() -> None:
    k = 12
    maps = _maps(30, 0, k)
    prior = LevelPrior.fit(maps, k, radius=1, alpha=0.5)
    feats = neighbour_features(maps, 1, k).reshape(-1, 8)
    rows = np.broadcast_to(np.arange(maps.shape[1])[None, :, None], maps.shape).reshape(-1)
    x = np.concatenate([feats, rows[:, None]], axis=1)
    nb = CategoricalNB(alpha=0.5, min_categories=[k + 1] * 8 + [maps.shape[1]]).fit(x, maps.reshape(-1))
    assert list(nb.classes_) == list(range(k))
    ours = prior.log_probs(feats[:500], rows[:500], temperature=1.0)
    assert np.allclose(ours, nb.predict_log_proba(x[:500]), atol=1e-8)


def test_probabilities_sum_to_one_and_beat_unigram_on_held_out_maps() -> None:
    k = 12
    train = _maps(60, 1, k)
    prior = LevelPrior.fit(train, k)
    prior.temperature, prior.mix = LevelPrior.calibrate(train, k)
    assert prior.temperature >= 1.0 and 0 <= prior.mix <= 0.1
    feats = neighbour_features(_maps(2, 3, k), 1, k).reshape(-1, 8)
    rows = np.zeros(len(feats), dtype=np.int64)
    assert np.allclose(np.exp(prior.log_probs(feats, rows)).sum(1), 1.0)
    report = prior.evaluate(_maps(10, 4, k))
    assert report["accuracy"] > report["unigram_accuracy"] + 0.2
    assert report["bits"] < report["unigram_bits"] - 1.0


def test_back_off_rescues_codes_in_unseen_contexts() -> None:
    """A prior fitted on one kind of map meets another: plain Naive Bayes spends many bits on codes in
    contexts it never saw; the calibrated mixture with the unigram stays near or below the unigram."""
    k = 12
    train = _maps(40, 1, k)
    other = np.roll(_maps(10, 9, k), 3, axis=2) % k
    other[:, ::2, ::3] = (other[:, ::2, ::3] * 5 + 1) % k  # contexts rare in training
    plain = LevelPrior.fit(train, k)
    plain.temperature = 1.0
    mixed = LevelPrior.fit(train, k)
    mixed.temperature, mixed.mix = 1.0, 0.05
    assert mixed.evaluate(other)["bits"] < plain.evaluate(other)["bits"]
    feats = neighbour_features(other[:1], 1, k).reshape(-1, 8)
    probs = np.exp(mixed.log_probs(feats, np.zeros(len(feats), dtype=np.int64)))
    assert np.allclose(probs.sum(1), 1.0) and probs.min() >= 0.05 * np.exp(mixed.unigram_log_probs()).min() - 1e-12


def test_round_trip_as_arrays() -> None:
    prior = LevelPrior.fit(_maps(5, 0), 12, radius=2)
    prior.temperature, prior.mix = 2.5, 0.01
    scalars, tables = prior.to_arrays()
    back = LevelPrior.from_arrays(scalars, tables)
    assert back.radius == 2 and back.rows == prior.rows and (back.temperature, back.mix) == (2.5, 0.01)
    assert np.array_equal(back.neighbour_count, prior.neighbour_count)
    with pytest.raises(ValueError):
        LevelPrior.from_arrays(scalars | {"rows": 3}, tables)


def test_gibbs_resampling_is_seeded_local_and_follows_temperature() -> None:
    k = 12
    prior = LevelPrior.fit(_maps(60, 1, k), k)
    prior.temperature, prior.mix = LevelPrior.calibrate(_maps(60, 1, k), k)
    codes = _maps(1, 5, k)[0]
    mask = np.zeros(codes.shape, dtype=bool)
    mask[1:5, 4:14] = True
    a = prior.resample(codes, mask, np.random.default_rng(7), sweeps=2)
    b = prior.resample(codes, mask, np.random.default_rng(7), sweeps=2)
    c = prior.resample(codes, mask, np.random.default_rng(8), sweeps=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(a[~mask], codes[~mask])  # outside the mask: untouched
    assert a.min() >= 0 and a.max() < k
    changed = {
        t: np.mean(
            [
                (prior.resample(codes, mask, np.random.default_rng(s), temperature=t) != codes)[mask].mean()
                for s in range(5)
            ]
        )
        for t in (0.3, 5.0)
    }
    assert changed[5.0] > changed[0.3]
    half = prior.resample(codes, mask * 0.0, np.random.default_rng(7))
    assert np.array_equal(half, codes)  # zero brush weight: nothing drawn


def test_maps_of_different_widths_add_up() -> None:
    a, b = _maps(1, 0)[0], _maps(1, 1, cols=15)[0]
    both = LevelPrior.fit([a, b], 12)
    sa, sb = LevelPrior.fit(a[None], 12), LevelPrior.fit(b[None], 12)
    assert np.array_equal(both.neighbour_count, sa.neighbour_count + sb.neighbour_count)
    assert np.array_equal(both.class_count, sa.class_count + sb.class_count)


def test_a_single_cell_is_drawn_from_its_conditional() -> None:
    """The sampler draws from exactly the distribution log_probs gives (mixture included)."""
    k = 12
    prior = LevelPrior.fit(_maps(60, 1, k), k)
    prior.temperature, prior.mix = 2.0, 0.1
    codes = _maps(1, 5, k)[0]
    mask = np.zeros(codes.shape)
    mask[2, 7] = 1.0
    rng = np.random.default_rng(0)
    draws = np.array([prior.resample(codes, mask, rng, sweeps=1)[2, 7] for _ in range(6000)])
    feats = neighbour_features(codes[None], 1, k)[0, 2, 7][None, :]
    expected = np.exp(prior.log_probs(feats, np.array([2])))[0]
    observed = np.bincount(draws, minlength=k) / len(draws)
    assert np.abs(observed - expected).max() < 0.02


def test_fill_uses_only_the_context_and_fills_from_the_edges() -> None:
    """Hole filling (groundwork of `repair`): the hole's own codes are never looked at; cells outside
    stay; same rng, same fill; with a prior that has learnt 'each code copies its left neighbour',
    a hole in rows of constant codes is filled with those rows' codes."""
    rng = np.random.default_rng(0)
    rows = np.repeat(rng.integers(0, 6, size=(8, 1)), 40, axis=1)  # each row one code
    prior = LevelPrior.fit(np.stack([rows] * 4), num_codes=6, radius=1, alpha=0.01)
    hole = np.zeros_like(rows, dtype=bool)
    hole[:, 15:25] = True
    scrambled = rows.copy()
    scrambled[hole] = rng.integers(0, 6, size=int(hole.sum()))  # whatever was in the hole
    a = prior.fill(scrambled, hole, np.random.default_rng(1), temperature=0.3)
    b = prior.fill(rows, hole, np.random.default_rng(1), temperature=0.3)
    assert np.array_equal(a, b)  # the hole's contents did not matter
    assert np.array_equal(a[~hole], rows[~hole])
    assert (a[hole] == rows[hole]).mean() > 0.9


@pytest.mark.parametrize("k", [256, 100])
def test_the_two_step_draw_inverts_the_distribution(k: int) -> None:
    """The blocked draw gives the code whose cumulative weight first reaches u times the total: the
    same as one running sum in float64 but where u sits on a boundary within float32's rounding, and
    the same frequencies as the probabilities (a code count differs by under 4 standard errors)."""
    from specblur.priors.naive_bayes import _draw_rows

    rng = np.random.default_rng(3)
    scores = rng.normal(0, 3, (5000, k))
    scores -= scores.max(axis=1, keepdims=True)
    u = rng.random(5000)
    cdf = np.cumsum(np.exp(scores), axis=1)
    exact = (cdf < u[:, None] * cdf[:, -1:]).sum(axis=1)
    drawn = _draw_rows(scores.astype(np.float32), u)
    assert drawn.min() >= 0 and drawn.max() < k
    assert np.mean(drawn != exact) < 1e-3
    # one distribution, many draws: frequencies follow it
    p = np.exp(scores[0]) / np.exp(scores[0]).sum()
    many = _draw_rows(np.repeat(scores[:1], 200_000, axis=0).astype(np.float32), rng.random(200_000))
    counts = np.bincount(many, minlength=k)
    se = np.sqrt(200_000 * p * (1 - p))
    assert np.all(np.abs(counts - 200_000 * p) < 4 * se + 1)
