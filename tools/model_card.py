"""Write a model card from a checkpoint's own record and evaluation results (a developer tool).

    python tools/model_card.py models/default.pt --eval docs/eval/fullband [--bench docs/bench] > models/MODEL_CARD.md

``--eval DIR`` holds the JSON files written by ``tools/evaluate.py --json`` and the other evaluation
tools (see the recipe in the card); which files, and what the training data were, depend on the
model's preset (:data:`PROFILES`: the 16 kHz ``default`` preset, the 44.1 kHz ``fullband`` one).
``--bench DIR`` holds ``benchmarks/*.py --json`` results (the priors' speed). Missing files leave
their section out. Every number in the card comes from these files or from the checkpoint; nothing
is typed in by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # (the evaluation tools beside it)

from evaluate_repair import METHODS as REPAIR_METHODS  # noqa: E402

from specblur.learn import checkpoint  # noqa: E402
from specblur.priors.transformer import NeuralPrior  # noqa: E402


def _load(folder: Path | None, name: str) -> dict | None:
    if folder is None or not (folder / name).is_file():
        return None
    return json.loads((folder / name).read_text())


def _recon_rows(sets: list[tuple[str, dict]]) -> list[str]:
    rows = [
        "| set | files | LSD mel (dB) | LSD mel, active (dB) | LSD linear (dB) | LSD linear, active (dB) "
        "| spectral convergence | SC, active | perplexity top / bottom | unused codes top / bottom |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sets:
        rows.append(
            f"| {name} | {r['files']} | {r['lsd_mel_db']:.2f} | {r['lsd_mel_active_db']:.2f} | {r['lsd_lin_db']:.2f} "
            f"| {r['lsd_lin_active_db']:.2f} | {r['sc']:.3f} | {r.get('sc_active', float('nan')):.3f} "
            f"| {r['perplexity_top']:.0f} / {r['perplexity_bottom']:.0f} "
            f"| {r['unused_top']:.0%} / {r['unused_bottom']:.0%} |"
        )
    return rows


def _prior_rows(sets: list[tuple[str, dict]]) -> list[str]:
    rows = [
        "| set | level | accuracy | unigram accuracy | bits / code | unigram bits / code "
        "| bits / code, varied neighbourhoods (share) | temperature, back-off |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, prior in sets:
        for level in ("bottom", "top"):
            m = prior[level]
            rows.append(
                f"| {name} | {level} | {m['accuracy']:.1%} | {m['unigram_accuracy']:.1%} | {m['bits']:.2f} "
                f"| {m['unigram_bits']:.2f} | {m['bits_varied']:.2f} vs {m['unigram_bits_varied']:.2f} "
                f"({m['varied_fraction']:.0%}) | {m['temperature']:g}, {m.get('mix', 0.0):g} |"
            )
    return rows


def _speed(bench: Path | None) -> str:
    """The priors' speed from ``benchmarks/priors.py --json``, or a pointer to the benchmark."""
    r = (_load(bench, "priors.json") or {}).get("results")
    if not r:
        return "Its speed: `benchmarks/priors.py`. `--prior naive-bayes` selects the light one."
    tr, nb = r["transformer"], r["naive-bayes"]
    clip = f"4 s {r['rate'] / 1000:g} kHz clip" if "rate" in r else "4 s 16 kHz clip"
    return (
        f"It costs time: a blur and a repair of a {clip} take {tr['blur']:.0f} and {tr['repair']:.0f} ms in "
        f"process against Naive Bayes' {nb['blur']:.0f} and {nb['repair']:.0f} ms (target 150 ms; "
        f"`benchmarks/priors.py`, `{bench}/priors.json`). `--prior naive-bayes` selects the light one."
    )


def _bits_claim(neural: dict, naive: dict, sets: list[tuple[str, dict]], where: str) -> str:
    """Which prior has fewer held-out bits per code, level by level, on every set scored by both."""
    scored = [(where, neural, naive)] + [
        (label, r["prior_nn"], r["prior"]) for label, r in sets if "prior_nn" in r and "prior" in r
    ]
    parts = []
    for level in ("bottom", "top"):
        pairs = [(label, n[level]["bits"], b[level]["bits"]) for label, n, b in scored if level in n and level in b]
        wins = [label for label, n, b in pairs if n < b]
        if len(wins) == len(pairs):
            parts.append(f"at the {level} level the transformer has fewer bits per code on every set ({len(pairs)})")
        else:
            losses = "; ".join(f"{label}: {n:.2f} against {b:.2f}" for label, n, b in pairs if n >= b)
            parts.append(f"at the {level} level it has fewer on {len(wins)} of {len(pairs)} sets, not on {losses}")
    return (
        "Both priors scored on the same held-out maps ("
        + where
        + ") and on the recon sets' codes (below): "
        + "; ".join(parts)
        + ". The default is the prior with fewer bits per bottom code (the level every edit redraws). "
    )


