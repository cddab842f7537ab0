"""Compare the runtime path (numpy + onnxruntime) with the torch path, file by file (a developer tool).

Edits run on a model's runtime form (``models/default.onnx.npz``: features by :mod:`specblur.runtime.dsp`,
encoder and decoder by onnxruntime); training keeps torch (``models/default.pt``). For each file,
mixed to mono and taken at its own rate, this measures how far the two paths part::

    python tools/compare_runtime.py DIR... [--limit N] [--json OUT]

``DIR`` is a folder (searched recursively for .wav/.flac/.ogg) or an NSynth-style folder, of which
only the held-out split is used (``--all-splits`` for every note); ``LABEL=DIR`` names the set
(default: the folder's name). A label ``group/name`` is also pooled into ``group``.

1. **Codes**: torch path (torchaudio resampling to the model's rate, torch features, torch encoder)
   against the runtime path (``dsp.resample``, ``dsp.Features.features``, ``Engine.encode``): the
   share of identical codes per level, pooled over every cell of every file. Where codes differ, two
   extra encodes say why: the torch encoder on the runtime's features (so: features or graph?), and
   the distance margin of the differing cells in the torch encoder's nearest-codeword search.
2. **The applied change**: a region (the middle ``--seconds`` of the file, ``--freq``, snapped to
   bottom code cells) is redrawn once by the prior (``prior.resample`` under the same brush, sweeps,
   temperature and seed as :func:`specblur.edit.segment.edit_segment`), and the change
   ``decode(new) - decode(old)`` in dB is computed by :func:`specblur.edit.effects.blur.decoded_change` with
   torch's decoder and with onnxruntime's on the *same* code maps (the runtime path's), and once
   more end to end (each path's own codes, own draw, own decoder). Reported: the absolute
   difference in dB inside the region (max, mean, 99th percentile, pooled over the region's pixels).
3. **The output**: :func:`specblur.edit.segment.blur` (the runtime path) against the same steps on the
   torch side (torchaudio, torch features, encoder and decoder, :func:`reference_resynth.apply_change`),
   as ``git show a5a3a9a:specblur/pipeline.py`` did them: the largest sample difference, and the
   difference's RMS as a share of the edit's RMS (the output minus the input), over the edited span.

Prints a table per set and writes every figure, per file and per set, with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the torch resynthesis: the reference the runtime is measured against

import reference_resynth as resynth  # noqa: E402
import torch  # noqa: E402

from specblur import audio  # noqa: E402
from specblur.edit import plan as edit_plan  # noqa: E402
from specblur.edit import region, segment  # noqa: E402
from specblur.edit.effects.blur import decoded_change  # noqa: E402
from specblur.learn import checkpoint, data  # noqa: E402
from specblur.learn.data import resample as resample_torch  # noqa: E402
from specblur.learn.model import Codes as TorchCodes  # noqa: E402
from specblur.runtime import dsp  # noqa: E402
from specblur.runtime import model as runtime  # noqa: E402

LEVELS = ("top", "bottom")


class TorchDecoder:
    """The torch model with the runtime Engine's decode interface (numpy code maps in, numpy images out),
    so that :func:`specblur.edit.effects.blur.decoded_change` runs the same crop and batch on either side."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.cell = model.cell
        self.config = model.config

    def decode(self, codes: runtime.Codes, frames: int) -> np.ndarray:
        maps = TorchCodes(top=torch.from_numpy(codes.top), bottom=torch.from_numpy(codes.bottom))
        with torch.no_grad():
            return self.model.decode(maps, frames).numpy()


def torch_encode(model: Any, image: np.ndarray | torch.Tensor) -> runtime.Codes:
    with torch.no_grad():
        codes = model.encode(torch.as_tensor(image))
    return runtime.Codes(top=codes.top.numpy().astype(np.int64), bottom=codes.bottom.numpy().astype(np.int64))


def torch_features(model: Any, wave: np.ndarray, rate: int) -> torch.Tensor:
    """torchaudio resampling to the model's rate, then torch features: ``(1, 1, bins, frames)``."""
    tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    with torch.no_grad():
        tensor = resample_torch(tensor, rate, model.config.spectrogram.sample_rate)
        return model.spectrogram.features(tensor)[None, None]


