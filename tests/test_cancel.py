"""Stopping work in flight (specblur.cancel): the editor's Cancel, Ctrl-C and SIGTERM end a long
edit at its next step, not at the end of the region or tile being edited (issue 22)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import specblur
from specblur import cancel
from specblur.edit import restore
from specblur.learn import checkpoint
from specblur.priors import transformer


def test_check_stops_only_the_watched_thread_once_asked() -> None:
    event = threading.Event()
    cancel.check()  # nothing watched: nothing happens
    with cancel.watching(event):
        cancel.check()  # not asked yet
        event.set()
        with pytest.raises(cancel.Stopped):
            cancel.check()
        seen: list[str] = []

        def other() -> None:
            try:
                cancel.check()
                seen.append("went on")
            except cancel.Stopped:
                seen.append("stopped")

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert seen == ["went on"]  # another thread's work is not this one's
    cancel.check()  # the block is over: the command line's work never stops on it


def _steady(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    return (0.2 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + noise)[:, None]


def _counting(monkeypatch, owner, name: str, stop_at: int | None, event: threading.Event) -> list[int]:
    """``owner.name`` counted; the ``stop_at``-th call sets ``event`` (asks the work to stop)."""
    calls = [0]
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == stop_at:
            event.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_blur_stops_within_the_prior_once_asked(tiny_model: Path, monkeypatch) -> None:
    """The neural prior checks between its runs of the model: asked to stop during its second run,
    the edit ends at the third, never making the sound; unwatched, the same edit runs to its end."""
    loaded = specblur.load_model(checkpoint.load(tiny_model))
    rate = 16000
    x = _steady(3.0, rate)
    event = threading.Event()
    calls = _counting(monkeypatch, transformer.NeuralPrior, "predict", None, event)
    whole = specblur.blur(x, rate, (0.5, 2.5), model=loaded, prior="transformer", seed=1)
    full = calls[0]
    assert full > 3

    calls = _counting(monkeypatch, transformer.NeuralPrior, "predict", 2, event)
    with cancel.watching(event), pytest.raises(cancel.Stopped):
        specblur.blur(x, rate, (0.5, 2.5), model=loaded, prior="transformer", seed=1)
    assert calls[0] == 2  # stopped before the third run of the model

    event.clear()  # the same edit, not asked to stop: as before
    again = specblur.blur(x, rate, (0.5, 2.5), model=loaded, prior="transformer", seed=1)
    assert np.array_equal(again, whole)


def test_a_naive_bayes_blur_and_a_repair_stop_mid_way(tiny_model: Path, monkeypatch) -> None:
    loaded = specblur.load_model(checkpoint.load(tiny_model))
    rate = 16000
    x = _steady(3.0, rate)
    event = threading.Event()
    event.set()  # asked before the work starts: it stops at the first check
    with cancel.watching(event), pytest.raises(cancel.Stopped):
        specblur.blur(x, rate, (0.5, 2.5), model=loaded, prior="naive-bayes", seed=1)

    # Griffin-Lim of a long fill checks between its iterations
    event.clear()
    calls = _counting(monkeypatch, restore, "istft", 3, event)
    damaged = x.copy()
    damaged[int(1.0 * rate) : int(1.5 * rate)] = 0.0
    with cancel.watching(event), pytest.raises(cancel.Stopped):
        specblur.repair(damaged, rate, (1.0, 1.5), model=loaded, method="envelope")
    assert calls[0] == 3 < restore.GL_ITERS