def _fill_claim(fill: dict | None) -> str:
    """Whether the transformer fills holes better than Naive Bayes at every size, from ``fill.json``."""
    if not fill:
        return ""
    margins = []
    for table in fill.values():
        for key, v in table.items():
            ms, _, band, method = key.split(" ")
            if method == "transformer" and f"{ms} ms {band} naive-bayes" in table:
                margins.append(table[f"{ms} ms {band} naive-bayes"]["lsd_db"] - v["lsd_db"])
    if not margins:
        return ""
    if min(margins) > 0:
        return (
            f"It fills holes better at every size and band measured, by {min(margins):.1f} to "
            f"{max(margins):.1f} dB of LSD inside (Hole filling). "
        )
    worse = sum(m <= 0 for m in margins)
    return (
        f"It fills holes better in {len(margins) - worse} of {len(margins)} size, band and set cases "
        f"(margins {min(margins):+.1f} to {max(margins):+.1f} dB of LSD inside; Hole filling). "
    )


REPAIR_COLUMNS = tuple(m for m in REPAIR_METHODS if m != "texture-nb")
"""The card's repair table: every method ``tools/evaluate_repair.py`` runs, in its order, but the
Naive Bayes texture (docs/REPAIR.md has it)."""


def _ceiling(table: dict) -> str:
    """ViSQOL of the undamaged excerpts against themselves, over the table's kinds: its range."""
    scores = [row["original"]["visqol"] for kinds in table.values() for row in kinds.values() if "original" in row]
    if not scores:
        return "not measured"
    lo, hi = min(scores), max(scores)
    return f"{lo:.2f} in every kind" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def _edits_on_held_out() -> list[str]:
    """Repair and blur on held-out real recordings (issue 18): docs/eval/repair.json (tools/evaluate_repair.py)
    and docs/eval/blur-transformer.md (tools/evaluate_blur.py), where they exist."""
    root = Path(__file__).resolve().parent.parent / "docs" / "eval"
    out: list[str] = []
    repair = root / "repair.json"
    if repair.exists():
        table = json.loads(repair.read_text())["table"]
        out += [
            "",
            "## Repair and blur on held-out recordings",
            "",
            "Repair (`tools/evaluate_repair.py`, `docs/eval/repair.json`, `docs/REPAIR.md`): 8 recordings never",
            "trained on, holes on each excerpt's loudest 50 ms and at random places; inside the hole against the",
            "undamaged original, mel log-spectral distance (dB) / mean level error per band (dB) / ViSQOL where run;",
            "`-tf` the transformer prior, `-nb` Naive Bayes, `auto` what `repair` does by default, `original`",
            f"the undamaged excerpt itself (ViSQOL's ceiling: {_ceiling(table)}).",
            "",
        ]
        for placement, kinds in table.items():
            methods = [m for m in REPAIR_COLUMNS if any(m in row for row in kinds.values())]
            out += [f"Holes placed: {placement}", "", "| damage | " + " | ".join(methods) + " |"]
            out += ["|---" * (len(methods) + 1) + "|"]
            for kind, row in kinds.items():
                cells = []
                for m in methods:
                    r = row.get(m)
                    if r is None:
                        cells.append("-")
                        continue
                    cell = f"{r['lsd']:.2f} / {r['level_abs']:.1f}"
                    cells.append(cell + (f" / {r['visqol']:.2f}" if "visqol" in r else ""))
                out.append(f"| {kind} | " + " | ".join(cells) + " |")
            out.append("")
    oracle = root / "oracle_fill.json"
    if oracle.exists():
        rows = [r for r in json.loads(oracle.read_text())["table"] if r["set"] == "broad"]
        fills = ["interpolate", "auto", "steady-log", "steady-power", "smooth-0.2s"]
        out += [
            "Where the limit is (`tools/oracle_fill.py`, `docs/eval/oracle_fill.json`): fills that know the lost",
            "audio, on the broad held-out set's dropouts (`tools/broad_repair.py`): each band held at its true mean",
            "dB (`steady-log`) or true power (`steady-power`), or the original smoothed over 0.2 s (`smooth-0.2s`);",
            "mel LSD (dB) / holes with every band within 2 dB of the original's level:",
            "",
            "| dropout | " + " | ".join(fills) + " |",
            "|---" * (len(fills) + 1) + "|",
        ]
        for kind in dict.fromkeys(r["damage"] for r in rows):
            got = {r["fill"]: r for r in rows if r["damage"] == kind}
            cells = [
                f"{got[f]['lsd']:.2f} / {got[f]['within_2db']} of {got[f]['n']}" if f in got else "-" for f in fills
            ]
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
        out.append("")
    blur = root / "blur-transformer.md"
    if blur.exists():
        out += ["Blur (`tools/evaluate_blur.py`, `docs/eval/blur.md`):", "", *blur.read_text().strip().splitlines()]
    return out


