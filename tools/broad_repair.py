"""Does repair's measured gain over interpolation hold on a broader held-out set? (A developer tool.)

    python tools/broad_repair.py [--json docs/eval/repair_broad.json] [--per-track 2]

The evaluation of record (``tools/evaluate_repair.py``) has eight excerpts and ``auto``'s rule was
tuned on fourteen more (``tools/tune_match.py``). This check takes every held-out file neither of
them uses: the other Battle for Wesnoth tracks (``--per-track`` excerpts of 4 s each, from 20 s in,
spread over the track), sonic-pi's loops and its longer samples (at least 2 s; the loops and samples
of the two sets above left out), and pocketsphinx's other speech; mono, at 48 kHz, as the evaluation
makes them. Damage as there (dropouts of 32, 100, 300 and 1000 ms, three clicks in 16 ms, a 200 ms
burst of 1-4 kHz noise 10 dB above the band), at a seeded random place in each excerpt's middle half
(the evaluation's ``random`` placement). Methods through :func:`specblur.edit.restore.restore`
(seed 0): ``interpolate`` (the spectral editor's replace, the baseline), ``envelope`` and ``auto``;
the damaged file itself. Scores as the evaluation's (mel LSD inside the hole, the hole's mean absolute
level error over 8 band groups, cases with every band within 2 dB). Printed: per kind, the mean of
each, ``auto``'s mean gain over ``interpolate`` with a 95% bootstrap interval, and the share of
cases where ``auto`` is nearer.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import evaluate_repair as E  # noqa: E402
import tune_match as T  # noqa: E402

from specblur.edit import restore as R  # noqa: E402

KINDS = ["dropout32", "dropout100", "dropout300", "dropout1000", "clicks", "noise"]
METHODS = ["interpolate", "envelope", "auto"]


def sources(per_track: int) -> list[tuple[str, str, float]]:
    used = {path for _, path, _ in E.SOURCES} | {path for _, path, _ in T.TUNE}
    out = []
    for path in sorted(glob.glob(f"{E.WESNOTH}/*.ogg")):
        if path in used:
            continue
        seconds = sf.info(path).duration
        for k in range(per_track):
            start = 20.0 + (seconds - 30.0) * k / max(per_track, 1)
            if start + 4.0 <= seconds:
                out.append((f"{Path(path).stem}@{start:.0f}", path, start))
    for path in sorted(glob.glob(f"{E.SONIC}/*.flac")):
        if path not in used and sf.info(path).duration >= 2.0:
            out.append((Path(path).stem, path, 0.0))
    for path in sorted(glob.glob("/usr/share/pocketsphinx/test/data/**/*.wav", recursive=True)):
        if path not in used and sf.info(path).duration >= 2.0:
            out.append((Path(path).stem, path, 0.0))
    return out


def broad_cases(
    kinds: list[str], per_track: int = 2
) -> Iterator[tuple[str, np.ndarray, list[tuple[str, np.ndarray, tuple[int, int], tuple | None]]]]:
    """Per excerpt of :func:`sources` (silent ones skipped): its name, the undamaged excerpt and its
    cases, (kind, damaged excerpt, hole in samples, band), the hole at a seeded random place, the 1 s
    dropout only where the excerpt is at least 2.5 s."""
    for si, (name, path, start) in enumerate(sources(per_track)):
        x = E.excerpt(path, start)
        if np.sqrt(np.mean(x**2)) < 1e-4:
            continue  # (silence: nothing to repair)
        cases = []
        for kind in kinds:
            if kind == "dropout1000" and len(x) < 2.5 * E.RATE:
                continue
            y, hole, band = E.damage(x, kind, 90000 + 100 * si + KINDS.index(kind), "random")
            cases.append((kind, y, hole, band))
        yield name, x, cases


def interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    means = [rng.choice(values, len(values)).mean() for _ in range(2000)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/eval/repair_broad.json"))
    p.add_argument("--per-track", type=int, default=2)
    p.add_argument("--only", nargs="*", default=KINDS, help="damage kinds")
    E.add_set_argument(p, "give it its own --json")
    args = p.parse_args()
    E.apply_sets(args.set)
    cases = []
    total = len(sources(args.per_track))
    print(f"{total} excerpts", flush=True)
    for done, (name, x, damaged) in enumerate(broad_cases(args.only, args.per_track)):
        for kind, y, hole, band in damaged:
            sec = (hole[0] / E.RATE, hole[1] / E.RATE)
            row = {"source": name, "kind": kind, "damaged": E.scores(x, y, hole, band)}
            for method in METHODS:
                out, _, used = R.restore(y, E.RATE, sec, band, method, np.random.default_rng(0))
                row[method] = E.scores(x, out, hole, band)
                if method == "auto":
                    row["auto_used"] = used
            cases.append(row)
        print(f"{done + 1}/{total} {name}", flush=True)
    rng = np.random.default_rng(0)
    print("| damage | cases | damaged | interpolate | envelope | auto | auto's gain (95% interval) | auto nearer |"
          " every band within 2 dB: interpolate / auto |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    table = {}
    for kind in args.only:
        rows = [c for c in cases if c["kind"] == kind]
        if not rows:
            continue
        lsd = {m: np.array([c[m]["lsd"] for c in rows]) for m in ["damaged", *METHODS]}
        level = {m: np.array([c[m]["level_abs"] for c in rows]) for m in ["damaged", *METHODS]}
        gain = lsd["interpolate"] - lsd["auto"]
        lo, hi = interval(gain, rng)
        within = {m: sum(c[m]["level_max"] <= 2.0 for c in rows) for m in ("interpolate", "auto")}
        table[kind] = {
            "cases": len(rows), "gain": float(gain.mean()), "interval": [lo, hi], "nearer": float(np.mean(gain > 0)),
            **{f"{m}_lsd": float(v.mean()) for m, v in lsd.items()},
            **{f"{m}_level_abs": float(v.mean()) for m, v in level.items()},
            "within_2db": within,
        }  # fmt: skip
        cells = " | ".join(f"{lsd[m].mean():.2f} / {level[m].mean():.1f}" for m in ["damaged", *METHODS])
        print(f"| {kind} | {len(rows)} | {cells} | {gain.mean():+.2f} ({lo:+.2f} to {hi:+.2f}) | "
              f"{np.mean(gain > 0):.0%} | {within['interpolate']} / {within['auto']} |")  # fmt: skip
    args.json.write_text(json.dumps({"set": args.set, "table": table, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
