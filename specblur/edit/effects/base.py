"""The interface every effect is on, and what the code effects share (decoding a batch of code maps
over the brush only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from specblur.edit.limits import Limit
from specblur.runtime.model import Codes

DECODER_CONTEXT_TOP_CELLS = 3
"""Top cells of codes decoded on each side of the brush (measured: decoding with 3 on each side matches
decoding everything to within 0.07 dB, 4 to within 0.004 dB, before the two decodes cancel)."""


class Effect:
    """What an effect redraws and how its change is applied."""

    name: str
    help: str
    """One line for the command line's and the editor's lists."""
    default_scale: str
    rounds: Limit
    """The range of its rounds (``--sweeps`` for blur, ``--steps`` for repair)."""
    default_rounds: int
    tiles: bool = False
    """Whether a long region may be edited in independent tiles (:mod:`specblur.edit.tiles`): true
    for an effect that works from the region's own sound, false for one that fills it from its edges."""

    def redraw(
        self,
        prior: Any,
        maps: np.ndarray,
        inside: np.ndarray,
        weight: np.ndarray,
        rng: np.random.Generator,
        rounds: int,
        temperature: float,
        context: dict[str, Any],
        levels: tuple[str, ...],
    ) -> np.ndarray:
        """The level's new code map: ``maps`` redrawn where ``inside`` (the region's cells; ``weight``
        is the brush seen by cells, 1 inside), at ``temperature``. ``context`` holds the top codes
        for a bottom-level prior that reads them; ``levels`` are all the levels this edit redraws."""
        raise NotImplementedError

    def input_gain(self, part: np.ndarray) -> float:
        """The gain at which the encoder sees the part worked on (``part``: its samples around the
        region, the channels drawn together); the change is applied to the input as it is."""
        return 1.0

    def shaped(
        self,
        change_db: np.ndarray,
        pixel: np.ndarray,
        centres: np.ndarray,
        frame_s: float,
        level_db: np.ndarray,
        floor_db: float,
        options: Any,
    ) -> np.ndarray:
        """The change in dB (bands x frames) as this effect applies it (default: as decoded)."""
        return change_db

    def reach_seconds(self, options: Any, hole_seconds: float) -> float:
        """How much further either side of the region the edit reads, beyond what the model needs
        (:func:`specblur.edit.plan.plan` widens the part read by it): none by default."""
        return 0.0

    def synthesise(
        self, segment: np.ndarray, rate: int, where: Any, method: str | None, options: Any, key: tuple[int, ...]
    ) -> tuple[np.ndarray, tuple[int, int], str, int | None] | None:
        """For an effect that can work on the samples alone (no codes drawn): the edited
        ``segment`` (the file's samples ``[where.start, where.stop)``), the span of it that may differ,
        the way it was done and how many separate faults that way found and mended, where it counts
        them (repair's ``declick``: clicks; else ``None``); ``None`` (the default) where this edit
        draws codes."""
        return None

    def streamed(self, read: Any, channels: int, rate: int, where: Any, method: str | None, options: Any) -> Any:
        """For an effect that can do a long edit without holding it: what :meth:`synthesise` would
        make of the samples ``[where.start, where.stop)``, read as they are needed by ``read(start,
        stop)`` (frames of the file), as a :class:`specblur.edit.restore.Streamed`: iterated, the
        changed samples ``(first frame of the file, samples)``, in order, as they are made (the same
        bytes), its ``span`` of the file that may differ (final once iterated), its ``method``, its
        ``clicks`` (as :meth:`synthesise` counts them, once iterated) and, as it goes, the share
        done to its ``progress``; ``None`` (the default) where the edit is done in memory."""
        return None

    def holds_overs(self, rate: int, where: Any, method: str | None) -> bool:
        """Whether what :meth:`synthesise` makes of this region is held under full scale
        (:mod:`specblur.edit.overs`): where every face that writes it, in memory or :meth:`streamed`,
        holds it the same way, so that they all write the same bytes. False by default."""
        return False

    def uses_codes(self, method: str | None) -> bool:
        """Whether an edit done this way needs the model's priors (false: :meth:`synthesise` does it)."""
        return True

    def from_codes(
        self,
        model: Any,
        after: Any,
        pixel: np.ndarray,
        segment: np.ndarray,
        rate: int,
        where: Any,
        method: str | None,
        options: Any,
        members: list[int],
        key: tuple[int, ...],
    ) -> tuple[np.ndarray, tuple[int, int]] | None:
        """For an effect that makes the sound of ``members``' channels itself from the redrawn codes
        ``after`` (instead of the change applied to the input's STFT): the edited segment and its span
        that may differ; ``None`` (the default): the change path (:meth:`change`, :meth:`shaped`)."""
        return None

    def method(self, options: Any, where: Any) -> str | None:
        """How this edit of ``where`` (a :class:`~specblur.edit.plan.Plan`) is done, where the effect
        has several ways (``None``: it has one)."""
        return None

    def change(self, model: Any, before: Any, after: Any, pixel: np.ndarray, image: np.ndarray) -> np.ndarray:
        """The change of the image (normalised units, bands x frames) under the brush ``pixel``,
        from the codes ``before`` and ``after`` and the input's own ``image``; zero outside."""
        raise NotImplementedError


def decoded(model: Any, maps: list[Any], pixel: np.ndarray) -> tuple[np.ndarray, slice] | None:
    """The images of several code maps, decoded in one batch over the brush's columns and their
    context only: ``(len(maps), bins, width)`` and the columns they cover (``None``: no brush)."""
    top_t = model.cell["top"][1]
    per_top = model.config.model.top_down[1]
    n_frames = pixel.shape[1]
    used = np.nonzero(pixel.max(axis=0) > 0)[0]
    if not len(used):
        return None
    cols = maps[0].top.shape[-1]
    c0 = max(0, used[0] // top_t - DECODER_CONTEXT_TOP_CELLS)
    c1 = min(cols, used[-1] // top_t + 1 + DECODER_CONTEXT_TOP_CELLS)
    batch = Codes(
        top=np.concatenate([m.top for m in maps])[..., c0:c1],
        bottom=np.concatenate([m.bottom for m in maps])[..., c0 * per_top : c1 * per_top],
    )
    width = min(n_frames, c1 * top_t) - c0 * top_t
    return model.decode(batch, width)[:, 0], slice(c0 * top_t, c0 * top_t + width)
