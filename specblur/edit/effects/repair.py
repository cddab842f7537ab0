"""Repair: the region filled from its context.

By default (``auto``) and with ``envelope``, ``interpolate`` or ``ar`` the filling is classical
restoration (:mod:`specblur.edit.restore`): magnitude and phase synthesised from the context, so a
dropout of digital silence comes back at the level around it. ``model`` is the model's own fill:
the region's codes thrown away and filled from the context only (the prior's fill, rounds of
unmasking), then each model band of the region brought to the decoder's image of the fill,
``decode(new)`` against the input's own image, not its decoding; the fine structure within a band
stays the input's (so a region of silence stays silent). ``texture`` puts the model's fill, less its
own level per band, on the context's envelope (:func:`specblur.edit.restore.texture_on_envelope`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specblur.edit import restore
from specblur.edit.effects.base import Effect, decoded
from specblur.edit.limits import STEPS
from specblur.edit.overs import HeldStream
from specblur.edit.region import band_centres

SAMPLE_METHODS = ("envelope", "interpolate", "ar", "hybrid", "declick", "match", "auto")
"""The methods that need no model: the region is synthesised from its context alone (``auto`` as
:func:`choose` leaves it for long holes: ``match``, ``hybrid`` or ``envelope``, decided on the audio)."""
TEXTURE_IN_AUTO = False
"""Whether ``auto`` uses ``texture`` on holes too long for ``ar`` (else ``match``, ``hybrid`` or
``envelope``); set by the measurement in docs/REPAIR.md."""


def choose(hole_seconds: float, band: tuple[float, float] | None) -> str:
    """The method ``auto`` uses for a hole of ``hole_seconds`` as far as its length decides
    (:func:`restore.choose_method`): ``auto`` again for whole-band regions short enough to be looked
    at for clicks and for holes long enough to be searched for a ``match``, which
    :func:`restore.restore` settles on the audio (``declick`` where it finds clicks; ``match`` where a
    stretch elsewhere fits closely; else by the length); ``ar`` for the shortest holes with a band,
    or ``texture`` with :data:`TEXTURE_IN_AUTO`."""
    if band is None and hole_seconds <= restore.DECLICK_MAX_SECONDS:
        return "auto"
    if hole_seconds <= restore.AR_MAX_SECONDS:
        return "ar"
    return "texture" if TEXTURE_IN_AUTO else "auto"


def search_seconds(method: str | None, hole_seconds: float) -> float:
    """How far either side of the hole a repair reads, beyond what the model needs: ``match`` (and
    ``auto`` on holes it may fill by ``match``) looks :data:`restore.SEARCH_SECONDS` each way."""
    method = method or "auto"
    if method == "match" or (method == "auto" and hole_seconds > restore.MATCH_MIN_SECONDS):
        return restore.SEARCH_SECONDS
    return 0.0


class Repair(Effect):
    name = "repair"
    help = "fill the region from the context around it"
    default_scale = "both"
    rounds = STEPS
    default_rounds = 8

    def reach_seconds(self, options: Any, hole_seconds: float) -> float:
        return search_seconds(options.method, hole_seconds)

    def method(self, options: Any, where: Any) -> str:
        method = options.method or "auto"
        return choose(where.hole[1] - where.hole[0], where.band) if method == "auto" else method

    def uses_codes(self, method: str | None) -> bool:
        return method not in SAMPLE_METHODS

    def synthesise(self, segment, rate, where, method, options, key):
        """The classical methods (:data:`SAMPLE_METHODS`): the hole filled from the samples around it
        by :mod:`specblur.edit.restore`, every channel together (``auto`` settled on the audio)."""
        if method not in SAMPLE_METHODS:
            return None
        every = list(range(segment.shape[1]))
        return restored(segment, rate, _hole_in(where, rate), where.band, method, options, every, (0, *key))

    def holds_overs(self, rate, where, method):
        """Every classical fill: :meth:`streamed` holds a long one as :func:`specblur.edit.segment.edit_segment`
        holds it in memory."""
        return method in SAMPLE_METHODS

    def streamed(self, read, channels, rate, where, method, options):
        """A hole that :func:`restore.restore` fills a block at a time (``envelope``, ``interpolate``,
        ``auto`` with nothing to copy from: :func:`restore.restore_in_blocks`), read and written a
        block at a time: what :meth:`synthesise` makes, the same bytes, in memory that follows a
        block, not the span (a 10-minute span works as a 10-second one); a
        :class:`restore.Streamed` in the file's samples."""
        if method not in SAMPLE_METHODS or options.amount == 0:
            return None
        n = where.stop - where.start
        rng = np.random.default_rng([options.seed, 0])  # (restored's, for the one untiled edit)

        def span_read(start: int, stop: int) -> np.ndarray:
            return read(where.start + start, where.start + stop)

        hole = _hole_in(where, rate)
        made = restore.restore_in_blocks(span_read, n, channels, rate, hole, where.band, method, rng, options.linked)
        if made is None:
            return None

        def in_file(span: tuple[int, int]) -> tuple[int, int]:
            return (where.start + span[0], where.start + span[1]) if span[0] < span[1] else (0, 0)

        def mixed(outer: restore.Streamed) -> Any:
            made.progress = outer.report

            def patches() -> Any:
                for start, filled in made:
                    if options.amount < 1:  # (as restored mixes them)
                        x = span_read(start, start + len(filled))
                        filled -= x
                        filled *= options.amount
                        filled += x
                    yield where.start + start, filled

            # held under full scale as edit_segment holds the same fill made in memory (a declick's
            # patches are its clicks': the frames between them that a dip reaches are read)
            held = HeldStream(patches(), rate, read) if options.full_scale else None
            yield from held if held is not None else patches()
            outer.span = in_file(made.span)  # (final once made is: a declick's, its clicks')
            outer.clicks = made.clicks
            if held is not None:
                outer.held = held.held

        return restore.Streamed(in_file(made.span), made.method, mixed)

    def from_codes(self, model, after, pixel, segment, rate, where, method, options, members, key):
        """``texture``: the decoder's image of the filled codes as detail on the context's envelope."""
        if method != "texture":
            return None
        hole = _hole_in(where, rate)
        grid = restore.plan(len(segment), rate, (round(hole[0] * rate), round(hole[1] * rate)), where.band)
        centres = band_centres(model.config.spectrogram)
        detail = texture_db(model, after, pixel, grid, rate, centres)
        edited, span, _, _ = restored(segment, rate, hole, where.band, method, options, members, key, detail)
        return edited, span

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


