"""Edits of files (and of arrays, as files are edited): only the parts of a file that its regions
need are read, and the output is the input with each changed span patched in
(:func:`specblur.audio.write_patches`), so every byte outside them is the input's and memory follows
the regions, not the file; a long region streams, a tile at a time (:mod:`specblur.edit.tiles`), and
a long repair a block at a time (:meth:`specblur.edit.effects.base.Effect.streamed`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specblur import audio
from specblur.edit import tiles
from specblur.edit.effects import EFFECTS
from specblur.edit.options import EditOptions
from specblur.edit.options import options as make_options
from specblur.edit.overs import REACH_SECONDS, Held
from specblur.edit.plan import extent, plan
from specblur.edit.segment import BlurResult, check_finite, edit_segment
from specblur.edit.tiles import Progress
from specblur.errors import AudioError, UsageError
from specblur.runtime.loader import load_model

PATCH_FRAMES = 1 << 16
"""A changed span held in memory (a region not edited in tiles: a long repair, say) is written in
pieces of this many frames, so that what converting it to the file's encoding takes follows a piece,
not the span (the bytes are the same: each sample is encoded on its own)."""
STREAM_UNIT_SECONDS = 2.0
"""A long edit made as it is read (a repair's long hole, a declick of a whole record) counts its
progress in pieces of this much of the file (:func:`stream_units`)."""


def stream_units(where: Any, rate: int) -> int:
    """The pieces of :data:`STREAM_UNIT_SECONDS` a streamed edit of plan ``where`` counts its
    progress in (at least one)."""
    return max(1, round((where.stop - where.start) / rate / STREAM_UNIT_SECONDS))


@dataclass
class FileEdit:
    """What :func:`blur_file_regions` (and :func:`blur_file`) did to one file."""

    result: BlurResult
    """The edits together: their regions, views, mean share of codes redrawn and the span around all
    changed samples (``samples`` left empty: the output is on disk)."""
    seconds: float
    """Length of the input."""
    warnings: list[str] = field(default_factory=list)
    """Things the user should know (each names the file); the CLI prints them unless ``-q``."""
    parts: list[BlurResult] = field(default_factory=list)
    """Each region's own edit, in order (``samples`` left empty)."""


def blur_file(
    loaded: Any,
    src: str,
    dst: str,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    options: EditOptions | None = None,
    keep_views: bool = False,
    progress: Progress | None = None,
    **changes: Any,
) -> FileEdit:
    """Edit file (or ``-``) ``src`` into ``dst`` (or ``-``) at one region with ``options`` (and
    ``changes`` to them, as :func:`specblur.edit.segment.blur`): the one region case of
    :func:`blur_file_regions`.

    Only the samples the edit needs are read, and the output is the input with the changed span
    patched in (see :func:`specblur.audio.write_patched`): memory and time follow the region, not
    the file, and every byte outside the changed samples is the input's; a long region streams, a
    tile at a time (see :func:`blur_file_regions`). stdin is read whole into memory first (a pipe
    cannot seek). Errors name the file.
    """
    return blur_file_regions(
        loaded, src, dst, [{"time": time, "freq": freq}], options, keep_views, progress=progress, **changes
    )


# -- several regions in one call -----------------------------------------------------------------


def edit_in_place(
    loaded: Any,
    buffer: np.ndarray,
    rate: int,
    frames: int,
    offset: int = 0,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    options: EditOptions | None = None,
    keep_views: bool = False,
) -> BlurResult:
    """Edit, in place, a file of ``frames`` frames held (in part) in ``buffer``: its frames
    ``[offset, offset + len(buffer))``, ``(frames, channels)`` float64, which must hold the edit's
    :class:`~specblur.edit.plan.Plan` span; the region is ``time`` x ``freq``. Only the samples of
    the returned ``span`` are rewritten; the returned result's ``samples`` is the edited part
    ``[plan.start, plan.stop)``. This is one step of :func:`blur_file_regions`, and what
    ``specblur edit`` runs on each Apply.
    """
    loaded = load_model(loaded)
    options = options or EditOptions()
    where = plan(loaded, frames, rate, time, freq, options)
    a, b = where.start - offset, where.stop - offset
    if a < 0 or b > len(buffer):
        held = f"{offset}-{offset + len(buffer)}"
        raise ValueError(f"the buffer holds frames {held}; the edit needs {where.start}-{where.stop}")
    result = edit_segment(loaded, buffer[a:b], rate, where, options, keep_views)
    s0, s1 = result.span
    if s1 > s0:
        buffer[s0 - offset : s1 - offset] = result.samples[s0 - where.start : s1 - where.start]
    return result


def clusters(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open ``spans`` as disjoint, sorted spans."""
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def blur_file_regions(
    loaded: Any,
    src: str,
    dst: str,
    regions: list[dict[str, Any]],
    options: EditOptions | None = None,
    keep_views: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    **changes: Any,
) -> FileEdit:
    """Edit file (or ``-``) ``src`` into ``dst`` (or ``-``) at several regions, one after another,
    and write once.

    Each item of ``regions`` holds a region's ``time`` and ``freq`` (and may override any field of
    ``options``, which ``changes`` change for all); ``name`` (optional) is put before its error messages,
    e.g. the label file and line it came from. A region sees the edits of the ones before it where
    they overlap. ``dst`` must be named for ``src``'s format (the output keeps it, see
    :func:`specblur.audio.check_output_name`), and every region is located before any audio is read,
    so a name that lies or a region that does not fit the file fails the call with nothing written.
    Only the regions' parts of the file are read (overlapping parts once), and the output is the
    input with each changed span patched in (:func:`specblur.audio.write_patches`): every byte outside
    them is the input's, and an edit that changes no sample (``amount=0``) writes an exact copy of
    the input.

    A blur of a long region (the whole of a long file, say) that overlaps no other region streams:
    it is done tile by tile (:mod:`specblur.edit.tiles`), each tile written as soon as it is done, so
    memory follows the tiles in flight, not the region; :func:`specblur.edit.tiles.run_in_order` edits
    ``workers`` tiles at once (default: :func:`specblur.edit.tiles.workers`; the same bytes as one at a
    time). A repair of a long hole that overlaps no other region streams too, a block at a time, read
    and written as it is made (:func:`specblur.edit.restore.restore_in_blocks`; benchmarks/streams.py).
    ``progress(done, total)`` (optional) is called as tiles and regions are done. Anything that goes
    wrong on the way (the input cut short while it is read, a full disk, Ctrl-C) leaves no ``dst``.
    """
    loaded = load_model(loaded)
    name = "stdin" if src == "-" else src
    if not regions:
        raise UsageError(f"{name}: no regions to edit")
    warnings: list[str] = []
    try:
        opts = make_options(options, **changes)
        source = audio.Source(src)
        head = source.info()
        opts = opts.replace(full_scale=audio.clips(head.subtype))  # (overs held under full scale, not clipped)
        audio.check_output_name(dst, head, name)
        short = source.shortfall()
        if short is not None:
            warnings.append(f"{name}: {short}; processing what is there")
        planned = []
        for item in regions:
            own = {k: v for k, v in item.items() if k not in ("name", "time", "freq")}
            job = {
                "time": item.get("time", (None, None)),
                "freq": item.get("freq", (None, None)),
                "options": opts.replace(**own) if own else opts,
            }
            try:
                where = plan(loaded, head.frames, head.sample_rate, **job)
            except UsageError as exc:
                if item.get("name"):
                    raise UsageError(f"{item['name']}: {exc}") from None
                raise
            planned.append((item.get("name"), job, where))
        groups = clusters([(where.start, where.stop) for _, _, where in planned])
        members: list[list[int]] = [[] for _ in groups]
        for i, (_, _, where) in enumerate(planned):
            members[_group_of(groups, where)].append(i)
        tiled: dict[int, list[tiles.Tile]] = {}
        for k, (i, *rest) in enumerate(members):
            job, where = planned[i][1], planned[i][2]
            cut = tiles.tiles(where.hole, head.sample_rate) if EFFECTS[job["options"].effect].tiles else None
            if cut is not None and not rest:
                tiled[k] = cut
        # a long edit that an effect makes without holding it (a repair's long hole): read and
        # written as it is made, one block at a time, memory following a block (not with a picture:
        # that is drawn from the whole part)
        filled: dict[int, Any] = {}  # (specblur.edit.restore.Streamed)
        units: dict[int, int] = {}  # the pieces a streamed edit's progress is counted in
        for k, (i, *rest) in enumerate(members):
            job, where = planned[i][1], planned[i][2]
            effect = EFFECTS[job["options"].effect]
            if k in tiled or rest or keep_views:
                continue
            method = effect.method(job["options"], where)
            made = effect.streamed(source.read_span, head.channels, head.sample_rate, where, method, job["options"])
            if made is not None:
                filled[k] = made
                units[k] = stream_units(where, head.sample_rate)
        total = sum(
            units[k] if k in filled else len(tiled[k]) if k in tiled else len(members[k]) for k in range(len(groups))
        )
        count = _Counter(progress, total)
        parts: list[BlurResult | None] = [None] * len(planned)
        clipped = 0

        def fitted(start: int, patch: np.ndarray) -> tuple[int, np.ndarray]:
            nonlocal clipped
            out = audio.fit_subtype(patch, head.subtype)
            clipped += int(np.sum(out != patch))
            return start, out

        def stream() -> Iterator[tuple[int, np.ndarray]]:
            for k in range(len(groups)):
                if k in filled:
                    i = members[k][0]
                    made = filled.pop(k)
                    made.progress = count.share(units[k])
                    for start, patch in _filled(source, head, planned[i], made, parts, i):
                        yield fitted(start, patch)
                    made.report(1.0)
                elif k in tiled:
                    i = members[k][0]
                    streamed = _streamed(
                        loaded, source, head, planned[i], tiled[k], count, parts, i, keep_views, workers
                    )
                    for start, patch in streamed:
                        yield fitted(start, patch)
                else:
                    chosen = [planned[i] for i in members[k]]
                    for start, patch in _in_turn(loaded, source, head, chosen, members[k], parts, count, keep_views):
                        for lo in range(0, len(patch), PATCH_FRAMES):  # (converting it follows a piece)
                            yield fitted(start + lo, patch[lo : lo + PATCH_FRAMES])

        warnings += audio.write_patches(source, dst, stream())
        seconds = head.frames / head.sample_rate
    except (UsageError, AudioError) as exc:
        message = str(exc)
        if not message.startswith(f"{name}:"):
            raise type(exc)(f"{name}: {message}") from None
        raise
    done = [(planned[i][0], r) for i, r in enumerate(parts) if r is not None]
    for label, result in done:
        if result.changed_codes == 0:
            where = f"{label}: " if label else ""
            warnings.append(f"{name}: {where}the prior kept every code of the region; raise --temperature to change it")
    held = sum((r.held for _, r in done), Held())
    if held.frames:
        warnings.append(
            f"{name}: {held.frames} edited samples were over full scale: held under it by dips in gain of up "
            f"to {20 * np.log10(held.gain):.1f} dB, {1000 * REACH_SECONDS:g} ms each side, not clipped"
        )
    if clipped:
        warnings.append(f"{name}: {clipped} edited samples clipped at full scale")
    spans = [r.span for _, r in done if r.span[1] > r.span[0]]
    total_result = BlurResult(
        samples=np.zeros((0, head.channels)),
        regions=[region for _, r in done for region in r.regions],
        changed_codes=float(np.mean([r.changed_codes for _, r in done])),
        span=(min(a for a, _ in spans), max(b for _, b in spans)) if spans else (0, 0),
        views=[view for _, r in done for view in r.views],
    )
    return FileEdit(total_result, seconds, warnings, [r for _, r in done])


def edit_samples(
    loaded: Any,
    samples: np.ndarray,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    options: EditOptions | None = None,
) -> np.ndarray:
    """The array form of :func:`blur_file`: ``samples`` (``(frames,)`` or ``(frames, channels)``)
    edited at one region, returned as a new float64 array of the same shape. A long blur is done in
    the same tiles as a file's, so an array and a file of the same samples get the same result."""
    from specblur.edit.segment import blur

    loaded = load_model(loaded)
    opts = options or EditOptions()
    mono = samples.ndim == 1
    data = np.asarray(samples[:, None] if mono else samples, dtype=np.float64)
    where = plan(loaded, data.shape[0], rate, time, freq, opts)
    cut = tiles.tiles(where.hole, rate) if EFFECTS[opts.effect].tiles else None
    if cut is None:
        return blur(loaded, samples, rate, time, freq, opts).samples
    out = np.array(data, copy=True)

    def results() -> Iterator[tiles.TileResult]:
        for tile in cut:
            part = plan(loaded, data.shape[0], rate, tile.time, freq, opts)
            after = cut[tile.index + 1] if tile.index + 1 < len(cut) else None
            yield tiles.run_tile(loaded, data[part.start : part.stop], rate, part, opts, tile, after)

    for start, patch in tiles.assemble(results(), cut):
        out[start : start + len(patch)] = patch
    return out[:, 0] if mono else out


