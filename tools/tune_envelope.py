"""How much context ``envelope`` should average: the level of a dropout against its spectral distance.

``python tools/tune_envelope.py [--json docs/eval/envelope_tuning.json] [--visqol]``

On the tuning set of ``tools/tune_match.py`` (recordings apart from the evaluation of record, never
used in training), damaged the same way (dropouts of 100, 300 and 1000 ms, a 1-4 kHz noise burst,
both placements), ``envelope`` is run with each side's level taken from 4 to 64 STFT frames (10 ms
hops: 40 to 640 ms; ``restore.CONTEXT_FRAMES``), the two sides joined in dB or in power
(``restore.ENVELOPE_POWER``). For each: mel LSD inside the hole, the signed and absolute level error
(per band group, as ``tools/evaluate_repair.py`` scores them), the share of cases with every band
group within 2 dB, and with ``--visqol`` ViSQOL (audio mode) on the 300 ms and 1 s dropouts.

The question it answers (issue 18): the fills come out below the original's level on average. A
longer context's power mean comes closer to the hole's level, but the spectral distance grows and
the perceptual score does not follow (docs/REPAIR.md has the table).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import evaluate_repair as E  # noqa: E402
import tune_match as TM  # noqa: E402

from specblur.edit import restore as R  # noqa: E402

KINDS = ["dropout100", "dropout300", "dropout1000", "noise"]
VARIANTS = {f"{frames} frames, {'power' if power else 'dB'}": (frames, power) for frames in (4, 8, 16, 32, 64)
            for power in (False, True)}  # fmt: skip
VISQOL_KINDS = ("dropout300", "dropout1000")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/eval/envelope_tuning.json"))
    p.add_argument("--visqol", action="store_true", help="also ViSQOL on the 300 ms and 1 s dropouts (slow)")
    args = p.parse_args()
    cases = []
    for placement in E.PLACEMENTS:
        for si, (name, path, start) in enumerate(TM.TUNE):
            x = E.excerpt(path, start)
            for kind in KINDS:
                if kind == "dropout1000" and len(x) < 2.5 * E.RATE:
                    continue
                y, hole, band = E.damage(x, kind, 7000 + 1000 * si + E.DAMAGE.index(kind), placement)
                cases.append((f"{placement}|{name}|{kind}", kind, x, y, hole, band))
    saved = R.CONTEXT_FRAMES, R.ENVELOPE_POWER
    rows: dict[str, list[dict]] = {}
    try:
        for variant, (frames, power) in VARIANTS.items():
            R.CONTEXT_FRAMES, R.ENVELOPE_POWER = frames, power
            for key, kind, x, y, hole, band in cases:
                seconds = (hole[0] / E.RATE, hole[1] / E.RATE)
                out, _, _ = R.restore(y, E.RATE, seconds, band, "envelope", np.random.default_rng(0))
                row = {"key": key, "kind": kind, **E.scores(x, out, hole, band)}
                if args.visqol and kind in VISQOL_KINDS and not power:
                    try:
                        row["visqol"] = E.visqol(x, out, hole)
                    except ValueError:  # (an excerpt too short for its patches)
                        pass
                rows.setdefault(variant, []).append(row)
            print(f"{variant}: done", file=sys.stderr, flush=True)
    finally:
        R.CONTEXT_FRAMES, R.ENVELOPE_POWER = saved
    summary: dict = {}
    print("| context | damage | n | mel LSD dB | signed level dB | abs level dB | all bands within 2 dB | ViSQOL |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for variant, rs in rows.items():
        for kind in KINDS:
            r = [row for row in rs if row["kind"] == kind]
            vis = [row["visqol"] for row in r if "visqol" in row]
            keys = {row["key"] for row in r if "visqol" in row}
            entry = {
                "n": len(r),
                "lsd": float(np.mean([row["lsd"] for row in r])),
                "level_signed": float(np.mean([e for row in r for e in row["level"]])),
                "level_abs": float(np.mean([row["level_abs"] for row in r])),
                "within_2db": float(np.mean([row["level_max"] <= 2.0 for row in r])),
            }
            if vis:
                entry["visqol"] = float(np.mean(vis))
                entry["visqol_n"] = len(keys)
            summary.setdefault(variant, {})[kind] = entry
            print(
                f"| {variant} | {kind} | {entry['n']} | {entry['lsd']:.2f} | {entry['level_signed']:+.2f} | "
                f"{entry['level_abs']:.2f} | {100 * entry['within_2db']:.0f}% | "
                f"{entry['visqol']:.3f} (n={entry['visqol_n']}) |"
                if vis
                else f"| {variant} | {kind} | {entry['n']} | {entry['lsd']:.2f} | {entry['level_signed']:+.2f} | "
                f"{entry['level_abs']:.2f} | {100 * entry['within_2db']:.0f}% | |"
            )
    args.json.write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
