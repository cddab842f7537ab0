"""Refit one prior of an existing model on other audio (``specblur fit-prior``): the Naive Bayes
counts or the transformer, measured by the meter, saved with the model and its runtime form.

Under ``torchrun`` each rank encodes its share of the files; the Naive Bayes counts are summed over
the ranks, the transformer trains on all of them together; rank 0 writes the model and the one
ledger row (every rank's energy summed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from specblur.energy.meter import Meter
from specblur.learn import checkpoint, distributed, export
from specblur.learn import data as data_mod
from specblur.learn import train as train_mod
from specblur.runtime import registry


def refit(
    data: list[Path],
    model: str | None,
    which: str,
    radius: int = 1,
    alpha: float = 1.0,
    steps: int | None = None,
    seed: int = 0,
    resume: bool = False,
    families: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    output: Path | None = None,
    country: str | None = None,
    log: Callable[[str], None] = lambda message: None,
    device: str = "cpu",
) -> Path:
    """Refit ``which`` prior (``naive-bayes`` or ``transformer``) of ``model`` on ``data``; the other
    is kept. The model's default prior becomes whichever has fewer held-out bits per bottom code.
    Returns where the model was saved (``output``, else the data dir under its name)."""
    world = distributed.setup(device)
    try:
        done = _refit(data, model, which, radius, alpha, steps, seed, resume, families, sources, output, country,
                      log if world.main else (lambda message: None), world)  # fmt: skip
    except BaseException:
        distributed.teardown(world)
        raise
    distributed.teardown(world, finished=True)
    return done


def _refit(data, model, which, radius, alpha, steps, seed, resume, families, sources, output, country, log,
           world: distributed.World) -> Path:  # fmt: skip
    loaded = checkpoint.load(registry.resolve(model))
    items = data_mod.collect(list(data), families, sources)
    train_items, held_items = data_mod.split(items, loaded.model.config.train.holdout_fraction)
    rate = loaded.model.config.spectrogram.sample_rate
    held = data_mod.load_waves(held_items, rate, warn=log)
    meter = Meter("fit-prior", loaded.name, country, record=world.main, combine=train_mod._summed(world))
    priors, graphs = loaded.prior, loaded.prior_nn
    with meter.measure("prior") as measured:
        maps, measured.audio_s = train_mod.corpus_maps(loaded.model, train_items, rate, world, warn=log)
        held_maps = train_mod.code_maps(loaded.model, held) if held else None
        if which == "transformer":
            graphs, metrics = train_mod.fit_neural_prior(
                loaded.model,
                maps,
                held_maps,
                name=loaded.name,
                preset=str(loaded.training.get("preset") or "default"),
                seed=seed,
                resume=resume,
                steps=steps,
                log=log,
            )
        else:
            priors, metrics = train_mod.fit_prior(
                loaded.model, maps, held_maps, radius=radius, alpha=alpha, world=world
            )
    if not world.main:
        return output or registry.model_path(loaded.name)
    if metrics and which == "naive-bayes":
        log(train_mod.describe_prior(metrics))
    spent = dict(loaded.training.get("energy") or {})
    meter.add_to(spent, measured)  # what producing this model cost, refits included
    key = "prior_nn" if which == "transformer" else "prior"
    training = dict(loaded.training, **{key: metrics}, prior_data=[str(d) for d in data], energy=spent)
    default_prior = train_mod.better_prior(training.get("prior") or {}, training.get("prior_nn") or {})
    log(f"edits use the {default_prior} prior by default (fewer held-out bits per bottom code)")
    target = output or registry.model_path(loaded.name)
    checkpoint.save(
        target,
        loaded.model,
        loaded.name,
        training,
        loaded.extra,
        priors,
        prior_nn=graphs,
        default_prior=default_prior,
    )
    runtime = export.write_runtime(checkpoint.load(target), export.runtime_path(target))
    log(f"saved {target} and its runtime form {runtime.name}")
    return target
