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

Under ``torchrun`` (:mod:`specblur.learn.distributed`) every process trains one replica with
DistributedDataParallel; ``batch_size`` is the batch of a step over all processes, each taking its
share, so N processes take the same crops per step as one (:class:`specblur.learn.data.Order`) and
a run saved by N processes resumes on any number that divides the batch. Only rank 0 evaluates,
writes the run state, the model, the log and the ledger; every rank's energy is summed into one
ledger row per stage. On CUDA the forward pass runs under bfloat16 autocast (the quantizer in
float32); on CPU in float32.
"""

from __future__ import annotations

import math
import resource
import signal
import sys
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
from specblur.errors import DataError, SpecblurError, UsageError
from specblur.learn import checkpoint, data, distributed
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
    loading: str = "auto"
    """``memory`` (decode the corpus once, crops from memory), ``stream`` (DataLoader workers decode
    each crop's span when it is needed) or ``auto`` (memory when the decoded corpus is estimated
    under :data:`specblur.learn.data.MEMORY_LIMIT`)."""
    workers: int | None = None
    """DataLoader worker processes per training process when streaming (``None``: from the cores)."""
    strict: bool = False
    """An unreadable file stops the job instead of being skipped with a warning."""
    prior_steps: int | None = None
    """Optimiser steps of each level's neural prior (``None``: its preset's)."""
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
            with torch.no_grad():
                codes = model.encode(model.spectrogram.features(wave).unsqueeze(1))
            out["top"] += list(codes.top.numpy())
            out["bottom"] += list(codes.bottom.numpy())
    return out


def corpus_maps(
    model: VQVAE2,
    source: list,
    rate: int,
    world: distributed.World,
    warn: Callable[[str], None] | None = None,
    strict: bool = False,
) -> tuple[dict[str, list], float]:
    """(code maps, seconds of audio encoded) of every file of ``source`` (decoded waveforms, or items
    decoded here 16 at a time, so memory holds 16 files, not the corpus), each rank encoding every ``size``-th file from
    its rank on; every rank gets all maps back, in ``source``'s order, and the seconds of them all."""
    mine: dict[str, list] = {"top": [], "bottom": []}
    samples = 0
    share = list(range(world.rank, len(source), world.size))
    for lo in range(0, len(share), 16):
        chunk = [source[i] for i in share[lo : lo + 16]]
        if chunk and isinstance(chunk[0], data.Item):
            chunk = data.load_waves(chunk, rate, warn=warn, strict=strict)
        chunk = [w for w in chunk if len(w)]
        samples += sum(len(w) for w in chunk)
        got = code_maps(model, chunk)
        for level in mine:
            mine[level] += [m.astype(np.int16) for m in got[level]]
    parts = distributed.gather(mine)
    out: dict[str, list] = {"top": [], "bottom": []}
    longest = max(len(p["top"]) for p in parts)
    for j in range(longest):  # back to the corpus's order (file j x size + rank)
        for p in parts:
            if j < len(p["top"]):
                for level in out:
                    out[level].append(p[level][j].astype(np.int64))
    return out, float(distributed.sum_(np.array([samples], dtype=np.int64))[0] / rate)


def fit_prior(
    model: VQVAE2,
    train_maps: dict[str, list],
    held_maps: dict[str, list] | None,
    radius: int = 1,
    alpha: float = 1.0,
    world: distributed.World | None = None,
) -> tuple[dict[str, LevelPrior], dict[str, dict[str, float]]]:
    """Fit each level's Naive Bayes prior on the training files' code maps.

    The counts are each rank's share of the maps (every ``size``-th from its rank on), counted there
    and summed over the ranks (an all-reduce of the count tables: the same tables as one process
    counting them all). Temperature and unigram back-off are chosen by cross-validation over the
    training maps (see :meth:`LevelPrior.calibrate`) and the metrics taken on the held-out maps, on
    rank 0 (the others' priors carry no calibration; only rank 0 saves).
    """
    world = world or distributed.World()
    priors: dict[str, LevelPrior] = {}
    metrics: dict[str, dict[str, float]] = {}
    for level, maps in train_maps.items():
        k = getattr(model.config.model, level).num_codes
        mine = maps[world.rank :: world.size]
        prior = LevelPrior.fit(mine or maps[:1], k, radius, alpha)
        for name in ("class_count", "neighbour_count", "row_count"):
            table = getattr(prior, name)
            setattr(prior, name, distributed.sum_(table if mine else np.zeros_like(table)))
        if world.main:
            prior.temperature, prior.mix = LevelPrior.calibrate(maps, k, radius, alpha)
            if held_maps:
                metrics[level] = prior.evaluate(held_maps[level])
        priors[level] = prior
    return priors, metrics


