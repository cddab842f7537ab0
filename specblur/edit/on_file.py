"""Edits of files: only the parts of a file that its regions need are read, and the output is the
input with each changed span patched in (:func:`specblur.audio.write_patches`), so every byte
outside them is the input's and memory follows the regions, not the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specblur import audio
from specblur.edit.options import EditOptions
from specblur.edit.options import options as make_options
from specblur.edit.plan import plan
from specblur.edit.segment import BlurResult, edit_segment
from specblur.errors import AudioError, UsageError
from specblur.runtime.loader import load_model


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
    **changes: Any,
) -> FileEdit:
    """Edit file (or ``-``) ``src`` into ``dst`` (or ``-``) at one region with ``options`` (and
    ``changes`` to them, as :func:`specblur.edit.segment.blur`): the one region case of
    :func:`blur_file_regions`.

    Only the samples the edit needs are read, and the output is the input with the changed span
    patched in (see :func:`specblur.audio.write_patched`): memory and time follow the region, not
    the file, and every byte outside the changed samples is the input's. stdin is read whole into
    memory first (a pipe cannot seek). Errors name the file.
    """
    return blur_file_regions(loaded, src, dst, [{"time": time, "freq": freq}], options, keep_views, **changes)


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
        audio.check_output_name(dst, head, name)
        if head.truncated:
            warnings.append(
                f"{name}: file cut short: its header promises {head.promised_frames / head.sample_rate:.3f} s, "
                f"it holds {head.frames / head.sample_rate:.3f} s; processing what is there"
            )
        jobs = []
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
            jobs.append((item.get("name"), job, where))
        groups = clusters([(where.start, where.stop) for _, _, where in jobs])
        buffers = [source.read_span(lo, hi) for lo, hi in groups]
        changed: list[tuple[int, int] | None] = [None] * len(groups)
        parts = []
        for label, job, where in jobs:
            k = next(i for i, (lo, hi) in enumerate(groups) if lo <= where.start and where.stop <= hi)
            try:
                result = edit_in_place(
                    loaded, buffers[k], head.sample_rate, head.frames, groups[k][0], keep_views=keep_views, **job
                )
            except UsageError as exc:
                if label:
                    raise UsageError(f"{label}: {exc}") from None
                raise
            s0, s1 = result.span
            if s1 > s0:
                old = changed[k]
                changed[k] = (s0, s1) if old is None else (min(old[0], s0), max(old[1], s1))
            result.samples = result.samples[:0]
            parts.append((label, result))
        patches = []
        clipped = 0
        for k, span in enumerate(changed):
            if span is None:
                continue
            lo = groups[k][0]
            patch = buffers[k][span[0] - lo : span[1] - lo]
            fitted = audio.fit_subtype(patch, head.subtype)
            clipped += int(np.sum(fitted != patch))
            patches.append((span[0], fitted))
        warnings += audio.write_patches(source, dst, patches)
        seconds = head.frames / head.sample_rate
    except (UsageError, AudioError) as exc:
        message = str(exc)
        if not message.startswith(f"{name}:"):
            raise type(exc)(f"{name}: {message}") from None
        raise
    for label, result in parts:
        if result.changed_codes == 0:
            where = f"{label}: " if label else ""
            warnings.append(f"{name}: {where}the prior kept every code of the region; raise --temperature to change it")
    if clipped:
        warnings.append(f"{name}: {clipped} edited samples clipped at full scale")
    spans = [r.span for _, r in parts if r.span[1] > r.span[0]]
    total = BlurResult(
        samples=np.zeros((0, head.channels)),
        regions=[region for _, r in parts for region in r.regions],
        changed_codes=float(np.mean([r.changed_codes for _, r in parts])),
        span=(min(a for a, _ in spans), max(b for _, b in spans)) if spans else (0, 0),
        views=[view for _, r in parts for view in r.views],
    )
    return FileEdit(total, seconds, warnings, [r for _, r in parts])
