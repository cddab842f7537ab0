"""A record's crackle over real music, and what ``declick`` made of it (docs/REPAIR.md, the hour).

``python tools/crackle_hour.py make OUT.wav [--minutes 60]``: Battle for Wesnoth's tracks (held out of
training), one after another, 44.1 kHz stereo 16-bit, with a click every 0.2 s: 1 ms, decaying over
0.2 ms, at 0.5 of full scale, each in one channel, drawn with a fixed seed (the clean mix and where
each click is are rebuilt from the same tracks and seed, never stored).

``python tools/crackle_hour.py score CRACKLY.wav MENDED.wav [--minutes 60] [--only 1 3 9]``: for each
click, the error of its 1.2 ms in its channel against the clean mix, before and after (median, share
more than 5x closer, share farther); away from the clicks, the samples changed and by how much; the
other channel at each click. ``--only``: those minutes (each read on its own: a few hundred MB).

Then: ``specblur repair OUT.wav MENDED.wav --method declick`` (the whole file, no ``--time``).
"""

from __future__ import annotations

import argparse
import glob
from collections.abc import Iterator

import numpy as np
import soundfile as sf

RATE = 44100
TRACKS = "/usr/share/games/wesnoth/*/data/core/music/*.ogg"
EVERY = int(0.2 * RATE)  # a click every this many samples of each track
FIRST = int(0.1 * RATE)
SIZE = 0.5
DECAY = np.exp(-np.arange(int(0.001 * RATE)) / (0.0002 * RATE))
SEED = 7


def pieces(minutes: float) -> Iterator[tuple[int, np.ndarray, list[tuple[int, int, float]]]]:
    """``(first sample, clean samples, [(click sample, channel, sign)...])`` a track at a time."""
    files = sorted(glob.glob(TRACKS))
    if not files:
        raise SystemExit(f"no tracks at {TRACKS} (apt-get install wesnoth-1.16-music)")
    need = int(minutes * 60 * RATE)
    rng = np.random.default_rng(SEED)
    done = 0
    while done < need:
        for path in files:
            x, rate = sf.read(path, dtype="float64", always_2d=True)
            if rate != RATE or x.shape[1] != 2:
                continue
            x = x[: need - done]
            clicks = []
            for p in range(FIRST, len(x) - 100, EVERY):
                channel = int(rng.integers(2))
                clicks.append((done + p, channel, float(rng.choice([-1.0, 1.0]))))
            yield done, x, clicks
            done += len(x)
            if done >= need:
                return


def make(out: str, minutes: float) -> None:
    total = 0
    with sf.SoundFile(out, "w", RATE, 2, "PCM_16") as f:
        for start, x, clicks in pieces(minutes):
            for at, ch, sign in clicks:
                x[at - start : at - start + len(DECAY), ch] += sign * SIZE * DECAY
            f.write(np.clip(x, -1.0, 1.0))
            total += len(clicks)
    print(f"{out}: {minutes:g} min, {total} clicks")


def score(crackly: str, mended: str, minutes: float, only: list[int] | None) -> None:
    minute = 60 * RATE
    before, after, other = [], [], []
    changed = big = 0
    sq = 0.0
    wanted = set(only) if only else None
    for start, x, clicks in pieces(minutes):
        for m in range(start // minute, (start + len(x) - 1) // minute + 1):
            if wanted is not None and m not in wanted:
                continue
            a, b = max(start, m * minute), min(start + len(x), (m + 1) * minute)
            clean = np.clip(x[a - start : b - start], -1.0, 1.0)
            damaged = sf.read(crackly, start=a, stop=b, dtype="float64", always_2d=True)[0]
            y = sf.read(mended, start=a, stop=b, dtype="float64", always_2d=True)[0]
            near = np.zeros(b - a, dtype=bool)
            for at, ch, _ in clicks:
                if a <= at and at + len(DECAY) + 20 <= b:
                    s = slice(at - a, at - a + len(DECAY) + 9)
                    before.append(np.sqrt(np.mean((damaged[s, ch] - clean[s, ch]) ** 2)))
                    after.append(np.sqrt(np.mean((y[s, ch] - clean[s, ch]) ** 2)))
                    other.append(np.sqrt(np.mean((y[s, 1 - ch] - clean[s, 1 - ch]) ** 2)))
                if a - 20 <= at < b:
                    near[max(0, at - a - 20) : at - a + len(DECAY) + 29] = True
            moved = (y != damaged).any(axis=1) & ~near
            changed += int(moved.sum())
            big += int((np.abs(y - damaged).max(axis=1)[moved] > 0.05).sum())
            sq += float(np.sum((y - damaged)[moved] ** 2))
    eb, ea = np.array(before), np.array(after)
    print(f"clicks scored: {len(eb)}")
    print(f"per-click error, median: {np.median(eb):.4f} -> {np.median(ea):.4f}")
    print(f"more than 5x closer: {np.mean(ea < eb / 5):.0%}; farther: {np.mean(ea > eb):.0%}")
    print(f"the other channel at each click: median {np.median(other):.4f}, 90th pct {np.percentile(other, 90):.4f}")
    rms = np.sqrt(sq / max(2 * changed, 1))
    print(f"away from the clicks: {changed} samples changed, {big} by more than 0.05, by {rms:.4f} RMS")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--minutes", type=float, default=60.0)
    s = sub.add_parser("score")
    s.add_argument("crackly")
    s.add_argument("mended")
    s.add_argument("--minutes", type=float, default=60.0)
    s.add_argument("--only", type=int, nargs="*", default=None, help="only these minutes")
    args = p.parse_args()
    if args.what == "make":
        make(args.out, args.minutes)
    else:
        score(args.crackly, args.mended, args.minutes, args.only)


if __name__ == "__main__":
    main()
