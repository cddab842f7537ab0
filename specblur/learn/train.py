"""The training loop: random crops → log-spectrogram images → VQ-VAE-2, with held-out evaluation.

Reproducible: the same seed, data and machine give the same weights (all randomness comes from
seeded torch generators; the crop generator's state is saved with the run). A run's resumable state
(weights, optimiser, step, generator states, history) is written at every evaluation and on Ctrl-C
or SIGTERM to ``<data dir>/runs/<name>.pt``; ``--resume`` continues it. The finished model goes to
``<data dir>/models/<name>.pt``, with the Naive Bayes prior over its codes fitted as the last stage.

The learning rate is constant, then, with a ``cooldown`` fraction, falls linearly to zero over that
last part of the steps (a cool-down: at a constant rate the held-out LSD of the 16 kHz model wobbled
by 0.6 dB between evaluations). The rate is a function of the step and the total alone
(:func:`learning_rate`), so a resumed run follows the same schedule; resuming with more ``--steps``
recomputes it for the new total.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specblur import energy
from specblur.config import Config
from specblur.errors import SpecblurError, UsageError
from specblur.learn import checkpoint, data
from specblur.learn.metrics import lsd_db, usage
from specblur.learn.model import VQVAE2
from specblur.priors.naive_bayes import LevelPrior
from specblur.runtime import registry


class Interrupted(SpecblurError):
    """Training stopped by Ctrl-C or SIGTERM after saving a resumable state."""

    exit_code = 130


@dataclass
class TrainOptions:
    roots: list[Path]
    name: str
    config: Config
    preset: str = "custom"
    steps: int | None = None
    epochs: float | None = None
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    families: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    output: Path | None = None
    """Where the finished model goes; ``<data dir>/models/<name>.pt`` when ``None``."""
    country: str | None = None
    """Country of the grid for the energy ledger's emissions (see :mod:`specblur.energy.ledger`)."""
    cooldown: float = 0.0
    """Fraction of the steps, at the end, over which the learning rate falls linearly to zero."""
    log: Callable[[str], None] = field(default=lambda message: None)


def run_path(name: str) -> Path:
    return registry.data_dir() / "runs" / f"{registry.check_name(name)}.pt"


def learning_rate(base: float, step: int, total: int, cooldown: float) -> float:
    """The rate of the step that follows ``step`` steps done: ``base``, then over the last
    ``n = round(cooldown * total)`` steps a straight line towards zero, the k-th of them at
    ``base * (n + 1 - k) / (n + 1)`` (so the last is at ``base / (n + 1)``)."""
    if not 0.0 <= cooldown <= 1.0:
        raise UsageError(f"--cooldown {cooldown:g}: give a fraction of the steps from 0 to 1")
    n = round(cooldown * total)
    start = total - n
    if n == 0 or step < start:
        return base
    return base * max(total - step, 1) / (n + 1)


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device here; use --device cpu or auto")
    return torch.device(device)


def evaluate(model: VQVAE2, images: list[torch.Tensor], device: torch.device) -> dict[str, float]:
    """Held-out metrics over whole images ``(1, 1, bins, frames)``."""
    spec = model.spectrogram
    was_training = model.training
    model.eval()
    lsd, lsd_active, mse = [], [], []
    tops, bottoms = [], []
    with torch.no_grad():
        for image in images:
            image = image.to(device)
            out = model(image)
            ref_db, est_db = spec.to_db(image).cpu(), spec.to_db(out.reconstruction).cpu()
            lsd.append(lsd_db(ref_db, est_db))
            active = lsd_db(ref_db, est_db, active_db=-40.0)
            if not math.isnan(active):
                lsd_active.append(active)
            mse.append(float(out.recon_loss))
            tops.append(out.top.indexes.reshape(-1).cpu())
            bottoms.append(out.bottom.indexes.reshape(-1).cpu())
    model.train(was_training)
    m = model.config.model
    ppl_top, unused_top = usage(torch.cat(tops), m.top.num_codes)
    ppl_bottom, unused_bottom = usage(torch.cat(bottoms), m.bottom.num_codes)
    return {
        "recon_mse": sum(mse) / len(mse),
        "lsd_db": sum(lsd) / len(lsd),
        "lsd_active_db": sum(lsd_active) / len(lsd_active) if lsd_active else float("nan"),
        "perplexity_top": ppl_top,
        "perplexity_bottom": ppl_bottom,
        "unused_top": unused_top,
        "unused_bottom": unused_bottom,
    }


