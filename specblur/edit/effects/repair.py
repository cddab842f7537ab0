"""Repair: the region's codes thrown away and filled from the context only (the prior's fill,
rounds of unmasking), then each model band of the region brought to the decoder's image of the
fill, ``decode(new)`` against the input's own image, not its decoding, so the level of what was there
does not come back; the fine structure within a band stays the input's."""

from __future__ import annotations

from typing import Any

import numpy as np

from specblur.edit.effects.base import Effect, decoded
from specblur.edit.limits import STEPS


class Repair(Effect):
    name = "repair"
    help = "fill the region from the context around it"
    default_scale = "both"
    rounds = STEPS
    default_rounds = 8

    def redraw(self, prior, maps, inside, weight, rng, rounds, temperature, context, levels) -> np.ndarray:
        if context and "top" in levels:
            context = {**context, "top_hole": np.zeros_like(context["top"], dtype=bool)}  # the top is filled already
        return prior.fill(maps, inside, rng, steps=rounds, temperature=temperature, **context)

    def change(self, model: Any, before: Any, after: Any, pixel: np.ndarray, image: np.ndarray) -> np.ndarray:
        """``decode(after) - image`` under the brush: the gain per model band that brings the
        input's own spectrum to the decoder's image of the new codes."""
        change = np.zeros_like(pixel)
        filled = decoded(model, [after], pixel)
        if filled is not None:
            images, window = filled
            change[:, window] = (images[0] - image[:, window]) * pixel[:, window]
        return change
