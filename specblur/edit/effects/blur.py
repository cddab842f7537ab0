"""The blur: the region's codes redrawn by Gibbs sweeps from the prior given their neighbours (the
originals included), and ``decode(new) - decode(old)`` applied, so what the decoder gets wrong about
the input cancels and only the redrawn codes' difference is heard."""

from __future__ import annotations

from typing import Any

import numpy as np

from specblur.edit.effects.base import Effect, decoded
from specblur.edit.limits import SWEEPS
from specblur.edit.shape import encoder_gain, keep_shape


class Blur(Effect):
    name = "blur"
    help = "redraw the region's codes from the prior given their neighbours"
    default_scale = "micro"
    rounds = SWEEPS
    default_rounds = 3
    tiles = True

    def redraw(self, prior, maps, inside, weight, rng, rounds, temperature, context, levels) -> np.ndarray:
        return prior.resample(maps, weight, rng, sweeps=rounds, temperature=temperature, **context)

    def input_gain(self, part: np.ndarray) -> float:
        """The encoder sees the part at one peak level whatever the input's gain, so the same blur
        of a sound 30 dB quieter does the same (measured: docs/eval/blur.md)."""
        return encoder_gain(part)

    def shaped(self, change_db, pixel, centres, frame_s, level_db, floor_db, options) -> np.ndarray:
        """An image blur's promise: the region keeps its level and coarse envelope (pauses stay
        pauses), only the detail below the blur's scale changes; ``--wash`` lets a share of the
        coarse change through (:func:`specblur.edit.shape.keep_shape`)."""
        return keep_shape(change_db, pixel, centres, frame_s, level_db, wash=options.wash, floor_db=floor_db)

    def change(self, model: Any, before: Any, after: Any, pixel: np.ndarray, image: np.ndarray) -> np.ndarray:
        return decoded_change(model, before, after, pixel)


def decoded_change(model: Any, before: Any, after: Any, pixel: np.ndarray) -> np.ndarray:
    """``decode(after) - decode(before)`` (normalised image units) under the brush ``pixel``, zero
    elsewhere."""
    change = np.zeros_like(pixel)
    both = decoded(model, [before, after], pixel)
    if both is not None:
        images, window = both
        change[:, window] = (images[1] - images[0]) * pixel[:, window]
    return change
