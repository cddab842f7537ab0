"""The figure in docs/REPAIR.md: a held-out drum loop with a 300 ms dropout, and what each repair
method puts back (the spectrograms to look at, beside the evaluation's numbers).

``python tools/repair_figure.py [--out docs/img/repair-loop.png] [--source drums] [--damage dropout300]
[--placement random] [--methods interpolate envelope auto]``

The excerpt and the damage are the evaluation's own (``tools/evaluate_repair.py``: Sonic Pi's
``loop_amen_full``, mono at 48 kHz, the 300 ms dropout at the random placement); every method runs
through ``specblur.repair`` as ``specblur repair`` runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import evaluate_repair as E  # noqa: E402

import specblur  # noqa: E402
from specblur.edit import restore as R  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/img/repair-loop.png"))
    p.add_argument("--source", default="drums")
    p.add_argument("--damage", default="dropout300")
    p.add_argument("--placement", default="random")
    p.add_argument("--methods", nargs="+", default=["interpolate", "envelope", "auto"])
    args = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    si = [name for name, _, _ in E.SOURCES].index(args.source)
    name, path, start = E.SOURCES[si]
    x = E.excerpt(path, start)
    damaged, hole, band = E.damage(x, args.damage, 1000 * si + E.DAMAGE.index(args.damage), args.placement)
    seconds = (hole[0] / E.RATE, hole[1] / E.RATE)
    model = specblur.load_model()
    panels = [("original", x), ("damaged", damaged)]
    for method in args.methods:
        y = np.asarray(specblur.repair(damaged, E.RATE, seconds, band, model=model, method=method), dtype=np.float64)
        score = E.scores(x, y, hole, band)
        label = method
        if method == "auto":  # which method it settled on (the library's search sees the whole excerpt)
            found = R.find_match(damaged[:, None], E.RATE, hole[0], hole[1])
            label = f"auto ({R.choose_method((hole[1] - hole[0]) / E.RATE, band, match=found)})"
        panels.append((f"{label}: mel LSD {score['lsd']:.1f} dB", y))
    lo = max(0, hole[0] - int(0.6 * E.RATE))
    hi = min(len(x), hole[1] + int(0.6 * E.RATE))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), sharey=True, constrained_layout=True)
    ref = E.mel_db(x[lo:hi])
    vmax = float(ref.max())
    for ax, (title, y) in zip(axes, panels, strict=True):
        image = E.mel_db(y[lo:hi])
        extent = (lo / E.RATE, hi / E.RATE, 0, image.shape[0])
        ax.imshow(image, origin="lower", aspect="auto", extent=extent, vmin=vmax - 80, vmax=vmax, cmap="magma")
        for edge in seconds:
            ax.axvline(edge, color="white", linestyle="--", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("mel band (40 Hz-20 kHz)")
    fig.suptitle(f"{name}: {args.damage} ({args.placement} placement), held out from training", fontsize=10)
    fig.savefig(args.out, dpi=80)
    print(args.out)


if __name__ == "__main__":
    main()