def fit_neural_prior(
    model: VQVAE2,
    train_maps: dict[str, list],
    held_maps: dict[str, list] | None,
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
    ``resume`` continues it. Same seed, data and machine: same priors. Under torchrun every rank
    trains it together (DistributedDataParallel; see :func:`prior_transformer.fit_prior_nn`).
    """
    from specblur.learn import prior_transformer as prior_nn

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
        # the ONNX export is rank 0's (it writes the model); the same weights are on every rank
        graphs[level] = prior_nn.export_prior_nn(fitted) if not distributed.active() or _rank() == 0 else b""
        metrics[level] = dict(fitted.record.get("heldout") or {})
    return graphs, metrics


def _rank() -> int:
    return torch.distributed.get_rank() if distributed.active() else 0


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
    ``progress(step, total, stats: dict)`` for a progress bar (called on rank 0 only).

    Under torchrun every rank calls this; see the module's docstring for who does what."""
    learning_rate(opts.config.train.lr, 0, 1, opts.cooldown)  # a bad --cooldown fails before the data is read
    world = distributed.setup(opts.device)
    try:
        done = _train(opts, world, progress if world.main else None)
    except BaseException:
        distributed.teardown(world)
        raise
    distributed.teardown(world, finished=True)
    return done


class Stopped(SpecblurError):
    """Another rank failed and rank 0 said so; this rank stops without a line of its own."""

    quiet = True


def _stop(world: distributed.World, failure: tuple[int, str], saved: str) -> SpecblurError:
    """What each rank raises when a rank failed: one line, on rank 0 only."""
    rank, message = failure
    if not world.main:
        return Stopped(message)
    where = f"rank {rank}: " if world.distributed else ""
    return DataError(f"{where}{message}; stopped, {saved}")


def _peak_memory_mb() -> float:
    """This process's peak resident memory (MB): the kernel's high-water mark of its own memory
    (``VmHWM``; ``ru_maxrss`` would also count the parent's size at the fork, which under torchrun is
    the launcher's), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _summed(world: distributed.World) -> Callable[[energy.Measurement], None]:
    """The meter's ``combine``: every rank's stage summed into rank 0's (one ledger row)."""

    def combine(m: energy.Measurement) -> None:
        mine = [m.energy_kwh, m.emissions_kg, m.cpu_kwh, m.gpu_kwh, m.ram_kwh]
        values = np.array([v or 0.0 for v in mine] + [m.energy_kwh is not None, world.device.type == "cuda"])
        total = distributed.sum_(values.astype(np.float64))
        m.duration_s = distributed.max_(m.duration_s)
        if total[5] > 0:
            m.energy_kwh, m.emissions_kg, m.cpu_kwh, m.gpu_kwh, m.ram_kwh = (float(v) for v in total[:5])
        m.processes = world.size
        m.devices = int(total[6])

    return combine


def _loading(opts: TrainOptions, items: list[data.Item], sr: int, world: distributed.World) -> tuple[str, str]:
    """(``memory`` or ``stream``, why), for the log."""
    estimate = data.decoded_bytes(items, sr, seed=opts.seed)
    size = f"about {estimate / 1e6:,.0f} MB decoded"
    if opts.loading != "auto":
        return opts.loading, f"as asked; {size}"
    if estimate <= data.MEMORY_LIMIT:
        return "memory", f"{size}, under {data.MEMORY_LIMIT >> 20} MiB"
    return "stream", f"{size}, over {data.MEMORY_LIMIT >> 20} MiB per process"


def _worker_count(opts: TrainOptions) -> int:
    if opts.workers is not None:
        return opts.workers
    import os

    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, min(4, (os.cpu_count() or 1) // local - 1))


def _train(opts: TrainOptions, world: distributed.World, progress: Any) -> Path:
    cfg = opts.config
    tcfg = cfg.train
    log = opts.log if world.main else (lambda message: None)
    device = world.device
    if tcfg.batch_size % world.size:
        raise UsageError(
            f"--batch-size {tcfg.batch_size} does not divide among {world.size} processes; give a multiple of "
            f"{world.size} (it is the batch of a step over all processes)"
        )
    torch.manual_seed(opts.seed)
    if world.distributed:
        log(
            f"training on {world.size} processes ({world.backend}), {tcfg.batch_size // world.size} crops each per step"
        )

    items = data.collect(opts.roots, opts.families, opts.sources)
    train_items, heldout_items = data.split(items, tcfg.holdout_fraction)
    if not train_items:
        raise UsageError("every file landed in the held-out split; give more than one file")
    sr = cfg.spectrogram.sample_rate
    mode, why = _loading(opts, train_items, sr, world)
    seg_samples = (tcfg.segment_frames - 1) * cfg.spectrogram.hop_length
    waves: list[np.ndarray] = []
    failed: str | None = None
    skipped: set[str] = set()
    try:
        if mode == "memory":
            log(f"data: in memory ({why}); loading {len(train_items)} training and {len(heldout_items)} held-out files")
            seen: list[str] = []
            waves = data.load_waves(train_items, sr, warn=seen.append, strict=opts.strict)
            for message in seen:  # every rank read the same files: rank 0 says it once
                log(message)
            skipped.update(seen)
            crops = data.Crops(waves, seg_samples)
            order = data.Order(len(waves), opts.seed)
        else:
            workers = _worker_count(opts)
            log(
                f"data: streamed ({why}): {len(train_items)} training files decoded on the fly by {workers} "
                f"DataLoader worker{'s' * (workers != 1)} per process; {len(heldout_items)} held-out files"
            )
            order = data.Order(len(train_items), opts.seed)
    except DataError as exc:
        failed = str(exc)
    failure = distributed.first_failure(failed)
    if failure is not None:
        raise _stop(world, failure, "nothing was trained")
    model = VQVAE2(cfg).to(device)
    spec = model.spectrogram
    # evaluation files spread over the held-out set (its first files may all be one instrument)
    spread = heldout_items[:: max(1, len(heldout_items) // tcfg.eval_files)][: tcfg.eval_files]
    eval_waves = data.load_waves(spread, sr, warn=log) or (
        waves[: tcfg.eval_files] or data.load_waves(train_items[: tcfg.eval_files], sr, warn=log)
    )
    eval_images = [spec.features(torch.from_numpy(w))[None, None] for w in eval_waves]
    train_count = len(waves) if mode == "memory" else len(train_items)

    if opts.steps is not None:
        total = opts.steps
    elif opts.epochs is not None:
        total = max(1, math.ceil(opts.epochs * train_count / tcfg.batch_size))
    else:
        total = tcfg.steps
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    step = 0
    history: list[dict[str, float]] = []
    wall = 0.0
    initial: dict[str, float] = {}
    spent: dict[str, Any] = {}
    segments: list[dict[str, Any]] = []
    meter = energy.Meter(
        "train",
        opts.name,
        opts.country,
        record=world.main,
        combine=_summed(world),
        gpu_ids=[world.local_rank] if device.type == "cuda" else None,
    )
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
        history = list(state.training.get("history", []))
        initial = dict(state.training.get("initial", {}))
        spent = dict(state.training.get("energy", {}))
        segments = list(state.training.get("segments", []))
        wall = float(state.training.get("wall_seconds", 0.0))
        before = int(state.training.get("processes", 1) or 1)
        log(
            f"resuming {opts.name} at step {step}" + (f" (saved by {before} processes)" if before != world.size else "")
        )
    elif world.main:
        initial = evaluate(model, eval_images, device)
        log(f"untrained: held-out LSD {initial['lsd_db']:.2f} dB")
    segments.append({"from_step": step, "processes": world.size, "device": str(device), "data_loading": mode})
    autocast = device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision = "bfloat16 autocast (quantizer float32)" if autocast else "float32"
    if autocast:
        log("precision: bfloat16 autocast on CUDA")
    net: torch.nn.Module = model
    if world.distributed:
        # the quantizers' buffers are kept equal by the quantizers themselves (summed statistics)
        import inspect
        import warnings

        from torch.nn.parallel import DistributedDataParallel

        newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        net = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            **({"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}),
        )
        # a 1-channel convolution's weight (C, 1, k, k) has two equally valid stride layouts; DDP warns
        # on every backward that they differ from its bucket's, which costs nothing here
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    peak = [0.0]
    # the training audio's length: exact in memory; streamed, estimated until the prior's pass decodes it all
    seconds = [sum(len(w) for w in waves) / sr if mode == "memory" else data.decoded_bytes(train_items, sr) / 4 / sr]

    def record() -> dict[str, Any]:
        return {
            "data": [str(r) for r in opts.roots],
            "families": list(opts.families),
            "sources": list(opts.sources),
            "train_files": train_count,
            "heldout_files": len(heldout_items),
            "train_seconds_of_audio": seconds[0],
            "data_loading": mode,
            "skipped_files": len(skipped),
            "preset": opts.preset,
            "cooldown": opts.cooldown,
            "seed": opts.seed,
            "steps": step,
            "wall_seconds": wall,
            "device": str(device),
            "processes": world.size,
            "backend": world.backend or "none",
            "precision": precision,
            "segments": segments,
            "peak_memory_mb": peak[0],
            "initial": initial,
            "heldout": history[-1] if history else {},
            "history": history,
            "losses": losses,
            "energy": spent,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def save_run() -> None:
        extra = {"optimizer": optimizer.state_dict(), "step": step, "torch_rng": torch.get_rng_state()}
        checkpoint.save(run_file, model, opts.name, record(), extra)

    def report_skips(pending: set[str]) -> None:
        for rank_list in distributed.gather(sorted(pending)):
            for message in rank_list:
                if message not in skipped:
                    skipped.add(message)
                    log(message)
        pending.clear()

    def batches() -> Any:
        """(crops, unreadable files met, error) for each step from ``step`` on, this rank's share."""
        if mode == "memory":
            for s in range(step, total):
                yield crops.take(data.Order.rows(s, tcfg.batch_size, world.rank, world.size), order), [], None
            return
        from torch.utils.data import DataLoader

        stream = data.StreamedCrops([it.where for it in train_items], order, sr, seg_samples, opts.strict)
        workers = _worker_count(opts)
        loader = DataLoader(
            stream,
            batch_sampler=data.StepBatches(step, total, tcfg.batch_size, world.rank, world.size),
            num_workers=workers,
            collate_fn=data.collate,
            pin_memory=device.type == "cuda",
            prefetch_factor=2 if workers else None,
            generator=torch.Generator(),  # its workers' seeds are not drawn from the model's generator
        )
        yield from loader

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    model.train()
    started = time.perf_counter() - wall
    first_step = step
    seg_seconds = seg_samples / sr
    interrupted = False
    measured = energy.Measurement("train")
    saved_step = step if opts.resume else None
    pending: set[str] = set()
    losses: list[float] = list(state.training.get("losses", [])) if opts.resume else []
    mine: list[float] = []  # this rank's losses since the last evaluation
    # losses: [step, the step's training loss over all ranks]; on an interrupt, the steps since the
    # last evaluation carry rank 0's own loss (no collective is entered after an interrupt)
    try:
        try:
            with meter.measure("train") as measured:
                try:
                    source = batches()
                    while step < total:
                        error: str | None = None
                        wave = None
                        try:
                            wave, met, error = next(source)
                            pending.update(f"skipped: {m}" for m in met)
                        except (StopIteration, KeyboardInterrupt):
                            raise
                        except Exception as exc:  # a worker that died, a file that broke the decoder
                            said = (str(exc).strip().splitlines() or [""])[0][:200]
                            error = f"reading the data: {type(exc).__name__}: {said}"
                        failure = distributed.first_failure(error)
                        if failure is not None:
                            where = (
                                f"the last good state {run_file} (step {saved_step}) is kept"
                                if saved_step is not None
                                else "no state was saved yet"
                            )
                            raise _stop(world, failure, where)
                        for group in optimizer.param_groups:
                            group["lr"] = learning_rate(tcfg.lr, step, total, opts.cooldown)
                        stats = _train_step(net, model, optimizer, wave, tcfg, device, autocast)
                        mine.append(stats["loss"])
                        step += 1
                        wall = time.perf_counter() - started
                        if progress is not None:
                            progress(step, total, stats)
                        if step % tcfg.eval_every == 0 or step == total:
                            # the step's loss over all ranks: the mean of the ranks' means (equal shares)
                            per_rank = np.array(distributed.gather(mine), dtype=np.float64)
                            first = step - len(mine) + 1
                            losses.extend([first + i, v] for i, v in enumerate(per_rank.mean(axis=0).tolist()))
                            mine = []
                            report_skips(pending)
                            peak[0] = distributed.max_(_peak_memory_mb())
                            if world.main:
                                history.append(
                                    evaluate(model, eval_images, device)
                                    | {
                                        "step": step,
                                        "wall_seconds": wall,
                                        "lr": optimizer.param_groups[0]["lr"],
                                        "train_loss": float(per_rank.mean()),
                                    }
                                )
                                log(_describe_eval(history[-1]))
                                save_run()
                            saved_step = step
                finally:
                    measured.audio_s = (step - first_step) * tcfg.batch_size * seg_seconds
        except KeyboardInterrupt:
            interrupted = True
            losses.extend([step - len(mine) + 1 + i, v] for i, v in enumerate(mine))
        meter.add_to(spent, measured)
        if world.main:
            save_run()  # the run's state carries this segment's energy, so a later --resume keeps counting
        if interrupted:
            stop = Interrupted(f"interrupted at step {step}; saved {run_file}; continue with --resume")
            stop.quiet = not world.main  # under torchrun every rank is interrupted; rank 0 says it once
            raise stop
    finally:
        signal.signal(signal.SIGTERM, previous)
    if skipped:
        log(f"skipped {len(skipped)} unreadable file{'s' * (len(skipped) != 1)} (--strict stops at the first)")
    log(f"memory: peak {peak[0]:,.0f} MB per process ({mode})")
    model.cpu()
    log("fitting the prior over codes")
    held_waves = eval_waves if heldout_items else []
    corpus = waves if mode == "memory" else train_items
    with meter.measure("prior") as measured:
        train_maps, audio_s = corpus_maps(model, corpus, sr, world, warn=log, strict=False)
        measured.audio_s = seconds[0] = audio_s
        held_maps = code_maps(model, held_waves) if held_waves else None
        priors, prior_metrics = fit_prior(model, train_maps, held_maps, world=world)
    meter.add_to(spent, measured)
    if prior_metrics:
        log(describe_prior(prior_metrics))
    log("fitting the neural prior over codes")
    with meter.measure("prior", audio_s=audio_s) as measured:
        graphs, neural_metrics = fit_neural_prior(
            model,
            train_maps,
            held_maps,
            name=opts.name,
            preset=opts.preset,
            seed=opts.seed,
            resume=opts.resume,
            steps=opts.prior_steps,
            log=log,
        )
    meter.add_to(spent, measured)
    if not world.main:
        return registry.model_path(opts.name) if opts.output is None else opts.output
    if spent:
        wh = {k: spent.get(f"{k}_kwh", 0.0) * 1000 for k in ("train", "prior")}
        each = f", {world.size} processes summed" if world.distributed else ""
        log(
            f"energy: training {wh['train']:.3g} Wh, prior {wh['prior']:.3g} Wh, "
            f"{spent.get('emissions_kg', 0.0) * 1000:.3g} g CO2eq "
            f"({spent.get('method')}, grid {spent.get('country')}{each})"
        )
    info = record()
    info["prior"] = prior_metrics
    info["prior_nn"] = neural_metrics
    default_prior = better_prior(prior_metrics, neural_metrics)
    log(f"edits use the {default_prior} prior by default (fewer held-out bits per bottom code)")
    target = opts.output or registry.model_path(opts.name)
    checkpoint.save(target, model, opts.name, info, prior=priors, prior_nn=graphs, default_prior=default_prior)
    from specblur.learn import export

    # the runtime form beside it: what edits load (no torch), graphs exported from the saved file
    export.write_runtime(checkpoint.load(target), export.runtime_path(target))
    return target


def _train_step(
    net: torch.nn.Module,
    model: VQVAE2,
    optimizer: torch.optim.Optimizer,
    wave: torch.Tensor,
    tcfg: Any,
    device: Any,
    autocast: bool = False,
) -> dict[str, Any]:
    """One optimiser step on this rank's crops ``(rows, samples)``; ``net`` is ``model`` or its
    DistributedDataParallel wrapper (which averages the gradients over ranks in ``backward``).
    Returns the step's statistics for the progress bar (this rank's)."""
    images = model.spectrogram.features(wave).unsqueeze(1).to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        out = net(images)
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
