"""Train the neural prior over a model's code maps (issue 12), in three steps.

    # 1. encode a rendered corpus (tools/build_corpus.sh) with the runtime model; a .npz cache of code maps
    .venv/bin/python tools/train_prior_nn.py encode /tmp/corpus10k /tmp/codes10k.npz [--model NAME]
    # 2. train one level (resumable: the state is saved every few minutes; --resume continues it)
    .venv/bin/python tools/train_prior_nn.py train /tmp/codes10k.npz --level bottom --steps 3000 \
        --state /tmp/prior_bottom.state.pt --out models/default.prior_nn.bottom.onnx [--resume]
    # 3. measure on the held-out maps: neural prior vs Naive Bayes vs unigram, and hole filling
    .venv/bin/python tools/train_prior_nn.py evaluate /tmp/codes10k.npz --out docs/eval/prior_nn.json
    # a run stopped early: export what its saved state holds
    .venv/bin/python tools/train_prior_nn.py export /tmp/prior_bottom.state.pt models/default.prior_nn.bottom.onnx

The cache holds, per note, the top and bottom code maps (``uint8`` when the codebooks have at most
256 codes) and the note's split (``train``/``valid``/``test`` from the corpus's ``examples.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def encode(corpus: Path, target: Path, model_name: str | None, batch: int = 32) -> None:
    import soundfile as sf

    import specblur
    from specblur.runtime import dsp

    m = specblur.load_model(model_name)
    rate = m.model.config.spectrogram.sample_rate
    examples = json.loads((corpus / "examples.json").read_text())
    names = sorted(examples)
    tops, bottoms, splits, kept = [], [], [], []
    start = time.perf_counter()
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        by_len: dict[int, list[tuple[str, np.ndarray]]] = {}
        for name, wave in pending:
            by_len.setdefault(len(wave), []).append((name, wave))
        for group in by_len.values():
            images = m.model.spectrogram.features(np.stack([w for _, w in group]))[:, None]
            codes = m.model.encode(images)
            for i, (name, _) in enumerate(group):
                tops.append(codes.top[i])
                bottoms.append(codes.bottom[i])
                splits.append(examples[name].get("split", "train"))
                kept.append(name)
        pending.clear()

    for n, name in enumerate(names):
        path = corpus / "audio" / f"{name}.wav"
        if not path.is_file():
            continue
        wave, sr = sf.read(path, dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
        if sr != rate:
            wave = dsp.resample(wave, sr, rate)
        pending.append((name, wave))
        if len(pending) >= batch:
            flush()
        if n % 1000 == 0:
            print(f"{n}/{len(names)} encoded, {time.perf_counter() - start:.0f} s", flush=True)
    if pending:
        flush()
    dtype = np.uint8 if max(int(b.max()) for b in bottoms) < 256 and max(int(t.max()) for t in tops) < 256 else np.int16
    widths = {b.shape for b in bottoms}
    if len(widths) == 1:
        arrays = {"top": np.stack(tops).astype(dtype), "bottom": np.stack(bottoms).astype(dtype)}
    else:  # notes of different lengths: one object-free array per note
        arrays = {f"top_{i}": t.astype(dtype) for i, t in enumerate(tops)}
        arrays |= {f"bottom_{i}": b.astype(dtype) for i, b in enumerate(bottoms)}
    np.savez_compressed(
        target,
        split=np.array(splits),
        name=np.array(kept),
        model=np.array(m.name),
        model_hash=np.array(m.hash),
        **arrays,
    )
    print(f"{len(kept)} notes encoded in {time.perf_counter() - start:.0f} s → {target}")


def load_cache(path: Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """``{"train"|"heldout": {"top": [...], "bottom": [...]}}``; held out = valid and test."""
    with np.load(path, allow_pickle=False) as z:
        splits = z["split"]
        if "top" in z.files:
            tops, bottoms = list(z["top"]), list(z["bottom"])
        else:
            tops = [z[f"top_{i}"] for i in range(len(splits))]
            bottoms = [z[f"bottom_{i}"] for i in range(len(splits))]
    out: dict[str, dict[str, list[np.ndarray]]] = {
        "train": {"top": [], "bottom": []},
        "heldout": {"top": [], "bottom": []},
    }
    for s, t, b in zip(splits, tops, bottoms, strict=True):
        part = out["train" if s == "train" else "heldout"]
        part["top"].append(t.astype(np.int64))
        part["bottom"].append(b.astype(np.int64))
    return out


def train(args: argparse.Namespace) -> None:
    from specblur.learn import prior_transformer as prior_nn

    data = load_cache(args.cache)
    level = args.level
    train_maps = data["train"][level]
    held = data["heldout"][level]
    rng = np.random.default_rng(1)
    pick = rng.choice(len(held), size=min(args.heldout_maps, len(held)), replace=False)
    heldout = ([held[i] for i in pick], [data["heldout"]["top"][i] for i in pick] if level == "bottom" else None)
    k = int(max(int(m.max()) for m in train_maps)) + 1
    num_codes = args.num_codes or max(k, 256 if k <= 256 else k)
    prior = prior_nn.fit_prior_nn(
        train_maps,
        num_codes,
        level=level,
        top_maps=data["train"]["top"] if level == "bottom" else None,
        preset=args.preset,
        steps=args.steps,
        seed=args.seed,
        state_path=args.state,
        resume=args.resume,
        heldout=heldout,
        stop_at=args.stop_at,
        threads=args.threads,
    )
    onnx_bytes = prior_nn.export_prior_nn(prior)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(onnx_bytes)
    tmp.replace(args.out)
    record = {k: v for k, v in prior.record.items() if k != "history"}
    print(json.dumps(record, indent=1))
    if args.record:
        args.record.write_text(json.dumps(prior.record, indent=1))
    print(f"wrote {args.out} ({len(onnx_bytes) / 1e6:.2f} MB)")


def export_state(args: argparse.Namespace) -> None:
    """A (possibly unfinished) run's saved state → ONNX."""
    from specblur.learn import prior_transformer as prior_nn

    prior = prior_nn.load_state(args.state)
    prior.record["finished"] = prior.record["steps"] >= prior.config.steps
    data = prior_nn.export_prior_nn(prior)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"step {prior.record['steps']} of {prior.config.steps} → {args.out} ({len(data) / 1e6:.2f} MB)")


