"""The editor's session and its local HTTP server (standard library only, no torch).

:class:`Session` never holds IN whole: it reads the samples each edit needs from the file and keeps
a stack of edits, each the samples it left (rounded to IN's sample type, as a command writes them,
and held in that type), so the current samples are IN's with the applied edits laid over them; undo
and redo move a position, and memory follows the edits. Each Apply runs
:func:`specblur.edit.on_file.edit_in_place` (the function ``specblur blur --labels`` runs for each
region), or for a long blur the command line's tiles (:mod:`specblur.edit.tiles`), one at a time,
reporting each and stopping between two on Cancel, or for a long repair the fill the command line
streams (:meth:`specblur.edit.effects.base.Effect.streamed`), a block at a time. The picture (the
model's log-mel image and each column's waveform peaks) is made by a background worker in blocks
from the start when the file opens (the page draws each as it arrives and works meanwhile) and,
after each change, again only for the columns the change touched (a wide change in the background
too); every column carries the tick at which it was made, and the page asks for the columns newer
than the tick it holds. Export patches the changed spans into IN's bytes with
:func:`specblur.audio.write_patches`, as the command line does: format kept, every byte outside the
spans the input's, written atomically, never over IN, and never over a file this editor did not
write.

:func:`serve` runs a :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 that serves the page's
three files and a small JSON API. Every API call needs the random token printed in the URL; every
request must name this server in its ``Host`` header (against DNS rebinding) and, when it carries an
``Origin``, come from it; bodies are bounded; a bad request gets a 4xx with a one-line message.
Ctrl-C and SIGTERM stop it within about a second whatever is running.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from specblur import audio, container, labels, priors
from specblur.cancel import Stopped, watching
from specblur.edit import on_file, plan, segment, tiles
from specblur.edit.effects import EFFECTS
from specblur.edit.limits import AMOUNT, REPAIR_METHODS, SCALES, TEMPERATURE
from specblur.edit.options import EditOptions
from specblur.edit.overs import Held
from specblur.edit.region import band_centres
from specblur.errors import AudioError, SpecblurError, UsageError
from specblur.runtime import loader
from specblur.runtime.dsp import resample

MAX_BODY = labels.MAX_BYTES + 4096
"""Largest request body accepted (a label file and the options around it)."""
DEFAULT_PORT = 8765
PORT_TRIES = 20
TOKEN_HEADER = "X-Specblur-Token"
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
"""Everything the server serves besides its API: the page's own files, by exact path."""
DYNAMIC_RANGE_DB = 90.0
MODES = tuple(EFFECTS)
DEFAULT_SCALE = {name: effect.default_scale for name, effect in EFFECTS.items()}


_COMPUTING = threading.Lock()
"""Held while a block of the picture is computed. A fork that runs the at-fork handlers (e.g.
``subprocess`` with a ``preexec_fn``, as the tests start the editor) waits for it: such a fork was
seen to hang for good inside ``_fork_exec`` while two picture workers were in a matrix product
(numpy's BLAS, whose own at-fork handler stops its threads, is the likely party)."""


def _before_fork() -> None:
    _COMPUTING.acquire()


