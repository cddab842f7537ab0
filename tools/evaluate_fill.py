"""Hole filling, measured: how well each method restores a time-frequency hole from its context.

``python tools/evaluate_fill.py DIR... [--holes 64 128 256 512 1000] [--limit N] [--json OUT]``

For every file (mono mix, at most ``--limit`` per folder; a folder holding an NSynth-style
``examples.json`` contributes only its held-out ``valid`` notes) and every hole length (ms), a hole
is cut at the loudest point of the file, over the full band and over 300-3000 Hz, on the model's
grid (mel bands x frames, snapped outward to bottom code cells). Methods:

- ``naive-bayes``: the codes inside (both levels) thrown away and filled from the context by the
  Naive Bayes prior (:meth:`specblur.priors.naive_bayes.LevelPrior.fill`), then decoded;
- ``unigram``: the codes inside drawn from the code frequencies alone, then decoded;
- ``transformer``: the neural prior (:mod:`specblur.priors.transformer`), where the model has one;
  ``transformer@T`` the same drawn at T times its temperature (``--temperatures``; lower: each cell
  nearer its most likely code);
- ``interpolation``: the classical baseline, each band's log-magnitude interpolated linearly in
  time across the hole between the frames on either side;
- ``oracle``: the original codes decoded (the decoder's own error: the floor for code methods).

Measures inside the hole, against the original image: bottom-code accuracy (code methods), the
log-spectral distance (RMS dB), and the seam: the mean absolute dB step at the hole's two edges
minus the original's step there. Runtime only (numpy, onnxruntime).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import specblur
from specblur.edit.region import band_centres  # noqa: E402
from specblur.runtime import dsp  # noqa: E402
from specblur.runtime.model import Codes  # noqa: E402

AUDIO = (".wav", ".flac", ".ogg")


def files_in(folder: Path, limit: int) -> list[Path]:
    examples = folder / "examples.json"
    if examples.is_file():
        meta = json.loads(examples.read_text())
        names = sorted(k for k, v in meta.items() if v.get("split") == "valid")
        paths = [folder / "audio" / f"{n}.wav" for n in names]
    else:
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO)
    return paths[:limit]


def hole_cells(model, image: np.ndarray, ms: float, band: tuple[float, float] | None) -> dict[str, tuple]:
    """The hole, per level, as (row slice, column slice), centred on the loudest frame."""
    cfg = model.config.spectrogram
    frames = image.shape[-1]
    width = max(1, int(round(ms / 1000 * cfg.sample_rate / cfg.hop_length)))
    loud = int(np.argmax(image.mean(axis=0)))
    f0 = int(np.clip(loud - width // 2, 0, max(0, frames - width)))
    centres = band_centres(cfg)
    if band is None:
        b0, b1 = 0, image.shape[0]
    else:
        inside = np.nonzero((centres >= band[0]) & (centres <= band[1]))[0]
        b0, b1 = int(inside[0]), int(inside[-1]) + 1
    out = {}
    for level, (fb, tb) in model.cell.items():
        out[level] = (slice(b0 // fb, -(-b1 // fb)), slice(f0 // tb, -(-(f0 + width) // tb)))
    fb, tb = model.cell["bottom"]
    rows, cols = out["bottom"]
    out["pixels"] = (
        slice(rows.start * fb, min(image.shape[0], rows.stop * fb)),
        slice(cols.start * tb, min(frames, cols.stop * tb)),
    )
    return out


def measure(reference: np.ndarray, filled: np.ndarray, pixels: tuple[slice, slice]) -> dict[str, float]:
    rows, cols = pixels
    inside = np.sqrt(np.mean((filled[rows, cols] - reference[rows, cols]) ** 2))
    steps = []
    for a, b in ((cols.start - 1, cols.start), (cols.stop - 1, cols.stop)):
        if a >= 0 and b < reference.shape[1]:
            step = np.abs(filled[rows, b] - filled[rows, a]) - np.abs(reference[rows, b] - reference[rows, a])
            steps.append(float(np.mean(step)))
    return {"lsd_db": float(inside), "seam_db": float(np.mean(steps)) if steps else 0.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--holes", type=float, nargs="+", default=[64, 128, 256, 512, 1000])
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--model", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    p.add_argument("--temperatures", type=float, nargs="*", default=[], help="extra transformer temperatures")
    args = p.parse_args()
    loaded = specblur.load_model(args.model)
    model = loaded.model
    cfg = model.config.spectrogram
    neural = getattr(loaded, "prior_nn", None) or {}
    methods = ["oracle", "interpolation", "unigram", "naive-bayes"]
    if neural:
        methods += ["transformer"] + [f"transformer@{t:g}" for t in args.temperatures]
    results: dict[str, dict] = {}
    for folder in args.folders:
        rows_out: dict[str, list] = {}
        for path in files_in(folder, args.limit):
            x, rate = sf.read(path, dtype="float32", always_2d=True)
            wave = dsp.resample(x.mean(axis=1), rate, cfg.sample_rate)
            image = model.spectrogram.features(wave)[None, None]
            codes = model.encode(image)
            db = model.spectrogram.to_db(image[0, 0])
            oracle = model.spectrogram.to_db(model.decode(codes, image.shape[-1])[0, 0])
            for ms in args.holes:
                for band_name, band in (("full", None), ("300-3000", (300.0, 3000.0))):
                    cells = hole_cells(model, db, ms, band)
                    rng = np.random.default_rng(args.seed)
                    for method in methods:
                        if method == "oracle":
                            filled, acc = oracle, 1.0
                        elif method == "interpolation":
                            filled, acc = db.copy(), float("nan")
                            r, c = cells["pixels"]
                            left, right = max(c.start - 1, 0), min(c.stop, db.shape[1] - 1)
                            w = (np.arange(c.start, c.stop) - left) / max(right - left, 1)
                            filled[r, c] = db[r, left][:, None] * (1 - w) + db[r, right][:, None] * w
                        else:
                            new = Codes(top=codes.top.copy(), bottom=codes.bottom.copy())
                            for level in ("top", "bottom"):
                                maps = getattr(new, level)[0]
                                hole = np.zeros_like(maps, dtype=bool)
                                hole[cells[level]] = True
                                if method == "unigram":
                                    prior = loaded.prior[level]
                                    p_u = np.exp(prior.unigram_log_probs())
                                    maps[hole] = rng.choice(len(p_u), size=int(hole.sum()), p=p_u / p_u.sum())
                                elif method == "naive-bayes":
                                    maps[:] = loaded.prior[level].fill(maps, hole, rng)
                                else:
                                    top = new.top[0] if level == "bottom" else None
                                    t = float(method.partition("@")[2] or 1.0)
                                    maps[:] = neural[level].fill(maps, hole, rng, top=top, temperature=t)
                            filled = model.spectrogram.to_db(model.decode(new, image.shape[-1])[0, 0])
                            r, c = cells["bottom"]
                            acc = float(np.mean(new.bottom[0][r, c] == codes.bottom[0][r, c]))
                        row = {"code_accuracy": acc, **measure(db, filled, cells["pixels"])}
                        rows_out.setdefault(f"{int(ms)} ms {band_name} {method}", []).append(row)
        summary = {
            key: {m: float(np.nanmean([r[m] for r in rows])) for m in rows[0]} | {"n": len(rows)}
            for key, rows in rows_out.items()
        }
        results[str(folder)] = summary
        print(f"\n{folder}")
        print("| hole | band | method | code accuracy | LSD inside (dB) | seam (dB) | n |")
        print("|---|---|---|---|---|---|---|")
        for key, v in summary.items():
            ms, band_name, method = key.split(" ", 1)[0], key.split()[2], key.split()[3]
            acc = "" if np.isnan(v["code_accuracy"]) else f"{v['code_accuracy']:.1%}"
            print(f"| {ms} ms | {band_name} | {method} | {acc} | {v['lsd_db']:.2f} | {v['seam_db']:+.2f} | {v['n']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
