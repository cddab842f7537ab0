"""``--plot``: before/after spectrograms with the edited region drawn, and the code maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SUFFIXES = (".png", ".pdf", ".svg")
"""What ``--plot`` may be named: the file's format follows its extension."""


def save(
    path: Path,
    view: dict[str, Any],
    regions: list,
    spec_cfg: Any,
    cell: dict[str, tuple[int, int]],
    hole: tuple[float, float] | None = None,
    band: tuple[float, float] | None = None,
    centres: np.ndarray | None = None,
) -> None:
    """Write a PNG (or PDF, SVG: ``path``'s extension says which) of one channel's edit (matplotlib, no
    display needed), atomically (:func:`specblur.files.atomic_write`). The region is drawn as the
    model's grid snapped it (cyan); ``hole`` (seconds) and ``band`` (Hz, ``None``: the whole band),
    when given with ``centres`` (each image row's centre frequency, Hz), are the exact span asked
    for, drawn dashed (white): what a repair filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    step = view.get("frames_per_column", 1)  # a long region's picture: each column the loudest of step frames
    frame_s = spec_cfg.hop_length / spec_cfg.sample_rate * step
    before_db = (
        view["before_db"] if "before_db" in view else view["before"] * spec_cfg.norm_std_db + spec_cfg.norm_mean_db
    )
    after_db = view["after_db"]
    n_bins, n_frames = before_db.shape
    t0 = view.get("t0", 0.0)  # only the region and its context were encoded: the crop starts here
    extent = (t0, t0 + n_frames * frame_s, 0, n_bins)
    fine = regions[-1]
    level = fine.level
    with_codes = view.get("codes_before") is not None  # a repair filled from the context drew none
    rows = 2 if with_codes else 1
    fig, axes = plt.subplots(rows, 2, figsize=(12, 3.5 * rows), constrained_layout=True, squeeze=False)
    vmin = max(float(before_db.max()) - 90.0, spec_cfg.floor_db)
    for ax, image, title in ((axes[0, 0], before_db, "before"), (axes[0, 1], after_db, "after")):
        ax.imshow(
            image, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=float(before_db.max()), cmap="magma"
        )
        ax.add_patch(
            Rectangle(
                (fine.start, fine.bins[0]),
                fine.end - fine.start,
                fine.bins[1] - fine.bins[0],
                fill=False,
                edgecolor="cyan",
                linewidth=1.5,
            )
        )
        label = f"region {fine.start:.2f}-{fine.end:.2f} s, {fine.low:.0f}-{fine.high:.0f} Hz"
        if hole is not None and centres is not None:
            lo_hz, hi_hz = band if band is not None else (0.0, float("inf"))
            rows_at = np.interp([lo_hz, min(hi_hz, centres[-1])], centres, np.arange(n_bins) + 0.5)
            low_row = 0.0 if lo_hz <= centres[0] else float(rows_at[0])
            high_row = float(n_bins) if hi_hz >= centres[-1] else float(rows_at[1])
            ax.add_patch(
                Rectangle(
                    (hole[0], low_row),
                    hole[1] - hole[0],
                    high_row - low_row,
                    fill=False,
                    edgecolor="white",
                    linestyle="--",
                    linewidth=1.2,
                )
            )
            label = f"{hole[0]:.3f}-{hole[1]:.3f} s (dashed; snapped {fine.start:.2f}-{fine.end:.2f} s)"
            if band is not None:
                label += f", {band[0]:.0f}-{band[1]:.0f} Hz"
        ax.set_title(f"{title}: {label}", fontsize=9)
        ax.set_xlabel(f"time (s; a column is the loudest of {step} frames)" if step > 1 else "time (s)")
        ax.set_ylabel("mel band")
    fb, tb = cell[level]
    for ax, codes, title in (
        ()
        if not with_codes
        else (
            (axes[1, 0], view["codes_before"], "codes before"),
            (axes[1, 1], view["codes_after"], "codes after"),
        )
    ):
        maps = np.asarray(getattr(codes, level)[0])
        rows, cols = maps.shape
        ax.imshow(
            maps,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            cmap="tab20",
            extent=(t0, t0 + cols * tb * frame_s, 0, rows),
        )
        ax.add_patch(
            Rectangle(
                (fine.cols[0] * tb * frame_s, fine.rows[0]),
                (fine.cols[1] - fine.cols[0]) * tb * frame_s,
                fine.rows[1] - fine.rows[0],
                fill=False,
                edgecolor="black",
                linewidth=1.5,
            )
        )
        changed = int(
            np.sum(
                np.asarray(getattr(view["codes_after"], level)[0])
                != np.asarray(getattr(view["codes_before"], level)[0])
            )
        )
        ax.set_title(
            f"{title} ({level} level; {changed} codes differ)" if "after" in title else f"{title} ({level} level)"
        )
        ax.set_xlabel("time (s)")
        ax.set_ylabel("code row")
    from specblur.files import atomic_write

    try:
        atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=90, format=Path(path).suffix.lower()[1:] or "png"))
    finally:
        plt.close(fig)
