"""Edited samples over full scale, held under it by short dips in gain (specblur.edit.overs)."""

from __future__ import annotations

import numpy as np

from specblur.edit import overs

RATE = 44100
REACH = int(round(overs.REACH_SECONDS * RATE))


def _loud(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stereo tone at 0.9 of full scale with a few peaks pushed over it (one channel each)."""
    t = np.arange(RATE // 2) / RATE
    x = 0.9 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1)
    at = np.sort(np.random.default_rng(seed).choice(np.arange(2000, len(t) - 2000), 6, replace=False))
    for k, p in enumerate(at):
        x[p, k % 2] = (1.0 + 0.3 * (k + 1) / 6) * np.sign(x[p, k % 2] or 1.0)
    return x, at


def test_overs_are_brought_to_full_scale_and_only_near_them_anything_moves() -> None:
    x, at = _loud()
    y = x.copy()
    held = overs.hold_under(y, RATE)
    assert held.frames == len(at) and np.abs(y).max() <= 1.0
    assert held.gain == 1 / np.abs(x).max()
    assert np.allclose(np.abs(y).max(axis=1)[at], 1.0)  # at full scale, not below it
    near = np.zeros(len(x), dtype=bool)
    for p in at:
        near[p - REACH : p + REACH + 1] = True
    assert np.array_equal(y[~near], x[~near])  # beyond each dip's reach: to the bit
    both = near & (np.abs(x) > 1e-3).all(axis=1)  # (away from either channel's zero crossings)
    gain = y[both] / x[both]
    assert np.allclose(gain[:, 0], gain[:, 1], rtol=0, atol=1e-9)  # one gain, both channels
    assert np.all(gain <= 1.0 + 1e-12) and gain.min() < 0.8
    # a dip, not a step: the gain rises back smoothly from each over (no jump of more than its
    # depth over the reach's steps)
    stretch = slice(at[0] - REACH, at[0] + REACH + 1)
    ch = 0 if abs(x[at[0], 0]) > 1 else 1
    around = y[stretch, ch] / np.where(np.abs(x[stretch, ch]) > 1e-3, x[stretch, ch], np.nan)
    assert np.nanmax(np.abs(np.diff(around))) < 0.05


def test_nothing_over_leaves_the_samples_and_outside_the_span_is_not_touched() -> None:
    x, at = _loud(1)
    quiet = 0.5 * x
    y = quiet.copy()
    assert overs.hold_under(y, RATE) == overs.Held() and np.array_equal(y, quiet)
    lo, hi = int(at[2]) - 10, int(at[4]) + 10  # only the overs from the third to the fifth, and their dips' insides
    y = x.copy()
    held = overs.hold_under(y, RATE, lo, hi)
    assert held.frames == 3
    assert np.array_equal(y[:lo], x[:lo]) and np.array_equal(y[hi:], x[hi:])
    assert np.abs(y[lo:hi]).max() <= 1.0
    mono = x[:, 0].copy()  # a mono array: the same dips
    assert overs.hold_under(mono, RATE).frames == int(np.sum(np.abs(x[:, 0]) > 1.0))
    assert np.abs(mono).max() <= 1.0
