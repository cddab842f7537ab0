"""Long regions a tile at a time, so that memory follows one tile, not the region.

A blur of a region longer than :data:`LONG_SECONDS` is done as tiles of equal shares of it, as many
as it takes for none to be longer than :data:`TILE_SECONDS`, on a grid that starts at the region's
start. Each tile is an ordinary edit (:func:`specblur.edit.segment.edit_segment`) of its part of the
region widened by :data:`OVERLAP_SECONDS` into its neighbours, read from the input
with its usual context, and drawn with its own random stream (the seed and the tile's number). Tiles
therefore do not depend on each other: they can run in any order, on any worker. Where two tiles meet,
the output crossfades from one to the other over :data:`CROSSFADE_SECONDS` centred on the boundary, well
inside both tiles' regions (where both are fully edited), with a raised-cosine pair of gains that sums
to one. The first tile's start and the last tile's end are the region's own edges, feathered as any
edit's are.

The grid is part of what the edit is, as an STFT's hop is part of a spectrogram: the same seed gives the
same bytes whatever the number of workers, the order in which tiles finish and the memory available.
A region up to :data:`LONG_SECONDS` long is edited whole, as before.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from specblur import cancel

TILE_SECONDS = 5.0
"""The longest share of the region a tile has. Memory follows it, time a little against it (each tile
also works on its overlaps and context). A 5-minute whole-file blur of a 44.1 kHz stereo file, two
tiles at once, in process, two or three runs each: 6 s tiles peaked at 277-309 MB in 26.3-27.5 s
(transformer) and 306-366 MB in 9.0-10.0 s (Naive Bayes); 5 s tiles 284-289 MB in 27.5-28.0 s and
289-315 MB in 7.9-9.6 s; 4 s tiles 266-268 MB in 28.8-31.4 s and 265-303 MB in 8.6-9.9 s. (One tile
at a time, earlier: 8 s tiles 293 MB, 6 s 245 MB.)"""
OVERLAP_SECONDS = 0.5
"""How far each tile's region reaches into its neighbours' shares."""
CROSSFADE_SECONDS = 0.25
"""The length of the crossfade between two tiles, centred on their boundary."""
LONG_SECONDS = 15.0
"""Regions longer than this are edited in tiles."""


@dataclass(frozen=True)
class Tile:
    """One tile of a long region."""

    index: int
    time: tuple[float, float]
    """The region this tile edits (s, in the file): its share widened by the overlap."""
    keep: tuple[int | None, int | None]
    """The output frames it gives, ``[lo, hi)``, its incoming crossfade first; ``None``: the region's
    own edge (where the tile's own edit reaches, feather included)."""
    fade: int
    """Frames at the start of ``keep`` crossfaded from the tile before (0 for the first tile)."""


def tiles(hole: tuple[float, float], rate: int) -> list[Tile] | None:
    """The tiles of a region spanning ``hole`` (s) in a file at ``rate``; ``None`` when it is short
    enough to edit whole."""
    h0, h1 = hole
    if h1 - h0 <= LONG_SECONDS:
        return None
    n = int(np.ceil((h1 - h0) / TILE_SECONDS))
    bounds = [h0 + (h1 - h0) * k / n for k in range(n)] + [h1]
    half = int(round(CROSSFADE_SECONDS / 2 * rate))
    edges = [int(round(b * rate)) for b in bounds]
    out = []
    for k in range(n):
        time = (max(h0, bounds[k] - OVERLAP_SECONDS), min(h1, bounds[k + 1] + OVERLAP_SECONDS))
        lo = None if k == 0 else edges[k] - half
        hi = None if k == n - 1 else edges[k + 1] - half
        out.append(Tile(k, time, (lo, hi), 0 if k == 0 else 2 * half))
    return out


def crossfade(n: int) -> np.ndarray:
    """The outgoing tile's gain over an ``n``-frame crossfade (the incoming one's is 1 minus it):
    a raised cosine from 1 to 0, sampled at the frames' centres."""
    return 0.5 * (1.0 + np.cos(np.pi * (np.arange(n) + 0.5) / n))


@dataclass
class TileResult:
    """What a worker gives back for one tile: the edited frames ``[start, stop)`` of the file that the
    output takes from it, and what the edit did."""

    start: int
    samples: np.ndarray
    part: Any
    """The tile's :class:`~specblur.edit.segment.BlurResult` (``samples`` emptied)."""
    view: dict[str, Any] | None = None
    """With ``keep_views``: the spectrograms (dB) of the tile's part of the input and of its edit,
    ``before_db`` and ``after_db``, ``(bins, frames)`` from model frame ``frame0`` (first channel, or
    the channels' mean when linked), for :class:`Picture`."""


PLOT_COLUMNS = 1200
"""The most columns :class:`Picture` gives a long region's spectrograms."""


class Picture:
    """What ``--plot`` draws of a long region, made as its tiles come: each tile's spectrograms
    before and after, cut where its share of the region ends, max-pooled in time into columns of
    ``step`` frames (so a short burst never vanishes), at most :data:`PLOT_COLUMNS` of them. Memory:
    the columns, and fewer than ``step`` frames waiting to fill one."""

    def __init__(self, model: Any, first_frame: int, last_frame: int, rate: int) -> None:
        spec = model.config.spectrogram
        self.rate, self.per_frame = rate, spec.hop_length * rate / spec.sample_rate  # file samples a frame
        self.step = max(1, -(-(last_frame - first_frame) // PLOT_COLUMNS))
        self.t0 = first_frame * spec.hop_length / spec.sample_rate
        self.next = first_frame  # the first frame not yet taken
        self.waiting: list[np.ndarray] = []
        self.columns: list[np.ndarray] = []

    def add(self, view: dict[str, Any], tile: Tile, after: Tile | None) -> None:
        """The tile's view, up to where the next tile's share begins (its last frame for the last)."""
        both = np.stack([view["before_db"], view["after_db"]])
        first = view["frame0"]
        end = first + both.shape[-1]
        if after is not None:
            end = min(end, int(round((after.keep[0] + after.fade // 2) / self.per_frame)))
        if end <= self.next:
            return
        self.waiting.append(both[..., self.next - first : end - first])
        self.next = end
        held = np.concatenate(self.waiting, axis=-1)
        full = held.shape[-1] // self.step * self.step
        if full:
            self.columns.append(self._pooled(held[..., :full]))
        self.waiting = [held[..., full:]]

    def _pooled(self, frames: np.ndarray) -> np.ndarray:
        two, bins, n = frames.shape
        return frames.reshape(two, bins, n // self.step, self.step).max(axis=-1)

    def view(self) -> dict[str, Any]:
        """The picture as a view for :func:`specblur.plot.save`."""
        rest = np.concatenate(self.waiting, axis=-1) if self.waiting else None
        if rest is not None and rest.shape[-1]:
            self.columns.append(rest.max(axis=-1, keepdims=True))  # the last, shorter column
        both = np.concatenate(self.columns, axis=-1)
        return {
            "t0": self.t0,
            "before_db": both[0],
            "after_db": both[1],
            "frames_per_column": self.step,
            "codes_before": None,
            "codes_after": None,
        }


def assemble(results: Iterator[TileResult], plan: list[Tile]) -> Iterator[tuple[int, np.ndarray]]:
    """The output's patches ``(frame, samples)``, in order, from the tiles' results (in tile order):
    each tile's frames, the crossfade from the tile before at their start."""
    tail: np.ndarray | None = None
    for tile, result in zip(plan, results, strict=True):
        x, start = result.samples, result.start
        del result  # the tile's frames go with the patches: nothing here keeps them once written
        head = None
        if tile.fade:
            if tail is None or len(tail) != tile.fade:
                raise ValueError(f"tile {tile.index}: nothing to crossfade from")
            # the crossfade is a patch of its own: the tile's frames are written as they are, not
            # copied to change their first ones
            g = crossfade(tile.fade)[:, None]
            head = g * tail + (1.0 - g) * x[: tile.fade]
        nxt = plan[tile.index + 1] if tile.index + 1 < len(plan) else None
        if nxt is not None:
            # the frames the next tile crossfades from: this tile's, just past what it keeps
            tail, x = x[len(x) - nxt.fade :].copy(), x[: len(x) - nxt.fade]
        if head is not None:
            head = head[: len(x)]  # (a tile shorter than its two crossfades: as the frames kept)
            yield start, head
            start, x = start + len(head), x[len(head) :]
            del head
        yield start, x
        del x


def keep_span(tile: Tile, after: Tile | None, plan_span: tuple[int, int], changed: tuple[int, int]) -> tuple[int, int]:
    """The frames of the file that tile ``tile``'s edit gives the output: what it keeps, plus the
    frames the next tile (``after``) crossfades from. ``plan_span`` is what the edit worked on,
    ``changed`` what it changed (empty: nothing; the output then takes the input's frames)."""
    lo, hi = tile.keep
    if lo is None:
        lo = changed[0] if changed[1] > changed[0] else plan_span[0]
    if hi is None:
        hi = max(changed[1] if changed[1] > changed[0] else lo, lo + tile.fade)
    else:
        hi += after.fade if after is not None else 0
    return lo, max(lo, hi)


def run_tile(
    loaded: Any,
    segment: np.ndarray,
    rate: int,
    where: Any,
    options: Any,
    tile: Tile,
    after: Tile | None,
    keep_views: bool = False,
    give_back: bool = True,
    in_place: bool = False,
) -> TileResult:
    """Edit tile ``tile`` (``after``: the next one, or ``None``): ``segment`` holds the input frames
    ``[where.start, where.stop)`` of its plan ``where``. What a worker runs. ``keep_views``: also
    give the spectrograms :class:`Picture` draws (the edit is the same). ``give_back``: hand the
    memory the tile freed back to the system (:func:`_give_back`). ``in_place``: ``segment`` is the
    tile's own (read for it alone, not a view of anything kept): the edit is written into it, one
    copy of the part fewer in memory (not with ``keep_views``, which reads the input after)."""
    from specblur.edit.segment import _magnitude, edit_segment

    # the overs the tile counts: in the frames the output takes from it, its incoming crossfade left
    # to the tile before (which gives the frames it crossfades from): each output frame counted once
    counted = (
        None if tile.keep[0] is None else tile.keep[0] + tile.fade,
        None if tile.keep[1] is None else tile.keep[1] + (after.fade if after is not None else 0),
    )
    part = edit_segment(
        loaded, segment, rate, where, options, keep_views, (tile.index,), in_place=in_place, counted=counted
    )
    view = None
    if keep_views and part.views:
        model = loaded.model
        members = list(range(segment.shape[1])) if options.linked else [0]
        before = model.spectrogram.features_from_magnitude(_magnitude(model, segment, members, rate))
        after_db = part.views[0]["after_db"]
        view = {
            "frame0": where.frame0,
            "before_db": model.spectrogram.to_db(before)[:, : after_db.shape[-1]],
            "after_db": after_db,
        }
        part.views = []
    if give_back:
        _give_back()
    lo, hi = keep_span(tile, after, (where.start, where.stop), part.span)
    if lo < where.start or hi > where.stop:
        raise ValueError(f"tile {tile.index} keeps frames {lo}-{hi}, its edit holds {where.start}-{where.stop}")
    samples = part.samples[lo - where.start : hi - where.start]
    part.samples = np.zeros((0, segment.shape[1]))  # not a view: it would keep the tile alive
    return TileResult(lo, samples, part, view)


def _give_back() -> None:
    """Hand the memory a tile freed back to the system (glibc keeps freed blocks, and the next tile's
    arrays, of other sizes, would not fit them). With one tile at a time it keeps memory down for
    time: a 5-minute whole-file blur (Naive Bayes) peaked at 234 MB with it and 263 MB without, in
    16.3 s against 13.4 s (the pages given back are faulted in again by the next tile). With two
    tiles at once the other tile's arrays hold the heap, so it gave back nothing that lasted (370
    against 372 MB) and cost as much time (11.0 s against 8.5 s): :func:`run_in_order` calls it only
    for one tile at a time. Nothing where there is no glibc."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC(0)


GIVE_BACK_EVERY = 10
"""With two tiles at once, :func:`_give_back` after every this many tiles: not after each (see there),
but the holes the two tiles leave in the shared heap otherwise add up over an hour: whole-file blurs
(benchmarks/whole_file.py, transformer / Naive Bayes, one run each) peaked at 275 / 295 MB over 5
minutes and 331 / 355 MB over 60 without it, in 302 / 95 s at 60; 278 / 289 and 301 / 340 MB with it,
in 323 / 106 s (the 5-minute times the same to 6%: whether the hour's 7-11% is the trim's or the
machine's, one run each cannot tell). Every 4 tiles, measured later (Naive Bayes, 60 minutes, in
process, two runs each, taking turns): 304-312 MB in 117-118 s against 319-352 MB in 99-101 s
every 10: a sixth more time for the Naive Bayes hour, near its 30x target, and still above 300 MB."""
_LIBC: Any = None
_ONE_HEAP = False


def _one_heap() -> None:
    """Keep glibc to one heap for every thread (``M_ARENA_MAX`` 1; once, for the rest of the
    process), before the worker threads start: by default each thread gets a heap of its own, and
    each keeps the freed blocks of the tile it last edited. A 60 s whole-file blur on two threads
    peaked at 366-380 MB (transformer) and 351-358 MB (Naive Bayes) with a heap per thread, 321-352
    and 309-312 MB with one, in the same time (the tiles' arrays are few and large: the shared
    heap's lock is seldom waited on). Nothing where there is no glibc."""
    global _ONE_HEAP
    if _ONE_HEAP:
        return
    _ONE_HEAP = True
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


WORKERS: int | None = None
"""Tiles edited at once by :func:`run_in_order` (``None``: :func:`workers`). A batch's worker
processes set 1 (the files already share the cores among them)."""
MAX_WORKERS = 2
"""At most this many tiles at once by default: memory grows with each tile in flight (its arrays and
its worker's onnxruntime sessions), speed by the cores' share of the work that numpy does outside
onnxruntime (benchmarks/whole_file.py)."""


def workers() -> int:
    """How many tiles :func:`run_in_order` edits at once: :data:`WORKERS`, else the machine's cores up
    to :data:`MAX_WORKERS`."""
    if WORKERS is not None:
        return max(1, WORKERS)
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


Prepared = tuple[Tile, np.ndarray, Any, "Tile | None"]
"""A tile ready to edit: the tile, its input frames, their plan, the next tile (``None``: the last)."""


def run_in_order(
    loaded: Any,
    rate: int,
    options: Any,
    prepared: Iterator[Prepared],
    keep_views: bool = False,
    count: int | None = None,
) -> Iterator[TileResult]:
    """:func:`run_tile` on each prepared tile, given back in order, ``count`` (default
    :func:`workers`) at once.

    With more than one, the worker threads edit with onnxruntime sessions of the cores' share of
    threads (:meth:`specblur.runtime.model.RuntimeModel.with_threads`; one set, run by each worker
    on its own thread), so that the numpy work
    between the model's runs (STFTs, the change, Griffin-Lim, the Naive Bayes draws) uses every core
    too. Tiles do not depend on each other, so the bytes are those of one at a time. ``prepared`` is
    read on the caller's thread (the input is read there) as a worker comes free, and a finished
    tile's frames are let go as soon as they are written: memory follows the tiles in flight. (With
    one tile read ahead of the workers, and the frames of the tile last written held while the next
    was waited for, a 5-minute whole-file blur in process peaked at 285-291 MB, transformer, and 304
    MB, Naive Bayes; without, 260-270 and 281-298 MB, in the same time.) Each prepared tile's frames
    are its own (read for it): it is edited in place (``run_tile(in_place=True)``). Whatever stops the caller
    (an error, Ctrl-C, a :mod:`specblur.cancel` stop) stops the tiles in flight at their next step,
    and nothing they made is given back.
    """
    n = workers() if count is None else max(1, count)
    views: dict[str, bool] = {"keep_views": True} if keep_views else {}
    if n == 1:
        for tile, segment, where, after in prepared:
            yield run_tile(loaded, segment, rate, where, options, tile, after, **views, in_place=True)
        return
    views["give_back"] = False  # (see _give_back)
    threads = max(1, (os.cpu_count() or 1) // n)
    _one_heap()
    # one set of sessions for every worker: onnxruntime runs a session on several threads at once, and
    # with one intra-op thread each run is its caller's alone (a set: 8 MB, 26 MB with the neural priors)
    model = loaded.with_threads(threads)
    stop = threading.Event()
    ours: set[int] = set()  # the workers' threads

    def work(tile: Tile, segment: np.ndarray, where: Any, after: Tile | None) -> TileResult:
        ours.add(threading.get_ident())
        with cancel.watching(stop):
            result = run_tile(model, segment, rate, where, options, tile, after, **views, in_place=True)
        if tile.index % GIVE_BACK_EVERY == GIVE_BACK_EVERY - 1:
            _give_back()
        return result

    def wait(future: Future) -> TileResult:
        while True:
            try:
                return future.result(timeout=0.1)
            except TimeoutError:
                cancel.check()  # the caller's own stop, if it has one

    pool = ThreadPoolExecutor(n, thread_name_prefix="specblur-tile")
    pending: deque[Future] = deque()
    try:
        for item in prepared:
            pending.append(pool.submit(work, *item))
            del item  # (its input frames: the worker holds them while it needs them)
            if len(pending) >= n:
                yield wait(pending.popleft())
        while pending:
            yield wait(pending.popleft())
    finally:
        stop.set()  # (nothing left to stop when all went well)
        # a generator left unfinished (its caller stopped by an error) may be finalised by the garbage
        # collector on any thread, a worker's too, which cannot wait for itself: the others then stop
        # at their next step, unwaited
        pool.shutdown(wait=threading.get_ident() not in ours, cancel_futures=True)


Progress = Callable[[int, int], None]
"""``(done, total)``: called as tiles (or files) are done."""
