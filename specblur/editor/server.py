"""The editor's session and its local HTTP server (standard library only, no torch).

:class:`Session` holds IN's samples in memory and a stack of edits: each Apply runs
:func:`specblur.edit.on_file.edit_in_place` (the function ``specblur blur --labels`` runs for each region)
on the current samples and records the samples it changed, before and after, so undo and redo are
instant and memory follows the edited spans. Export patches the changed spans into IN's bytes with
:func:`specblur.audio.write_patches`, as the command line does: format kept, every byte outside
the spans the input's, written atomically, never over IN.

:func:`serve` runs a :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 that serves the page's
three files and a small JSON API. Every API call needs the random token printed in the URL; every
request must name this server in its ``Host`` header (against DNS rebinding) and, when it carries an
``Origin``, come from it; bodies are bounded; a bad request gets a 4xx with a one-line message.
"""

from __future__ import annotations

import hmac
import io
import json
import math
import os
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from specblur import audio, labels, priors
from specblur.edit import on_file, plan, segment
from specblur.edit.effects import EFFECTS
from specblur.edit.limits import AMOUNT, SCALES, TEMPERATURE
from specblur.edit.options import EditOptions
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

    def edit_options(self) -> EditOptions:
        """The library's options for this edit (the effect's default rounds and feather)."""
        return EditOptions(
            effect=self.mode,
            temperature=self.temperature,
            amount=self.strength,
            seed=self.seed,
            scale=self.scale,
            prior=self.prior,
        )

    def shared(self) -> tuple:
        """What must agree for regions to run in one ``--labels`` call."""
        return (self.mode, self.strength, self.seed, self.scale, self.prior, self.temperature)

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
        return out

    def region_flags(self) -> list[str]:
        low, high = self.freq
        out = ["--time", f"{_decimal(self.time[0])}-{_decimal(self.time[1])}"]
        if low is not None or high is not None:
            out += ["--freq", f"{'' if low is None else _decimal(low, 3)}-{'' if high is None else _decimal(high, 3)}"]
        return out

    def describe(self) -> str:
        low, high = self.freq
        band = f"{0 if low is None else low:g}-{'top' if high is None else f'{high:g}'} Hz"
        extra = f", amount {self.strength:g}" if self.strength != 1 else ""
        return f"{self.mode} {self.time[0]:.3f}-{self.time[1]:.3f} s, {band}{extra}, seed {self.seed}, {self.scale}"

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
    )


@dataclass
class Entry:
    """One step of the undo stack: one Apply (one region) or one loaded label file (several)."""

    regions: list[Options]
    snapped: list[dict[str, Any]]
    patches: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    """``(start, before, after)`` per region, in order: the samples the edit changed."""
    seconds: float = 0.0