def _group_of(groups: list[tuple[int, int]], where: Any) -> int:
    return next(i for i, (lo, hi) in enumerate(groups) if lo <= where.start and where.stop <= hi)


class InTurn:
    """Regions edited one after another, each seeing the edits before it, whose changed samples are
    let go as soon as no region still to come can read them: memory follows the parts in reach of
    the regions still to come, not the union of what they change. ``starts``: the first frame each
    region reads (its plan's ``start``), in the order they are edited; ``frames``: the file's length.

    For the ``n``-th region: :meth:`over` lays the changes so far over the part it read, :meth:`put`
    keeps what it changed, and :meth:`done` gives, in file order, the changed spans that no region
    after it reads (every change at the last)."""

    def __init__(self, starts: list[int], frames: int) -> None:
        # the first frame any region after the n-th reads: below it, nothing changes any more
        self.frontier = [frames] * len(starts)
        for n in range(len(starts) - 2, -1, -1):
            self.frontier[n] = min(self.frontier[n + 1], starts[n + 1])
        self.pending: list[tuple[int, np.ndarray]] = []  # (start, samples): disjoint, float64

    def over(self, buffer: np.ndarray, start: int) -> None:
        """Lay the changes so far over ``buffer``, the frames from ``start``."""
        for at, x in self.pending:
            lo, hi = max(at, start), min(at + len(x), start + len(buffer))
            if hi > lo:
                buffer[lo - start : hi - start] = x[lo - at : hi - at]

    def put(self, start: int, samples: np.ndarray) -> None:
        """Keep ``samples`` (held as given: pass a copy) as the changes from ``start``."""
        lay(self.pending, start, samples)

    def done(self, n: int) -> Iterator[tuple[int, np.ndarray]]:
        """After the ``n``-th region: the changed spans below what any later region reads, in file
        order, let go as they are given."""
        self.pending.sort(key=lambda p: p[0])
        keep: list[tuple[int, np.ndarray]] = []
        ready: list[tuple[int, np.ndarray]] = []
        for at, x in self.pending:
            cut = min(len(x), max(0, self.frontier[n] - at))
            if cut:
                ready.append((at, x[:cut]))
            if cut < len(x):
                keep.append((at + cut, x[cut:].copy() if cut else x))
        self.pending = keep
        while ready:
            yield ready.pop(0)


