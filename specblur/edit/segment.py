"""One edit of samples in memory: encode the part the plan names, let the effect redraw the region's
codes level by level, and apply the change it implies to the input's own STFT, only where the brush
reaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specblur import cancel, priors
from specblur.edit.effects import EFFECTS
from specblur.edit.options import EditOptions
from specblur.edit.options import options as make_options
from specblur.edit.overs import Held, hold_under
from specblur.edit.plan import Plan, brush, extent, plan, reach, shift
from specblur.edit.region import Region, band_centres
from specblur.errors import AudioError
from specblur.runtime.dsp import resample
from specblur.runtime.loader import load_model
from specblur.runtime.model import Codes, RuntimeModel
from specblur.runtime.resynth import plan_change, resynthesise


@dataclass
class BlurResult:
    """The edited samples and what was done."""

    samples: np.ndarray
    """Same shape and dtype as the samples given."""
    regions: list[Region]
    """The region actually edited, per level (snapped outward to whole code cells)."""
    changed_codes: float
    """Fraction of the region's codes (all channels, all levels) that were redrawn to another code."""
    span: tuple[int, int]
    """Half-open range of the file's samples that may differ from the input; every other sample is
    identical. Empty (0, 0) when nothing changed."""
    views: list[dict[str, Any]] = field(default_factory=list)
    """Per channel: images and code maps before and after, of the part encoded (for ``--plot``)."""
    method: str | None = None
    """How the effect was done, where it has several ways (repair's method, ``auto`` resolved)."""
    hole: tuple[float, float] = (0.0, 0.0)
    """The time span asked for (s, in the file), before snapping to code cells."""
    band: tuple[float, float] | None = None
    """The band asked for (Hz; ``None``: the whole band), before snapping to code cells."""
    extent: Any = None
    """Where the edit may change the sound (:func:`specblur.edit.plan.extent`), for ``-v``."""
    clicks: int | None = None
    """How many clicks a ``declick`` repair found and mended (``None``: another edit)."""
    held: Held = Held()
    """The edited samples that were over full scale and held under it (``options.full_scale``)."""


def _magnitude(model: Any, segment: np.ndarray, members: list[int], rate: int) -> np.ndarray:
    """The mean STFT magnitude of ``members``' channels at the model's rate (one channel: its own),
    summed a channel at a time (``np.mean`` over them all at once, to the bit, without holding them all)."""
    model_rate = model.config.spectrogram.sample_rate
    total = None
    for c in members:
        mag = model.spectrogram.magnitude(resample(segment[:, c].astype(np.float32), rate, model_rate))
        if total is None:
            total = mag
        else:
            total += mag
    if len(members) > 1:
        total /= len(members)
    return total


