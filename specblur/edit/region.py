"""Time and frequency specs of the region to edit.

``--time START-END`` in seconds or ``m:ss.frac`` (``1.0-2.0``, ``1:02-1:04.5``), with open ends
(``-2.5`` from the start, ``1.0-`` to the end); ``--freq LOW-HIGH`` in Hz with an optional ``k``
(``200-2000``, ``200-2k``, ``1k-``, ``-500``). Parsing is pure Python: bad specs fail before any
heavy import, with a message that shows what would work.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from specblur.errors import UsageError

_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_CLOCK = re.compile(rf"^(?:(\d+):)?(\d+):({_NUMBER})$")
_SECONDS = re.compile(rf"^({_NUMBER})$")
_HERTZ = re.compile(rf"^({_NUMBER})\s*(k|khz|hz)?$", re.IGNORECASE)

TIME_HELP = "use START-END in seconds or m:ss (e.g. 1.0-2.0, 1:02-1:04.5, -2.5, 1.0-)"
FREQ_HELP = "use LOW-HIGH in Hz, k for kHz (e.g. 200-2000, 200-2k, 1k-, -500)"


def _split(spec: str, what: str, hint: str) -> tuple[str, str]:
    text = spec.strip()
    if text.count("-") != 1:
        raise UsageError(f"--{what} {spec!r}: expected one '-' between the two ends; {hint}")
    low, high = (part.strip() for part in text.split("-"))
    if not low and not high:
        raise UsageError(f"--{what} {spec!r}: give at least one end; {hint}")
    return low, high


def seconds(text: str) -> float:
    """``2.5``, ``1:02``, ``1:02.25`` or ``1:01:02`` → seconds; ``ValueError`` otherwise."""
    m = _SECONDS.match(text)
    if m:
        return float(m.group(1))
    m = _CLOCK.match(text)
    if m:
        hours, minutes, secs = m.groups()
        if float(secs) >= 60 or (hours is not None and int(minutes) >= 60):
            raise ValueError(text)
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    raise ValueError(text)


def hertz(text: str) -> float:
    """``200``, ``2k``, ``1.5kHz`` or ``300Hz`` → Hz; ``ValueError`` otherwise."""
    m = _HERTZ.match(text)
    if not m:
        raise ValueError(text)
    value = float(m.group(1))
    return value * 1000.0 if (m.group(2) or "").lower().startswith("k") else value


def parse_time(spec: str) -> tuple[float | None, float | None]:
    """``--time`` → (start, end) seconds; ``None`` for an open end."""
    low, high = _split(spec, "time", TIME_HELP)
    try:
        start = seconds(low) if low else None
        end = seconds(high) if high else None
    except ValueError:
        raise UsageError(f"--time {spec!r}: not a time range; {TIME_HELP}") from None
    _check_order(spec, "time", start, end, TIME_HELP)
    return start, end


def parse_freq(spec: str) -> tuple[float | None, float | None]:
    """``--freq`` → (low, high) Hz; ``None`` for an open end."""
    low, high = _split(spec, "freq", FREQ_HELP)
    try:
        lo = hertz(low) if low else None
        hi = hertz(high) if high else None
    except ValueError:
        raise UsageError(f"--freq {spec!r}: not a frequency range; {FREQ_HELP}") from None
    _check_order(spec, "freq", lo, hi, FREQ_HELP)
    return lo, hi


def _check_order(spec: str, what: str, low: float | None, high: float | None, hint: str) -> None:
    for value in (low, high):
        if value is not None and not math.isfinite(value):
            raise UsageError(f"--{what} {spec!r}: not a finite number; {hint}")
    if low is not None and high is not None and high <= low:
        # the example is itself a valid range: the two ends swapped, or for an empty range one unit wider
        example = f"{high:g}-{low:g}" if high < low else f"{low:g}-{low + 1:g}"
        raise UsageError(f"--{what} {spec!r}: the end must be above the start, e.g. {example}")


# -- geometry: a region on the model's grid ------------------------------------------------------


def hz_to_mel(f):  # HTK, as the model's filterbank
    import numpy as np

    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    import numpy as np

    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@dataclass(frozen=True)
class Region:
    """A region snapped outward to whole code cells of one level.

    ``rows``/``cols`` are half-open cell ranges; ``bins``/``frames`` the same on the model's image
    grid; ``start``/``end`` (s) and ``low``/``high`` (Hz) what the cells cover.
    """

    level: str
    rows: tuple[int, int]
    cols: tuple[int, int]
    bins: tuple[int, int]
    frames: tuple[int, int]
    start: float
    end: float
    low: float
    high: float

    def describe(self) -> str:
        return (
            f"{self.level} cells rows {self.rows[0]}-{self.rows[1]} x columns {self.cols[0]}-{self.cols[1]}: "
            f"{self.start:.3f}-{self.end:.3f} s, {self.low:.0f}-{self.high:.0f} Hz"
        )


def band_centres(spec) -> np.ndarray:  # noqa: F821 - numpy imported lazily
    """Centre frequency (Hz) of each row of the model's image (mel band or linear bin)."""
    import numpy as np

    if spec.scale == "mel":
        pts = mel_to_hz(np.linspace(hz_to_mel(spec.f_min), hz_to_mel(spec.f_max), spec.n_mels + 2))
        return pts[1:-1]
    return np.arange(spec.n_fft // 2 + 1) * spec.sample_rate / spec.n_fft


def locate(
    spec,
    cell: tuple[int, int],
    level: str,
    duration: float,
    n_frames: int,
    time: tuple[float | None, float | None],
    freq: tuple[float | None, float | None],
    input_rate: int,
) -> Region:
    """Snap a time/frequency request outward to whole ``cell``s (bins, frames) of the model grid.

    Raises :class:`UsageError` for a region outside the file, empty, or above what the model covers.
    """
    import numpy as np

    start, end = time
    start = 0.0 if start is None else start
    end = duration if end is None else end
    if start >= duration:
        raise UsageError(
            f"--time starts at {start:g} s but the file lasts {duration:.4g} s; use a start below {duration:.4g}"
        )
    end = min(end, duration)
    top_hz = min(spec.f_max, input_rate / 2)
    low, high = freq
    low = 0.0 if low is None else low
    high = top_hz if high is None else high
    # a start out of reach first: the end's advice (leave it open) would not help then
    if low >= top_hz:
        raise UsageError(
            f"--freq starts at {low:g} Hz; the model covers {spec.f_min:g}-{spec.f_max:g} Hz of this "
            f"{input_rate:g} Hz file; start below {top_hz:g}"
        )
    if high > input_rate / 2 + 1e-6:
        raise UsageError(
            f"--freq goes to {high:g} Hz, above the file's Nyquist frequency {input_rate / 2:g} Hz; "
            f"end at or below {input_rate / 2:g} (or leave the end open: {low:g}-)"
        )
    if high > spec.f_max + 1e-6:
        raise UsageError(
            f"--freq goes to {high:g} Hz; the model covers up to {spec.f_max:g} Hz; "
            f"end at or below {spec.f_max:g} (or leave the end open: {low:g}-)"
        )
    frame_rate = spec.sample_rate / spec.hop_length
    f0 = int(np.floor(start * frame_rate))
    f1 = int(np.ceil(end * frame_rate)) + 1
    fb, tb = cell
    c0, c1 = f0 // tb, -(-min(f1, n_frames) // tb)
    centres = band_centres(spec)
    inside = np.nonzero((centres >= low) & (centres <= high))[0]
    if len(inside) == 0:  # narrower than one band: take the band nearest the middle
        inside = np.array([int(np.argmin(np.abs(centres - (low + high) / 2)))])
    n_rows = -(-len(centres) // fb)
    r0, r1 = int(inside[0]) // fb, min(-(-(int(inside[-1]) + 1) // fb), n_rows)
    b0, b1 = r0 * fb, min(r1 * fb, len(centres))
    edges = np.concatenate([[spec.f_min], (centres[:-1] + centres[1:]) / 2, [spec.f_max]])
    return Region(
        level=level,
        rows=(r0, r1),
        cols=(c0, max(c1, c0 + 1)),
        bins=(b0, b1),
        frames=(c0 * tb, min(max(c1, c0 + 1) * tb, n_frames)),
        start=c0 * tb / frame_rate,
        end=min(max(c1, c0 + 1) * tb / frame_rate, duration),
        low=float(edges[b0]),
        high=float(edges[b1]),
    )
