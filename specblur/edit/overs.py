"""Edited samples over full scale, held under it by a short dip in gain instead of clipped.

An edit of loud material (a drum sample normalised to 0 dBFS, a master) can come out above full
scale where it changed the phase or raised a peak: blurred at the default settings (a 1 s region and
the whole file), 64 of sonic-pi's 165 samples and 2 of pocketsphinx's 10 recordings went over it
(none of Wesnoth's 41 mixes), by up to 3.8 dB (a triangle) and on up to 948 samples (an 8 s loop).
A file stored in integers (PCM, mu-law, A-law) cannot hold that, and clipping it squares off the
peaks: in the STFT frames that hold them, clipping put the output 1.1-9.2 dB (linear log-spectral
distance, 8 files) from the edit as made, where this module's dips put it 0.2-2.3 dB
(`tools/limiter_check.py`, docs/EFFECT.md).

Each sample over full scale gets a dip: the gain that brings it to full scale, at the sample itself,
rising back to 1 along a raised cosine over :data:`REACH_SECONDS` each side; where dips meet, the
lower gain holds. One gain for all channels (the stereo image holds). It is applied only to the
samples given, never beyond: an edit's changed span (:func:`specblur.edit.segment.edit_segment`), a
region's in memory or a tile's of a long one, cut the same way whatever face runs the edit (the
command line, the editor, a batch), so they all write the same bytes; the input outside the edit stays
as it was. Edits that draw codes get it (the blur; repair's ``texture`` and ``model``), and a
repair's fill from the context alone (``auto``, ``envelope``, ``declick``...), in memory and, a long
fill made a block at a time, as it is streamed (:class:`HeldStream`: the same numbers; a long
``declick``'s patches are its clicks', and the frames between them that a dip reaches are read and
given with them). Only files stored in integers get it
(:attr:`specblur.edit.options.EditOptions.full_scale`): a float file keeps what the edit made, as
does the array form of the Python API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

REACH_SECONDS = 0.005
"""How far each side of an over its dip reaches. Measured (`tools/limiter_check.py`,
`docs/eval/limiter.json`: 8 sonic-pi files blurred whole; the mean distance to the edit as made in
the frames with overs): 1 ms 1.32 dB, 3 ms 0.84, 5 ms 0.77, 10 ms 0.75 dB, clipping 3.59 dB. 5 ms:
nearly all of 10 ms's gain on tonal material (a triangle 2.28 dB, 10 ms 2.12, clipping 9.16), less of
its cost on drums (the amen loop 0.48 dB, 10 ms 0.56)."""


@dataclass(frozen=True)
class Held:
    """What :func:`hold_under` did: how many frames were over full scale, and the lowest gain."""

    frames: int = 0
    gain: float = 1.0

    def __add__(self, other: Held) -> Held:
        return Held(self.frames + other.frames, min(self.gain, other.gain))


def hold_under(
    samples: np.ndarray, rate: int, lo: int = 0, hi: int | None = None, counted: tuple[int, int] | None = None
) -> Held:
    """Bring frames ``[lo, hi)`` of ``samples`` (``(frames, channels)`` float) within full scale
    (at most 1.0 in magnitude), in place, by the dips described above; frames outside ``[lo, hi)``
    are neither changed nor looked at. Returns what was held (nothing: ``samples`` untouched):
    with ``counted``, only the overs and the gain in frames ``[counted[0], counted[1])`` of
    ``samples`` (a tile of a long edit: the frames the output takes from it, each counted once)."""
    hi = len(samples) if hi is None else hi
    if hi <= lo:
        return Held()
    part = samples[lo:hi]
    peak = np.abs(part).max(axis=1) if part.ndim == 2 else np.abs(part)
    overs = np.flatnonzero(peak > 1.0)
    if not len(overs):
        return Held()
    reach = max(1, int(round(REACH_SECONDS * rate)))
    gain = _gain(overs, 1.0 / peak[overs], len(part), reach)
    _dip(part, gain, overs)
    if counted is None:
        return Held(len(overs), float(gain.min()))
    c0, c1 = max(0, counted[0] - lo), min(len(part), counted[1] - lo)
    if c1 <= c0:
        return Held()
    inside = int(np.count_nonzero((overs >= c0) & (overs < c1)))
    return Held(inside, float(gain[c0:c1].min())) if inside else Held()


def _dip(part: np.ndarray, gain: np.ndarray, overs: np.ndarray) -> None:
    """``part`` times ``gain`` (per frame, one for every channel), in place, its ``overs`` then
    brought within full scale (x * (1 / x) can round a hair above 1)."""
    touched = gain < 1.0
    g = gain[touched]
    part[touched] *= g[:, None] if part.ndim == 2 else g
    part[overs] = np.clip(part[overs], -1.0, 1.0)


def _gain(overs: np.ndarray, floor: np.ndarray, n: int, reach: int) -> np.ndarray:
    """The gain over ``n`` frames: at each frame of ``overs`` (sorted, distinct) its ``floor``, rising
    back to 1 along a raised cosine ``reach`` frames each side; where dips meet, the lowest. Taken an
    over at a time where there are fewer overs than frames in a dip, else a step of the dip at a
    time (every over at once: a loud file's thousands of overs cost as much as a few hundred; the
    same minimum either way)."""
    shape = 0.5 + 0.5 * np.cos(np.pi * np.arange(reach + 1) / (reach + 1))  # 1 at the over, near 0 at its reach
    depth = 1.0 - floor
    gain = np.ones(n)
    if len(overs) <= 2 * reach + 1:
        for at, d in zip(overs, depth, strict=True):
            a, b = max(0, at - reach), min(n, at + reach + 1)
            np.minimum(gain[a:b], 1.0 - d * shape[np.abs(np.arange(a, b) - at)], out=gain[a:b])
        return gain
    for step in range(-reach, reach + 1):
        at = overs + step
        keep = (at >= 0) & (at < n)
        at = at[keep]
        gain[at] = np.minimum(gain[at], 1.0 - depth[keep] * shape[abs(step)])
    return gain


class HeldStream:
    """:func:`hold_under` of a span given as patches, for an edit made as it is read (a long fill
    streamed a block at a time): iterating it gives the same patches' samples held under full scale,
    the same numbers as :func:`hold_under` of the whole span gives (each sample's gain is the lowest
    of the dips of the overs within :data:`REACH_SECONDS` of it, all of which are known once the
    patches have reached that far past it). ``patches``: ``(first frame, samples (frames,
    channels))``, in order, each starting where the one before ended (they cover the span), or, with
    ``read(start, stop)`` (the frames as they are, unchanged, where no patch is: never over full
    scale), with gaps between them (a declick's patches are its clicks'): the frames of a gap that a
    dip can reach (its first and last :data:`REACH_SECONDS`, the whole gap if it is shorter than
    twice that) are read and given too, as the edit of the whole span held in memory would change
    them. Once iterated, :attr:`held` is what was held. The samples are held back by up to the
    dips' reach (plus a patch): memory follows a patch."""

    def __init__(self, patches: Iterator[tuple[int, np.ndarray]], rate: int, read: Any = None) -> None:
        self._patches = patches
        self._read = read
        self._reach = max(1, int(round(REACH_SECONDS * rate)))
        self.held = Held()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        reach = self._reach
        pending: np.ndarray | None = None  # samples not yet given, from frame ``start``
        start = 0
        past = np.zeros(0)  # the peaks of the last ``reach`` frames given (their overs dip what follows)
        for first, samples in self._patches:
            samples = np.asarray(samples, dtype=np.float64)
            if pending is None:
                pending, start = samples, first
            else:
                end = start + len(pending)
                if first != end and (self._read is None or first < end):
                    raise ValueError(f"patch at frame {first}: the span's patches must follow one another")
                if first - end > 2 * reach:  # a long gap: what the dips before it reach, given with them
                    # (read only where a dip reaches: an over within reach of the gap, given or not)
                    if (np.concatenate([past, _peaks(pending)])[-reach:] > 1.0).any():
                        pending = np.concatenate([pending, np.asarray(self._read(end, end + reach), dtype=np.float64)])
                    yield start, self._give(pending, past, pending[:0])
                    # (no dip reaches across the rest; the frames one reaches before the patch, read)
                    pending, start, past = samples[:0], first, past[:0]
                    if len(samples) < reach or (_peaks(samples[:reach]) > 1.0).any():  # (short: what follows may)
                        pending, start = np.asarray(self._read(first - reach, first), dtype=np.float64), first - reach
                elif first > end:
                    pending = np.concatenate([pending, np.asarray(self._read(end, first), dtype=np.float64)])
                pending = np.concatenate([pending, samples])
            ready = len(pending) - reach  # the frames whose every over in reach is known
            if ready > 0:
                given, pending = pending[:ready], pending[ready:]
                before, past = past, np.concatenate([past, _peaks(given)])[-reach:]  # (peaks before the dips)
                yield start, self._give(given, before, pending)
                start += ready
        if pending is not None and len(pending):
            yield start, self._give(pending, past, pending[:0])

    def _give(self, part: np.ndarray, past: np.ndarray, after: np.ndarray) -> np.ndarray:
        """``part`` held in place, its gain from the overs of the frames before (``past``'s peaks),
        of ``part`` and of the frames after it (``after``, not yet given)."""
        peak = np.concatenate([past, _peaks(part), _peaks(after)])
        overs = np.flatnonzero(peak > 1.0)
        if not len(overs):
            return part
        lo = len(past)
        gain = _gain(overs, 1.0 / peak[overs], len(peak), self._reach)[lo : lo + len(part)]
        mine = overs[(overs >= lo) & (overs < lo + len(part))] - lo
        _dip(part, gain, mine)
        if len(mine):  # (the deepest dip is at an over: the lowest gain over the span is at one of its overs)
            self.held = self.held + Held(len(mine), float(gain[mine].min()))
        return part


def _peaks(samples: np.ndarray) -> np.ndarray:
    return np.abs(samples).max(axis=1) if samples.ndim == 2 else np.abs(samples)