def runtime_features(engine: Any, wave: np.ndarray, rate: int) -> np.ndarray:
    wave = dsp.resample(np.ascontiguousarray(wave, dtype=np.float32), rate, engine.config.spectrogram.sample_rate)
    return engine.spectrogram.features(wave)[None, None]


def margins(model: Any, image: torch.Tensor, own: runtime.Codes, other: runtime.Codes) -> dict[str, list[float]]:
    """For each cell where ``other``'s code differs from torch's (``own``), how close the torch
    encoder's latent is to both codewords: ``|d_other - d_own| / d_own``, squared distances in
    float64 (0: a tie; negative-signed gaps, where the other code is in fact the nearer, count too).

    The bottom latent depends on the top codes; it is taken with torch's own top codes."""
    out: dict[str, list[float]] = {}
    with torch.no_grad():
        padded = model._pad(image)
        h_bottom = model.enc_bottom(padded)
        h_top = model.enc_top(h_bottom)
        z_top = model.pre_top(h_top).permute(0, 2, 3, 1)
        q_top = model.quant_top(z_top)
        cond = model.dec_top(q_top.quantized.permute(0, 3, 1, 2))
        z_bottom = model.pre_bottom(torch.cat([h_bottom, cond], 1)).permute(0, 2, 3, 1)
        for level, z, quant in (("top", z_top, model.quant_top), ("bottom", z_bottom, model.quant_bottom)):
            flat = z.reshape(-1, z.shape[-1]).double()
            book = quant.codebook.detach().double()
            mine = torch.from_numpy(getattr(own, level).reshape(-1))
            theirs = torch.from_numpy(getattr(other, level).reshape(-1))
            differ = torch.nonzero(mine != theirs).squeeze(1)
            d_mine = (flat[differ] - book[mine[differ]]).pow(2).sum(-1)
            d_theirs = (flat[differ] - book[theirs[differ]]).pow(2).sum(-1)
            out[level] = ((d_theirs - d_mine).abs() / d_mine.clamp_min(1e-30)).tolist()
    return out


def cell_weight(pixel: np.ndarray, shape: tuple[int, int], cell: tuple[int, int], reg: region.Region) -> np.ndarray:
    """The brush seen by cells, as :func:`specblur.edit.segment.edit_segment` computes it."""
    rows, cols = shape
    fb, tb = cell
    n_bins, n_frames = pixel.shape
    padded = np.zeros((rows * fb, cols * tb))
    padded[: min(n_bins, rows * fb), : min(n_frames, cols * tb)] = pixel[: rows * fb, : cols * tb]
    weight = padded.reshape(rows, fb, cols, tb).mean(axis=(1, 3))
    weight[reg.rows[0] : reg.rows[1], reg.cols[0] : reg.cols[1]] = 1.0
    return weight


def redraw(prior: Any, codes: runtime.Codes, weight: np.ndarray, seed: int, sweeps: int) -> runtime.Codes:
    rng = np.random.default_rng([seed, 0])
    bottom = prior.resample(codes.bottom[0], weight, rng, sweeps=sweeps, temperature=prior.temperature)
    return runtime.Codes(top=codes.top.copy(), bottom=bottom[None].astype(np.int64))


