"""What an edit asks of a prior over one level's code map, and the fill schedule all priors share.

A prior answers two questions about a ``(rows, cols)`` map of integer codes:

- :meth:`Prior.resample` (the blur): redraw the cells under a brush (a float mask in [0, 1]: the chance
  that a cell is redrawn per sweep) given everything around them, the originals included;
- :meth:`Prior.fill` (repair): fill a hole from the cells around it only, never looking at the hole's
  own codes, by :func:`unmask`.

Both take a ``numpy.random.Generator`` (same state, same codes) and a temperature that multiplies the
prior's calibrated :attr:`Prior.temperature`. A prior of the bottom level may also read the top codes
(:attr:`Prior.uses_top`); an edit then passes ``top=`` (and, for a fill, ``top_hole=``).

A new prior is one module in this folder with a class on this interface and one entry in
:data:`specblur.priors.NAMES` and :func:`specblur.priors.for_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from specblur import cancel


class Prior(Protocol):
    """The prior of one level, as an edit uses it."""

    num_codes: int
    temperature: float
    """The calibrated temperature; an edit's ``-T`` multiplies it."""

    @property
    def uses_top(self) -> bool:
        """Whether this (bottom-level) prior reads the top codes (``top=``)."""
        ...

    def resample(
        self, codes: np.ndarray, mask: np.ndarray, rng: np.random.Generator, sweeps: int = 3, temperature: Any = None
    ) -> np.ndarray: ...

    def fill(
        self, codes: np.ndarray, hole: np.ndarray, rng: np.random.Generator, steps: int = 8, temperature: Any = None
    ) -> np.ndarray: ...


CellLogProbs = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``unknown -> (rows, cols, log_probs)``: for every cell still unknown (row-major order), its
normalised ``(n, K)`` log-probabilities given the cells known now."""


def unmask(
    unknown: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    cell_log_probs: CellLogProbs,
    draw: Callable[[np.ndarray, np.ndarray], np.ndarray],
    commit: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
) -> None:
    """Iterative unmasking, most confident cells first: the fill schedule of every prior.

    At each of ``steps`` rounds every cell still ``unknown`` gets its distribution from the known
    cells (``cell_log_probs``); the most confident share of them (the highest top probability; an
    equal share of what remains per round, so the last round takes all that is left) is drawn
    (``draw(log_probs, uniforms)``) and handed to ``commit(rows, cols, codes)``, and becomes known.
    Cells next to the context are usually the most confident, so a hole fills from its edges inward.
    ``unknown`` is updated in place.
    """
    for step in range(steps):
        if not unknown.any():
            break
        cancel.check()
        i, j, log_p = cell_log_probs(unknown)
        take = int(np.ceil(len(i) / (steps - step)))
        chosen = np.argsort(-log_p.max(axis=1), kind="stable")[:take]
        drawn = draw(log_p[chosen], rng.random(len(chosen)))
        ci, cj = i[chosen], j[chosen]
        commit(ci, cj, drawn)
        unknown[ci, cj] = False