def _scaling(bench: Path | None) -> list[str]:
    """Training beyond one process, from ``benchmarks/train_scaling.py --json`` (issue 21)."""
    r = (_load(bench, "train_scaling.json") or {}).get("results")
    if not r:
        return []
    rates = r["steps_per_s"]
    n = str(r["processes"])
    mem = r["memory_mb"]
    idx = r["index"]
    return [
        "",
        f"Training beyond one process (`benchmarks/train_scaling.py`, `{bench}/train_scaling.json`; this "
        "model was trained in one process): under `torchrun` every process trains one DistributedDataParallel "
        "replica on its share of each step's crops (the same crops, order and learning rate per step "
        "whatever the process count). On this 2-core CPU (gloo), preset "
        f"`{r['preset']}`, global batch {r['batch']}, one thread per process: 1 process {rates['1']:.2f} steps/s, "
        f"{n} processes {rates[n]:.2f} steps/s, a scaling efficiency of {r['efficiency']:.0%} (against "
        f"{r['gflops']:.0f} GFLOP/s of matrix products in the same run). Streamed from the files, a "
        f"corpus 10 times larger took {max(mem['stream_10x'] / mem['stream_1x'] - 1, 0.0):+.1%} memory per process "
        f"(in memory: {mem['memory_10x'] / mem['memory_1x'] - 1:+.0%}); an NSynth `examples.json` of "
        f"{idx['entries']:,} entries indexes in {idx['collect']['seconds']:.1f} s adding "
        f"{idx['collect']['memory_mb']:.0f} MB (`json.loads` of it: {idx['json_loads']['seconds']:.1f} s, "
        f"{idx['json_loads']['memory_mb']:.0f} MB).{_precision(bench)} Not measured: GPUs (bfloat16 autocast "
        "and NCCL are chosen automatically there, never run on one), several machines.",
    ]


def _precision(bench: Path | None) -> str:
    """bfloat16 against float32, from ``benchmarks/precision.py --json`` (issue 21); '' without it."""
    r = (_load(bench, "precision.json") or {}).get("results")
    if not r:
        return ""
    runs = r["runs"]
    f32, bf16, seed = (runs[k]["lsd_db"] for k in ("float32", "bfloat16 autocast", "float32, another seed"))
    where = runs["float32"]["device"]
    if where == "cpu":
        where = "the CPU: the number format, not a GPU's kernels"
    return (
        f" The recipe under bfloat16 autocast (`benchmarks/precision.py`, preset `{r['preset']}`, {r['steps']} "
        f"steps from the same start, on {where}) "
        f"ended {bf16 - f32:+.2f} dB held-out LSD from float32 ({bf16:.2f} against {f32:.2f}; two float32 seeds "
        f"{abs(seed - f32):.2f} dB apart)."
    )