def _cell_weight(pixel: np.ndarray, maps: np.ndarray, cell: tuple[int, int], region: Region) -> np.ndarray:
    """The brush seen by a level's cells: the pixel brush averaged over each cell, 1 in the region."""
    rows, cols = maps.shape
    fb, tb = cell
    n_bins, n_frames = pixel.shape
    padded = np.zeros((rows * fb, cols * tb))
    padded[: min(n_bins, rows * fb), : min(n_frames, cols * tb)] = pixel[: rows * fb, : cols * tb]
    weight = padded.reshape(rows, fb, cols, tb).mean(axis=(1, 3))
    weight[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = 1.0
    return weight


def check_finite(segment: np.ndarray, start: int, rate: int) -> None:
    """Raise :class:`AudioError` where ``segment`` (the file's samples from frame ``start``) holds a
    sample that is not finite, naming the first one's time."""
    bad = ~np.isfinite(segment)
    if bad.any():
        first = start + int(np.argwhere(bad)[0][0])
        raise AudioError(
            f"has NaN or infinite samples (the first at {first / rate:.6g} s) in the part to edit; "
            "repair the file (e.g. with sox) first"
        )


def edit_segment(
    loaded: RuntimeModel,
    segment: np.ndarray,
    rate: int,
    where: Plan,
    options: EditOptions,
    keep_views: bool = False,
    key: tuple[int, ...] = (),
    in_place: bool = False,
    counted: tuple[int | None, int | None] = (None, None),
) -> BlurResult:
    """Edit ``segment`` = the file's samples ``[where.start, where.stop)``, ``(frames, channels)``,
    with ``options`` (the effect, its prior and settings); see :mod:`specblur.edit.effects`. ``key``
    is added to the seed for the random draws (a tile of a long region, :mod:`specblur.edit.tiles`,
    gives its number). ``in_place``: the edit is written into ``segment`` itself (the result's
    samples are ``segment``), for a caller that no longer needs the input (a tile: one copy of the
    part fewer in memory while it is edited); for the change path only (a blur), not with
    ``keep_views``. ``counted``: the file's frames whose overs the result's ``held`` counts (a tile:
    those the output takes from it; ``None``: no bound on that side).

    Returns the edited segment; its ``span`` is in the file's samples. With ``options.linked`` the
    channels are edited together, one draw of codes from their mean magnitude and one change applied
    to every channel (the stereo image holds); else each channel on its own.
    """
    effect = EFFECTS[options.effect]
    method = effect.method(options, where)
    level_priors = priors.for_model(loaded, options.prior) if effect.uses_codes(method) else None
    check_finite(segment, where.start, rate)
    synthesised = effect.synthesise(segment, rate, where, method, options, key)
    if synthesised is not None:  # done from the samples alone, no codes drawn
        asked = method
        out, span, method, clicks = synthesised
        # held under full scale where every face holds it the same way (streamed, a long fill is
        # held as its patches come: the same numbers)
        held = Held()
        if options.full_scale and span[0] < span[1] and effect.holds_overs(rate, where, asked):
            held = hold_under(out, rate, *span, counted=_counted(counted, where))
        span = (where.start + span[0], where.start + span[1]) if span[0] < span[1] else (0, 0)
        views = []
        if keep_views:  # the spectrograms before and after
            every = list(range(segment.shape[1]))
            model = loaded.model
            image = model.spectrogram.features_from_magnitude(_magnitude(model, segment, every, rate))[None, None]
            views.append(_view(model, out, every, rate, where, image, None, None, np.zeros(image.shape[-2:])))
        return BlurResult(
            out, where.regions, float("nan"), span, views, method, where.hole, where.band, clicks=clicks, held=held
        )
    model = loaded.model
    spec_cfg = model.config.spectrogram
    regions = [shift(r, where.frame0, model.cell[r.level]) for r in where.regions]
    levels = tuple(r.level for r in regions)
    fine = regions[-1]
    centres = band_centres(spec_cfg)
    top_hz = min(spec_cfg.f_max, rate / 2)
    out = segment if in_place and not keep_views else np.array(segment, copy=True)
    changed = total = 0
    span = (len(segment), 0)
    pending = []  # what --plot draws of each channel group, drawn once the output is final
    channels = segment.shape[1]
    groups = [list(range(channels))] if options.linked and channels > 1 else [[c] for c in range(channels)]
    near = _near(model, regions, where.sigma, rate)
    for ch, members in enumerate(groups):
        heard = _magnitude(model, segment, members, rate)
        gain = effect.input_gain(segment[near][:, members])
        image = model.spectrogram.features_from_magnitude(heard * gain)[None, None]
        n_frames = image.shape[-1]
        pixel = brush(spec_cfg.n_bins, n_frames, fine.bins, fine.frames, where.sigma)
        cancel.check()
        codes = model.encode(image)
        new = Codes(top=codes.top.copy(), bottom=codes.bottom.copy())
        rng = np.random.default_rng([options.seed, ch, *key])
        for region in regions:
            level = region.level
            maps = getattr(new, level)[0]
            inside = np.zeros_like(maps, dtype=bool)
            inside[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = True
            prior = level_priors[level]
            # a bottom-level prior that reads the top codes sees them as they are now (filled first)
            context = {"top": new.top[0]} if level == "bottom" and prior.uses_top else {}
            weight = _cell_weight(pixel, maps, model.cell[level], region)
            t = prior.temperature * options.temperature
            cancel.check()
            redrawn = effect.redraw(prior, maps, inside, weight, rng, options.rounds, t, context, levels)
            changed += int((redrawn != maps)[inside].sum())
            total += int(inside.sum())
            getattr(new, level)[0] = redrawn
        made = effect.from_codes(model, new, pixel, segment, rate, where, method, options, members, (ch, *key))
        if made is not None:  # the effect made the sound from the codes itself
            edited, s = made
            out[:, members] = edited[:, members]
            if s[1] > s[0]:
                span = (min(span[0], s[0]), max(span[1], s[1]))
            continue
        cancel.check()
        change_db = effect.change(model, codes, new, pixel, image[0, 0]) * spec_cfg.norm_std_db
        frame_s = spec_cfg.hop_length / spec_cfg.sample_rate
        level_db = model.spectrogram.to_db(image[0, 0])
        change_db = effect.shaped(change_db, pixel, centres, frame_s, level_db, spec_cfg.floor_db, options)
        change_db = change_db * options.amount
        frame_times = np.arange(n_frames) * frame_s
        # one plan for the group's channels: they take the same change
        planned = plan_change(
            len(segment), rate, change_db, frame_times, centres, top_hz, spec_cfg.sample_rate, spec_cfg.n_fft
        )
        for c in members:
            cancel.check()
            piece, s = resynthesise(segment[:, c], planned, options.phase_iters, options.phase_start or "input")
            if piece is not None:
                out[s[0] : s[1], c] = piece
                span = (min(span[0], s[0]), max(span[1], s[1]))
        if keep_views:
            # (the picture's "before" is the input at its own level, as "after" is the output's: the
            # encoder's gain is what the model saw, not what is heard)
            seen = image if gain == 1 else model.spectrogram.features_from_magnitude(heard)[None, None]
            pending.append((members, seen, codes, new, change_db))
    held = hold_under(out, rate, *span, counted=_counted(counted, where)) if options.full_scale else Held()
    # the pictures drawn from the output as written: after the dips that hold it under full scale
    views = [_view(model, out, m, rate, where, seen, c, n, d) for m, seen, c, n, d in pending]
    span = (where.start + span[0], where.start + span[1]) if span[0] < span[1] else (0, 0)
    reach = extent(loaded, where)
    return BlurResult(
        out, where.regions, changed / max(total, 1), span, views, method, where.hole, where.band, reach, held=held
    )


def _near(model: Any, regions: list[Region], sigma: tuple[float, float], rate: int) -> slice:
    """The samples of the part worked on around its regions (on the part's grid): the regions, the
    brush's shoulders and the context :func:`~specblur.edit.plan.plan` keeps, as it crops them, so
    an edit of the region alone and of the whole file see the same samples."""
    spec_cfg = model.config.spectrogram
    lo, hi = reach(model, regions, sigma)
    lo = max(0, lo)
    per_frame = spec_cfg.hop_length * rate / spec_cfg.sample_rate
    return slice(int(round(lo * per_frame)), int(round(hi * per_frame)))


def _counted(counted: tuple[int | None, int | None], where: Plan) -> tuple[int, int]:
    """``counted`` (the file's frames, ``None``: no bound) in the segment's frames."""
    first = where.start if counted[0] is None else counted[0]
    last = where.stop if counted[1] is None else counted[1]
    return first - where.start, last - where.start


def _view(
    model: Any,
    out: np.ndarray,
    members: list[int],
    rate: int,
    where: Plan,
    image: np.ndarray,
    codes: Codes | None,
    new: Codes | None,
    change_db: np.ndarray,
) -> dict[str, Any]:
    """What ``--plot`` draws of one channel group: the images and code maps before and after
    (``None`` codes: a fill that drew none)."""
    spec_cfg = model.config.spectrogram
    heard = _magnitude(model, out, members, rate)
    after = model.spectrogram.to_db(model.spectrogram.features_from_magnitude(heard))
    n_frames = image.shape[-1]
    return {
        "t0": where.frame0 * spec_cfg.hop_length / spec_cfg.sample_rate,
        "before": image[0, 0],
        "after_db": after[:, :n_frames],  # the output's own spectrogram, not the request
        "requested_db": model.spectrogram.to_db(image[0, 0]) + change_db,
        "codes_before": codes,
        "codes_after": new,
        "change_db": change_db,
    }


def blur(
    loaded: Any,
    samples: np.ndarray,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    options: EditOptions | None = None,
    keep_views: bool = False,
    **changes: Any,
) -> BlurResult:
    """Edit a time-frequency region of ``samples`` (``(frames,)`` or ``(frames, channels)``) with
    ``options`` (default: a blur at the default settings; ``changes`` are :class:`EditOptions` fields
    to change), encoding and decoding only the region and its context. ``samples`` of the result has
    the input's shape: the samples outside its ``span`` are the input's.
    """
    loaded = load_model(loaded)
    opts = make_options(options, **changes)
    mono = samples.ndim == 1
    data = samples[:, None] if mono else samples
    where = plan(loaded, data.shape[0], rate, time, freq, opts)
    part = edit_segment(loaded, data[where.start : where.stop], rate, where, opts, keep_views)
    out = np.array(data, copy=True)
    out[where.start : where.stop] = part.samples
    part.samples = out[:, 0] if mono else out
    return part
