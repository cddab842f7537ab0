"""Edited samples over full scale: hard clipping against the dips of ``specblur.edit.overs``
(a developer tool; the numbers behind :data:`specblur.edit.overs.REACH_SECONDS`).

    python tools/limiter_check.py [NAME ...] [--reach-ms 1 3 10] [--json PATH]

Each NAME is a file of Debian's ``sonic-pi-samples`` (held out of training; default: eight loud
one-shots and loops that a blur takes over full scale). Each is blurred whole at the default settings
(``specblur.blur``, seed 0, the array form: nothing is held under full scale), and what a 16-bit
file could hold of that edit is made two ways: clipped at +-1, and held under by the dips at each
reach. Scored against the edit as made, in the 1024-point STFT frames (hop 256, Hann) that hold an
over: the log-spectral distance (dB, linear bins, floor 80 dB under the frame's loudest), averaged
over those frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import specblur  # noqa: E402
from specblur.edit import overs  # noqa: E402

SONIC = "/usr/share/sonic-pi/samples"
DEFAULT = ["loop_amen_full", "tabla_ghe8", "drum_bass_hard", "elec_triangle", "bass_woodsy_c", "perc_bell", "bd_tek",
           "elec_bell"]  # fmt: skip


def distance(ref: np.ndarray, deg: np.ndarray, peak: np.ndarray) -> tuple[float, int]:
    """Mean log-spectral distance over the frames of ``ref`` that hold a sample over full scale."""
    n, hop, w = 1024, 256, np.hanning(1024)
    a, b = ref.mean(axis=1), deg.mean(axis=1)
    out = []
    for i in range(0, len(a) - n, hop):
        if peak[i : i + n].max() > 1.0:
            fa = 20 * np.log10(np.abs(np.fft.rfft(a[i : i + n] * w)) + 1e-9)
            fb = 20 * np.log10(np.abs(np.fft.rfft(b[i : i + n] * w)) + 1e-9)
            floor = fa.max() - 80
            out.append(float(np.sqrt(np.mean((np.maximum(fa, floor) - np.maximum(fb, floor)) ** 2))))
    return (float(np.mean(out)) if out else 0.0), len(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=DEFAULT)
    p.add_argument("--reach-ms", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows, results = [], {}
    for name in args.names:
        x, rate = sf.read(f"{SONIC}/{name}.flac", always_2d=True)
        made = specblur.blur(x, rate, seed=0)
        peak = np.abs(made).max(axis=1)
        clip, frames = distance(made, np.clip(made, -1, 1), peak)
        row = {"overs": int(np.sum(peak > 1)), "peak_db": float(20 * np.log10(peak.max())), "frames": frames,
               "clip_db": clip}  # fmt: skip
        for reach in args.reach_ms:
            held = made.copy()
            original, overs.REACH_SECONDS = overs.REACH_SECONDS, reach / 1000
            try:
                overs.hold_under(held, rate)
            finally:
                overs.REACH_SECONDS = original
            row[f"dips_{reach:g}ms_db"] = distance(made, held, peak)[0]
        results[name] = row
        rows.append([name, row["overs"], f"{row['peak_db']:+.2f}", frames, f"{clip:.2f}"]
                    + [f"{row[f'dips_{r:g}ms_db']:.2f}" for r in args.reach_ms])  # fmt: skip
    head = ["file", "overs", "peak (dBFS)", "frames", "clipped (dB)"] + [f"dips {r:g} ms (dB)" for r in args.reach_ms]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    means = [np.mean([r["clip_db"] for r in results.values()])]
    means += [np.mean([r[f"dips_{x:g}ms_db"] for r in results.values()]) for x in args.reach_ms]
    print("| mean | | | | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
