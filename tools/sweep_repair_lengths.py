"""The measurement behind ``auto``'s lengths: dropouts of many lengths, each method on its own.

``python tools/sweep_repair_lengths.py [--sets tune eval] [--lengths 8 16 ...] [--methods ...]
[--cache FILE] [--json docs/eval/repair_lengths.json]``

Dropouts (digital silence) of each length in ``--lengths`` (ms; ``clicks``: the evaluation's three
clicks in 16 ms) cut into the held-out recordings of
``tools/tune_match.py`` (``tune``: the set the rule is read off) and ``tools/evaluate_repair.py``
(``eval``: the evaluation of record, to see that a rule carries over), at both placements (the
loudest 50 ms and a seeded random place), each repaired by :func:`specblur.edit.restore.restore`
called directly with each method. Scored inside the hole against the undamaged excerpt as the
evaluation scores it (mel LSD, mean |level error| over 8 mel band groups). Variants of a method are
named ``METHOD:CONST=VALUE`` (a constant of :mod:`specblur.edit.restore` set for that method's calls,
e.g. ``hybrid:HYBRID_LINE=0``). Results are cached per case (resumable); the table printed at the end
is the mean per set, placement and length.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import evaluate_repair as E  # noqa: E402
import tune_match as T  # noqa: E402

from specblur.edit import restore as R  # noqa: E402

SETS = {"tune": (T.TUNE, 7000), "eval": (E.SOURCES, 0)}
LENGTHS = ["8", "16", "24", "32", "40", "48", "64", "100", "150"]
METHODS = ["interpolate", "ar", "hybrid"]
AR_UP_TO_MS = 64  # ``ar`` is not run on longer holes (it dies away in the middle, and costs the square)


def run(method: str, damaged: np.ndarray, hole: tuple[int, int]) -> np.ndarray:
    name, _, setting = method.partition(":")
    saved = {}
    for item in filter(None, setting.split(",")):
        key, _, value = item.partition("=")
        saved[key] = getattr(R, key)
        old = saved[key]
        setattr(R, key, value.lower() in ("1", "true") if isinstance(old, bool) else type(old)(float(value)))
    try:
        sec = (hole[0] / E.RATE, hole[1] / E.RATE)
        out, _, _ = R.restore(damaged, E.RATE, sec, None, name, np.random.default_rng(0))
    finally:
        for key, value in saved.items():
            setattr(R, key, value)
    return out


def false_clicks(per_source: int) -> None:
    """How often :func:`restore.find_clicks` finds clicks in clean material: ``per_source`` regions of
    16, 50 and 100 ms at seeded places in every recording of both sets (undamaged), and the share of
    the region it marks where it does."""
    rng = np.random.default_rng(1)
    counts: dict = {}
    for sources, _ in SETS.values():
        for _, path, start in sources:
            if not os.path.exists(path):
                continue
            x = E.excerpt(path, start)[:, None]
            if len(x) < 1.3 * E.RATE:
                continue
            for _ in range(per_source):
                n = int(rng.choice([0.016, 0.05, 0.1]) * E.RATE)
                h0 = int(rng.integers(E.RATE // 2, len(x) - E.RATE // 2 - n))
                runs = R.find_clicks(x, E.RATE, h0, h0 + n)
                row = counts.setdefault(n, [0, []])
                row[0] += 1
                if runs:
                    row[1].append(sum(run[1] - run[0] for run in runs) / n)
    print("| clean region | clicks found | share marked: median / largest |")
    print("|---:|---:|---|")
    for n, (total, shares) in sorted(counts.items()):
        spread = f"{np.median(shares):.2f} / {max(shares):.2f}" if shares else "-"
        print(f"| {1000 * n / E.RATE:.0f} ms | {len(shares)} of {total} | {spread} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="*", default=list(SETS))
    p.add_argument("--lengths", nargs="*", default=LENGTHS, help="dropout lengths in ms, or 'clicks'")
    p.add_argument("--methods", nargs="*", default=METHODS)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "specblur" / "sweep_repair_lengths.json")
    p.add_argument("--json", type=Path, default=None, help="write the table's means here")
    p.add_argument(
        "--false-clicks", type=int, default=0, metavar="N", help="only: clicks found in N clean regions a source"
    )
    args = p.parse_args()
    if args.false_clicks:
        false_clicks(args.false_clicks)
        return
    cache: dict = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    for set_name in args.sets:
        sources, base = SETS[set_name]
        for placement in E.PLACEMENTS:
            for si, (name, path, start) in enumerate(sources):
                if not os.path.exists(path):
                    print(f"skip {name}: {path} missing", file=sys.stderr)
                    continue
                x = None
                for ms in args.lengths:
                    for method in args.methods:
                        if method.startswith("ar") and ms != "clicks" and int(ms) > AR_UP_TO_MS:
                            continue
                        key = f"{set_name}|{placement}|{name}|{ms}|{method}"
                        if key in cache:
                            continue
                        if x is None:
                            x = E.excerpt(path, start)
                        kind = "clicks" if ms == "clicks" else f"dropout{ms}"
                        seed = base + 1000 * si + (5 if ms == "clicks" else int(ms))
                        damaged, hole, _ = E.damage(x, kind, seed, placement)
                        cache[key] = E.scores(x, run(method, damaged, hole), hole, None)
                        args.cache.write_text(json.dumps(cache))
                        print(key, f"{cache[key]['lsd']:.2f}", flush=True)
    table = {}
    for key, row in cache.items():
        set_name, placement, _, ms, method = key.split("|")
        if set_name in args.sets and ms in args.lengths and method in args.methods:
            table.setdefault((set_name, placement, ms, method), []).append(row)
    print("| set | placement | ms | " + " | ".join(args.methods) + " |")
    print("|---|---|---:|" + "---|" * len(args.methods))
    means = {}
    for set_name in args.sets:
        for placement in E.PLACEMENTS:
            for ms in args.lengths:
                cells = []
                for method in args.methods:
                    rows = table.get((set_name, placement, ms, method))
                    if not rows:
                        cells.append("-")
                        continue
                    lsd = float(np.mean([r["lsd"] for r in rows]))
                    level = float(np.mean([r["level_abs"] for r in rows]))
                    means[f"{set_name}|{placement}|{ms}|{method}"] = {"lsd": lsd, "level_abs": level, "n": len(rows)}
                    cells.append(f"{lsd:.2f} / {level:.1f}")
                print(f"| {set_name} | {placement} | {ms} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(means, indent=1) + "\n")


if __name__ == "__main__":
    main()
