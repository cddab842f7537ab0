"""An edit's settings as one frozen value, validated once, with the limits every face uses.

The command line (click ranges), the editor (its request checks) and the Python API all read the
limits below, so they can never disagree; everything under :mod:`specblur.edit` takes an
:class:`EditOptions` whole instead of loose keywords.
"""

from __future__ import annotations

import dataclasses
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
            raise UsageError(f"{self.flag} {value!r}: use {kind} from {self.low:g} to {self.high:g}")


TEMPERATURE = Limit(0.05, 20.0, "--temperature")
"""Times the prior's calibrated temperature (1: the prior as fitted)."""
AMOUNT = Limit(0.0, 1.0, "--amount")
"""The share of the change applied, in dB (0: none, the output is the input)."""
FEATHER = Limit(0.0, 8.0, "--feather")
"""The brush's soft edge, in code cells (0: a hard rectangle)."""
PHASE_ITERS = Limit(0, 200, "--phase-iters", whole=True)
"""Griffin-Lim iterations on the changed frames (0 keeps the input's phase)."""
SEED = Limit(0, 2**63 - 1, "--seed", whole=True)
SWEEPS = Limit(1, 50, "--sweeps", whole=True)
"""The blur's Gibbs sweeps over the region."""
STEPS = Limit(1, 64, "--steps", whole=True)
"""Repair's rounds of unmasking."""
SCALES = {"micro": ("bottom",), "macro": ("top",), "both": ("top", "bottom")}
"""Which code levels a scale redraws, in order (coarse first)."""


@dataclass(frozen=True)
class EditOptions:
    """How to edit a region (the region itself is not part of it: one set of options can serve
    several regions). Checked when made: a bad value raises :class:`~specblur.errors.UsageError`
    naming its command-line flag and range."""

    effect: str = "blur"
    """An effect of :data:`specblur.edit.effects.EFFECTS` (``blur``, ``repair``)."""
    temperature: float = 1.0
    amount: float = 1.0
    rounds: int | None = None
    """The effect's rounds: Gibbs sweeps for blur, unmasking steps for repair (``None``: the effect's
    default; its own range, see :attr:`specblur.edit.effects.Effect.rounds`)."""
    seed: int = 0
    feather: float = 1.0
    scale: str | None = None
    """``micro``, ``macro`` or ``both`` (``None``: the effect's default)."""
    phase_iters: int = 0
    linked: bool = True
    """All channels edited together: one draw from their mean magnitude, one change for all."""
    prior: str | None = None
    """A name of :data:`specblur.priors.NAMES` (``None``: the model's default)."""
    phase_start: str | None = None
    """Where Griffin-Lim starts (see :data:`specblur.runtime.resynth.PHASE_STARTS`; ``None``: the input)."""

    def __post_init__(self) -> None:
        from specblur import priors
        from specblur.edit.effects import EFFECTS
        from specblur.runtime.resynth import PHASE_STARTS

        if self.effect not in EFFECTS:
            raise UsageError(f"effect {self.effect!r}: use {' or '.join(EFFECTS)}")
        effect = EFFECTS[self.effect]
        TEMPERATURE.check(self.temperature)
        AMOUNT.check(self.amount)
        FEATHER.check(self.feather)
        PHASE_ITERS.check(self.phase_iters)
        SEED.check(self.seed)
        if self.rounds is not None:
            effect.rounds.check(self.rounds)
        if self.scale is not None and self.scale not in SCALES:
            raise UsageError(f"--scale {self.scale!r}: use micro, macro or both")
        if self.prior is not None and self.prior not in priors.NAMES:
            raise UsageError(f"--prior {self.prior!r}: use {' or '.join(priors.NAMES)}")
        if self.phase_start is not None and self.phase_start not in PHASE_STARTS:
            raise UsageError(f"phase start {self.phase_start!r}: use one of {', '.join(PHASE_STARTS)}")
        # the effect's defaults made explicit, so two equal edits compare equal
        object.__setattr__(self, "rounds", int(effect.default_rounds if self.rounds is None else self.rounds))
        object.__setattr__(self, "scale", self.scale or effect.default_scale)
        object.__setattr__(self, "phase_iters", int(self.phase_iters))
        object.__setattr__(self, "seed", int(self.seed))

    def replace(self, **changes: Any) -> EditOptions:
        """A copy with ``changes`` (checked again)."""
        if "effect" in changes and changes["effect"] != self.effect:
            # the old effect's defaults do not carry over to another effect
            base = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("rounds", "scale")}
            return EditOptions(**{**base, **changes})
        return dataclasses.replace(self, **changes)


def options(value: EditOptions | None = None, **changes: Any) -> EditOptions:
    """``value`` (default: the defaults) with ``changes``: what the entry points of
    :mod:`specblur.edit` take, an options value, its fields as keywords, or both."""
    base = value or EditOptions(effect=changes.get("effect", "blur"))
    return base.replace(**changes) if changes else base