def _in_turn(
    loaded: Any,
    source: audio.Source,
    head: Any,
    chosen: list[tuple[str | None, dict[str, Any], Any]],
    indices: list[int],
    parts: list[BlurResult | None],
    count: _Counter,
    keep_views: bool,
) -> Iterator[tuple[int, np.ndarray]]:
    """The changed samples of a group of regions whose parts overlap, edited one after another
    (:class:`InTurn`), given in file order as soon as no region still to come can read them. (The
    group was read and held whole: a label file of dropouts less than 17 s apart, each repair reading
    8 s either side to search for a match, held the whole file as float64.) Each region's part is
    read and the group's changes so far laid over it, so every region sees what it saw in a group
    held whole: the same bytes. ``parts[indices[n]]`` gets each region's result."""
    turns = InTurn([where.start for _, _, where in chosen], head.frames)
    for n, (label, job, where) in enumerate(chosen):
        buffer = source.read_span(where.start, where.stop)
        turns.over(buffer, where.start)
        try:
            result = edit_in_place(
                loaded, buffer, head.sample_rate, head.frames, where.start, keep_views=keep_views, **job
            )
        except UsageError as exc:
            if label:
                raise UsageError(f"{label}: {exc}") from None
            raise
        s0, s1 = result.span
        if s1 > s0:
            turns.put(s0, buffer[s0 - where.start : s1 - where.start].copy())
        del buffer
        result.samples = np.zeros((0, head.channels))  # (not a view of the part)
        parts[indices[n]] = result
        count.step()
        yield from turns.done(n)