def code_maps(model: VQVAE2, waves: list, batch: int = 16) -> dict[str, list]:
    """Encode whole waveforms; returns each level's ``(rows, cols)`` code maps as numpy arrays."""
    model.eval()
    out: dict[str, list] = {"top": [], "bottom": []}
    by_length: dict[int, list] = {}
    for w in waves:
        by_length.setdefault(len(w), []).append(w)
    for _, group in sorted(by_length.items()):
        for lo in range(0, len(group), batch):
            wave = torch.from_numpy(np.stack(group[lo : lo + batch]))
            codes = model.encode(model.spectrogram.features(wave).unsqueeze(1))
            out["top"] += list(codes.top.numpy())
            out["bottom"] += list(codes.bottom.numpy())
    return out


def fit_prior(
    model: VQVAE2, train_waves: list, heldout_waves: list, radius: int = 1, alpha: float = 1.0
) -> tuple[dict[str, LevelPrior], dict[str, dict[str, float]]]:
    """Fit each level's Naive Bayes prior on the training files' codes.

    Temperature and unigram back-off are chosen by cross-validation over the training files (see
    :meth:`LevelPrior.calibrate`); the counts use every training file; the metrics are on the
    held-out files.
    """
    train_maps = code_maps(model, train_waves)
    held_maps = code_maps(model, heldout_waves) if heldout_waves else None
    priors: dict[str, LevelPrior] = {}
    metrics: dict[str, dict[str, float]] = {}
    for level, maps in train_maps.items():
        k = getattr(model.config.model, level).num_codes
        prior = LevelPrior.fit(maps, k, radius, alpha)
        prior.temperature, prior.mix = LevelPrior.calibrate(maps, k, radius, alpha)
        priors[level] = prior
        if held_maps is not None:
            metrics[level] = prior.evaluate(held_maps[level])
    return priors, metrics


def fit_neural_prior(
    model: VQVAE2,
    train_waves: list,
    heldout_waves: list,
    *,
    name: str,
    preset: str = "default",
    seed: int = 0,
    resume: bool = False,
    steps: int | None = None,
    log: Any = print,
) -> tuple[dict[str, bytes], dict[str, dict[str, float]]]:
    """Train each level's neural prior (:mod:`specblur.learn.prior_transformer`) on the training files' codes, top
    first (the bottom level's also sees the top codes); returns the ONNX graphs and held-out metrics.

    Each level's run saves a resumable state in the data dir (``runs/NAME.prior_nn.LEVEL.pt``);
    ``resume`` continues it. Same seed, data and machine: same priors.
    """
    from specblur.learn import prior_transformer as prior_nn

    train_maps = code_maps(model, train_waves)
    held_maps = code_maps(model, heldout_waves) if heldout_waves else None
    graphs: dict[str, bytes] = {}
    metrics: dict[str, dict[str, float]] = {}
    for level in ("top", "bottom"):
        state = registry.data_dir() / "runs" / f"{registry.check_name(name)}.prior_nn.{level}.pt"
        state.parent.mkdir(parents=True, exist_ok=True)
        fitted = prior_nn.fit_prior_nn(
            train_maps[level],
            getattr(model.config.model, level).num_codes,
            level=level,
            top_maps=train_maps["top"] if level == "bottom" else None,
            top_codes=model.config.model.top.num_codes,
            preset=preset if preset in prior_nn.PRESETS else "default",
            steps=steps,
            seed=seed,
            state_path=state,
            resume=resume and state.is_file(),
            log=log,
            heldout=(held_maps[level], held_maps["top"] if level == "bottom" else None) if held_maps else None,
        )
        graphs[level] = prior_nn.export_prior_nn(fitted)
        metrics[level] = dict(fitted.record.get("heldout") or {})
    return graphs, metrics


def better_prior(naive: dict[str, dict[str, float]], neural: dict[str, dict[str, float]]) -> str:
    """The prior with fewer held-out bits per code on the bottom level (the one edits redraw by
    default); Naive Bayes when either was not measured."""
    a, b = naive.get("bottom", {}).get("bits"), neural.get("bottom", {}).get("bits")
    return "transformer" if a is not None and b is not None and b < a else "naive-bayes"


