"""The tuning set behind ``restore.MATCH_RATIO``, apart from the evaluation of record.

``python tools/tune_match.py [--json docs/eval/match_tuning.json]``

Other held-out recordings than ``tools/evaluate_repair.py`` scores (never used in training either):
seven more Sonic Pi loops, five more Battle for Wesnoth tracks and two more librivox utterances,
damaged the same way (dropouts of 32, 100, 300, 1000 ms and a 1-4 kHz noise burst, both placements,
other seeds). For each case: :func:`specblur.edit.restore.find_match`'s ratio (the best candidate's
distance over the median's) and the mel LSD inside the hole of ``match``, ``envelope`` and (32 ms)
``ar``. The threshold ``auto`` uses was read off this set, then applied unchanged to the evaluation
of record (docs/REPAIR.md).
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

from specblur.edit import restore as R  # noqa: E402

S, W, L = E.SONIC, E.WESNOTH, E.LIBRIVOX
TUNE = [
    ("breakbeat", f"{S}/loop_breakbeat.flac", 0),
    ("compus", f"{S}/loop_compus.flac", 0),
    ("tabla", f"{S}/loop_tabla.flac", 0),
    ("garzul", f"{S}/loop_garzul.flac", 0),
    ("safari", f"{S}/loop_safari.flac", 0),
    ("industrial", f"{S}/loop_industrial.flac", 0),
    ("mika", f"{S}/loop_mika.flac", 0),
    ("knolls", f"{W}/knolls.ogg", 20),
    ("wanderer", f"{W}/wanderer.ogg", 30),
    ("northerners", f"{W}/northerners.ogg", 25),
    ("frantic", f"{W}/frantic.ogg", 15),
    ("sad", f"{W}/sad.ogg", 20),
    ("speech3", f"{L}/sense_and_sensibility_01_austen_64kb-0880.wav", 0),
    ("speech4", f"{L}/sense_and_sensibility_01_austen_64kb-0920.wav", 0),
]
KINDS = ["dropout32", "dropout100", "dropout300", "dropout1000", "noise"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/eval/match_tuning.json"))
    args = p.parse_args()
    rows = []
    for placement in E.PLACEMENTS:
        for si, (name, path, start) in enumerate(TUNE):
            x = E.excerpt(path, start)
            for kind in KINDS:
                if kind == "dropout1000" and len(x) < 2.5 * E.RATE:
                    continue
                y, hole, band = E.damage(x, kind, 7000 + 1000 * si + E.DAMAGE.index(kind), placement)
                found = R.find_match(y[:, None], E.RATE, hole[0], hole[1])
                row = {"key": f"{placement}|{name}|{kind}", "ratio": found.ratio if found else None}
                for method in ("envelope", "match", "ar"):
                    if method == "ar" and kind != "dropout32":
                        continue
                    sec = (hole[0] / E.RATE, hole[1] / E.RATE)
                    out, _, _ = R.restore(y, E.RATE, sec, band, method, np.random.default_rng(0))
                    row[method] = E.scores(x, out, hole, band)["lsd"]
                rows.append(row)
                print(row, flush=True)
    longer = [r for r in rows if r["ratio"] is not None and r["key"].split("|")[2] != "dropout32"]
    print("| ratio at most | long holes copied | of them closer than envelope | mean LSD gain over all long holes dB |")
    print("|---:|---:|---:|---:|")
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        picked = [r for r in longer if r["ratio"] <= t]
        wins = sum(r["match"] < r["envelope"] for r in picked)
        gain = sum(r["envelope"] - r["match"] for r in picked) / max(len(longer), 1)
        print(f"| {t:.2f} | {len(picked)} | {wins} | {gain:+.2f} |")
    args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
