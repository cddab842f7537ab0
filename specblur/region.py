"""Time and frequency specs of the region to edit.

``--time START-END`` in seconds or ``m:ss.frac`` (``1.0-2.0``, ``1:02-1:04.5``), with open ends
(``-2.5`` from the start, ``1.0-`` to the end); ``--freq LOW-HIGH`` in Hz with an optional ``k``
(``200-2000``, ``200-2k``, ``1k-``, ``-500``). Parsing is pure Python: bad specs fail before any
heavy import, with a message that shows what would work.
"""

from __future__ import annotations

import math
import re

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
        raise UsageError(f"--{what} {spec!r}: the end must be above the start, e.g. {high:g}-{low:g}")
