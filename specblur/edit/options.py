"""An edit's settings as one frozen value, validated once against the limits every face uses
(:mod:`specblur.edit.limits`); everything under :mod:`specblur.edit` takes an :class:`EditOptions`
whole instead of loose keywords."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from specblur import priors
from specblur.edit.effects import EFFECTS
from specblur.edit.limits import AMOUNT, FEATHER, PHASE_ITERS, REPAIR_METHODS, SCALES, SEED, TEMPERATURE, WASH
from specblur.errors import UsageError
from specblur.runtime.resynth import PHASE_STARTS


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
    wash: float = 0.0
    """Blur: the share of the change's coarse part let through (:data:`specblur.edit.limits.WASH`)."""
    method: str | None = None
    """Repair only: how the region is filled, one of :data:`specblur.edit.limits.REPAIR_METHODS`
    (``None``: ``auto``)."""
    full_scale: bool = False
    """The edit goes to a file stored in integers (PCM, mu-law, A-law): edited samples over full
    scale are held under it by short gain dips (:mod:`specblur.edit.overs`), not clipped. Set by
    the file layer from the file's sample type (:func:`specblur.audio.clips`), never a user's
    setting; off for arrays and float files, which keep what the edit made."""

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise UsageError(f"effect {self.effect!r}: use {' or '.join(EFFECTS)}")
        effect = EFFECTS[self.effect]
        TEMPERATURE.check(self.temperature)
        AMOUNT.check(self.amount)
        FEATHER.check(self.feather)
        PHASE_ITERS.check(self.phase_iters)
        WASH.check(self.wash)
        SEED.check(self.seed)
        if self.rounds is not None:
            effect.rounds.check(self.rounds)
        if self.scale is not None and self.scale not in SCALES:
            raise UsageError(f"--scale {self.scale!r}: use micro, macro or both")
        if self.prior is not None and self.prior not in priors.NAMES:
            raise UsageError(f"--prior {self.prior!r}: use {' or '.join(priors.NAMES)}")
        if self.method is not None and self.effect != "repair":
            raise UsageError(f"--method {self.method!r}: only repair has methods")
        if self.method is not None and self.method not in REPAIR_METHODS:
            raise UsageError(f"--method {self.method!r}: use one of {', '.join(REPAIR_METHODS)}")
        if self.phase_start is not None and self.phase_start not in PHASE_STARTS:
            raise UsageError(f"phase start {self.phase_start!r}: use one of {', '.join(PHASE_STARTS)}")
        # the effect's defaults made explicit, so two equal edits compare equal
        object.__setattr__(self, "rounds", int(effect.default_rounds if self.rounds is None else self.rounds))
        object.__setattr__(self, "scale", self.scale or effect.default_scale)
        object.__setattr__(self, "phase_iters", int(self.phase_iters))
        object.__setattr__(self, "seed", int(self.seed))
        if self.effect == "repair" and self.method is None:
            object.__setattr__(self, "method", "auto")

    def replace(self, **changes: Any) -> EditOptions:
        """A copy with ``changes`` (checked again)."""
        if "effect" in changes and changes["effect"] != self.effect:
            # the old effect's defaults do not carry over to another effect
            base = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("rounds", "scale", "method")}
            return EditOptions(**{**base, **changes})
        return dataclasses.replace(self, **changes)


def options(value: EditOptions | None = None, **changes: Any) -> EditOptions:
    """``value`` (default: the defaults) with ``changes``: what the entry points of
    :mod:`specblur.edit` take, an options value, its fields as keywords, or both."""
    base = value or EditOptions(effect=changes.get("effect", "blur"))
    return base.replace(**changes) if changes else base