def _after_fork() -> None:
    _COMPUTING.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _fingerprint(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def default_output(path: Path) -> Path:
    """``take.wav`` → ``take.edited.wav``, beside it."""
    return path.with_name(f"{path.stem}.edited{path.suffix}")


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _decimal(value: float, places: int = 6) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class Options:
    """One region's edit, as the page sends it (checked); times rounded to the microsecond and
    frequencies to the millihertz, so the label file and the command line carry exactly these values."""

    mode: str
    time: tuple[float, float]
    freq: tuple[float | None, float | None]
    strength: float = 1.0
    seed: int = 0
    scale: str = "micro"
    prior: str | None = None
    temperature: float = 1.0
    text: str = ""
    method: str | None = None
    """Repair's method (:data:`specblur.edit.limits.REPAIR_METHODS`; ``auto`` unless asked); None for
    the other effects."""

    def edit_options(self) -> EditOptions:
        """The library's options for this edit (the effect's default rounds and feather)."""
        return EditOptions(
            effect=self.mode,
            temperature=self.temperature,
            amount=self.strength,
            seed=self.seed,
            scale=self.scale,
            prior=self.prior,
            method=self.method,
        )

    def shared(self) -> tuple:
        """What must agree for regions to run in one ``--labels`` call."""
        return (self.mode, self.strength, self.seed, self.scale, self.prior, self.temperature, self.method)

    def flags(self) -> list[str]:
        """Command-line options other than the region, the defaults left out."""
        out = []
        if self.strength != 1.0:
            out += ["--amount", _decimal(self.strength, 4)]
        if self.temperature != 1.0:
            out += ["-T", _decimal(self.temperature, 4)]
        if self.seed:
            out += ["--seed", str(self.seed)]
        if self.scale != DEFAULT_SCALE[self.mode]:
            out += ["--scale", self.scale]
        if self.prior:
            out += ["--prior", self.prior]
        if self.method and self.method != "auto":
            out += ["--method", self.method]
        return out

    def region_flags(self) -> list[str]:
        low, high = self.freq
        out = ["--time", f"{_decimal(self.time[0])}-{_decimal(self.time[1])}"]
        if low is not None or high is not None:
            out += ["--freq", f"{'' if low is None else _decimal(low, 3)}-{'' if high is None else _decimal(high, 3)}"]
        return out

    def describe(self) -> str:
        low, high = self.freq
        band = f"{0 if low is None else _decimal(low, 3)}-{'top' if high is None else _decimal(high, 3)} Hz"
        extra = f", amount {self.strength:g}" if self.strength != 1 else ""
        span = f"{_decimal(self.time[0])}-{_decimal(self.time[1])} s"
        method = f" ({self.method})" if self.method and self.method != "auto" else ""
        return f"{self.mode}{method} {span}, {band}{extra}, seed {self.seed}, {self.scale}"

    def label_text(self) -> str:
        return self.text or " ".join([self.mode, *self.flags()])


def _number(body: dict, key: str, default: float | None, low: float, high: float) -> float:
    value = body.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(400, f"{key}: give a number from {low:g} to {high:g}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        raise RequestError(400, f"{key}: {value!r} is outside {low:g} to {high:g}")
    return value


def _pair(body: dict, key: str, optional_ends: bool) -> tuple:
    value = body.get(key)
    if not isinstance(value, list) or len(value) != 2:
        raise RequestError(400, f"{key}: give [low, high]")
    out = []
    for end in value:
        if end is None and optional_ends:
            out.append(None)
        elif isinstance(end, int | float) and not isinstance(end, bool) and math.isfinite(end) and end >= 0:
            out.append(float(end))
        else:
            raise RequestError(
                400, f"{key}: each end must be a number, 0 or more" + (" (or null)" if optional_ends else "")
            )
    if out[0] is not None and out[1] is not None and out[1] <= out[0]:
        raise RequestError(400, f"{key}: the high end must be above the low end")
    return tuple(out)


def parse_options(body: Any, with_region: bool = True) -> Options:
    """The edit a request asks for; :class:`RequestError` (400) naming the first bad field."""
    if not isinstance(body, dict):
        raise RequestError(400, "expected a JSON object")
    mode = body.get("mode", "blur")
    if mode not in MODES:
        raise RequestError(400, f"mode: use {' or '.join(MODES)}")
    scale = body.get("scale") or DEFAULT_SCALE[mode]
    if scale not in SCALES:
        raise RequestError(400, f"scale: use {', '.join(SCALES)}")
    prior = body.get("prior") or None
    if prior is not None and prior not in priors.NAMES:
        raise RequestError(400, f"prior: use {' or '.join(priors.NAMES)}")
    method = body.get("method") or None
    if method is not None and mode != "repair":
        raise RequestError(400, "method: only repair has methods")
    if mode == "repair":
        method = method or "auto"
        if method not in REPAIR_METHODS:
            raise RequestError(400, f"method: use {', '.join(REPAIR_METHODS)}")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise RequestError(400, "seed: give a whole number from 0 to 4294967295")
    if with_region:
        time_span = _pair(body, "time", optional_ends=False)
        freq = _pair(body, "freq", optional_ends=True) if body.get("freq") is not None else (None, None)
    else:
        time_span, freq = (0.0, 0.0), (None, None)
    return Options(
        mode=mode,
        time=(round(time_span[0], 6), round(time_span[1], 6)),
        freq=tuple(None if f is None else round(f, 3) for f in freq),  # type: ignore[arg-type]
        strength=_number(body, "strength", 1.0, AMOUNT.low, AMOUNT.high),
        seed=seed,
        scale=scale,
        prior=prior,
        temperature=_number(body, "temperature", 1.0, TEMPERATURE.low, TEMPERATURE.high),
        method=method,
    )


def parse_regions(body: Any) -> list[Options]:
    """One region (``time``, ``freq``) or several (``regions``: a list of ``{time, freq}``), each
    with the body's settings."""
    if isinstance(body, dict) and "regions" in body:
        items = body["regions"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_REGIONS:
            raise RequestError(400, f"regions: give a list of 1 to {MAX_REGIONS} {{time, freq}}")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise RequestError(400, f"regions[{i}]: give {{time, freq}}")
            try:
                out.append(parse_options({**body, "time": item.get("time"), "freq": item.get("freq")}))
            except RequestError as exc:
                raise RequestError(400, f"regions[{i}]: {exc}") from None
        return out
    return [parse_options(body)]


@dataclass
class Entry:
    """One step of the undo stack: one Apply (one region or several selections) or one loaded label
    file. ``patches`` hold the samples the step left, stored as the file holds them (rounded to its
    sample type), disjoint and sorted: the current samples are IN's with every applied step's
    patches laid over them in order, so undo and redo move a position and memory follows the edits."""

    regions: list[Options]
    snapped: list[dict[str, Any]]
    patches: list[tuple[int, np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0
    name: str = ""
    preview: bool = False
    """Heard and seen but not yet committed (Apply commits it; anything else drops it)."""
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Each region's worked-on samples (its plan's), for telling which regions can share one command."""
    long: list[bool] = field(default_factory=list)
    """Each region: long enough for a blur in tiles (:func:`specblur.edit.tiles.tiles`)."""
    tiled: list[bool] = field(default_factory=list)
    """Each region: edited in tiles (long, and alone among the step's regions, as ``--labels`` does)."""


class Stored:
    """A patch of samples as the file stores them, held in the smallest type that gives them back
    exactly (16-bit PCM as int16, 24 and 32-bit as int32, float as float32): a whole-file edit of a
    10-minute 16-bit stereo file holds 106 MB, not the 423 MB of float64. Sliced, it gives float64."""

    def __init__(self, samples: np.ndarray, subtype: str) -> None:
        bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(subtype)
        self.scale = 0.0
        if bits is not None:
            self.scale = float(1 << (bits - 1))
            packed = np.round(samples * self.scale).astype(np.int16 if bits <= 16 else np.int32)
            if not np.array_equal(packed / self.scale, samples):  # (not the file's steps: keep them as they are)
                self.scale, packed = 0.0, samples
        else:
            packed = samples.astype(np.float32)
            if not np.array_equal(packed, samples):
                packed = samples
        self.data = packed
        self.shape = samples.shape

    @classmethod
    def of(cls, parts: list[Stored]) -> Stored:
        """One patch of ``parts`` (stored alike: the same scale and type) end to end."""
        joined = cls.__new__(cls)
        joined.scale = parts[0].scale
        joined.data = np.concatenate([p.data for p in parts])
        joined.shape = (len(joined.data), *parts[0].shape[1:])
        return joined

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: Any) -> np.ndarray:
        part = self.data[key].astype(np.float64)
        return part / self.scale if self.scale else part


def joined(patches: list[tuple[int, Stored]], most: int = 1 << 18) -> list[tuple[int, Stored]]:
    """``patches`` (sorted, disjoint) with each run of small ones that meet end to start, stored
    alike, joined into one of at most ``most`` frames: a step of many regions stores its changes in
    pieces as no later region reads them (1597 for 800 overlapping regions), and every read of the
    samples goes through a step's patches."""
    out: list[tuple[int, Stored]] = []
    run: list[tuple[int, Stored]] = []

    def close() -> None:
        if len(run) > 1:
            out.append((run[0][0], Stored.of([p for _, p in run])))
        else:
            out.extend(run)
        run.clear()

    for start, patch in patches:
        if run:
            at, last = run[-1]
            fits = at + len(last) == start and sum(len(p) for _, p in run) + len(patch) <= most
            if not (fits and last.scale == patch.scale and last.data.dtype == patch.data.dtype):
                close()
        run.append((start, patch))
    close()
    return out


class Cancelled(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


IMAGE_BLOCK = 512
"""Columns of the spectrogram computed at a time (bounds the memory the picture takes to make, and is
the step in which the page sees the picture of a long file arrive)."""
SYNC_COLUMNS = 4 * IMAGE_BLOCK
"""Columns an edit's new picture may span and still be made before its Apply (or undo) answers; a
wider one (a whole-file blur) is made in the background, block by block, as the file's first
picture is, and the page draws it as it comes."""
DB_STEP = 0.5
"""dB per step of the picture's bytes: byte ``v`` is the model's floor + ``v * DB_STEP`` dB (0 to
127.5 dB above the floor), whatever the file's loudness, so a column made early never needs making
again when a louder one arrives; the page maps the bytes to colours for the file's range in dB."""
MAX_REGIONS = 10000
"""Most selections in one Apply."""


class Session:
    """One file being edited: IN read on demand (never held whole), the stack of edits as patches,
    undo and redo, the picture kept up to date column by column, export."""

    def __init__(
        self, path: str | Path, out: str | Path | None, loaded: Any, force: bool = False, model_arg: str | None = None
    ) -> None:
        self.path = Path(path)
        self.model_arg = model_arg if model_arg is not None else loaded if isinstance(loaded, str) else None
        self.out = Path(out) if out is not None else default_output(self.path)
        if str(path) == "-" or str(self.out) == "-":
            raise UsageError("edit works on files; '-' (a pipe) cannot be edited interactively")
        self.loaded = loader.load_model(loaded)
        self.source = audio.Source(self.path)
        head = self.source.info()
        if head.frames == 0:
            raise AudioError(f"{self.path}: has no audio frames; nothing to edit")
        self._check_out(self.out, force)
        audio.check_output_name(self.out, head, str(self.path))
        self.force = force
        self.head = head
        self.fingerprint = _fingerprint(self.path)
        self.out_seen = _content_id(self.out)
        """What OUT was when the editor started (``None``: absent): --force replaces that, not a file
        another program (or editor) wrote since."""
        self.written: tuple[int, int, str] | None = None
        """Size, mtime and SHA-256 of the OUT this editor last wrote."""
        self.entries: list[Entry] = []
        self.position = 0
        self.version = 0
        self.changes: dict[int, tuple[int, int, int, int]] = {}
        """Per version: the samples and the picture's columns that step changed (half-open)."""
        self.exported: str | None = None
        self.lock = threading.RLock()
        self.cancel = threading.Event()
        self.stopping = threading.Event()
        self.asked = 0
        """Edits asked for so far (:meth:`apply`, counted as each call arrives, before it waits for the lock)."""
        self.cancelled_upto = 0
        """A Cancel stops every edit asked for before it: the one in flight, and those still waiting for
        their turn (:meth:`request_cancel`)."""
        self._tickets = threading.Lock()
        self.exporting = threading.Lock()
        self.progress: dict[str, Any] = {"task": "", "done": 0, "total": 0}
        self.exact, self.inexact_reason = self._exactness()
        spec = self.loaded.model.config.spectrogram
        centres = band_centres(spec)
        self.edges = [float(spec.f_min), *((centres[:-1] + centres[1:]) / 2).tolist(), float(spec.f_max)]
        self.model_samples = -(-head.frames * spec.sample_rate // head.sample_rate)
        self.columns = self.loaded.model.spectrogram.frames(self.model_samples)
        # the picture is made in the background, block by block from the start (the page shows each
        # as it arrives), and after an edit wider than SYNC_COLUMNS likewise; each column is stamped
        # with the tick at which it was last made, so the page asks for what is newer than it holds
        self.floor_db = float(spec.floor_db)
        self.db_peak = self.floor_db
        self.pictures = {
            which: (np.zeros((spec.n_bins, self.columns), np.uint8), np.full((2, self.columns), 128, np.uint8))
            for which in ("before", "after")
        }
        self.stamps = {which: np.zeros(self.columns, np.int64) for which in ("before", "after")}
        self.tick = 0
        self.ready = 0
        """Columns of the picture made so far (from the start)."""
        self.todo: list[tuple[int, int]] = []
        """Columns of the after picture an edit changed, waiting to be made again (sorted, disjoint)."""
        self.picture_error: str | None = None
        self.drawn = threading.Condition(self.lock)
        """Notified whenever columns of the picture are made, or the version changes."""
        self.worker = threading.Thread(target=self._work, name="specblur-picture", daemon=True)
        self.worker.start()

    @property
    def db_high(self) -> float:
        """The top of the colour scale: the loudest cell made so far, rounded up to a dB."""
        return max(float(np.ceil(self.db_peak)), self.floor_db + 10.0)

    @property
    def db_low(self) -> float:
        return max(self.db_high - DYNAMIC_RANGE_DB, self.floor_db)

    def warm_up(self) -> None:
        """One throwaway edit of the file's first second (nothing kept), so that the first Apply does
        not also pay for starting the model's sessions and priors. Holds the lock while it runs."""
        with self.lock:
            n = min(self.head.frames, self.head.sample_rate)
            try:
                segment.blur(self.loaded, self.source.read_span(0, n), self.head.sample_rate)
            except SpecblurError:
                pass  # a file too short or silent to edit: the first Apply will say so

    # -- files -------------------------------------------------------------------------------------
    def _check_out(self, out: Path, force: bool) -> None:
        if _same_file(out, self.path) or out.resolve() == self.path.resolve():
            raise UsageError(f"{out}: output is the input; give another --out file")
        if out.is_dir():
            raise UsageError(f"{out}: is a directory; give an output file name")
        if not out.parent.is_dir():
            raise UsageError(f"{out}: folder {out.parent} does not exist; create it first")
        if out.exists() and not force:
            raise UsageError(f"{out}: exists; use --force to replace it")

    def _exactness(self) -> tuple[bool, str]:
        """Whether the samples this editor keeps are the ones the file stores, so the printed commands
        (which go through a file between steps) give the export byte for byte."""
        subtype = self.head.subtype
        if self.source.layout is not None or subtype.startswith("PCM") or subtype in ("FLOAT", "DOUBLE"):
            return True, ""
        return (
            False,
            f"{self.head.format} {subtype} is lossy: each command re-encodes, "
            "so no command line gives this export exactly",
        )

    def _edit_options(self, options: Options) -> EditOptions:
        """The library's options for an edit of this file: the page's, with edited samples over
        full scale held under it where the file stores integers, as the command line does."""
        return options.edit_options().replace(full_scale=audio.clips(self.head.subtype))

    def _stored(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` as the file would store them and read them back (what a command writes between steps)."""
        fitted = audio.fit_subtype(samples, self.head.subtype)
        layout = self.source.layout
        if layout is not None:
            return container.decode(container.encode(fitted, layout), layout).reshape(samples.shape)
        bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(self.head.subtype)
        if bits is not None:
            top = float(1 << (bits - 1))
            return np.clip(np.round(fitted * top), -top, top - 1) / top
        if self.head.subtype == "FLOAT":
            return fitted.astype(np.float32).astype(np.float64)
        return fitted

    def read(self, which: str, start: int, stop: int, extra: list[tuple[int, np.ndarray]] = ()) -> np.ndarray:
        """Samples ``[start, stop)``: IN's (``before``), or with the applied steps laid over them
        (``after``), and then ``extra`` patches."""
        if _fingerprint(self.path) != self.fingerprint:
            raise RequestError(409, f"{self.path}: changed on disk since the editor opened it; restart the editor")
        start, stop = max(0, start), min(self.head.frames, stop)
        out = self.source.read_span(start, stop)
        layers = [p for e in self.entries[: self.position] for p in e.patches] if which == "after" else []
        for at, samples in [*layers, *extra]:
            lo, hi = max(start, at), min(stop, at + len(samples))
            if hi > lo:
                out[lo - start : hi - start] = samples[lo - at : hi - at]
        return out

    # -- the picture -------------------------------------------------------------------------------
    def _picture(self, which: str, c0: int, c1: int, check: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The dB image (``bands x (c1 - c0)``, float32) of columns ``[c0, c1)`` and each column's
        lowest and highest sample (``2 x (c1 - c0)`` bytes, 128 = 0), computed in blocks from just
        the samples they need: the same columns as the whole file's spectrogram."""
        dbs, peaks = [], []
        for b0 in range(c0, c1, IMAGE_BLOCK):
            db, peak = self._block(which, b0, min(c1, b0 + IMAGE_BLOCK), check)
            dbs.append(db)
            peaks.append(peak)
        bands = self.loaded.model.config.spectrogram.n_bins
        if not dbs:
            return np.zeros((bands, 0), np.float32), np.zeros((2, 0), np.uint8)
        return np.concatenate(dbs, axis=1), np.concatenate(peaks, axis=1)

    def _block(self, which: str, c0: int, c1: int, check: bool) -> tuple[np.ndarray, np.ndarray]:
        with _COMPUTING:
            return self._compute_block(which, c0, c1, check)

    def _compute_block(self, which: str, c0: int, c1: int, check: bool) -> tuple[np.ndarray, np.ndarray]:
        model = self.loaded.model
        spec = model.config.spectrogram
        rate, mrate, hop = self.head.sample_rate, spec.sample_rate, spec.hop_length
        g = math.gcd(rate, mrate)
        orig, new = rate // g, mrate // g
        step = new * hop // math.gcd(new, hop)  # where the resampler's phases and the frames both restart
        margin = spec.n_fft // 2 + 4 * hop
        j0 = max(0, c0 * hop - margin) // step * step
        j1 = min(self.model_samples, (c1 - 1) * hop + margin)
        s0 = j0 // new * orig
        s1 = min(self.head.frames, -(-j1 // new) * orig + orig)
        x = self.read(which, s0, s1)
        if check:
            bad = ~np.isfinite(x)
            if bad.any():
                first = s0 + int(np.argwhere(bad)[0][0])
                raise AudioError(
                    f"{self.path}: has NaN or infinite samples (the first at {first / rate:.6g} s); "
                    "repair the file (e.g. with sox) first"
                )
        k0 = c0 - j0 // hop
        magnitude = None
        for c in range(x.shape[1]):
            wave = resample(np.ascontiguousarray(x[:, c], dtype=np.float32), rate, mrate)
            need = (c1 - 1 - j0 // hop) * hop + spec.n_fft // 2 + 1
            frames = np.abs(model.spectrogram.stft(wave[: max(need, 0)] if s1 < self.head.frames else wave))
            frames = frames[:, k0 : k0 + (c1 - c0)]
            magnitude = frames if magnitude is None else magnitude + frames
        db = self._mel_db(magnitude / x.shape[1])
        # each column's waveform: the lowest and highest sample of the channels over its hop
        bounds = np.minimum((np.arange(c0, c1 + 1) * hop * orig) // new, self.head.frames) - s0
        bounds = np.clip(bounds, 0, len(x))
        lows = np.full(c1 - c0, 0.0)
        highs = np.full(c1 - c0, 0.0)
        starts = bounds[:-1]
        has = bounds[1:] > starts
        if has.any() and len(x):
            mins, maxs = x.min(axis=1), x.max(axis=1)
            idx = np.minimum(starts[has], len(x) - 1)
            lows[has] = np.minimum.reduceat(mins, idx)[: has.sum()]
            highs[has] = np.maximum.reduceat(maxs, idx)[: has.sum()]
            # reduceat runs to the next index; the last column of a block stops at its own bound
            last = np.nonzero(has)[0][-1]
            a, b = bounds[last], bounds[last + 1]
            lows[last], highs[last] = mins[a:b].min(), maxs[a:b].max()
        peak = np.round((np.clip(np.stack([lows, highs]), -1, 1) + 1) * 127.5).astype(np.uint8)
        if db.shape[1] != c1 - c0:  # the file's last frames (cannot happen: the crop covers them)
            raise RuntimeError(f"picture block {c0}-{c1}: {db.shape[1]} columns")
        return db, peak

    def _mel_db(self, magnitude: np.ndarray) -> np.ndarray:
        """The model's image in dB (``features_from_magnitude`` then ``to_db``) of an STFT magnitude,
        with the mel bands summed over the bins where each is not zero (a triangle spans a few bins:
        about 2 nonzero weights per bin in all, against a dense product's 160, which took 13-35 ms of
        each Apply's new picture on a 10-minute file); the same values to float32 rounding."""
        spectrogram = self.loaded.model.spectrogram
        c = spectrogram.config
        mag = np.asarray(magnitude, dtype=np.float32) / np.float32(spectrogram.window_sum)
        if spectrogram.fbank is not None:
            if getattr(self, "_bands", None) is None:
                fbank = np.asarray(spectrogram.fbank, dtype=np.float32)
                bands = []
                for m in range(fbank.shape[1]):
                    nonzero = np.flatnonzero(fbank[:, m])
                    lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
                    bands.append((lo, hi, np.ascontiguousarray(fbank[lo:hi, m])))
                self._bands = bands
            mel = np.zeros((len(self._bands), mag.shape[1]), np.float32)
            for m, (lo, hi, weights) in enumerate(self._bands):
                if hi > lo:
                    np.dot(weights, mag[lo:hi], out=mel[m])
            mag = mel
        floor = np.float32(10.0 ** (c.floor_db / 20.0))
        return (np.float32(20.0) * np.log10(np.maximum(mag, floor))).astype(np.float32)

    def _bytes(self, db: np.ndarray) -> np.ndarray:
        return np.round(np.clip((db - self.floor_db) / DB_STEP, 0, 255)).astype(np.uint8)

    def _store(self, which: str, c0: int, c1: int, db: np.ndarray, peaks: np.ndarray) -> None:
        """Columns ``[c0, c1)`` of a picture, made: kept and stamped (with the lock held)."""
        image, wave = self.pictures[which]
        image[:, c0:c1] = self._bytes(db)
        wave[:, c0:c1] = peaks
        self.tick += 1
        self.stamps[which][c0:c1] = self.tick
        if which == "before" and db.size:
            self.db_peak = max(self.db_peak, float(db.max()))
        self.drawn.notify_all()

    def _edited(self, c0: int, c1: int) -> bool:
        """Whether an applied step changed samples that columns ``[c0, c1)`` see."""
        for entry in self.entries[: self.position]:
            for at, samples in entry.patches:
                a, b = self._touched_columns(at, at + len(samples))
                if a < c1 and c0 < b:
                    return True
        return False

    def _work(self) -> None:
        """The picture's worker: makes the file's picture block by block from the start (the before
        picture from IN, without the lock, so edits go on meanwhile; the after one the same where no
        applied edit reaches, else from the edited samples), then whatever columns wide edits left
        to make again. Stops with the session."""
        try:
            while not self.stopping.is_set():
                with self.lock:
                    while not self.stopping.is_set() and self.ready >= self.columns and not self.todo:
                        self.drawn.wait(1.0)
                    if self.stopping.is_set():
                        return
                    if self.ready < self.columns:
                        job = ("load", self.ready, min(self.columns, self.ready + IMAGE_BLOCK))
                    else:
                        c0, c1 = self.todo[0]
                        job = ("after", c0, min(c1, c0 + IMAGE_BLOCK))
                        if job[2] < c1:
                            self.todo[0] = (job[2], c1)
                        else:
                            self.todo.pop(0)
                kind, c0, c1 = job
                if kind == "load":
                    db, peaks = self._block("before", c0, c1, check=True)
                    with self.lock:
                        self._store("before", c0, c1, db, peaks)
                        if self._edited(c0, c1):
                            db, peaks = self._block("after", c0, c1, check=False)
                        self._store("after", c0, c1, db, peaks)
                        self.ready = c1
                else:
                    with self.lock:
                        self._store("after", c0, c1, *self._block("after", c0, c1, check=False))
        except Exception as exc:  # shown on the page (state's image.error); the editor goes on
            with self.lock:
                self.picture_error = (
                    str(exc)
                    if isinstance(exc, SpecblurError | RequestError)
                    else (f"the picture could not be made: {type(exc).__name__}: {exc}")
                )
                self.drawn.notify_all()

    def wait_picture(self, timeout: float | None = None) -> bool:
        """Wait until the picture is whole and up to date (or could not be made); whether it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while (self.ready < self.columns or self.todo) and self.picture_error is None:
                if self.stopping.is_set():
                    return False
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    return False
                self.drawn.wait(left)
            return self.picture_error is None

    def _touched_columns(self, s0: int, s1: int) -> tuple[int, int]:
        """The picture's columns whose frames see any sample of ``[s0, s1)``."""
        spec = self.loaded.model.config.spectrogram
        rate, mrate, hop = self.head.sample_rate, spec.sample_rate, spec.hop_length
        slack = spec.n_fft // 2 + 64 + 8 * max(1, -(-mrate // rate))  # the window and the resampler's reach
        c0 = max(0, (s0 * mrate // rate - slack) // hop)
        c1 = min(self.columns, -(-(-(-s1 * mrate // rate) + slack) // hop) + 1)
        return c0, max(c0, c1)

    def _changed(self, spans: list[tuple[int, int]]) -> None:
        """Record a new version that changed samples ``spans`` and make the picture's columns there
        again: now when they are few (:data:`SYNC_COLUMNS`), else in the background. Columns not
        made yet at all are left to the worker, which makes them from the edited samples."""
        self.version += 1
        self.drawn.notify_all()
        if not spans:
            self.changes[self.version] = (0, 0, 0, 0)
            return
        s0, s1 = min(a for a, _ in spans), max(b for _, b in spans)
        c0, c1 = self._touched_columns(s0, s1)
        self.changes[self.version] = (s0, s1, c0, max(c0, min(c1, self.ready)))
        touched = [self._touched_columns(int(a), int(b)) for a, b in spans]
        ranges = [(int(a), int(min(b, self.ready))) for a, b in on_file.clusters(touched)]
        ranges = [(a, b) for a, b in ranges if b > a]
        if sum(b - a for a, b in ranges) <= SYNC_COLUMNS:
            for a, b in ranges:
                self._store("after", a, b, *self._picture("after", a, b))
        else:
            self.todo = on_file.clusters([*self.todo, *ranges])

    def image(
        self, which: str, since: int | None = None, tick: int | None = None, wait: float = 0.0
    ) -> tuple[bytes, int, int, int, dict[str, str]]:
        """The picture's bytes: ``bands`` rows of the spectrogram (byte ``v``: the model's floor +
        ``v *`` :data:`DB_STEP` dB; row 0 the lowest band) then two rows of the waveform (each
        column's lowest and highest sample, 128 = 0), for the columns asked for: with ``tick``, those
        made after that tick (the page's way: it holds what it was sent up to a tick; ``wait``: up to
        that many seconds for some while the picture is being made); with ``since`` (a version the
        page holds), those changed after it; with neither, all of them, once the picture is whole.
        Returns ``(bytes, first column, width, rows, headers)``, the headers saying where the
        picture stands: ``X-Tick``, ``X-Version``, ``X-Ready`` (columns made from the start),
        ``X-Pending`` (column ranges waiting to be made again), ``X-Db-Low`` and ``X-Db-High``."""
        if since is None and tick is None:
            self.wait_picture()
        with self.lock:
            image, wave = self.pictures[which]
            c0, c1 = 0, self.columns
            if tick is not None:
                stamps = self.stamps[which]
                deadline = time.monotonic() + wait
                newer = np.flatnonzero(stamps > tick)
                while not newer.size and (self.ready < self.columns or self.todo) and self.picture_error is None:
                    left = deadline - time.monotonic()
                    if left <= 0 or self.stopping.is_set():
                        break
                    version = self.version
                    self.drawn.wait(min(left, 0.5))
                    newer = np.flatnonzero(stamps > tick)
                    if self.version != version:
                        break  # an edit: the page has its own columns to ask for
                c0, c1 = (int(newer[0]), int(newer[-1]) + 1) if newer.size else (0, 0)
            elif (
                which == "after"
                and since is not None
                and 0 <= since <= self.version
                and (all(v in self.changes for v in range(since + 1, self.version + 1)))
            ):
                touched = [self.changes[v] for v in range(since + 1, self.version + 1)]
                touched = [(a, b) for _, _, a, b in touched if b > a]
                c0 = min((a for a, _ in touched), default=0)
                c1 = max((b for _, b in touched), default=0)
            block = np.concatenate([image[:, c0:c1], wave[:, c0:c1]], axis=0)
            headers = {
                "X-Tick": str(self.tick),
                "X-Version": str(self.version),
                "X-Ready": str(self.ready),
                "X-Pending": ",".join(f"{a}-{b}" for a, b in self.todo[:64]),
                "X-Db-Low": f"{self.db_low:g}",
                "X-Db-High": f"{self.db_high:g}",
                "X-Failed": "1" if self.picture_error is not None else "0",
            }
            return np.ascontiguousarray(block).tobytes(), c0, c1 - c0, block.shape[0], headers

    def wav_chunks(self, which: str) -> tuple[int, Any]:
        """The samples as a 16-bit WAV at IN's rate (for listening; export keeps IN's own format), in
        pieces: ``(length, iterator of bytes)``, so memory stays a block whatever the file's length."""
        head = self.head
        with self.lock:
            layers = [p for e in self.entries[: self.position] for p in e.patches] if which == "after" else []
        data_bytes = head.frames * head.channels * 2
        header = (
            b"RIFF"
            + (36 + data_bytes).to_bytes(4, "little")
            + b"WAVEfmt "
            + (16).to_bytes(4, "little")
            + (1).to_bytes(2, "little")
            + head.channels.to_bytes(2, "little")
            + head.sample_rate.to_bytes(4, "little")
            + (head.sample_rate * head.channels * 2).to_bytes(4, "little")
            + (head.channels * 2).to_bytes(2, "little")
            + (16).to_bytes(2, "little")
            + b"data"
            + data_bytes.to_bytes(4, "little")
        )

        def pieces() -> Any:
            yield header
            block = 1 << 18
            for lo in range(0, head.frames, block):
                hi = min(head.frames, lo + block)
                x = self.read("before", lo, hi, layers)
                yield (np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")).tobytes()

        return len(header) + data_bytes, pieces()

    def changed_samples(self, since: int) -> tuple[int, int] | None:
        """The samples changed after version ``since`` (a half-open span), ``None`` when that version
        is not one this session made."""
        with self.lock:
            if not 0 <= since <= self.version or any(v not in self.changes for v in range(since + 1, self.version + 1)):
                return None
            spans = [self.changes[v][:2] for v in range(since + 1, self.version + 1)]
            spans = [(a, b) for a, b in spans if b > a]
            if not spans:
                return (0, 0)
            return (int(min(a for a, _ in spans)), int(max(b for _, b in spans)))

    def pcm(self, since: int) -> tuple[int, int, bytes]:
        """The current samples changed after version ``since``, as the listening WAV holds them
        (16-bit, interleaved): ``(first frame, frames, bytes)``, for the page to patch its copy."""
        with self.lock:
            span = self.changed_samples(since)
            if span is None:
                raise RequestError(409, f"since: version {since} is not one of this session's; load the whole take")
            lo, hi = span
            x = self.read("after", lo, hi) if hi > lo else np.zeros((0, self.head.channels))
            return lo, hi - lo, np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()

    def plan(self, options: Options) -> list[dict[str, Any]]:
        """Where an edit of ``options`` would land: the regions snapped to code cells, per level."""
        return [_describe(r) for r in self._plan(options).regions]

    def _plan(self, options: Options) -> Any:
        head = self.head
        return plan.plan(self.loaded, head.frames, head.sample_rate, options.time, options.freq, options.edit_options())

    def canonical(self, options: Options) -> Options:
        """The region's numbers to show and to send, one set for the selection line, the edit list and
        the command: the snapped cells' own start, end, low and high (rounded inward to the
        microsecond and millihertz, the end one frame in, as snapping counts the frame after the end),
        when asking for them snaps to the very same cells; else the numbers as asked."""
        where = self._plan(options)
        finest = where.regions[-1]
        spec = self.loaded.model.config.spectrogram
        frame_rate = spec.sample_rate / spec.hop_length
        start = math.ceil(finest.start * 1e6 - 1e-6) / 1e6
        end_frames = finest.frames[1] - 1
        end = min(
            math.floor(end_frames / frame_rate * 1e6 + 1e-6) / 1e6, round(self.head.frames / self.head.sample_rate, 6)
        )
        freq = options.freq
        if freq != (None, None):
            top = min(spec.f_max, self.head.sample_rate / 2)
            freq = (math.ceil(finest.low * 1e3 - 1e-6) / 1e3, math.floor(min(finest.high, top) * 1e3 + 1e-6) / 1e3)
        candidate = Options(**{**options.__dict__, "time": (start, end), "freq": freq})
        try:
            again = self._plan(candidate)
        except SpecblurError:
            return options
        same = [(r.rows, r.cols) for r in again.regions] == [(r.rows, r.cols) for r in where.regions]
        return candidate if same and end > start else options

    # -- the stack ---------------------------------------------------------------------------------
    def request_cancel(self) -> None:
        """Cancel: the edit in flight stops at its next step, and an edit asked for before the Cancel
        that still waits for the lock (behind the picture being made, say) does not start, nothing
        changed. (Each edit used to clear the Cancel as it started, so a Cancel that came while it
        waited was lost: a 2000-region label file then ran to its end, 160 s and 2.5 GB, in
        benchmarks/editor.py.)"""
        # the event is set under the tickets' lock too: an edit asked for after this Cancel clears it
        # as it starts (under that lock), and must not do so before it is set
        with self._tickets:
            self.cancelled_upto = self.asked
            self.cancel.set()

    @contextmanager
    def _turn(self, ticket: int) -> Iterator[None]:
        """Hold :attr:`lock` for the edit ``ticket``, or raise :class:`Cancelled` at once if a Cancel
        comes for it while it waits (the page is free again without waiting for whatever holds the
        lock: 3.1 s behind the picture being made after the undo of a whole-file blur, in
        benchmarks/editor.py)."""
        while True:
            with self._tickets:
                if ticket <= self.cancelled_upto:
                    raise Cancelled("cancelled before it started; nothing changed")
            if self.lock.acquire(timeout=0.05):
                break
        try:
            with self._tickets:
                if ticket <= self.cancelled_upto:
                    raise Cancelled("cancelled before it started; nothing changed")
            yield
        finally:
            self.lock.release()

    def apply(self, regions: list[Options], name: str = "", preview: bool = False) -> Entry:
        """Edit the current samples at each region in turn; one undo step. A blur of a long region
        that no other region of the step overlaps is done in tiles, as the command line does
        (:mod:`specblur.edit.tiles`: the same bytes, memory bounded by a tile). Long work reports its
        progress (:attr:`progress`, in regions or tiles) and stops when :attr:`cancel` is set: between
        two of them, or within the one in flight at its next step (:mod:`specblur.cancel`), leaving
        everything as it was."""
        head = self.head
        with self._tickets:
            self.asked += 1
            ticket = self.asked
        with self._turn(ticket):
            with self._tickets:
                self.cancel.clear()
            self._drop_preview()
            started = time.perf_counter()
            snapped: list[dict[str, Any]] = []
            task = name or "apply"
            try:
                wheres = [self._plan(options) for options in regions]
            except SpecblurError as exc:
                raise UsageError(str(exc)) from None
            spans = [(where.start, where.stop) for where in wheres]
            long = [
                bool(EFFECTS[o.mode].tiles) and tiles.tiles(w.hole, head.sample_rate) is not None
                for o, w in zip(regions, wheres, strict=True)
            ]
            alone = _alone(spans)
            cuts = [tiles.tiles(w.hole, head.sample_rate) if lg and al else None
                    for w, lg, al in zip(wheres, long, alone, strict=True)]  # fmt: skip
            try:
                streams = [self._streamed(o, w) if al and not cut else None
                           for o, w, al, cut in zip(regions, wheres, alone, cuts, strict=True)]  # fmt: skip
            except SpecblurError as exc:
                raise UsageError(str(exc)) from None
            units = [len(cut) if cut else made[1] if made else 1 for cut, made in zip(cuts, streams, strict=True)]
            total = sum(units)
            unit = "tiles" if any(cuts) else "blocks" if any(streams) else "regions"
            self.progress = {"task": task, "done": 0, "total": total, "unit": unit}
            # the step's changed samples, stored as the file stores them (what a command writes) as soon
            # as no region still to come reads them (on_file.InTurn: memory follows the regions in
            # reach, not all that the step changes)
            turns = on_file.InTurn([where.start for where in wheres], head.frames)
            patches: list[tuple[int, Stored]] = []
            # Cancel (or a stop) also ends the region or tile in flight, at its next step
            with watching(self.cancel):
                try:
                    self._apply_each(regions, wheres, cuts, streams, name, turns, snapped, patches, total, unit)
                except Stopped:
                    done = self.progress["done"]
                    raise Cancelled(f"cancelled after {done} of {total} {unit}; nothing changed") from None
            del turns
            patches = joined(sorted(patches, key=lambda p: p[0]))
            entry = Entry(
                list(regions), snapped, patches, time.perf_counter() - started, name, preview, spans, long,
                [bool(cut) for cut in cuts],
            )  # fmt: skip
            del self.entries[self.position :]
            self.entries.append(entry)
            self.position = len(self.entries)
            self._changed([(s, s + len(x)) for s, x in patches])
            return entry

    def _apply_each(
        self,
        regions: list[Options],
        wheres: list[Any],
        cuts: list[Any],
        streams: list[Any],
        name: str,
        turns: on_file.InTurn,
        snapped: list[dict[str, Any]],
        patches: list[tuple[int, Stored]],
        total: int,
        unit: str,
    ) -> None:
        """:meth:`apply`'s work, region by region (a long blur tile by tile, a long repair as its
        fill is made, :meth:`_streamed`): the edited spans go to
        ``turns`` and, stored, to ``patches`` once no later region reads them (a tiled region's
        patches at once), what each region became to ``snapped``; :attr:`progress` counts the units
        done."""
        head = self.head
        task = name or "apply"
        done = 0
        for index, (options, where, cut) in enumerate(zip(regions, wheres, cuts, strict=True)):
            if self.cancel.is_set() or self.stopping.is_set():
                raise Cancelled(f"cancelled after {done} of {total} {unit}; nothing changed")
            try:
                opts = self._edit_options(options)
                if cut:
                    parts = []
                    for start, patch in tiles.assemble(self._tiles(options, opts, cut, turns, parts), cut):
                        patches.append((start, Stored(self._stored(patch), head.subtype)))
                    done += len(cut)
                    for start, piece in turns.done(index):
                        patches.append((start, Stored(self._stored(piece), head.subtype)))
                    changed = [p.changed_codes for p in parts]
                    snapped.append(
                        {**_describe(where.regions[-1]), "changed_codes": float(np.mean(changed)),
                         "method": parts[0].method, "tiles": len(cut),
                         "held": _held(sum((p.held for p in parts), Held()))}
                    )  # fmt: skip
                    continue
                if streams[index] is not None:
                    made, units = streams[index]
                    self._stream(made, units, where, patches)
                    done += units
                    for start, piece in turns.done(index):
                        patches.append((start, Stored(self._stored(piece), head.subtype)))
                    snapped.append(
                        {**_describe(where.regions[-1]), "changed_codes": None, "method": made.method,
                         "clicks": made.clicks, "held": _held(made.held)}
                    )  # fmt: skip
                    continue
                buffer = self.read("after", where.start, where.stop)
                turns.over(buffer, where.start)
                result = on_file.edit_in_place(
                    self.loaded,
                    buffer,
                    head.sample_rate,
                    head.frames,
                    where.start,
                    options.time,
                    options.freq,
                    opts,
                )
            except SpecblurError as exc:
                where_text = f"{name} region {index + 1}: " if len(regions) > 1 or name else ""
                raise UsageError(f"{where_text}{exc}") from None
            s0, s1 = result.span
            if s1 > s0:
                turns.put(s0, buffer[s0 - where.start : s1 - where.start].copy())
            del buffer
            for start, piece in turns.done(index):
                patches.append((start, Stored(self._stored(piece), head.subtype)))
            redrawn = None if math.isnan(result.changed_codes) else result.changed_codes  # no codes: a fill
            snapped.append(
                {**_describe(result.regions[-1]), "changed_codes": redrawn, "method": result.method,
                 "clicks": result.clicks, "held": _held(result.held)}
            )  # fmt: skip
            done += 1
            self.progress = {"task": task, "done": done, "total": total, "unit": unit}

    def _streamed(self, options: Options, where: Any) -> tuple[Any, int] | None:
        """A region whose effect makes it as it reads (a repair's long hole, a declick of a long
        stretch: :meth:`specblur.edit.effects.base.Effect.streamed`, as the command line streams
        it), with the units its progress counts (:func:`specblur.edit.on_file.stream_units`);
        ``None`` for an edit made in memory.
        Only for a region alone in its step: it reads the applied steps' samples, not this step's."""
        opts = self._edit_options(options)
        effect = EFFECTS[options.mode]
        head = self.head
        made = effect.streamed(
            lambda a, b: self.read("after", a, b), head.channels, head.sample_rate, where,
            effect.method(opts, where), opts,
        )  # fmt: skip
        if made is None:
            return None
        return made, on_file.stream_units(where, head.sample_rate)

    def _stream(self, made: Any, units: int, where: Any, patches: list[tuple[int, Stored]]) -> None:
        """One streamed region's patches, stored as they come (memory follows a block, not the
        region), its progress counted in ``units``; Cancel stops it between two blocks, or within
        one at its next step."""
        head = self.head
        on_file.check_finite_span(lambda a, b: self.read("after", a, b), where.start, where.stop, head.sample_rate)
        base = self.progress["done"]

        def report(share: float) -> None:
            self.progress = {**self.progress, "done": base + int(share * units)}

        made.progress = report
        for start, patch in made:
            if self.cancel.is_set() or self.stopping.is_set():
                done, total = self.progress["done"], self.progress["total"]
                raise Cancelled(f"cancelled after {done} of {total} blocks; nothing changed")
            patches.append((start, Stored(self._stored(patch), head.subtype)))
        self.progress = {**self.progress, "done": base + units}

    def _tiles(self, options: Options, opts: EditOptions, cut: list[Any], turns: on_file.InTurn, parts: list) -> Any:
        """The tiles' results of one long region, in order (as :func:`specblur.edit.on_file.blur_file_regions`
        streams them, each tile read from the current samples); cancelled between two tiles."""
        head = self.head
        for tile in cut:
            if self.cancel.is_set() or self.stopping.is_set():
                done, total = self.progress["done"], self.progress["total"]
                raise Cancelled(f"cancelled after {done} of {total} tiles; nothing changed")
            where = plan.plan(self.loaded, head.frames, head.sample_rate, tile.time, options.freq, opts)
            after = cut[tile.index + 1] if tile.index + 1 < len(cut) else None
            samples = self.read("after", where.start, where.stop)
            turns.over(samples, where.start)
            result = tiles.run_tile(self.loaded, samples, head.sample_rate, where, opts, tile, after)
            del samples
            parts.append(result.part)
            self.progress = {**self.progress, "done": self.progress["done"] + 1}
            yield result

    def _drop_preview(self) -> None:
        if self.position and self.entries[self.position - 1].preview:
            entry = self.entries[self.position - 1]
            del self.entries[self.position - 1 :]
            self.position -= 1
            self._changed([(s, s + len(x)) for s, x in entry.patches])

    def commit(self) -> None:
        with self.lock:
            if not (self.position and self.entries[self.position - 1].preview):
                raise RequestError(409, "no preview to apply")
            self.entries[self.position - 1].preview = False
            self._changed([])

    def discard(self) -> None:
        with self.lock:
            if not (self.position and self.entries[self.position - 1].preview):
                raise RequestError(409, "no preview to discard")
            self._drop_preview()

    def undo(self) -> None:
        with self.lock:
            if self.position and self.entries[self.position - 1].preview:
                self._drop_preview()
                return
            if self.position == 0:
                raise RequestError(409, "nothing to undo")
            self.position -= 1
            self._changed([(s, s + len(x)) for s, x in self.entries[self.position].patches])

    def redo(self) -> None:
        with self.lock:
            if self.position == len(self.entries):
                raise RequestError(409, "nothing to redo")
            self.position += 1
            self._changed([(s, s + len(x)) for s, x in self.entries[self.position - 1].patches])

    def applied(self) -> list[Options]:
        return [options for entry in self.committed() for options in entry.regions]

    def committed(self) -> list[Entry]:
        return [entry for entry in self.entries[: self.position] if not entry.preview]

    def command(self) -> str:
        """The ``specblur`` command line(s) that write the same file as Export, byte for byte, or a
        line that says why none can."""
        entries = self.committed()
        regions = [r for e in entries for r in e.regions]
        if not regions:
            return ""
        if not self.exact:
            return f"# {self.inexact_reason}"
        src, dst = _shell_quote(str(self.path)), _shell_quote(str(self.out))
        model = ["-m", _shell_quote(self.model_arg)] if self.model_arg else []
        labels_name = _shell_quote(str(self.path.with_suffix(".labels.txt").name))
        if len(regions) == 1:
            r = regions[0]
            return " ".join(["specblur", r.mode, src, dst, *r.region_flags(), *r.flags(), *model])
        # one --labels call edits the regions one after another on samples kept between them, and
        # rounds to the file's sample type once at the end; the editor rounds after each step. They
        # agree when no step reads samples an earlier step changed.
        shared = len({r.shared() for r in regions}) == 1
        # and --labels edits a long region in tiles only when no other region of the file meets it
        # (the editor: none of its own step's); where that differs, it is not this export
        spans = [span for e in entries for span in e.spans]
        long = [flag for e in entries for flag in e.long]
        tiled = [flag for e in entries for flag in e.tiled]
        shared = shared and [lg and al for lg, al in zip(long, _alone(spans), strict=True)] == tiled
        apart = all(
            s + len(x) <= b0 or b1 <= s
            for i, e in enumerate(entries)
            for f in entries[i + 1 :]
            for s, x in e.patches
            for b0, b1 in f.spans
        )
        if shared and (len(entries) == 1 or apart):
            r = regions[0]
            return " ".join(["specblur", r.mode, src, dst, "--labels", labels_name, *r.flags(), *model]) + (
                f"    # {labels_name}: 'Save labels'"
            )
        several = [i + 1 for i, e in enumerate(entries) if len(e.regions) > 1]
        if several:
            return (
                f"# no command line gives this export exactly: edit {several[0]} applied several regions at once, "
                "and other edits overlap it or use other settings (a chain of commands would round between them)"
            )
        lines = []
        for i, r in enumerate(regions):
            a = src if i == 0 else _shell_quote(f"step{i}{self.path.suffix}")
            b = dst if i == len(regions) - 1 else _shell_quote(f"step{i + 1}{self.path.suffix}")
            lines.append(" ".join(["specblur", r.mode, a, b, *r.region_flags(), *r.flags(), *model]))
        return " && \\\n".join(lines) + "\n# (each step on the one before, as the editor did)"

    def labels_text(self) -> str:
        return labels.dumps(
            [labels.Label(r.time[0], r.time[1], r.freq[0], r.freq[1], r.label_text()) for r in self.applied()]
        )

    def state(self) -> dict[str, Any]:
        with self.lock:
            head = self.head
            spec = self.loaded.model.config.spectrogram
            return {
                "file": self.path.name,
                "path": str(self.path),
                "short": self.source.shortfall(),  # (a file holding less than its header promises)
                "out": str(self.out),
                "rate": head.sample_rate,
                "channels": head.channels,
                "frames": head.frames,
                "seconds": head.frames / head.sample_rate,
                "format": head.format,
                "subtype": head.subtype,
                "model": {
                    "name": self.loaded.name,
                    "sample_rate": spec.sample_rate,
                    "hop": spec.hop_length,
                    "bands": spec.n_bins,
                    "f_min": spec.f_min,
                    "f_max": spec.f_max,
                    "top_hz": min(spec.f_max, head.sample_rate / 2),
                    "edges": self.edges,
                    "cells": {level: list(cell) for level, cell in self.loaded.model.cell.items()},
                    "priors": [name for name in priors.NAMES if name != "transformer" or self.loaded.prior_nn],
                    "default_prior": self.loaded.default_prior,
                },
                "effects": [
                    {"name": name, "help": effect.help, "default_scale": effect.default_scale}
                    for name, effect in EFFECTS.items()
                ],
                "methods": list(REPAIR_METHODS),
                # the methods that draw codes (the prior and temperature matter only to them)
                "model_methods": [m for m in REPAIR_METHODS if EFFECTS["repair"].uses_codes(m)],
                "limits": {"temperature": [TEMPERATURE.low, TEMPERATURE.high], "amount": [AMOUNT.low, AMOUNT.high]},
                "image": {
                    "width": self.columns,
                    "height": spec.n_bins,
                    "db_low": self.db_low,
                    "db_high": self.db_high,
                    "db_floor": self.floor_db,
                    "db_step": DB_STEP,
                    "ready": self.ready,
                    "pending": sum(b - a for a, b in self.todo),
                    "error": self.picture_error,
                },
                "version": self.version,
                "position": self.position,
                "can_undo": self.position > 0,
                "can_redo": self.position < len(self.entries),
                "preview": bool(self.position and self.entries[self.position - 1].preview),
                "entries": [
                    {
                        "regions": [r.describe() for r in entry.regions],
                        "snapped": entry.snapped,
                        "applied": i < self.position,
                        "preview": entry.preview,
                        "name": entry.name,
                        "ms": round(entry.seconds * 1000, 1),
                    }
                    for i, entry in enumerate(self.entries)
                ],
                "command": self.command(),
                "exported": self.exported,
            }

    # -- export ------------------------------------------------------------------------------------
    def export(self, name: str | None = None) -> dict[str, Any]:
        """Write OUT (or, ``name``: another file, which becomes OUT): IN's bytes with the current
        edits' spans patched in (atomic, never IN). A file already there is replaced only when it
        is the one this editor last wrote (size, time and contents unchanged) or, with --force, the
        one that was there when the editor started."""
        with self.lock:
            if self.position and self.entries[self.position - 1].preview:
                raise RequestError(409, "a preview is showing: Apply it or discard it first")
            if name is not None:
                out = self._export_name(name)
                seen = _content_id(out)
                if seen is not None:
                    raise RequestError(409, f"{out}: exists; give another name")
            else:
                out = self.out
                if _same_file(out, self.path) or out.resolve() == self.path.resolve():
                    raise RequestError(409, f"{out}: is the input now; nothing written")
                now = _content_id(out)
                if now is not None:
                    ours = self.written is not None and now == self.written
                    forced = self.written is None and self.force and now == self.out_seen
                    if not (ours or forced):
                        why = (
                            "changed since this editor wrote it"
                            if self.written is not None
                            else "changed since the editor started"
                            if self.force
                            else "exists"
                        )
                        raise RequestError(409, f"{out}: {why}; nothing written; use Export as... to give another name")
            if _fingerprint(self.path) != self.fingerprint:
                raise RequestError(
                    409,
                    f"{self.path}: changed on disk since the editor opened it; nothing written (restart the editor)",
                )
            with self.exporting:
                if self.stopping.is_set():
                    raise RequestError(503, "the editor is stopping; nothing written")
                patches = [p for e in self.committed() for p in e.patches]
                spans = on_file.clusters([(s, s + len(x)) for s, x in patches])
                # block by block (a whole-file edit's span is the file: never held whole as float64)
                pieces = (
                    (a, self.read("after", a, min(hi, a + audio.BLOCK_FRAMES)))
                    for lo, hi in spans
                    for a in range(lo, hi, audio.BLOCK_FRAMES)
                )
                warnings = audio.write_patches(self.source, out, pieces)
            self.out = out
            self.written = _content_id(out)
            self.exported = str(out)
            return {
                "out": str(out),
                "warnings": warnings,
                "spans": [[lo / self.head.sample_rate, hi / self.head.sample_rate] for lo, hi in spans],
            }

    def _export_name(self, name: Any) -> Path:
        if not isinstance(name, str) or not name.strip() or len(name) > 1000 or "\0" in name:
            raise RequestError(400, "name: give a file name")
        out = Path(name.strip())
        if not out.is_absolute():
            out = self.out.parent / out
        try:
            self._check_out(out, force=True)
            audio.check_output_name(out, self.head, str(self.path))
        except UsageError as exc:
            raise RequestError(400, str(exc)) from None
        if out.is_symlink():
            raise RequestError(400, f"{out}: is a link; give a plain file name")
        return out


def _alone(spans: list[tuple[int, int]]) -> list[bool]:
    """For each span, whether no other of ``spans`` overlaps or touches it (``--labels`` edits such a
    long region in tiles, and any other with its neighbours, whole)."""
    groups = on_file.clusters(spans)
    count = [sum(1 for a, b in spans if lo <= a and b <= hi) for lo, hi in groups]
    return [count[next(k for k, (lo, hi) in enumerate(groups) if lo <= a and b <= hi)] == 1 for a, b in spans]


def _content_id(path: Path) -> tuple[int, int, str] | None:
    """Size, mtime and SHA-256 of file ``path`` (``None``: no such file)."""
    import hashlib

    try:
        st = path.stat()
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RequestError(409, f"{path}: cannot read it ({exc.strerror or exc})") from None
    return (st.st_size, st.st_mtime_ns, digest.hexdigest())


def _held(held: Held) -> dict[str, float] | None:
    """What the page says of edited samples held under full scale (as the command line's warning
    does): how many, and the deepest dip in dB; ``None`` where nothing went over."""
    return {"frames": held.frames, "db": round(20 * math.log10(held.gain), 1)} if held.frames else None


def _describe(region: Any) -> dict[str, Any]:
    return {
        "level": region.level,
        "start": region.start,
        "end": region.end,
        "low": region.low,
        "high": region.high,
        "bins": list(region.bins),
        "frames": list(region.frames),
    }


# -- HTTP ------------------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    """Bound to 127.0.0.1 only. Request threads are daemons, listed so that closing waits for them a
    moment (an export in flight always completes or fails cleanly: it is atomic and waited for);
    an edit still computing after that is abandoned with the process (it writes nothing)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    """SO_REUSEADDR: a restart on the same ``--port`` right after Ctrl-C binds at once instead of
    waiting a minute for the old connections' TIME_WAIT; a port another server listens on is still
    refused (SO_REUSEPORT, which would share it, stays off)."""
    close_wait = 0.5
    """Seconds closing waits for requests in flight (besides an export, waited for to its end)."""

    def __init__(self, port: int, session: Session, token: str) -> None:
        self.waiting: set[Any] = set()  # connections waiting for a request line (a browser's spare ones)
        self.waiting_lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.session = session
        super().__init__(("127.0.0.1", port), Handler)
        self.token = token
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Listed as waiting from the moment it is accepted (not only once its thread starts reading),
        so a connection accepted just before Ctrl-C is hung up too."""
        with self.waiting_lock:
            self.waiting.add(request)
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Never a traceback: a connection that breaks (the browser went away, or closing the server
        hung it up) is nothing to report; anything else is one line on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):  # ValueError: I/O on a socket file closed under it
            return
        sys.stderr.write(f"specblur edit: a request failed ({type(exc).__name__}: {str(exc)[:200]})\n")

    def server_close(self) -> None:
        """Stop listening, stop the session's long work (between regions), hang up the connections
        that wait idle for a request (browsers keep spare ones open), wait for an export in flight
        to end and for other requests a moment (:attr:`close_wait`)."""
        session = self.session
        if session is not None:
            session.stopping.set()
            session.request_cancel()
        with self.waiting_lock:
            for connection in self.waiting:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        super().server_close()
        if session is not None:
            with session.exporting:  # an export writes to a temporary file and renames: let it end
                pass
        deadline = time.monotonic() + self.close_wait
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


class Handler(BaseHTTPRequestHandler):
    server: Server
    timeout = 60  # seconds a connection may stall mid-request (idle ones are hung up on close)
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    server_version = "specblur-edit"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet, as the rest of specblur
        pass

    def handle_one_request(self) -> None:
        """:meth:`BaseHTTPRequestHandler.handle_one_request`, with the connection listed as idle
        while it waits for the request line, so that closing the server can hang it up."""
        with self.server.waiting_lock:
            self.server.waiting.add(self.connection)
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.raw_requestline = b""
        finally:
            with self.server.waiting_lock:
                self.server.waiting.discard(self.connection)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():  # it has sent the error
            return
        method = getattr(self, f"do_{self.command}", None)
        if method is None:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        method()
        self.wfile.flush()

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _check_host(self) -> None:
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            raise RequestError(403, f"Host {host[:80]!r} is not this server; open {self.server.url.split('?')[0]}")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.server.hosts}:
            raise RequestError(403, "cross-origin request refused")

    def _check_token(self, query: dict[str, list[str]]) -> None:
        given = self.headers.get(TOKEN_HEADER) or (query.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            raise RequestError(403, "missing or wrong token; open the URL specblur edit printed")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send a Content-Length (no chunked bodies)")
        if length is None:
            raise RequestError(411, "send a Content-Length")
        try:
            size = int(length)
        except ValueError:
            raise RequestError(400, "bad Content-Length") from None
        if size < 0:
            raise RequestError(400, "bad Content-Length")
        if size > MAX_BODY:
            raise RequestError(413, f"request body of {size} bytes; the most accepted is {MAX_BODY}")
        chunks, got = [], 0
        try:
            while got < size:
                chunk = self.rfile.read1(size - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except TimeoutError:
            pass  # the client stalled: answered below, like a body that ended early
        data = b"".join(chunks)
        self._body_read = True
        if len(data) < size:
            raise RequestError(
                400, f"request body ended after {len(data)} of the {size} bytes its Content-Length promised"
            )
        return data

    def _json_body(self) -> Any:
        data = self._body()
        if not data:
            return {}
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(400, f"body is not JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
        except RecursionError:
            raise RequestError(400, "body is not JSON this editor reads: nested too deep") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise RequestError(400, f"body is not JSON this editor reads ({str(exc)[:80]})") from None

    def finish(self) -> None:
        """Close as usual; after a refused request whose body was not read, first stop sending and
        read what the client still sends (for a moment, up to a bound), so that closing with unread
        bytes does not reset the connection before the client has read the refusal."""
        try:
            super().finish()
        finally:
            if getattr(self, "command", None) == "POST" and not getattr(self, "_body_read", True):
                try:
                    self.connection.shutdown(socket.SHUT_WR)
                    self.connection.settimeout(1.0)
                    deadline, total = time.monotonic() + 2.0, 0
                    while time.monotonic() < deadline and total < 16 * MAX_BODY:
                        chunk = self.connection.recv(1 << 16)
                        if not chunk:
                            break
                        total += len(chunk)
                except OSError:
                    pass

    def _handle(self, method: str) -> None:
        self._body_read = False
        try:
            self._check_host()
            parts = urlsplit(self.path)
            path, query = parts.path, parse_qs(parts.query)
            if not path.startswith("/api/"):
                if method not in ("GET", "HEAD"):
                    raise RequestError(405, "the page's files are read-only")
                self._asset(path)
                return
            self._check_token(query)
            self._api(method, path, query)
        except RequestError as exc:
            self._error(exc.status, str(exc))
        except UsageError as exc:
            self._error(400, str(exc))
        except SpecblurError as exc:
            self._error(500, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # one line to the terminal and to the page, never a traceback
            message = f"internal error: {type(exc).__name__}: {exc}"
            print(f"specblur edit: {message}", file=sys.stderr, flush=True)
            try:
                self._error(500, message)
            except OSError:
                pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _asset(self, path: str) -> None:
        if path not in ASSETS:  # exact names only: no path outside them, however encoded
            raise RequestError(404, "not found")
        name, content_type = ASSETS[path]
        body = (resources.files("specblur.editor") / "static" / name).read_bytes()
        self._send(200, body, content_type)

    def _api(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        session = self.server.session
        which = (query.get("which") or ["after"])[0]
        if which not in ("before", "after"):
            raise RequestError(400, "which: use before or after")
        routes_get = {"/api/state", "/api/image", "/api/audio", "/api/labels", "/api/progress"}
        routes_post = {
            "/api/plan", "/api/apply", "/api/undo", "/api/redo", "/api/export", "/api/labels",
            "/api/cancel", "/api/commit", "/api/discard",
        }  # fmt: skip
        if path not in routes_get | routes_post:
            raise RequestError(404, f"no such API call: {path[:60]}")
        if method in ("GET", "HEAD") and path not in routes_get or method == "POST" and path not in routes_post:
            raise RequestError(405, f"{method} is not allowed on {path}")
        if method in ("GET", "HEAD"):
            if path == "/api/state":
                self._json(200, session.state())
            elif path == "/api/progress":
                self._json(200, dict(session.progress))
            elif path == "/api/image":
                since = (query.get("since") or [None])[0]
                if since is not None and not (since.isdigit() and len(since) < 12):
                    raise RequestError(400, "since: give a version number")
                tick = (query.get("tick") or [None])[0]
                if tick is not None and not (tick.isdigit() and len(tick) < 15):
                    raise RequestError(400, "tick: give a tick number")
                data, first, width, height, extra = session.image(
                    which,
                    None if since is None else int(since),
                    None if tick is None else int(tick),
                    wait=1.0 if (query.get("wait") or ["0"])[0] == "1" else 0.0,
                )
                self._send(
                    200,
                    data,
                    "application/octet-stream",
                    {"X-From": str(first), "X-Width": str(width), "X-Height": str(height), **extra},
                )
            elif path == "/api/audio":
                since = (query.get("since") or [None])[0]
                if since is None:
                    self._stream(*session.wav_chunks(which), "audio/wav")
                    return
                if which != "after" or not (since.isdigit() and len(since) < 12):
                    raise RequestError(400, "since: give a version number (of the after take)")
                first, frames, data = session.pcm(int(since))
                self._send(200, data, "application/octet-stream", {"X-From": str(first), "X-Frames": str(frames)})
            else:
                name = session.path.with_suffix(".labels.txt").name
                self._send(
                    200,
                    session.labels_text().encode(),
                    "text/plain; charset=utf-8",
                    {"Content-Disposition": f'attachment; filename="{name}"'},
                )
            return
        body = self._json_body()
        if path == "/api/cancel":  # no lock: it only asks the work in flight (or waiting) to stop
            session.request_cancel()
            self._json(200, {"cancelling": True})
            return
        if path == "/api/plan":
            options = parse_options(body)
            canonical = session.canonical(options)
            self._json(
                200,
                {
                    "regions": session.plan(canonical),
                    "time": list(canonical.time),
                    "freq": list(canonical.freq),
                },
            )
        elif path == "/api/apply":
            preview = isinstance(body, dict) and body.get("preview") is True
            session.apply(parse_regions(body), preview=preview)
            self._json(200, session.state())
        elif path in ("/api/undo", "/api/redo", "/api/commit", "/api/discard"):
            getattr(session, path.rsplit("/", 1)[1])()
            self._json(200, session.state())
        elif path == "/api/labels":
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise RequestError(400, "give {\"text\": the label file's text, and the edit's options}")
            base = parse_options(body, with_region=False)
            name = str(body.get("name") or "labels")[:200]
            regions = [
                dataclasses.replace(
                    base,
                    time=(round(lab.start, 6), round(lab.end, 6)),
                    freq=tuple(None if f is None else round(f, 3) for f in (lab.low, lab.high)),
                )
                for lab in labels.parse(body["text"], name)
            ]
            session.apply(regions, name)
            self._json(200, session.state())
        else:
            name = body.get("name") if isinstance(body, dict) else None
            self._json(200, session.export(name))

    def _stream(self, length: int, pieces: Any, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command == "HEAD":
            return
        for piece in pieces:
            self.wfile.write(piece)


def open_server(port: int | None, session: Session) -> Server:
    """Bind a server for ``session``: ``port`` (0: any free one), or by default the first free port
    from :data:`DEFAULT_PORT` on."""
    token = secrets.token_urlsafe(24)
    if port is not None:
        try:
            return Server(port, session, token)
        except OSError as exc:
            raise UsageError(
                f"--port {port}: cannot listen there ({exc.strerror or exc}); give another, or 0 for any"
            ) from None
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES):
        try:
            return Server(candidate, session, token)
        except OSError:
            continue
    return Server(0, session, token)


def serve(server: Server, announce: Any, open_browser: bool) -> None:
    """Serve until Ctrl-C or SIGTERM, and return within about a second whatever is running: an
    export in flight ends (it is atomic), other work is cancelled or abandoned (it writes nothing).

    The signals only ask the serving loop to stop (from a helper thread, as ``shutdown`` must not run
    on the loop's own thread): raised as an exception they could land anywhere in the loop, e.g.
    between a request thread's registration and its start, and closing would then fail to join it.
    """
    import signal

    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            server.session.request_cancel()  # long work stops at its next region; nothing is kept
            threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announce(server.url)
        if open_browser:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:  # only where the handlers could not be set (not the main thread)
        pass
    finally:
        try:
            server.server_close()  # joins the request threads
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