def lay(patches: list[tuple[int, np.ndarray]], at: int, samples: np.ndarray) -> None:
    """Lay the patch ``(at, samples)`` over ``patches`` (disjoint ``(start, samples)``), cutting away
    what it covers of them (what is left of one is copied, not a view that would keep it whole), so
    that each changed sample is held once: memory follows the samples changed, not the sum of the
    regions' spans. (The editor's steps lay their regions' changes the same way: a label file of
    2000 overlapping regions, 0.25 s apart, on a 10-minute stereo file peaked at 2.5 GB there when
    each region's span was kept whole.)"""
    end = at + len(samples)
    kept = []
    for start, x in patches:
        stop = start + len(x)
        if stop <= at or start >= end:
            kept.append((start, x))
            continue
        if start < at:
            kept.append((start, x[: at - start].copy()))
        if stop > end:
            kept.append((end, x[end - start :].copy()))
    kept.append((at, samples))
    patches[:] = kept


class _Counter:
    """Calls ``progress(done, total)`` as pieces of work are done."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        if progress is not None:
            progress(0, total)

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def share(self, units: int) -> Callable[[float], None]:
        """A callback for a piece of work counted as ``units``: given the share of it done (0 to 1),
        it moves the count on to match."""
        base = self.done

        def report(share: float) -> None:
            done = base + int(share * units)
            if done > self.done:
                self.done = done
                if self.progress is not None:
                    self.progress(self.done, self.total)

        return report


def check_finite_span(read: Callable[[int, int], np.ndarray], start: int, stop: int, rate: int) -> None:
    """:func:`~specblur.edit.segment.check_finite` of the file's frames ``[start, stop)``, read by
    ``read(lo, hi)`` a block at a time (what a long edit made as it is read checks first, as
    :func:`~specblur.edit.segment.edit_segment` checks the part it is given)."""
    for lo in range(start, stop, audio.BLOCK_FRAMES):
        check_finite(read(lo, min(stop, lo + audio.BLOCK_FRAMES)), lo, rate)


def _filled(
    source: audio.Source,
    head: Any,
    planned: tuple[str | None, dict[str, Any], Any],
    made: Any,
    parts: list[BlurResult | None],
    index: int,
) -> Iterator[tuple[int, np.ndarray]]:
    """The patches of one long edit that its effect makes as it goes
    (:meth:`~specblur.edit.effects.base.Effect.streamed`): the part it works on checked for samples
    that are not finite first, a piece at a time (as :func:`~specblur.edit.segment.edit_segment`
    checks the part it is given), then the effect's samples as they come; its result is put in
    ``parts[index]`` once they are all made."""
    _, _, where = planned
    check_finite_span(source.read_span, where.start, where.stop, head.sample_rate)
    yield from made
    samples = np.zeros((0, head.channels))
    done = {"method": made.method, "hole": where.hole, "band": where.band, "clicks": made.clicks, "held": made.held}
    parts[index] = BlurResult(samples, where.regions, float("nan"), made.span, [], **done)


def _streamed(
    loaded: Any,
    source: audio.Source,
    head: Any,
    planned: tuple[str | None, dict[str, Any], Any],
    cut: list[tiles.Tile],
    count: _Counter,
    parts: list[BlurResult | None],
    index: int,
    keep_views: bool = False,
    workers: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """The patches of one long region's edit, tile by tile (:mod:`specblur.edit.tiles`); its result
    is put in ``parts[index]`` once every tile is done (with ``keep_views``, the decimated picture of
    :class:`specblur.edit.tiles.Picture` as its view)."""
    label, job, whole = planned
    rate = head.sample_rate
    opts = job["options"]
    per_frame = loaded.model.config.spectrogram.hop_length * rate / loaded.model.config.spectrogram.sample_rate
    last = whole.frame0 + int(np.ceil((whole.stop - whole.start) / per_frame))
    picture = tiles.Picture(loaded.model, whole.frame0, last, rate) if keep_views else None

    done: list[BlurResult] = []

    def prepared() -> Iterator[tiles.Prepared]:
        for tile in cut:
            where = plan(loaded, head.frames, rate, tile.time, job["freq"], opts)
            after = cut[tile.index + 1] if tile.index + 1 < len(cut) else None
            yield tile, source.read_span(where.start, where.stop), where, after

    def results() -> Iterator[tiles.TileResult]:
        edited = tiles.run_in_order(loaded, rate, opts, prepared(), picture is not None, workers)
        for tile, result in zip(cut, edited, strict=True):
            if picture is not None and result.view is not None:
                after = cut[tile.index + 1] if tile.index + 1 < len(cut) else None
                picture.add(result.view, tile, after)
            done.append(result.part)
            count.step()
            yield result
            del result  # (not held while the next tile is waited for)

    yield from tiles.assemble(results(), cut)
    spans = [p.span for p in done if p.span[1] > p.span[0]]
    parts[index] = BlurResult(
        samples=np.zeros((0, head.channels)),
        regions=whole.regions,
        changed_codes=float(np.mean([p.changed_codes for p in done])),
        span=(min(a for a, _ in spans), max(b for _, b in spans)) if spans else (0, 0),
        method=done[0].method,
        hole=whole.hole,
        band=whole.band,
        extent=extent(loaded, whole),
        held=sum((p.held for p in done), Held()),
        views=[picture.view()] if picture is not None else [],
    )