class Session:
    """One file being edited: IN's samples in memory, the stack of edits, undo and redo, export."""

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
        self._check_out(force)
        audio.check_output_name(self.out, head, str(self.path))
        self.force = force
        self.head = head
        self.fingerprint = _fingerprint(self.path)
        self.original = self.source.read_span(0, head.frames)
        bad = ~np.isfinite(self.original)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise AudioError(
                f"{self.path}: has NaN or infinite samples (the first at {first / head.sample_rate:.6g} s); "
                "repair the file (e.g. with sox) first"
            )
        self.current = self.original.copy()
        self.entries: list[Entry] = []
        self.position = 0
        self.version = 0
        self.exported: str | None = None
        self.lock = threading.RLock()
        self._cache: dict[tuple[str, str, int], Any] = {}
        spec = self.loaded.model.config.spectrogram
        centres = band_centres(spec)
        self.edges = [float(spec.f_min), *((centres[:-1] + centres[1:]) / 2).tolist(), float(spec.f_max)]
        before = self._image_db(self.original)
        self.db_high = float(np.ceil(before.max())) if before.size else 0.0
        self.db_low = max(self.db_high - DYNAMIC_RANGE_DB, float(spec.floor_db))

    def warm_up(self) -> None:
        """One throwaway edit of the file's first second (nothing kept), so that the first Apply does
        not also pay for starting the model's sessions and priors. Holds the lock while it runs."""
        with self.lock:
            n = min(self.head.frames, self.head.sample_rate)
            try:
                segment.blur(self.loaded, self.original[:n].copy(), self.head.sample_rate)
            except SpecblurError:
                pass  # a file too short or silent to edit: the first Apply will say so

    # -- files -------------------------------------------------------------------------------------
    def _check_out(self, force: bool) -> None:
        out = self.out
        if _same_file(out, self.path) or out.resolve() == self.path.resolve():
            raise UsageError(f"{out}: output is the input; give another --out file")
        if out.is_dir():
            raise UsageError(f"{out}: is a directory; give an output file name")
        if not out.parent.is_dir():
            raise UsageError(f"{out}: folder {out.parent} does not exist; create it first")
        if out.exists() and not force:
            raise UsageError(f"{out}: exists; use --force to replace it")

    # -- the stack ---------------------------------------------------------------------------------
    def apply(self, regions: list[Options], name: str = "") -> Entry:
        """Edit the current samples at each region in turn; one undo step."""
        head = self.head
        with self.lock:
            started = time.perf_counter()
            work = self.current
            patches: list[tuple[int, np.ndarray, np.ndarray]] = []
            snapped: list[dict[str, Any]] = []
            try:
                for index, options in enumerate(regions):
                    try:
                        opts = options.edit_options()
                        where = plan.plan(self.loaded, head.frames, head.sample_rate, options.time, options.freq, opts)
                        before = work[where.start : where.stop].copy()
                        result = on_file.edit_in_place(
                            self.loaded, work, head.sample_rate, head.frames, 0, options.time, options.freq, opts
                        )
                    except SpecblurError as exc:
                        where_text = f"{name} region {index + 1}: " if len(regions) > 1 or name else ""
                        raise UsageError(f"{where_text}{exc}") from None
                    s0, s1 = result.span
                    if s1 > s0:
                        patches.append((s0, before[s0 - where.start : s1 - where.start], work[s0:s1].copy()))
                    redrawn = None if math.isnan(result.changed_codes) else result.changed_codes  # no codes: a fill
                    snapped.append({**_describe(result.regions[-1]), "changed_codes": redrawn, "method": result.method})
            except BaseException:
                for start, old, _ in reversed(patches):  # leave the samples as they were
                    work[start : start + len(old)] = old
                raise
            entry = Entry(list(regions), snapped, patches, time.perf_counter() - started)
            del self.entries[self.position :]
            self.entries.append(entry)
            self.position = len(self.entries)
            self.version += 1
            return entry

    def undo(self) -> None:
        with self.lock:
            if self.position == 0:
                raise RequestError(409, "nothing to undo")
            entry = self.entries[self.position - 1]
            for start, old, _ in reversed(entry.patches):
                self.current[start : start + len(old)] = old
            self.position -= 1
            self.version += 1

    def redo(self) -> None:
        with self.lock:
            if self.position == len(self.entries):
                raise RequestError(409, "nothing to redo")
            entry = self.entries[self.position]
            for start, _, new in entry.patches:
                self.current[start : start + len(new)] = new
            self.position += 1
            self.version += 1

    def applied(self) -> list[Options]:
        return [options for entry in self.entries[: self.position] for options in entry.regions]

    # -- what the page shows -----------------------------------------------------------------------
    def _image_db(self, samples: np.ndarray) -> np.ndarray:
        """The model's log-mel image of ``samples`` in dB (channels' magnitudes averaged, as a
        linked edit sees them): ``(bands, frames)``, row 0 the lowest band."""
        model = self.loaded.model
        spec = model.config.spectrogram
        magnitude = np.mean(
            [
                np.abs(
                    model.spectrogram.stft(
                        resample(
                            np.ascontiguousarray(samples[:, c], dtype=np.float32),
                            self.head.sample_rate,
                            spec.sample_rate,
                        )
                    )
                )
                for c in range(samples.shape[1])
            ],
            axis=0,
        )
        return model.spectrogram.to_db(model.spectrogram.features_from_magnitude(magnitude))

    def image(self, which: str) -> tuple[bytes, int, int]:
        """The spectrogram as ``bands x frames`` bytes (0: ``db_low`` or less, 255: ``db_high``)."""
        with self.lock:
            key = ("image", which, 0 if which == "before" else self.version)
            if key not in self._cache:
                db = self._image_db(self.original if which == "before" else self.current)
                scaled = np.clip((db - self.db_low) / (self.db_high - self.db_low) * 255.0, 0, 255)
                self._cache = {k: v for k, v in self._cache.items() if k[0] != "image" or k[1] != which}
                self._cache[key] = (np.round(scaled).astype(np.uint8).tobytes(), db.shape[1], db.shape[0])
            return self._cache[key]

    def wav(self, which: str) -> bytes:
        """The samples as a 16-bit WAV at IN's rate (for listening; export keeps IN's own format)."""
        with self.lock:
            key = ("wav", which, 0 if which == "before" else self.version)
            if key not in self._cache:
                samples = np.clip(self.original if which == "before" else self.current, -1.0, 1.0)
                buffer = io.BytesIO()
                import soundfile as sf

                sf.write(buffer, samples, self.head.sample_rate, format="WAV", subtype="PCM_16")
                self._cache = {k: v for k, v in self._cache.items() if k[0] != "wav" or k[1] != which}
                self._cache[key] = buffer.getvalue()
            return self._cache[key]

    def plan(self, options: Options) -> list[dict[str, Any]]:
        """Where an edit of ``options`` would land: the regions snapped to code cells, per level."""
        where = plan.plan(
            self.loaded, self.head.frames, self.head.sample_rate, options.time, options.freq, options.edit_options()
        )
        return [_describe(r) for r in where.regions]

    def command(self) -> str:
        """The ``specblur`` command line(s) that make the same edits from the shell."""
        regions = self.applied()
        if not regions:
            return ""
        src, dst = _shell_quote(str(self.path)), _shell_quote(str(self.out))
        model = ["-m", _shell_quote(self.model_arg)] if self.model_arg else []
        if len(regions) == 1:
            r = regions[0]
            return " ".join(["specblur", r.mode, src, dst, *r.region_flags(), *r.flags(), *model])
        if len({r.shared() for r in regions}) == 1:
            r = regions[0]
            labels_name = _shell_quote(str(self.path.with_suffix(".labels.txt").name))
            return " ".join(["specblur", r.mode, src, dst, "--labels", labels_name, *r.flags(), *model]) + (
                f"    # {labels_name}: 'Save labels'"
            )
        lines = []
        for i, r in enumerate(regions):
            a = src if i == 0 else _shell_quote(f"step{i}{self.path.suffix}")
            b = dst if i == len(regions) - 1 else _shell_quote(f"step{i + 1}{self.path.suffix}")
            lines.append(" ".join(["specblur", r.mode, a, b, *r.region_flags(), *r.flags(), *model]))
        return (
            " && \\\n".join(lines) + "\n# (each step on the one before; the editor clips to the file's range only once)"
        )

    def labels_text(self) -> str:
        return labels.dumps(
            [labels.Label(r.time[0], r.time[1], r.freq[0], r.freq[1], r.label_text()) for r in self.applied()]
        )

    def state(self) -> dict[str, Any]:
        with self.lock:
            head = self.head
            spec = self.loaded.model.config.spectrogram
            image_frames = self.loaded.model.spectrogram.frames(
                int(round(head.frames * spec.sample_rate / head.sample_rate))
            )
            return {
                "file": self.path.name,
                "path": str(self.path),
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
                "limits": {"temperature": [TEMPERATURE.low, TEMPERATURE.high], "amount": [AMOUNT.low, AMOUNT.high]},
                "image": {"width": image_frames, "height": spec.n_bins, "db_low": self.db_low, "db_high": self.db_high},
                "version": self.version,
                "position": self.position,
                "can_undo": self.position > 0,
                "can_redo": self.position < len(self.entries),
                "entries": [
                    {
                        "regions": [r.describe() for r in entry.regions],
                        "snapped": entry.snapped,
                        "applied": i < self.position,
                        "ms": round(entry.seconds * 1000, 1),
                    }
                    for i, entry in enumerate(self.entries)
                ],
                "command": self.command(),
                "exported": self.exported,
            }

    # -- export ------------------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """Write OUT: IN's bytes with the current edits' spans patched in (atomic, never IN)."""
        with self.lock:
            out = self.out
            if _same_file(out, self.path) or out.resolve() == self.path.resolve():
                raise RequestError(409, f"{out}: is the input now; nothing written")
            if out.exists() and not self.force and self.exported is None:
                raise RequestError(409, f"{out}: exists; restart with --force to replace it")
            if _fingerprint(self.path) != self.fingerprint:
                raise RequestError(
                    409,
                    f"{self.path}: changed on disk since the editor opened it; nothing written (restart the editor)",
                )
            spans = on_file.clusters(
                [(s, s + len(new)) for e in self.entries[: self.position] for s, _, new in e.patches]
            )
            patches = []
            clipped = 0
            for lo, hi in spans:
                part = self.current[lo:hi]
                fitted = audio.fit_subtype(part, self.head.subtype)
                clipped += int(np.sum(fitted != part))
                patches.append((lo, fitted))
            source = audio.Source(self.path)
            warnings = audio.write_patches(source, out, patches)
            if clipped:
                warnings.append(f"{self.path}: {clipped} edited samples clipped at full scale")
            self.exported = str(out)
            return {
                "out": str(out),
                "warnings": warnings,
                "spans": [[lo / self.head.sample_rate, hi / self.head.sample_rate] for lo, hi in spans],
            }


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
    """Bound to 127.0.0.1 only; request threads are joined on close, so an export in flight when
    Ctrl-C comes completes (or fails cleanly) before the process ends."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    """SO_REUSEADDR: a restart on the same ``--port`` right after Ctrl-C binds at once instead of
    waiting a minute for the old connections' TIME_WAIT; a port another server listens on is still
    refused (SO_REUSEPORT, which would share it, stays off)."""

    def __init__(self, port: int, session: Session, token: str) -> None:
        self.waiting: set[Any] = set()  # connections waiting for a request line (a browser's spare ones)
        self.waiting_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)
        self.session = session
        self.token = token
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Listed as waiting from the moment it is accepted (not only once its thread starts reading),
        so a connection accepted just before Ctrl-C is hung up too."""
        with self.waiting_lock:
            self.waiting.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Never a traceback: a connection that breaks (the browser went away, or closing the server
        hung it up) is nothing to report; anything else is one line on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):  # ValueError: I/O on a socket file closed under it
            return
        sys.stderr.write(f"specblur edit: a request failed ({type(exc).__name__}: {str(exc)[:200]})\n")

    def server_close(self) -> None:
        """Stop listening, hang up the connections that wait idle for a request (browsers keep spare
        ones open), and wait for the requests in flight to finish."""
        with self.waiting_lock:
            for connection in self.waiting:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        super().server_close()

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
        routes_get = {"/api/state", "/api/image", "/api/audio", "/api/labels"}
        routes_post = {"/api/plan", "/api/apply", "/api/undo", "/api/redo", "/api/export", "/api/labels"}
        if path not in routes_get | routes_post:
            raise RequestError(404, f"no such API call: {path[:60]}")
        if method in ("GET", "HEAD") and path not in routes_get or method == "POST" and path not in routes_post:
            raise RequestError(405, f"{method} is not allowed on {path}")
        if method in ("GET", "HEAD"):
            if path == "/api/state":
                self._json(200, session.state())
            elif path == "/api/image":
                data, width, height = session.image(which)
                self._send(200, data, "application/octet-stream", {"X-Width": str(width), "X-Height": str(height)})
            elif path == "/api/audio":
                self._send(200, session.wav(which), "audio/wav")
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
        if path == "/api/plan":
            self._json(200, {"regions": session.plan(parse_options(body))})
        elif path == "/api/apply":
            session.apply([parse_options(body)])
            self._json(200, session.state())
        elif path == "/api/undo":
            session.undo()
            self._json(200, session.state())
        elif path == "/api/redo":
            session.redo()
            self._json(200, session.state())
        elif path == "/api/labels":
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise RequestError(400, "give {\"text\": the label file's text, and the edit's options}")
            base = parse_options(body, with_region=False)
            name = str(body.get("name") or "labels")[:200]
            regions = [
                Options(
                    base.mode,
                    (round(lab.start, 6), round(lab.end, 6)),
                    (None if lab.low is None else round(lab.low, 3), None if lab.high is None else round(lab.high, 3)),
                    base.strength,
                    base.seed,
                    base.scale,
                    base.prior,
                    base.temperature,
                )
                for lab in labels.parse(body["text"], name)
            ]
            session.apply(regions, name)
            self._json(200, session.state())
        else:
            result = session.export()
            self._json(200, result)


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
    """Serve until Ctrl-C or SIGTERM; requests in flight finish first.

    The signals only ask the serving loop to stop (from a helper thread, as ``shutdown`` must not run
    on the loop's own thread): raised as an exception they could land anywhere in the loop, e.g.
    between a request thread's registration and its start, and closing would then fail to join it.
    """
    import signal

    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
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
