"""The limits of every edit setting, and how the command line names them: the one place the
command line (click ranges), the editor (its request checks) and the library
(:class:`specblur.edit.options.EditOptions`) read them from. Light to import (no numpy)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from specblur.errors import UsageError


@dataclass(frozen=True)
class Limit:
    """The range of one setting (both ends included) and how it is named on the command line."""

    low: float
    high: float
    flag: str
    whole: bool = False

    def check(self, value: Any) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and self.low <= value <= self.high and (not self.whole or int(value) == value)
        if not ok:
            kind = "a whole number" if self.whole else "a number"
            span = f"{self.low:g} or more" if math.isinf(self.high) else f"from {self.low:g} to {self.high:g}"
            raise UsageError(f"{self.flag} {value!r}: use {kind} {span}")


TEMPERATURE = Limit(0.05, 20.0, "--temperature")
"""Times the prior's calibrated temperature (1: the prior as fitted)."""
AMOUNT = Limit(0.0, 1.0, "--amount")
"""The share of the change applied, in dB (0: none, the output is the input)."""
FEATHER = Limit(0.0, 8.0, "--feather")
"""The brush's soft edge, in code cells (0: a hard rectangle)."""
PHASE_ITERS = Limit(0, 200, "--phase-iters", whole=True)
"""Griffin-Lim iterations on the changed frames (0 keeps the input's phase)."""
SEED = Limit(0, math.inf, "--seed", whole=True)
WASH = Limit(0.0, 1.0, "--wash")
"""The blur's share of the coarse change let through (0: the region keeps its level and envelope,
only the detail changes; 1: the level and envelope follow the redrawn codes, the wash it once was)."""
SWEEPS = Limit(1, 50, "--sweeps", whole=True)
"""The blur's Gibbs sweeps over the region."""
STEPS = Limit(1, 64, "--steps", whole=True)
"""Repair's rounds of unmasking."""
DECLICK_AUTO_SECONDS = 0.05
"""``auto`` looks for clicks in whole-band regions up to this long and, where it finds them, mends
only their samples (``declick``; measured: docs/REPAIR.md; in clean material it finds some in 8%
of 16 ms regions, 6% of 50 ms and 7% of 100 ms ones: drum hits, plosives)."""
AR_AUTO_SECONDS = 0.02
"""``auto`` repairs holes up to this long with ``ar`` (the shortest dropouts; nothing is searched,
so a list of short holes across an hour is read only around each one), longer ones with ``match``
where a stretch elsewhere fits closely, else ``hybrid`` up to :data:`HYBRID_AUTO_SECONDS` and
``envelope`` beyond (measured on held-out recordings: docs/REPAIR.md,
``tools/sweep_repair_lengths.py``)."""
HYBRID_AUTO_SECONDS = 0.1
"""``auto`` repairs holes longer than :data:`AR_AUTO_SECONDS`, up to this long, with ``hybrid`` where
no stretch elsewhere fits closely (measured closer than ``ar`` from 24 ms, even at 16 ms, and than
``envelope`` up to 100 ms; beyond, the gain is small and the AR solve's cost grows: docs/REPAIR.md)."""
REPAIR_METHODS = ("auto", "envelope", "interpolate", "ar", "hybrid", "declick", "match", "texture", "model")
"""How repair fills a region (:mod:`specblur.edit.restore` and the model's fill; ``auto`` picks per
region by a measured rule, :func:`specblur.edit.effects.repair.choose`)."""
SCALES = {"micro": ("bottom",), "macro": ("top",), "both": ("top", "bottom")}
"""Which code levels a scale redraws, in order (coarse first)."""