def texture_db(
    model: Any, after: Any, pixel: np.ndarray, grid: restore.Grid, rate: int, centres: np.ndarray
) -> np.ndarray:
    """The decoder's image of the filled codes in dB (``after``), on ``grid``'s bins and hole frames
    (the segment's own STFT grid at ``rate``): what ``texture`` puts on the context's envelope."""
    spec_cfg = model.config.spectrogram
    filled = decoded(model, [after], pixel)
    if filled is None:
        return np.zeros((len(grid.bins_hz), len(grid.hole_frames)))
    images, window = filled
    image_db = images[0] * spec_cfg.norm_std_db  # (bands, frames); its mean per bin is dropped later
    model_t = (window.start + np.arange(image_db.shape[1])) * spec_cfg.hop_length / spec_cfg.sample_rate
    by_bin = np.stack([np.interp(grid.bins_hz, centres, column) for column in image_db.T], axis=1)
    hole_t = grid.frame_times[grid.hole_frames] / rate
    return np.stack([np.interp(hole_t, model_t, row) for row in by_bin])


def _hole_in(where: Any, rate: int) -> tuple[float, float]:
    """The hole asked for, in seconds of the segment ``where`` names (it starts at ``where.start``)."""
    return (where.hole[0] - where.start / rate, where.hole[1] - where.start / rate)


def restored(
    segment: np.ndarray,
    rate: int,
    hole: tuple[float, float],
    band: tuple[float, float] | None,
    method: str,
    options: Any,
    members: list[int],
    group: tuple[int, ...],
    detail: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, int], str, int | None]:
    """``members``' channels of ``segment`` with the hole filled by ``method`` of
    :mod:`specblur.edit.restore` (``--amount`` mixes the fill with what was there); the other
    channels as they were. Returns them, the span (in the segment) that may differ, the method
    that filled it (``auto``'s choice) and, for ``declick``, how many clicks it mended (else
    ``None``). Where every channel is filled, the restored copy is returned as it is (a long span is
    held twice, not four times: the segment and its copy)."""
    if options.amount == 0:
        return np.array(segment, copy=True), (len(segment), 0), method, None
    every = list(members) == list(range(segment.shape[1]))
    x = np.asarray(segment if every else segment[:, members], dtype=np.float64)
    rng = np.random.default_rng([options.seed, *group])
    mended: list[restore.Run] = []
    filled, span, used = restore.restore(x, rate, hole, band, method, rng, options.linked, detail, mended)
    clicks = len(mended) if used == "declick" else None
    if options.amount < 1:  # x + amount * (filled - x), in place
        filled -= x
        filled *= options.amount
        filled += x
    if every:
        return filled.astype(segment.dtype, copy=False), span, used, clicks
    out = np.array(segment, copy=True)
    out[:, members] = filled.astype(out.dtype)
    return out, span, used, clicks