def card(path: Path, evals: Path | None, bench: Path | None = None, note: str = "") -> str:
    loaded = checkpoint.load(path)
    t = loaded.training
    profile = PROFILES["fullband" if t.get("preset") == "fullband" else "default"]
    cfg = loaded.model.config
    m, s, tr = cfg.model, cfg.spectrogram, cfg.train
    params = sum(p.numel() for p in loaded.model.parameters())
    energy = t.get("energy", {})
    wall = t.get("wall_seconds", 0.0)
    lines = [
        f"# Model card: `{loaded.name}`",
        "",
        *([note, ""] if note else []),
        ("The model every specblur command uses when no `--model` is given. " if loaded.name == "default" else "")
        + "Generated by "
        "`tools/model_card.py` from the checkpoint's own training record and the evaluation files "
        "named below; the recipe at the end reproduces every number.",
        "",
        "## What it is",
        "",
        f"- A two-level VQ-VAE (VQ-VAE-2) of {params / 1e6:.2f} M parameters over log-mel spectrograms: "
        f"{s.n_mels} mel bands to {s.f_max:g} Hz at {s.sample_rate} Hz, n_fft {s.n_fft}, hop {s.hop_length} "
        f"({s.hop_length / s.sample_rate * 1000:.0f} ms).",
        f"- Codebooks: bottom {m.bottom.num_codes} x {m.bottom.dim}, a code every {m.bottom_down[0]} bands x "
        f"{m.bottom_down[1]} frames; top {m.top.num_codes} x {m.top.dim}, a code every "
        f"{m.bottom_down[0] * m.top_down[0]} bands x {m.bottom_down[1] * m.top_down[1]} frames. EMA updates "
        f"(decay {m.bottom.decay}), dead-code restarts, k-means initialisation, commitment beta {m.bottom.beta}.",
        "- A Naive Bayes prior per level over each code's 8 neighbours and its frequency row; temperature and "
        "a small back-off to the code frequencies chosen by cross-validation on the training maps.",
        *(
            [
                "- A masked-token Transformer prior per level ("
                + ", ".join(
                    f"{lv} {NeuralPrior(g).info.get('parameters', 0) / 1e6:.2f} M"
                    for lv, g in sorted(loaded.prior_nn.items())
                )
                + " parameters; below)."
            ]
            if loaded.prior_nn
            else []
        ),
        f"- Edits redraw a region's codes from the **{loaded.default_prior}** prior unless told `--prior`.",
        f"- Weights stored as float16 ({path.stat().st_size / 1e6:.1f} MB file, both priors included; the runtime "
        f"form `{path.name.removesuffix('.pt')}.onnx.npz` that edits load: "
        f"{path.with_name(path.name.removesuffix('.pt') + '.onnx.npz').stat().st_size / 1e6:.1f} MB)."
        if path.with_name(path.name.removesuffix(".pt") + ".onnx.npz").exists()
        else f"- Weights stored as float16 ({path.stat().st_size / 1e6:.1f} MB file, prior counts included).",
        "",
        "## Training data",
        "",
        *profile["data"](t, evals),
        "",
        "## Training",
        "",
        f"- `specblur train` with preset `{t.get('preset')}`, seed {t.get('seed')}: {t.get('steps')} steps of "
        f"batch {tr.batch_size} crops of {tr.segment_frames} frames "
        f"({(tr.segment_frames - 1) * s.hop_length / s.sample_rate:.2f} s), Adam at {tr.lr:g}, gradient clip "
        f"{tr.grad_clip:g}; on {t.get('device')} (2-core CPU), {wall / 60:.0f} minutes of training "
        "(wall time while sharing the machine with other work).",
    ]
    if energy:
        total_kwh = energy.get("train_kwh", 0.0) + energy.get("prior_kwh", 0.0)
        lines += [
            f"- Energy (codecarbon {energy.get('codecarbon')}, {energy.get('method')}; **an estimate**, no RAPL "
            f"counters on this VM): VQ-VAE training {energy.get('train_kwh', 0) * 1000:.1f} Wh, fitting the prior "
            f"{energy.get('prior_kwh', 0) * 1000:.2f} Wh, in all {total_kwh * 1000:.1f} Wh, "
            f"{energy.get('emissions_kg', 0) * 1000:.1f} g CO2eq at the grid intensity of "
            f"{energy.get('country')}"
            + (
                f" (the sum of the energy ledger's {energy['ledger_rows']} rows for this model: training resumed "
                "once, and the prior fitted again after a change to its calibration)."
                if energy.get("ledger_rows")
                else "."
            ),
        ]
    lines += _scaling(bench)
    history = t.get("history", [])
    if history:
        lines += [
            "",
            f"Learning curve ({tr.eval_files} held-out notes, as logged during training: mel LSD with a "
            "-100 dB floor, all frames and frames with a bin above -40 dB):",
            "",
            "| step | minutes | LSD (dB) | LSD active (dB) | perplexity top / bottom | unused top / bottom |",
            "|---|---|---|---|---|---|",
        ]
        initial = t.get("initial", {})
        if initial:
            lines.append(f"| 0 | 0 | {initial['lsd_db']:.2f} | {initial['lsd_active_db']:.2f} | - | - |")
        for h in history:
            lines.append(
                f"| {h['step']} | {h['wall_seconds'] / 60:.0f} | {h['lsd_db']:.2f} | {h['lsd_active_db']:.2f} "
                f"| {h['perplexity_top']:.0f} / {h['perplexity_bottom']:.0f} "
                f"| {h['unused_top']:.0%} / {h['unused_bottom']:.0%} |"
            )
    sets = [(label, r) for label, name in profile["sets"] if (r := _load(evals, name)) is not None]
    if sets:
        lines += [
            "",
            "## Reconstruction and codebook use",
            "",
            "`tools/evaluate.py recon`, first 4 s of each file. dB relative to each file's loudest bin, floored 60 dB "
            "below it; *active* frames have a bin within 30 dB of the loudest. Linear figures map the mel "
            "image back through the filterbank's pseudo-inverse, so they include what mel bands cannot hold "
            "(which does not matter for an edit: specblur applies the change to the input's own STFT).",
            "",
            *_recon_rows(sets),
        ]
        priors = [(label, r["prior"]) for label, r in sets if "prior" in r and "float32" not in label]
        training_prior = t.get("prior")
        if training_prior:
            priors.insert(0, (f"{tr.eval_files} held-out notes (logged at training)", training_prior))
        if priors:
            lines += [
                "",
                "## The prior over codes",
                "",
                "Top-1 accuracy and bits per code of each cell given its neighbours, against the unigram "
                "baseline (each code's overall frequency). *Varied* neighbourhoods are those not filled with "
                "one repeated code (silence flatters every figure).",
                "",
                *_prior_rows(priors),
            ]
    neural = t.get("prior_nn") or {}
    if loaded.prior_nn:
        compared = t.get("prior_compared") or {}
        naive = {level: m["naive_bayes"] for level, m in compared.items() if "naive_bayes" in m} or t.get("prior") or {}
        lines += [
            "",
            "## The neural prior, and which prior edits use",
            "",
            "A masked-token Transformer per level (`specblur/learn/prior_transformer.py`) that predicts hidden "
            "cells from the visible ones of a window of the map (the bottom level also sees the top codes), run by "
            f"onnxruntime at edit time. Edits use the **{loaded.default_prior}** prior unless told `--prior`. "
            + (
                _bits_claim(neural, naive, sets, profile["prior_maps"])
                + _fill_claim(_load(evals, "fill.json"))
                + _speed(bench)
                if loaded.default_prior == "transformer"
                else "The transformer has fewer held-out bits per code (below) but is the slower of the two: "
                + _speed(bench)
            ),
            "",
            "| level | neural: bits / code | accuracy | bits / code, half the cells hidden | Naive Bayes: bits / code "
            "| accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for level in ("bottom", "top"):
            n, b = neural.get(level, {}), naive.get(level, {})
            if n:
                lines.append(
                    f"| {level} | {n.get('bits', float('nan')):.2f} | {n.get('accuracy', float('nan')):.1%} "
                    f"| {n.get('bits_half', float('nan')):.2f} | {b.get('bits', float('nan')):.2f} "
                    f"| {b.get('accuracy', float('nan')):.1%} |"
                )
        real = [(label, r) for label, r in sets if "prior_nn" in r and "prior" in r and "float32" not in label]
        if real:
            lines += [
                "",
                "The same measure on the recon sets' codes (`tools/evaluate.py recon`; the transformer's bottom level "
                "sees the top codes):",
                "",
                "| set | level | transformer: bits / code | accuracy | Naive Bayes: bits / code | accuracy "
                "| unigram: bits / code |",
                "|---|---|---|---|---|---|---|",
            ]
            for label, r in real:
                for level in ("bottom", "top"):
                    n, b = r["prior_nn"].get(level), r["prior"].get(level)
                    if n and b:
                        lines.append(
                            f"| {label} | {level} | {n['bits']:.2f} | {n['accuracy']:.1%} | {b['bits']:.2f} "
                            f"| {b['accuracy']:.1%} | {b['unigram_bits']:.2f} |"
                        )
    fill = _load(evals, "fill.json")
    if fill:
        lines += [
            "",
            "## Hole filling",
            "",
            "`tools/evaluate_fill.py`: a hole cut at the loudest point of each file, filled from its context "
            "on the model's grid; LSD inside against the original image, and the seam (the dB step at the "
            "hole's edges beyond the original's). *oracle*: the original codes decoded (the decoder's floor); "
            "*interpolation*: each band's log-magnitude interpolated linearly across the hole.",
            "",
            "| set | hole | band | method | bottom codes right | LSD inside (dB) | seam (dB) | files |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for folder, table in fill.items():
            for key, v in table.items():
                ms, _, band, method = key.split(" ")
                acc = v["code_accuracy"]
                acc_text = "" if acc != acc else f"{acc:.1%}"
                lines.append(
                    f"| {Path(folder).name} | {ms} ms | {band} | {method} | {acc_text} | {v['lsd_db']:.2f} "
                    f"| {v['seam_db']:+.2f} | {v['n']} |"
                )
    edits = _load(evals, "edits.json")
    if edits:
        lines += [
            "",
            "## The blur against two baselines",
            "",
            f"`tools/evaluate.py edits` on {edits['files']} real recordings, region {edits['time']} s x "
            f"{edits['freq']} Hz, {edits['seeds']} seeds each. *Seam*: how much larger the dB step across the "
            "region's edges is than in the original (0 = seamless). *Distance*: LSD inside the region between "
            "the output and the original (how much was changed).",
            "",
            "| method | seam (dB) | distance inside (dB) |",
            "|---|---|---|",
        ]
        for method, label in (
            ("prior", "specblur (prior)"),
            ("gaussian", "Gaussian blur of the log-magnitude"),
            ("unigram", "codes drawn from the unigram"),
        ):
            r = edits["methods"][method]
            lines.append(f"| {label} | {r['seam_db']:.2f} | {r['inside_lsd_db']:.2f} |")
    lines += profile["extra"](loaded, evals)
    lines += _edits_on_held_out()
    lines += ["", "## Recipe", "", "```sh", *profile["recipe"](loaded), "```", "", "## Limits", "", *profile["limits"]]
    return "\n".join(lines) + "\n"


# -- what differs between presets: the training data, the evaluation files, the recipe, the limits -----


def _data_16k(t: dict, evals: Path | None) -> list[str]:
    return [
        f"- {t.get('train_files')} training notes ({t.get('train_seconds_of_audio', 0) / 3600:.1f} h) and "
        f"{t.get('heldout_files')} held-out notes, rendered offline with FluidSynth by "
        "`tools/render_corpus.py` (seed 0, 10,000 drawn, notes under -60 dB RMS dropped): General MIDI "
        "programs 0-111 of three soundfonts (FluidR3_GM, MIT; MuseScore_General_Lite, MIT; TimGM6mb, GPL-2), "
        "pitches 24-96, velocities 25-127, 4 s notes held 3 s, 16 kHz mono, reverb and chorus off.",
        "- The held-out split is by instrument (a soundfont's program), about 10% of instruments: no "
        "instrument is on both sides.",
    ]


def _recipe_16k(loaded: checkpoint.LoadedModel) -> list[str]:
    t, tr = loaded.training, loaded.model.config.train
    name = loaded.name
    return [
        "bash tools/build_corpus.sh corpus --count 10000 --seed 0             # ~5 min (apt, pyfluidsynth, render)",
        f"specblur train corpus --name {name} --seed {t.get('seed')}                         # ~1 h on 2 cores",
        *(
            [
                f"specblur train corpus --name {name} --seed {t.get('seed')} --resume --steps {t.get('steps')}"
                "   # continued"
            ]
            if t.get("steps") != tr.steps
            else []
        ),
        *([f"specblur fit-prior corpus -m {name}    # the shipped prior was refit"] if t.get("prior_data") else []),
        f"python tools/bundle_model.py ~/.local/share/specblur/models/{name}.pt {name} --half",
        *(
            [
                "python tools/train_prior_nn.py encode corpus codes.npz                    # the corpus's code maps",
                "python tools/train_prior_nn.py train codes.npz --level top --steps 4500 --out top.onnx",
                "python tools/train_prior_nn.py train codes.npz --level bottom --steps 4000 --out bottom.onnx",
                "python tools/train_prior_nn.py evaluate codes.npz --onnx-dir . --out prior_nn.json   # both priors",
                f"python tools/bundle_model.py models/{name}.pt {name} --half --prior-nn top=top.onnx "
                "--prior-nn bottom=bottom.onnx --prior-nn-metrics metrics.json   # {level: {neural, naive_bayes}}",
                "python tools/evaluate_fill.py corpus real/sonic-pi --limit 40 --holes 32 64 128 256 512 1000 "
                "--temperatures 0.5 0.1 --json docs/eval/fill.json",
                "python tools/evaluate_repair_phase.py corpus10k real/sonic-pi real/salamander --limit 30 "
                "--json docs/eval/repair_phase.json",
            ]
            if loaded.prior_nn
            else []
        ),
        f"python tools/evaluate.py recon corpus --heldout --max-files 1000 --model {name} "
        "--json docs/eval/heldout.json",
        "bash tools/fetch_real.sh real",
        f"python tools/evaluate.py recon real/sonic-pi --model {name} --json docs/eval/sonic-pi.json",
        f"python tools/evaluate.py recon real/salamander --model {name} --json docs/eval/salamander.json",
        "python tools/evaluate.py edits real/sonic-pi/*.flac real/salamander/C*v12.ogg --min-seconds 2.5 "
        f"--model {name} --json docs/eval/edits.json",
        f"python tools/model_card.py models/{name}.pt --eval docs/eval --bench docs/bench/16k --note ... "
        f"> docs/MODEL_CARD.{name}.md",
    ]


def _data_fullband(t: dict, evals: Path | None) -> list[str]:
    lines = [
        f"- {t.get('train_files')} training files ({t.get('train_seconds_of_audio', 0) / 3600:.1f} h) and "
        f"{t.get('heldout_files')} held-out ones, all at 44.1 kHz, built offline by one script "
        "(`tools/build_fullband_corpus.sh`) from Debian packages:",
        "  - instrument notes rendered with FluidSynth (`tools/render_corpus.py --rate 44100`: General MIDI "
        "programs 0-111 of three soundfonts, pitches 24-96, velocities 25-127, 4 s notes held 3 s, reverb and "
        "chorus off);",
        "  - real recordings (`tools/real_corpus.py`): drum kits, an organ's pipes, and sonic-pi's samples, cut "
        "into clips of at most 4 s where they sound, each clip's source file and licence recorded.",
        "- Held out whole: about 10-15% of each source's instruments (a soundfont's program, a drum kit, an "
        "organ stop), and one real source never seen in training at all (sonic-pi-samples).",
        "- No augmentation (gain, reverb, mixes of two sources); see Where augmentation could help.",
    ]
    sources = _load(evals, "sources.json")
    if sources:
        lines += [
            "",
            "| source (Debian package, version) | kind | files | seconds | licences | held out |",
            "|---|---|---|---|---|---|",
        ]
        for name, src in sorted(sources.items()):
            held = "all of it" if src.get("held_out_whole") else ", ".join(src.get("held_out_instruments", []))
            licences = "; ".join(f"{k} ({v})" for k, v in src.get("licences", {}).items())
            lines.append(
                f"| {name} {src.get('version', '')} | {src.get('kind', '')} | {src.get('files', src.get('clips'))} "
                f"| {src.get('seconds', 0):.0f} | {licences} | {held} |"
            )
        lines += ["", "Each package's copyright file (`/usr/share/doc/PACKAGE/copyright`) has the full terms."]
    return lines


def _recipe_fullband(loaded: checkpoint.LoadedModel) -> list[str]:
    t = loaded.training
    name = loaded.name
    return [
        "bash tools/build_fullband_corpus.sh /tmp/fullband              # ~12 min (apt, render, cut the clips)",
        f"bash tools/train_fullband.sh /tmp/fullband --name {name} --cooldown {t.get('cooldown', 0)}"
        f"   # ~{(t.get('wall_seconds', 0) + t.get('energy', {}).get('prior_s', 0)) / 3600:.1f} h on 2 cores "
        "(the VQ-VAE, then both priors); rerun to resume",
        f"python tools/bundle_model.py ~/.local/share/specblur/models/{name}.pt {name} --half",
        "D=docs/eval/fullband; cp /tmp/fullband/real/sources.json $D/",
        f"python tools/evaluate.py recon /tmp/fullband/notes --heldout --max-files 2000 --model {name} "
        "--json $D/notes.json",
        f"python tools/evaluate.py recon /tmp/fullband/real --heldout --max-files 2000 --model {name} "
        "--json $D/real.json",
        f"python tools/evaluate.py recon /usr/share/sonic-pi/samples --max-files 2000 --model {name} "
        "--json $D/sonic-pi.json",
        "apt-get install pocketsphinx-testdata wesnoth-1.16-music alsa-utils   # never trained on",
        f"python tools/evaluate.py recon /usr/share/pocketsphinx/test/data --model {name} --json $D/speech.json",
        f"python tools/evaluate.py recon /usr/share/games/wesnoth/1.16/data/core/music --offset 30 --model {name} "
        "--json $D/wesnoth.json",
        f"python tools/evaluate.py recon /usr/share/sounds/alsa --model {name} --json $D/alsa.json",
        "# the same three with --model 16k.pt (git show 1a21a3c:models/default.pt) and --no-prior, into $D/16k.*.json",
        "python tools/evaluate.py recon corpus --heldout --max-files 400 --no-prior --model default "
        "--json $D/notes16k.json   # and the 16 kHz model into $D/16k.notes16k.json",
        "for set in notes real; do for a in plain:'' gain-20:'--gain-db -20' reverb1:'--reverb 1.0' mix:--mix; do",
        "  python tools/evaluate.py recon /tmp/fullband/$set --heldout --max-files 80 --no-prior --model default "
        "${a#*:} --json $D/robust.$set.${a%%:*}.json; done; done",
        "python tools/evaluate_fill.py /tmp/fullband/notes /tmp/fullband/real /usr/share/sonic-pi/samples --limit 40 "
        f"--holes 32 64 128 256 512 1000 --model {name} --json $D/fill.json",
        "python benchmarks/priors.py --json docs/bench/priors.json",
        "python benchmarks/train_scaling.py --json docs/bench/train_scaling.json",
        "python benchmarks/precision.py --steps 200 --json docs/bench/precision.json",
        f"python tools/model_card.py models/{name}.pt --eval $D --bench docs/bench > models/MODEL_CARD.md",
    ]


def _extra_fullband(loaded: checkpoint.LoadedModel, evals: Path | None) -> list[str]:
    """The issue's targets, and the 16 kHz model on the same files and the same band."""
    ours = {k: _load(evals, f"{k}.json") for k in ("notes", "real", "sonic-pi")}
    theirs = {k: _load(evals, f"16k.{k}.json") for k in ours}
    if not all(ours.values()):
        return []
    labels = {
        "notes": "held-out notes",
        "real": "held-out real clips",
        "sonic-pi": "sonic-pi (never trained on)",
        "notes16k": "16 kHz files: the 16 kHz model's held-out notes",
    }
    lines = [
        "",
        "## Against the 16 kHz model, on the same files and the same band",
        "",
        "Both models on the same files (`tools/evaluate.py recon`, first 4 s), over the band both cover, 0-8 kHz: "
        "*mel* is the mel LSD on active frames over each model's own mel bands centred at or below 8 kHz (the "
        "issue's measure; all of the 16 kHz model's bands); *linear* is the LSD over the linear STFT bins up to "
        "8 kHz, the mel image mapped back through the filterbank's pseudo-inverse (each model's own FFT: 21.5 "
        "Hz bins here, 15.6 Hz at 16 kHz), dB against the loudest of them, active frames.",
        "",
        "| set | files | this model: mel 0-8 kHz (dB) | 16 kHz model: mel (dB) | this model: linear 0-8 kHz (dB) "
        "| 16 kHz model: linear 0-8 kHz (dB) |",
        "|---|---|---|---|---|---|",
    ]

    def low_mel(r: dict, all_below: bool = False) -> float:
        # the 16 kHz model's bands all lie below 8 kHz: its whole-image figure is the same measure
        whole = r.get("lsd_mel_active_db", float("nan")) if all_below else float("nan")
        return r.get("lsd_mel_active_0_8k_db", whole)

    rows = dict(ours)
    if _load(evals, "notes16k.json") and _load(evals, "16k.notes16k.json"):
        # 16 kHz material: the 16 kHz model's own held-out notes (their instruments held out of both models)
        rows["notes16k"], theirs["notes16k"] = _load(evals, "notes16k.json"), _load(evals, "16k.notes16k.json")
    for key, r in rows.items():
        o = theirs.get(key) or {}
        lines.append(
            f"| {labels[key]} | {r['files']} | {low_mel(r):.2f} | {low_mel(o, True):.2f} "
            f"| {r.get('lsd_lin_active_0_8k_db', float('nan')):.2f} "
            f"| {o.get('lsd_lin_active_0_8k_db', float('nan')):.2f} |"
        )
    variants = [("plain", "as they are"), ("gain-20", "20 dB quieter")]
    variants += [("reverb1", "in a synthetic room (RT60 1 s)"), ("mix", "mixed with another file")]
    robust = {(k, v): _load(evals, f"robust.{k}.{v}.json") for k in ("notes", "real") for v, _ in variants}
    if all(robust.values()):
        lines += [
            "",
            "## Where augmentation could help",
            "",
            "The model was trained without augmentation. `tools/evaluate.py recon --gain-db/--reverb/--mix` on the "
            "first 80 held-out files of each set, altered as below: a training augmentation can only close a "
            "gap between the plain and the altered figures (mel LSD on active frames, dB). A quieter file measures "
            "better in part because the measure looks 60 dB below each file's peak and some of that range falls "
            "under the image's -100 dB floor, where there is nothing to get wrong: no level problem shows.",
            "",
            "| files | " + " | ".join(label for _, label in variants) + " |",
            "|---|" + "---|" * len(variants),
        ]
        for key in ("notes", "real"):
            cells = [f"{robust[(key, v)]['lsd_mel_active_db']:.2f}" for v, _ in variants]
            lines.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
    per_set = {k: (r["unused_top"], r["unused_bottom"]) for k, r in ours.items()}
    # a code unused on all held-out files together is unused in every set: at most the fewest of any set
    union_unused = max(min(v[0] for v in per_set.values()), min(v[1] for v in per_set.values()))
    real_lsd = max(ours["real"]["lsd_mel_active_db"], ours["sonic-pi"]["lsd_mel_active_db"])
    ours_8k, theirs_8k = low_mel(ours["notes"]), low_mel(theirs["notes"] or {}, True)
    ours_lin = ours["notes"].get("lsd_lin_active_0_8k_db", float("nan"))
    theirs_lin = (theirs["notes"] or {}).get("lsd_lin_active_0_8k_db", float("nan"))
    notes_ok = ours_8k <= theirs_8k
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| held-out real recordings: mel LSD on active frames at most 2.3 dB | {real_lsd:.2f} dB (worst of the "
        f"held-out clips and sonic-pi) | {'yes' if real_lsd <= 2.3 else 'no'} |",
        f"| held-out notes no worse than the 16 kHz model on the same band (0-8 kHz) "
        f"| mel LSD, active frames, bands up to 8 kHz: {ours_8k:.2f} against {theirs_8k:.2f} dB (on the linear "
        f"bins up to 8 kHz: {ours_lin:.2f} against {theirs_lin:.2f} dB"
        + (", worse" if ours_lin > theirs_lin else "")
        + f") | {'yes' if notes_ok else 'no'}"
        + (" on the issue's measure, not on the linear one" if notes_ok and ours_lin > theirs_lin else "")
        + " |",
        f"| at most 1% unused codes | over all held-out files together at most {union_unused:.1%} (top, bottom "
        "per set: "
        + "; ".join(f"{labels[k]} {t:.1%}, {b:.1%}" for k, (t, b) in per_set.items())
        + f") | {'yes' if union_unused <= 0.01 else 'no'} |",
    ]
    return lines


PROFILES = {
    "default": {
        "data": _data_16k,
        "sets": [
            ("held-out rendered notes", "heldout.json"),
            ("held-out notes, float32 weights", "heldout-float32.json"),
            ("sonic-pi recordings (real, CC0)", "sonic-pi.json"),
            ("Salamander piano notes (real)", "salamander.json"),
        ],
        "prior_maps": "`docs/eval/prior_nn.json`: 200 notes of instruments never trained on",
        "extra": lambda loaded, evals: [],
        "recipe": _recipe_16k,
        "limits": [
            "- Trained on isolated, dry, synthesised instrument notes: speech, dense mixes and noise are outside "
            "what it has seen (the sonic-pi figures show how it fares on real material).",
            "- 16 kHz model: nothing above 8 kHz is ever edited; higher bands of a 44.1 kHz file pass through "
            "untouched.",
        ],
    },
    "fullband": {
        "data": _data_fullband,
        "sets": [
            ("held-out notes (whole instruments)", "notes.json"),
            ("held-out real clips (whole kits and stops, and sonic-pi)", "real.json"),
            ("sonic-pi samples (a source never trained on)", "sonic-pi.json"),
            ("speech: pocketsphinx's test recordings (never trained on)", "speech.json"),
            ("dense mixes: Battle for Wesnoth's music, 4 s from 30 s in (never trained on)", "wesnoth.json"),
            ("alsa-utils' spoken channel names (never trained on)", "alsa.json"),
        ],
        "prior_maps": "the files held out at training",
        "extra": _extra_fullband,
        "recipe": _recipe_fullband,
        "limits": [
            "- Its real material is drums, organ pipes and sonic-pi's samples besides the rendered notes: speech, "
            "singing and dense mixes are outside what it has seen. Measured on them (the tables above: speech, "
            "Wesnoth's mixes, alsa-utils' voice), the VQ-VAE reconstructs them somewhat less closely than sonic-pi's "
            "samples, while both priors predict their codes far less well than those of the material they were "
            "fitted on (bits per code nearer the unigram's). An edit applies its change to the input's own "
            "STFT, and the blur's and repair's tables (README) measure what edits keep of such material.",
            "- Files at other rates are resampled to 44.1 kHz for the codes; the change is applied to the "
            "input's own STFT at its own rate. Above 22.05 kHz (a 96 kHz file's top octave) nothing is edited.",
        ],
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--eval", type=Path, help="folder of evaluate.py JSON files")
    p.add_argument("--bench", type=Path, help="folder of benchmarks/*.py --json files")
    p.add_argument("--note", default="", help="a paragraph to put under the title")
    args = p.parse_args()
    print(card(args.checkpoint, args.eval, args.bench, args.note), end="")


if __name__ == "__main__":
    main()
