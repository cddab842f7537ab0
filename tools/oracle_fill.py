"""What a steady fill could reach at best: oracles that know the lost audio, scored as repair is.

``python tools/oracle_fill.py [--json docs/eval/oracle_fill.json]``

Every context method of :mod:`specblur.edit.restore` fills a long hole with a spectrum that changes
slowly (a line in dB between the two sides, or a copy of the context brought to its level). This
asks how close any such fill could come, by building fills in the scores' own mel domain from the
*undamaged* audio, on the cases of ``tools/evaluate_repair.py`` (same excerpts, same holes):

- ``steady-log``: each mel band held at the mean of its dB over the hole's frames: the steady fill
  with the least mel LSD a fill that knows each band's level but not how it moves can have;
- ``steady-power``: each band held at its mean *power* over the hole (the level score's own
  measure, so its level error is 0 by construction);
- ``edge-line``: each band's dB on a line from the undamaged frame just before the hole to the one
  just after (``interpolate`` with perfect synthesis and no damage near the edges);
- ``smooth-0.2s``: the original smoothed over 0.2 s in time (a running mean of power in each band),
  what a fill that knew the hole's coarse envelope, but not its detail, would give.

No synthesis: the oracle's mel frames are scored directly against the original's with the same
floor, frames and band groups as :func:`evaluate_repair.scores`. The table gives them next to
``interpolate`` and ``auto`` from ``docs/eval/repair.json`` (and, for the broad set of
``tools/broad_repair.py``, from ``docs/eval/repair_broad.json``).

A second table asks how well the context predicts the level a steady fill should hold: each mel
band's mean dB over the hole (what the least LSD needs) and its mean power (what the level score
needs), predicted from the undamaged context (the frames whose window ends before the hole or
starts after it) by the nearest frame each side, the power mean of the 4 nearest each side, and
the mean dB over 0.1 to 1 s each side; RMS error over the bands above the floor, mean over cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import broad_repair as B  # noqa: E402
import evaluate_repair as E  # noqa: E402

ORACLES = ["steady-log", "steady-power", "edge-line", "smooth-0.2s"]
KINDS = ["dropout32", "dropout100", "dropout300", "dropout1000"]


def _score(r: np.ndarray, o: np.ndarray, frames: np.ndarray, floor: float) -> dict:
    """:func:`evaluate_repair.scores` on mel dB already computed (the hole's frames given)."""
    o = np.maximum(o, floor)
    d = o[:, frames] - r[:, frames]
    lsd = float(np.mean(np.sqrt(np.mean(d**2, axis=0))))
    rp, op = 10 ** (r[:, frames] / 10), 10 ** (o[:, frames] / 10)
    errs = []
    for g in np.array_split(np.arange(E.N_MELS), 8):
        ref = 10 * np.log10(rp[g].mean())
        if ref <= floor + 10:
            continue
        errs.append(10 * np.log10(op[g].mean()) - ref)
    return {"lsd": lsd, "level": errs}


def oracle(name: str, r: np.ndarray, frames: np.ndarray) -> np.ndarray:
    o = r.copy()
    h = r[:, frames]
    if name == "steady-log":
        o[:, frames] = h.mean(axis=1, keepdims=True)
    elif name == "steady-power":
        o[:, frames] = 10 * np.log10((10 ** (h / 10)).mean(axis=1, keepdims=True))
    elif name == "edge-line":
        a, b = max(frames[0] - 1, 0), min(frames[-1] + 1, r.shape[1] - 1)
        w = (frames - a) / max(b - a, 1)
        o[:, frames] = r[:, [a]] * (1 - w) + r[:, [b]] * w
    elif name == "smooth-0.2s":
        k = max(1, int(round(0.2 * E.RATE / E.HOP)))
        p = 10 ** (r / 10)
        kernel = np.ones(k) / k
        sm = np.stack([np.convolve(row, kernel, mode="same") for row in p])
        o[:, frames] = 10 * np.log10(sm[:, frames] + 1e-20)
    else:
        raise ValueError(name)
    return o


def cases_of(which: str) -> Iterator[tuple[str, str, np.ndarray, str, tuple[int, int]]]:
    """(placement, name, excerpt, kind, hole) of the evaluation of record or of the broad set."""
    if which == "record":
        for placement, name, x, kind, _, hole, _ in E.record_cases(KINDS):
            yield placement, name, x, kind, hole
        return
    for name, x, damaged in B.broad_cases(KINDS):
        for kind, _, hole, _ in damaged:
            yield "random", name, x, kind, hole


PREDICTORS = ["nearest frame", "4 frames (power)", "0.1 s (dB)", "0.25 s (dB)", "0.5 s (dB)", "1 s (dB)"]


def predictions(r: np.ndarray, hole: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """Each predictor's level per mel band (dB) from the context of ``hole`` (mel dB ``r``)."""
    centres = np.arange(r.shape[1]) * E.HOP
    left = np.nonzero(centres + E.N_FFT // 2 <= hole[0])[0]
    right = np.nonzero(centres - E.N_FFT // 2 >= hole[1])[0]
    if len(left) < 4 or len(right) < 4:
        return None
    power = 10 ** (r / 10)
    out = {
        "nearest frame": (r[:, left[-1]] + r[:, right[0]]) / 2,
        "4 frames (power)": 5 * np.log10(power[:, left[-4:]].mean(axis=1) * power[:, right[:4]].mean(axis=1)),
    }
    for seconds, label in zip((0.1, 0.25, 0.5, 1.0), PREDICTORS[2:], strict=True):
        k = max(1, int(seconds * E.RATE / E.HOP))
        out[label] = r[:, np.concatenate([left[-k:], right[:k]])].mean(axis=1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("docs/eval/oracle_fill.json"))
    p.add_argument("--record", type=Path, default=Path("docs/eval/repair.json"))
    p.add_argument("--broad", type=Path, default=Path("docs/eval/repair_broad.json"))
    args = p.parse_args()
    record = json.loads(args.record.read_text())["cases"]
    broad = {(c["source"], c["kind"]): c for c in json.loads(args.broad.read_text())["cases"]}
    cases, predicted = {}, {}
    for which in ("record", "broad"):
        for placement, name, x, kind, hole in cases_of(which):
            r = E.mel_db(x)
            floor = r.max() - 80.0
            r = np.maximum(r, floor)
            centres = np.arange(r.shape[1]) * E.HOP
            frames = np.nonzero((centres >= hole[0]) & (centres < hole[1]))[0]
            key = f"{which}|{placement}|{name}|{kind}"
            for o in ORACLES:
                cases[f"{key}|{o}"] = _score(r, oracle(o, r, frames), frames, floor)
            for m in ("interpolate", "auto"):
                got = (
                    record.get(f"{placement}|{name}|{kind}|{m}")
                    if which == "record"
                    else broad.get((name, kind), {}).get(m)
                )
                if got:
                    cases[f"{key}|{m}"] = {"lsd": got["lsd"], "level": got["level"]}
            if placement != "random":
                continue
            pred = predictions(r, hole)
            if pred is None:
                continue
            hole_db = r[:, frames].mean(axis=1)
            hole_power = 10 * np.log10((10 ** (r[:, frames] / 10)).mean(axis=1))
            keep = hole_power > floor + 10
            predicted[key] = {
                label: [
                    float(np.sqrt(np.mean((v - hole_db)[keep] ** 2))),
                    float(np.sqrt(np.mean((v - hole_power)[keep] ** 2))),
                ]
                for label, v in pred.items()
            }
    table = []
    for which, placements in (("record", E.PLACEMENTS), ("broad", ["random"])):
        for placement in placements:
            for kind in KINDS:
                for m in ["interpolate", "auto", *ORACLES]:
                    rows = [
                        v
                        for k, v in cases.items()
                        if k.startswith(f"{which}|{placement}|") and k.endswith(f"|{kind}|{m}")
                    ]
                    if not rows:
                        continue
                    table.append(
                        {
                            "set": which,
                            "placement": placement,
                            "damage": kind,
                            "fill": m,
                            "n": len(rows),
                            "lsd": float(np.mean([v["lsd"] for v in rows])),
                            "level_abs": float(np.mean([np.mean(np.abs(v["level"])) for v in rows])),
                            "level_signed": float(np.mean([e for v in rows for e in v["level"]])),
                            "within_2db": int(sum(bool(np.all(np.abs(v["level"]) <= 2.0)) for v in rows)),
                        }
                    )
    prediction_table = []
    for which in ("record", "broad"):
        for kind in KINDS:
            rows = [v for k, v in predicted.items() if k.startswith(f"{which}|") and k.endswith(f"|{kind}")]
            if rows:
                prediction_table.append(
                    {
                        "set": which,
                        "damage": kind,
                        "n": len(rows),
                        **{label: np.mean([r[label] for r in rows], axis=0).tolist() for label in PREDICTORS},
                    }
                )
    args.json.write_text(
        json.dumps({"table": table, "predictors": prediction_table, "cases": cases, "predicted": predicted}, indent=1)
        + "\n"
    )
    print("| set | placement | damage | fill | n | mel LSD dB | mean abs level dB | signed | every band within 2 dB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t in table:
        print(
            f"| {t['set']} | {t['placement']} | {t['damage']} | {t['fill']} | {t['n']} | {t['lsd']:.2f} | "
            f"{t['level_abs']:.2f} | {t['level_signed']:+.2f} | {t['within_2db']}/{t['n']} |"
        )
    print()
    print(
        "RMS error (dB) of each predictor against the hole's mean dB / its mean power, per mel band, random placement"
    )
    print("| set | damage | n | " + " | ".join(PREDICTORS) + " |")
    print("|---|---|---|" + "---|" * len(PREDICTORS))
    for t in prediction_table:
        cells = " | ".join(f"{t[label][0]:.2f} / {t[label][1]:.2f}" for label in PREDICTORS)
        print(f"| {t['set']} | {t['damage']} | {t['n']} | {cells} |")


if __name__ == "__main__":
    main()
