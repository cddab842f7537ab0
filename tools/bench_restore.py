"""What each repair method of :mod:`specblur.edit.restore` costs, in process.

``python tools/bench_restore.py [--json docs/bench/restore.json] [--repeat 5]``

A 4 s 44.1 kHz stereo clip (a held chord with vibrato and a noise floor, generated: no files
needed), a whole-band hole of 16, 32, 40, 100, 300 and 1000 ms at 1.5 s, and a 1-4 kHz hole of
200 ms; each method the best of ``--repeat`` runs (ms; ``ar`` up to 300 ms: its cost grows with the
square of the hole). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specblur.edit import restore as R  # noqa: E402

RATE = 44100


def clip(seconds: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros((len(t), 2))
    for k, f in enumerate((196.0, 247.0, 294.0, 392.0, 587.0, 1175.0)):
        phase = 2 * np.pi * np.cumsum(f * (1.0 + 0.003 * np.sin(2 * np.pi * 5.0 * t + k))) / RATE
        for c in range(2):
            x[:, c] += 0.15 / (1 + k) * np.sin(phase + c)
    return x + 0.01 * rng.standard_normal(x.shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/bench/restore.json"))
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    x = clip()
    cases = [(ms, None) for ms in (16, 32, 40, 100, 300, 1000)] + [(200, (1000.0, 4000.0))]
    methods = ["auto", "interpolate", "envelope", "ar"]
    rows = []
    print(f"{'hole':>14s} " + " ".join(f"{m:>12s}" for m in methods))
    for ms, band in cases:
        row = {"hole_ms": ms, "band": band}
        for method in methods:
            if method == "ar" and ms > 300:
                continue
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                R.restore(x, RATE, (1.5, 1.5 + ms / 1000), band, method, np.random.default_rng(0))
                best = min(best, time.perf_counter() - t0)
            row[method] = 1000 * best
        rows.append(row)
        label = f"{ms} ms" + (" 1-4k" if band else "")
        print(f"{label:>14s} " + " ".join(f"{row.get(m, float('nan')):12.1f}" for m in methods), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"clip": "4 s 44.1 kHz stereo", "ms_best_of": args.repeat, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
