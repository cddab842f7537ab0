"""Does the blur keep the region's shape on a broader held-out set? (A developer tool.)

    python tools/broad_blur.py [--json docs/eval/blur_broad.json] [--seeds 1]

``tools/evaluate_blur.py`` measures the blur on five held-out recordings (speech, a plucked string,
piano, a choir, a dense mix). This runs the same measures (:func:`evaluate_blur.measures`: the band's
level change, the envelope distance over 0.2 s x 1/3 octave, the level change of the region's quietest
fifth, the fine-detail change, and the gain dependence: the level change at -30 dB input gain minus
that at +10 dB) on the 104 excerpts of ``tools/broad_repair.py`` (30 other Wesnoth tracks, 43 sonic-pi
samples, pocketsphinx's other speech; mono, at their own rate, peak at -12 dBFS), each blurred over
1 s x 1-8 kHz in its middle at the default settings (``specblur.blur``, as shipped), and prints the
share of excerpts within the issue's targets (level within 1.5 dB, gain dependence within 1 dB) and
the spread of each measure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import broad_repair as B  # noqa: E402
import evaluate_blur as V  # noqa: E402

import specblur  # noqa: E402

BAND = (1000.0, 8000.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/eval/blur_broad.json"))
    p.add_argument("--seeds", type=int, default=1)
    args = p.parse_args()
    loaded = specblur.load_model()
    rows = []
    for name, path, start in B.sources(2):
        info = sf.info(path)
        a = int(start * info.samplerate)
        x, rate = sf.read(path, start=a, stop=a + 4 * info.samplerate, dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        if len(x) < 2 * rate or np.abs(x).max() < 1e-4:
            continue
        x = x / np.abs(x).max() * 10 ** (-12 / 20)
        mid = len(x) / rate / 2
        span = (mid - 0.5, mid + 0.5)
        for seed in range(args.seeds):
            y = V.run(loaded, x, rate, span, BAND, seed, None, True)
            row = {"source": name, "seed": seed, **V.measures(x, y, rate, span, BAND)}
            levels = []
            for g in V.GAINS_DB:
                s = 10 ** (g / 20)
                levels.append(
                    V.measures(x * s, V.run(loaded, x * s, rate, span, BAND, seed, None, True), rate, span, BAND)[
                        "level_db"
                    ]
                )
            row["gain_db"] = levels[0] - levels[1]
            rows.append(row)
            print(f"{name:40s} level {row['level_db']:+6.2f} envelope {row['envelope_db']:5.2f} "
                  f"quiet {row['quiet_db']:+6.2f} gain {row['gain_db']:+6.2f} detail {row['detail_db']:5.2f}",
                  flush=True)  # fmt: skip
    level = np.array([r["level_db"] for r in rows])
    gain = np.array([r["gain_db"] for r in rows])
    summary = {
        "excerpts": len(rows),
        "level_within_1_5_db": float(np.mean(np.abs(level) <= 1.5)),
        "gain_within_1_db": float(np.mean(np.abs(gain) <= 1.0)),
        **{
            f"{k}_percentiles_10_50_90": [float(v) for v in np.percentile([r[k] for r in rows], [10, 50, 90])]
            for k in ("level_db", "envelope_db", "quiet_db", "gain_db", "detail_db")
        },
        "level_abs_max_db": float(np.abs(level).max()),
    }
    print(json.dumps(summary, indent=1))
    args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
