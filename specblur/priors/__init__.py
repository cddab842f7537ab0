"""The priors over code maps that redraw a region's codes: one module each, on one interface
(:mod:`specblur.priors.base`).

- ``naive-bayes`` (:mod:`specblur.priors.naive_bayes`): Naive Bayes over neighbouring codes, fitted by
  counting; every model has it.
- ``transformer`` (:mod:`specblur.priors.transformer`): a small masked-token Transformer over a window
  of codes, run by onnxruntime; a model has it where one was fitted.

Importing this package is cheap (no numpy): the command line reads :data:`NAMES` for its choices.
"""

from __future__ import annotations

from typing import Any

NAMES = ("naive-bayes", "transformer")
"""Every prior an edit can use, by the name the command line, the editor and the API take."""


class _Levels:
    """The prior per level: the transformer where the model has one for that level, else Naive Bayes;
    each looked up when the edit first needs it (a neural prior's session is built on that first use:
    an edit of one level never builds the other's)."""

    def __init__(self, first: Any, fallback: Any) -> None:
        self._first, self._fallback = first, fallback

    def __getitem__(self, level: str) -> Any:
        return self._first[level] if level in self._first else self._fallback[level]


def for_model(loaded: Any, name: str | None) -> Any:
    """The prior per level (``priors[level]``) that an edit of ``loaded`` (a
    :class:`~specblur.runtime.model.RuntimeModel`) uses: ``name`` or the model's default."""
    from specblur.errors import CodesError, UsageError

    name = name or loaded.default_prior
    if name not in NAMES:
        raise UsageError(f"--prior {name!r}: use {' or '.join(NAMES)}")
    if name == "transformer" and not loaded.prior_nn:
        raise UsageError(
            f"model {loaded.name!r} has no transformer prior; use --prior naive-bayes, or fit one with "
            "'specblur fit-prior DATA --prior transformer'"
        )
    if not loaded.prior:
        raise CodesError(f"model {loaded.name!r} has no prior over codes; fit one with 'specblur fit-prior DATA'")
    return loaded.prior if name == "naive-bayes" else _Levels(loaded.prior_nn, loaded.prior)
