"""The effects an edit can apply, one small unit each, in one registry (:data:`EFFECTS`) that the
command line, the editor and the Python API all read.

An effect that works on codes (:class:`Effect`) says two things: how it redraws a level's codes
inside the region (:meth:`Effect.redraw`, given the level's prior), and what change of the
spectrogram follows from the codes before and after (:meth:`Effect.change`, in the model's
normalised units under the brush). :func:`specblur.edit.segment.edit_segment` does the rest, the
same for every effect: encode, redraw level by level, apply the change to the input's own STFT.
A new effect is one module here and one entry in :data:`EFFECTS`.
"""

from __future__ import annotations

from specblur.edit.effects.base import Effect


def _registry() -> dict[str, Effect]:
    from specblur.edit.effects.blur import Blur
    from specblur.edit.effects.repair import Repair

    return {effect.name: effect for effect in (Blur(), Repair())}


EFFECTS: dict[str, Effect] = _registry()
"""Every effect by name, in the order the faces list them."""