def evaluate(args: argparse.Namespace) -> None:
    import specblur
    from specblur.priors.transformer import NeuralPrior

    data = load_cache(args.cache)
    m = specblur.load_model(args.model)
    rng = np.random.default_rng(2)
    held = data["heldout"]
    pick = rng.choice(len(held["bottom"]), size=min(args.maps, len(held["bottom"])), replace=False)
    maps = {lv: [held[lv][i] for i in pick] for lv in ("top", "bottom")}
    cell_seconds = {
        lv: m.model.cell[lv][1] * m.model.config.spectrogram.hop_length / m.model.config.spectrogram.sample_rate
        for lv in ("top", "bottom")
    }
    result: dict = {
        "model": m.name,
        "model_hash": m.hash,
        "heldout_notes": len(pick),
        "heldout_from": "corpus split valid+test (instruments not in train)",
        "levels": {},
    }
    for level in args.levels:
        path = args.onnx_dir / f"{args.name}.prior_nn.{level}.onnx"
        nn_prior = NeuralPrior(path.read_bytes())
        top = maps["top"] if level == "bottom" else None
        t0 = time.perf_counter()
        nn_eval = nn_prior.evaluate(maps[level], top_maps=top)
        nn_eval["seconds"] = time.perf_counter() - t0
        nb = m.prior[level]
        nb_eval = nb.evaluate(maps[level])
        hole_cols = max(1, round(args.hole_seconds / cell_seconds[level]))
        fill = hole_fill(m, level, nn_prior, nb, maps, hole_cols, args.fill_maps, args.seed)
        result["levels"][level] = {
            "neural": nn_eval,
            "naive_bayes": {k: float(v) for k, v in nb_eval.items()},
            "unigram_bits": float(nb_eval["unigram_bits"]),
            "hole_fill": {"hole_seconds": hole_cols * cell_seconds[level], "hole_columns": hole_cols, **fill},
            "onnx": {
                "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                "bytes": path.stat().st_size,
                "metadata": nn_prior.info,
            },
        }
        print(level, json.dumps(result["levels"][level], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.is_file():  # one level at a time: keep the other level's figures
        previous = json.loads(args.out.read_text())
        if previous.get("model_hash") == result["model_hash"]:
            result["levels"] = previous.get("levels", {}) | result["levels"]
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


def hole_fill(m, level: str, nn_prior, nb, maps: dict, hole_cols: int, count: int, seed: int) -> dict:
    """Filling a full-band hole of ``hole_cols`` columns of one level (placed at random, at least one
    column from the map's ends) in ``count`` held-out notes, the other level's codes kept.

    Methods: the neural prior (at the bottom level with the top codes over the hole hidden, as repair
    does, and with them known), Naive Bayes (its own fill, at its calibrated temperature) and the
    unigram's most frequent code; each drawn at temperature factor 1 (as an edit draws) and 0.1 (near
    the most likely fill). Measures: code accuracy inside the hole, and the log-spectral distance (dB)
    inside the hole between the decoded fill and the decoded original codes (so the decoder's own
    error cancels)."""
    from specblur.runtime.model import Codes

    rng = np.random.default_rng(seed)
    spec = m.model.spectrogram
    fb, tb = m.model.cell[level]
    methods = ["neural", "naive_bayes"] + (["neural_top_known"] if level == "bottom" else [])
    factors = (1.0, 0.1)
    hits = {f"{k}@{f:g}": 0 for k in methods for f in factors} | {"unigram_mode": 0}
    lsd: dict[str, list[float]] = {k: [] for k in hits}
    cells = 0
    mode = int(np.argmax(nb.class_count))
    n = min(count, len(maps[level]))
    for i in range(n):
        codes = maps[level][i]
        top = maps["top"][i]
        rows, cols = codes.shape
        if cols < hole_cols + 2:
            continue
        c0 = int(rng.integers(1, cols - hole_cols))
        hole = np.zeros_like(codes, dtype=bool)
        hole[:, c0 : c0 + hole_cols] = True
        frames = maps["bottom"][i].shape[1] * m.model.cell["bottom"][1]
        original = m.model.decode(Codes(top=maps["top"][i][None], bottom=maps["bottom"][i][None]), frames)[0, 0]
        fills: dict[str, np.ndarray] = {}
        for f in factors:
            t = top if level == "bottom" else None
            fills[f"neural@{f:g}"] = nn_prior.fill(codes, hole, np.random.default_rng([seed, i]), temperature=f, top=t)
            if level == "bottom":
                fills[f"neural_top_known@{f:g}"] = nn_prior.fill(
                    codes, hole, np.random.default_rng([seed, i]), temperature=f, top=t, top_hole=np.zeros_like(t, bool)
                )
            fills[f"naive_bayes@{f:g}"] = nb.fill(
                codes, hole, np.random.default_rng([seed, i]), temperature=nb.temperature * f
            )
        fills["unigram_mode"] = np.where(hole, mode, codes)
        for key, filled in fills.items():
            hits[key] += int((filled == codes)[hole].sum())
            new = {"top": maps["top"][i], "bottom": maps["bottom"][i]} | {level: filled}
            image = m.model.decode(Codes(top=new["top"][None], bottom=new["bottom"][None]), frames)[0, 0]
            span = slice(c0 * tb, (c0 + hole_cols) * tb)
            diff = spec.to_db(image[:, span]) - spec.to_db(original[:, span])
            lsd[key].append(float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))))
        cells += int(hole.sum())
    out: dict = {"maps": n, "cells": cells, "temperature_factors": list(factors)}
    out["accuracy"] = {k: v / max(cells, 1) for k, v in hits.items()}
    out["lsd_db_vs_decoded_original"] = {k: float(np.mean(v)) for k, v in lsd.items()}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("encode")
    p.add_argument("corpus", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--model", default=None)
    p = sub.add_parser("train")
    p.add_argument("cache", type=Path)
    p.add_argument("--level", choices=("top", "bottom"), required=True)
    p.add_argument("--preset", default="default")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--state", type=Path, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--record", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--num-codes", type=int, default=None)
    p.add_argument("--heldout-maps", type=int, default=64)
    p.add_argument("--stop-at", type=float, default=None, help="unix time: stop early (cool-down skipped), keep state")
    p = sub.add_parser("export")
    p.add_argument("state", type=Path)
    p.add_argument("out", type=Path)
    p = sub.add_parser("evaluate")
    p.add_argument("cache", type=Path)
    p.add_argument("--model", default=None)
    p.add_argument("--name", default="default")
    p.add_argument("--onnx-dir", type=Path, default=ROOT / "models")
    p.add_argument("--levels", nargs="+", default=["bottom", "top"])
    p.add_argument("--maps", type=int, default=200)
    p.add_argument("--fill-maps", type=int, default=100)
    p.add_argument("--hole-seconds", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "eval" / "prior_nn.json")
    args = parser.parse_args(argv)
    if args.command == "encode":
        encode(args.corpus, args.target, args.model)
    elif args.command == "train":
        train(args)
    elif args.command == "export":
        export_state(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