def torch_blur(
    pt: Any, rt: Any, mono: np.ndarray, rate: int, where: edit_plan.Plan, seed: int, sweeps: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """The torch path's edit of one mono channel: the steps of blur_segment before the runtime moved
    off torch (``git show a5a3a9a:specblur/pipeline.py``), with the same plan."""
    model = pt.model
    cfg = model.config.spectrogram
    segment = mono[where.start : where.stop]
    regions = [edit_plan.shift(r, where.frame0, model.cell[r.level]) for r in where.regions]
    fine = regions[-1]
    image = torch_features(model, segment, rate)
    n_frames = image.shape[-1]
    pixel = edit_plan.brush(cfg.n_bins, n_frames, fine.bins, fine.frames, where.sigma)
    codes = torch_encode(model, image)
    new = runtime.Codes(top=codes.top.copy(), bottom=codes.bottom.copy())
    rng = np.random.default_rng([seed, 0])
    for reg in regions:
        maps = getattr(new, reg.level)[0]
        weight = cell_weight(pixel, maps.shape, model.cell[reg.level], reg)
        prior = pt.prior[reg.level]
        getattr(new, reg.level)[0] = prior.resample(maps, weight, rng, sweeps=sweeps, temperature=prior.temperature)
    change = decoded_change(TorchDecoder(model), codes, new, pixel) * cfg.norm_std_db
    frame_times = np.arange(n_frames) * cfg.hop_length / cfg.sample_rate
    edited, span = resynth.apply_change(
        np.asarray(segment, dtype=np.float64),
        rate,
        change,
        frame_times,
        region.band_centres(cfg),
        min(cfg.f_max, rate / 2),
        cfg.sample_rate,
        cfg.n_fft,
        0,
    )
    out = mono.copy()
    out[where.start : where.stop] = edited.astype(out.dtype)
    return out, (where.start + span[0], where.start + span[1]) if span[1] > span[0] else (0, 0)


def compare_file(path: Path, pt: Any, rt: Any, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """One file → (its record for the JSON, arrays for the pooled statistics)."""
    sound = audio.read(path)
    rate = sound.sample_rate
    mono = np.ascontiguousarray(audio.to_mono(sound.samples), dtype=np.float32)
    engine = rt.model
    cfg = engine.config.spectrogram
    rec: dict[str, Any] = {"rate": rate, "channels": sound.channels, "seconds": round(len(mono) / rate, 4)}
    pooled: dict[str, Any] = {}

    # 1. codes
    image_t = torch_features(pt.model, mono, rate)
    image_r = runtime_features(engine, mono, rate)
    codes_t = torch_encode(pt.model, image_t)
    codes_r = engine.encode(image_r)
    codes_x = torch_encode(pt.model, image_r)  # torch's encoder on the runtime's features
    rec["feature_max_abs_db"] = float(np.abs(image_t.numpy() - image_r).max() * cfg.norm_std_db)
    for level in LEVELS:
        a, b, x = (getattr(c, level) for c in (codes_t, codes_r, codes_x))
        rec[f"{level}_cells"] = int(a.size)
        rec[f"{level}_same"] = int((a == b).sum())
        rec[f"{level}_same_features_only"] = int((a == x).sum())  # differences due to the features
        rec[f"{level}_same_graph_only"] = int((x == b).sum())  # differences due to the encoder graph
    if rec["top_same"] < rec["top_cells"] or rec["bottom_same"] < rec["bottom_cells"]:
        rec["margins"] = margins(pt.model, image_t, codes_t, codes_r)

    # 2. the applied change, region: the middle of the file
    seconds = len(mono) / rate
    span = min(args.seconds, seconds)
    time_range = ((seconds - span) / 2, (seconds + span) / 2)
    freq = (args.freq[0], min(args.freq[1], rate / 2, cfg.f_max))
    n_frames = image_r.shape[-1]
    cell = engine.cell["bottom"]
    reg = region.locate(cfg, cell, "bottom", seconds, n_frames, time_range, freq, rate)
    pixel = edit_plan.brush(cfg.n_bins, n_frames, reg.bins, reg.frames, (cell[0] * 1.0, cell[1] * 1.0))
    weight = cell_weight(pixel, codes_r.bottom.shape[1:], cell, reg)
    new_r = redraw(rt.prior["bottom"], codes_r, weight, args.seed, args.sweeps)
    new_check = redraw(pt.prior["bottom"], codes_r, weight, args.seed, args.sweeps)
    rec["prior_draws_equal"] = bool(np.array_equal(new_r.bottom, new_check.bottom))
    inside = np.zeros_like(pixel, dtype=bool)
    inside[reg.bins[0] : reg.bins[1], reg.frames[0] : reg.frames[1]] = True
    rec["region"] = {"start": reg.start, "end": reg.end, "low": round(reg.low, 1), "high": round(reg.high, 1)}
    rec["region_pixels"] = int(inside.sum())
    reg_cells = new_r.bottom[0][reg.rows[0] : reg.rows[1], reg.cols[0] : reg.cols[1]]
    old_cells = codes_r.bottom[0][reg.rows[0] : reg.rows[1], reg.cols[0] : reg.cols[1]]
    rec["redrawn_share"] = float((reg_cells != old_cells).mean())
    torch_cells = codes_t.bottom[0][reg.rows[0] : reg.rows[1], reg.cols[0] : reg.cols[1]]
    rec["bottom_differing_in_region"] = int((torch_cells != old_cells).sum())
    change_r = decoded_change(engine, codes_r, new_r, pixel) * cfg.norm_std_db
    change_t = decoded_change(TorchDecoder(pt.model), codes_r, new_r, pixel) * cfg.norm_std_db
    diff = np.abs(change_r - change_t)
    pooled["same"] = diff[inside]
    rec["change_mean_abs_db"] = float(np.abs(change_r[inside]).mean())
    rec["change_max_abs_db"] = float(np.abs(change_r[inside]).max())
    rec["same_codes_max_db"] = float(diff[inside].max())
    rec["same_codes_mean_db"] = float(diff[inside].mean())
    rec["same_codes_max_db_brush"] = float(diff.max())  # the whole brush, soft edges included
    new_t = redraw(pt.prior["bottom"], codes_t, weight, args.seed, args.sweeps)
    own_t = decoded_change(TorchDecoder(pt.model), codes_t, new_t, pixel) * cfg.norm_std_db
    own = np.abs(change_r - own_t)
    pooled["own"] = own[inside]
    rec["own_codes_max_db"] = float(own[inside].max())
    rec["own_codes_mean_db"] = float(own[inside].mean())

    # 3. the output
    if not args.no_output:
        options = {"time": time_range, "freq": freq, "seed": args.seed, "rounds": args.sweeps}
        result = segment.blur(rt, mono, rate, **options)
        where = edit_plan.plan(rt, len(mono), rate, time_range, freq)
        out_t, span_t = torch_blur(pt, rt, mono, rate, where, args.seed, args.sweeps)
        out_r = result.samples
        spans = [s for s in (result.span, span_t) if s[1] > s[0]]
        lo, hi = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else (0, 0)
        delta = out_r.astype(np.float64) - out_t
        edit = out_r.astype(np.float64) - mono
        rec["output_identical"] = bool(np.array_equal(out_r, out_t))
        rec["output_max_abs"] = float(np.abs(delta).max())
        rms_edit = float(np.sqrt(np.mean(edit[lo:hi] ** 2))) if hi > lo else 0.0
        rms_delta = float(np.sqrt(np.mean(delta[lo:hi] ** 2))) if hi > lo else 0.0
        rec["output_diff_share_of_edit"] = (
            rms_delta / rms_edit if rms_edit > 0 else (0.0 if rms_delta == 0 else math.inf)
        )
        rec["output_spans"] = [list(result.span), list(span_t)]
    return rec, pooled


@dataclass
class Totals:
    files: int = 0
    cells: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    same: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    same_features: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    same_graph: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    files_differing: int = 0
    margins: list[float] = field(default_factory=list)
    pooled: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"same": [], "own": []})
    change: list[float] = field(default_factory=list)
    output: list[dict[str, Any]] = field(default_factory=list)
    prior_draws_differ: int = 0
    in_region: int = 0
    errors: int = 0

    def add(self, rec: dict[str, Any], pooled: dict[str, Any]) -> None:
        self.files += 1
        for level in LEVELS:
            self.cells[level] += rec[f"{level}_cells"]
            self.same[level] += rec[f"{level}_same"]
            self.same_features[level] += rec[f"{level}_same_features_only"]
            self.same_graph[level] += rec[f"{level}_same_graph_only"]
        self.files_differing += int(any(rec[f"{lv}_same"] < rec[f"{lv}_cells"] for lv in LEVELS))
        for values in rec.get("margins", {}).values():
            self.margins += values
        for key in ("same", "own"):
            self.pooled[key].append(pooled[key])
        self.change.append(rec["change_mean_abs_db"])
        self.prior_draws_differ += int(not rec["prior_draws_equal"])
        self.in_region += rec["bottom_differing_in_region"]
        if "output_identical" in rec:
            self.output.append(rec)

    def merge(self, other: Totals) -> None:
        for name in ("files", "errors", "files_differing", "prior_draws_differ", "in_region"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("margins", "change", "output"):
            getattr(self, name).extend(getattr(other, name))
        for name in ("cells", "same", "same_features", "same_graph"):
            for level in LEVELS:
                getattr(self, name)[level] += getattr(other, name)[level]
        for key in self.pooled:
            self.pooled[key] += other.pooled[key]

    def summary(self) -> dict[str, Any]:
        share = {lv: self.same[lv] / self.cells[lv] if self.cells[lv] else math.nan for lv in LEVELS}
        total = sum(self.cells.values())
        out: dict[str, Any] = {
            "files": self.files,
            "errors": self.errors,
            "cells": dict(self.cells),
            "identical_share": {**share, "all": sum(self.same.values()) / total if total else math.nan},
            "files_with_a_differing_code": self.files_differing,
            "differing_cells": {lv: self.cells[lv] - self.same[lv] for lv in LEVELS},
            "differing_cells_torch_encoder_on_runtime_features": {
                lv: self.cells[lv] - self.same_features[lv] for lv in LEVELS
            },
            "differing_cells_runtime_features_torch_vs_onnx_encoder": {
                lv: self.cells[lv] - self.same_graph[lv] for lv in LEVELS
            },
            "differing_bottom_cells_inside_the_region": self.in_region,
            "differing_cells_distance_margin": _describe(np.array(self.margins)) if self.margins else None,
            "prior_draws_differ_between_checkpoint_and_runtime_priors": self.prior_draws_differ,
            "change_mean_abs_db": float(np.mean(self.change)) if self.change else math.nan,
        }
        for key, name in (("same", "change_diff_db_same_codes"), ("own", "change_diff_db_own_codes")):
            values = np.concatenate(self.pooled[key]) if self.pooled[key] else np.zeros(0)
            out[name] = _describe(values)
        if self.output:
            shares = np.array([r["output_diff_share_of_edit"] for r in self.output])
            out["output"] = {
                "files": len(self.output),
                "identical": int(sum(r["output_identical"] for r in self.output)),
                "max_abs_sample_diff": float(max(r["output_max_abs"] for r in self.output)),
                "diff_rms_share_of_edit_rms": {
                    "median": float(np.median(shares)),
                    "max": float(shares.max()),
                    "files_over_1pct": int((shares > 0.01).sum()),
                },
            }
        return out


def _describe(values: np.ndarray) -> dict[str, float]:
    if not values.size:
        return {"n": 0}
    return {
        "n": int(values.size),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "p99": float(np.percentile(values, 99)),
        "median": float(np.median(values)),
    }


def _rounded(value: Any) -> Any:
    """Floats to 4 significant digits (the per-file records; the summaries keep full precision)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.4g}") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def dumps(result: dict[str, Any]) -> str:
    """The JSON: everything indented but the per-file records, one to a line."""
    files = result.pop("files")
    text = json.dumps({**result, "files": []}, indent=1, default=lambda v: v.item())
    lines = ",\n".join("  " + json.dumps(_rounded(rec)) for rec in files)
    return text[: text.rindex("[]")] + "[\n" + lines + "\n ]\n}\n"


def gather(specs: list[str], all_splits: bool, limit: int | None) -> list[tuple[str, list[Path], str]]:
    """``[LABEL=]DIR`` → (label, files, what was taken)."""
    sets = []
    for spec in specs:
        label, _, folder = spec.rpartition("=")
        folder_path = Path(folder)
        label = label or folder_path.resolve().name
        items = data.collect([folder_path])
        note = f"all {len(items)} files"
        if not all_splits and any(it.heldout is not None for it in items):
            items = [it for it in items if it.heldout]
            note = f"the {len(items)} held-out notes (examples.json split != train)"
        files = sorted(it.path for it in items)
        if limit and len(files) > limit:
            step = len(files) / limit
            files = [files[int(i * step)] for i in range(limit)]
            note += f", every {step:.3g}th: {limit}"
        sets.append((label, files, note))
    return sets


def table(summaries: dict[str, dict[str, Any]]) -> str:
    head = (
        f"{'set':<18} {'files':>5} {'top same':>9} {'bottom':>8} {'all':>8} {'files≠':>6} "
        f"{'Δchange dB same codes max/mean/p99':>35} {'own codes max/mean/p99':>24} {'change':>7} {'out ≤1%':>8}"
    )
    lines = [head, "-" * len(head)]
    for label, s in summaries.items():
        share = s["identical_share"]
        same, own = s["change_diff_db_same_codes"], s["change_diff_db_own_codes"]

        def trio(d: dict[str, float]) -> str:
            return f"{d['max']:.2g}/{d['mean']:.2g}/{d['p99']:.2g}" if d.get("n") else "-"

        out = s.get("output")
        out_text = (
            f"{out['files'] - out['diff_rms_share_of_edit_rms']['files_over_1pct']}/{out['files']}" if out else "-"
        )
        lines.append(
            f"{label:<18} {s['files']:>5} {share['top']:>9.4%} {share['bottom']:>8.4%} {share['all']:>8.4%} "
            f"{s['files_with_a_differing_code']:>6} {trio(same):>35} {trio(own):>24} {s['change_mean_abs_db']:>7.2f} "
            f"{out_text:>8}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", metavar="[LABEL=]DIR", help="folders of audio, or NSynth-style folders")
    p.add_argument("--limit", type=int, help="at most N files per set (evenly spaced in path order)")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--checkpoint", type=Path, default=ROOT / "models" / "default.pt", help="the torch side")
    p.add_argument("--runtime", type=Path, default=ROOT / "models" / "default.onnx.npz", help="the runtime side")
    p.add_argument("--seconds", type=float, default=1.0, help="length of the region, in the middle of each file")
    p.add_argument("--freq", type=float, nargs=2, default=(200.0, 2000.0), metavar=("LOW", "HIGH"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweeps", type=int, default=3)
    p.add_argument("--all-splits", action="store_true", help="NSynth folders: every note, not only held-out ones")
    p.add_argument("--no-output", action="store_true", help="skip step 3 (the whole edit on both paths)")
    args = p.parse_args(argv)

    pt = checkpoint.load(args.checkpoint)
    rt = runtime.load(args.runtime)
    if pt.hash != rt.hash:
        p.error(f"{args.checkpoint} and {args.runtime} are different models")
    sets = gather(args.dirs, args.all_splits, args.limit)
    started = time.perf_counter()
    records, totals = [], {}
    pools: dict[str, Totals] = {}
    for label, files, note in sets:
        print(f"{label}: {note}", file=sys.stderr)
        totals[label] = Totals()
        groups = [label] + ([label.split("/")[0]] if "/" in label else [])
        for path in files:
            try:
                rec, pooled = compare_file(path, pt, rt, args)
            except Exception as exc:  # a file that cannot be read is reported, not fatal
                print(f"  {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
                records.append({"set": label, "path": str(path), "error": f"{type(exc).__name__}: {exc}"})
                totals[label].errors += 1
                continue
            rec = {"set": label, "path": str(path), **rec}
            records.append(rec)
            for g in groups:
                target = totals[g] if g == label else pools.setdefault(g, Totals())
                target.add(rec, pooled)
            if rec["top_same"] < rec["top_cells"] or rec["bottom_same"] < rec["bottom_cells"]:
                print(
                    f"  {path.name}: top {rec['top_cells'] - rec['top_same']}/{rec['top_cells']}, bottom "
                    f"{rec['bottom_cells'] - rec['bottom_same']}/{rec['bottom_cells']} codes differ",
                    file=sys.stderr,
                )
    summaries = {label: t.summary() for label, t in totals.items()}
    summaries.update({g: t.summary() for g, t in pools.items() if g not in totals})
    everything = Totals()
    for t in totals.values():
        everything.merge(t)
    if len(totals) > 1:
        summaries["all"] = everything.summary()
    wall = time.perf_counter() - started
    print(table(summaries))
    print(f"{sum(t.files for t in totals.values())} files in {wall:.0f} s")
    if args.json:
        import onnxruntime

        result = {
            "command": "python tools/compare_runtime.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "checkpoint": str(args.checkpoint),
            "runtime": str(args.runtime),
            "model_hash": rt.hash,
            "region": {"seconds": args.seconds, "freq": list(args.freq), "level": "bottom", "feather": 1.0},
            "seed": args.seed,
            "sweeps": args.sweeps,
            "sets": {label: note for label, _, note in sets},
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "torch": torch.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
            "wall_seconds": round(wall, 1),
            "summary": summaries,
            "files": records,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