def _describe_eval(m: dict[str, float]) -> str:
    return (
        f"step {m['step']}: held-out LSD {m['lsd_db']:.2f} dB (active {m['lsd_active_db']:.2f}), perplexity "
        f"{m['perplexity_top']:.0f}/{m['perplexity_bottom']:.0f}, unused codes "
        f"{m['unused_top']:.0%}/{m['unused_bottom']:.0%}"
    )


def describe_prior(metrics: dict[str, dict[str, float]]) -> str:
    return "; ".join(
        f"{level}: held-out accuracy {m['accuracy']:.1%} (unigram {m['unigram_accuracy']:.1%}), "
        f"{m['bits']:.2f} bits/code (unigram {m['unigram_bits']:.2f}), T={m['temperature']:g}, "
        f"back-off {m.get('mix', 0.0):g}"
        for level, m in metrics.items()
    )


def train(opts: TrainOptions, progress: Any = None) -> Path:
    """Train a model; returns the path of the finished checkpoint. ``progress`` is a callback
    ``progress(step, total, stats: dict)`` for a progress bar."""
    cfg = opts.config
    tcfg = cfg.train
    learning_rate(tcfg.lr, 0, 1, opts.cooldown)  # a bad --cooldown fails before the data is read
    device = pick_device(opts.device)
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)

    items = data.collect(opts.roots, opts.families, opts.sources)
    train_items, heldout_items = data.split(items, tcfg.holdout_fraction)
    if not train_items:
        raise UsageError("every file landed in the held-out split; give more than one file")
    sr = cfg.spectrogram.sample_rate
    opts.log(f"loading {len(train_items)} training and {len(heldout_items)} held-out files")
    waves = data.load_waves(train_items, sr, warn=opts.log)
    seg_samples = (tcfg.segment_frames - 1) * cfg.spectrogram.hop_length
    crops = data.Crops(waves, seg_samples)
    model = VQVAE2(cfg).to(device)
    spec = model.spectrogram
    # evaluation files spread over the held-out set (its first files may all be one instrument)
    spread = heldout_items[:: max(1, len(heldout_items) // tcfg.eval_files)][: tcfg.eval_files]
    eval_waves = data.load_waves(spread, sr, warn=opts.log) or waves[: tcfg.eval_files]
    eval_images = [spec.features(torch.from_numpy(w))[None, None] for w in eval_waves]

    if opts.steps is not None:
        total = opts.steps
    elif opts.epochs is not None:
        total = max(1, math.ceil(opts.epochs * len(waves) / tcfg.batch_size))
    else:
        total = tcfg.steps
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    step = 0
    history: list[dict[str, float]] = []
    wall = 0.0
    initial: dict[str, float] = {}
    spent: dict[str, Any] = {}
    meter = energy.Meter("train", opts.name, opts.country)
    run_file = run_path(opts.name)
    if opts.resume:
        if not run_file.is_file():
            raise UsageError(f"--resume: no saved run {run_file}; start without --resume")
        state = checkpoint.load(run_file)
        if state.model.config != cfg:
            raise UsageError(f"--resume: {run_file} was trained with another config; use the same --preset")
        model.load_state_dict(state.model.state_dict())
        model.to(device)
        extra = state.extra
        optimizer.load_state_dict(extra["optimizer"])
        step = int(extra["step"])
        torch.set_rng_state(extra["torch_rng"])
        gen.set_state(extra["data_rng"])
        history = list(state.training.get("history", []))
        initial = dict(state.training.get("initial", {}))
        spent = dict(state.training.get("energy", {}))
        wall = float(state.training.get("wall_seconds", 0.0))
        opts.log(f"resuming {opts.name} at step {step}")
    else:
        initial = evaluate(model, eval_images, device)
        opts.log(f"untrained: held-out LSD {initial['lsd_db']:.2f} dB")

    def record() -> dict[str, Any]:
        return {
            "data": [str(r) for r in opts.roots],
            "families": list(opts.families),
            "sources": list(opts.sources),
            "train_files": len(waves),
            "heldout_files": len(heldout_items),
            "train_seconds_of_audio": float(sum(len(w) for w in waves) / sr),
            "preset": opts.preset,
            "cooldown": opts.cooldown,
            "seed": opts.seed,
            "steps": step,
            "wall_seconds": wall,
            "device": str(device),
            "initial": initial,
            "heldout": history[-1] if history else {},
            "history": history,
            "energy": spent,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def save_run() -> None:
        extra = {
            "optimizer": optimizer.state_dict(),
            "step": step,
            "torch_rng": torch.get_rng_state(),
            "data_rng": gen.get_state(),
        }
        checkpoint.save(run_file, model.cpu(), opts.name, record(), extra)
        model.to(device)

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    model.train()
    started = time.perf_counter() - wall
    first_step = step
    seg_seconds = seg_samples / sr
    interrupted = False
    measured = energy.Measurement("train")
    try:
        try:
            with meter.measure("train") as measured:
                try:
                    while step < total:
                        for group in optimizer.param_groups:
                            group["lr"] = learning_rate(tcfg.lr, step, total, opts.cooldown)
                        stats = _train_step(model, optimizer, crops, gen, tcfg, device)
                        step += 1
                        wall = time.perf_counter() - started
                        if progress is not None:
                            progress(step, total, stats)
                        if step % tcfg.eval_every == 0 or step == total:
                            history.append(
                                evaluate(model, eval_images, device)
                                | {"step": step, "wall_seconds": wall, "lr": optimizer.param_groups[0]["lr"]}
                            )
                            opts.log(_describe_eval(history[-1]))
                            save_run()
                finally:
                    measured.audio_s = (step - first_step) * tcfg.batch_size * seg_seconds
        except KeyboardInterrupt:
            interrupted = True
        meter.add_to(spent, measured)
        save_run()  # the run's state carries this segment's energy, so a later --resume keeps counting
        if interrupted:
            raise Interrupted(f"interrupted at step {step}; saved {run_file}; continue with --resume")
    finally:
        signal.signal(signal.SIGTERM, previous)
    model.cpu()
    opts.log("fitting the prior over codes")
    held_waves = eval_waves if heldout_items else []
    with meter.measure("prior", audio_s=sum(len(w) for w in waves) / sr) as measured:
        priors, prior_metrics = fit_prior(model, waves, held_waves)
    meter.add_to(spent, measured)
    if prior_metrics:
        opts.log(describe_prior(prior_metrics))
    opts.log("fitting the neural prior over codes")
    with meter.measure("prior", audio_s=sum(len(w) for w in waves) / sr) as measured:
        graphs, neural_metrics = fit_neural_prior(
            model,
            waves,
            held_waves,
            name=opts.name,
            preset=opts.preset,
            seed=opts.seed,
            resume=opts.resume,
            log=opts.log,
        )
    meter.add_to(spent, measured)
    if spent:
        wh = {k: spent.get(f"{k}_kwh", 0.0) * 1000 for k in ("train", "prior")}
        opts.log(
            f"energy: training {wh['train']:.3g} Wh, prior {wh['prior']:.3g} Wh, "
            f"{spent.get('emissions_kg', 0.0) * 1000:.3g} g CO2eq ({spent.get('method')}, grid {spent.get('country')})"
        )
    info = record()
    info["prior"] = prior_metrics
    info["prior_nn"] = neural_metrics
    default_prior = better_prior(prior_metrics, neural_metrics)
    opts.log(f"edits use the {default_prior} prior by default (fewer held-out bits per bottom code)")
    target = opts.output or registry.model_path(opts.name)
    checkpoint.save(target, model, opts.name, info, prior=priors, prior_nn=graphs, default_prior=default_prior)
    from specblur.learn import export

    # the runtime form beside it: what edits load (no torch), graphs exported from the saved file
    export.write_runtime(checkpoint.load(target), export.runtime_path(target))
    return target


def _train_step(
    model: VQVAE2, optimizer: torch.optim.Optimizer, crops: data.Crops, gen: torch.Generator, tcfg: Any, device: Any
) -> dict[str, Any]:
    """One optimiser step on a batch of random crops; returns its statistics for the progress bar."""
    wave = crops.batch(tcfg.batch_size, gen)
    images = model.spectrogram.features(wave).unsqueeze(1).to(device)
    out = model(images)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    if tcfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
    optimizer.step()
    return {
        "loss": out.loss.item(),
        "rec_db": model.config.spectrogram.norm_std_db * out.recon_loss.item() ** 0.5,
        "ppl": (float(out.top.perplexity), float(out.bottom.perplexity)),
        "dead": (float(out.top.dead_fraction), float(out.bottom.dead_fraction)),
    }


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
