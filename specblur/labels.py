"""Regions as Audacity label files: read them for ``--labels``, write them from ``specblur edit``.

Audacity's text format (File > Export > Export Labels, and Import > Labels): one label per line,
``START<TAB>END<TAB>TEXT`` in seconds, with ``.`` (or ``,``) as the decimal mark; a label whose
second field is not a number is a point label (end = start). A spectral selection is carried by
the next line, ``\\<TAB>LOW<TAB>HIGH`` in Hz, where ``-1`` means "undefined" (an open end); a label
without that line has no frequency range, which here means the whole band the model covers. Further
``\\`` lines are continuation lines of future formats and are skipped, as Audacity does.

Pure Python: parsing fails before any heavy import, with a one-line message naming the file and line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from specblur.errors import UsageError

MAX_BYTES = 1 << 20
"""Largest label file read (a million bytes is tens of thousands of labels)."""
UNDEFINED_HZ = -1.0
"""What Audacity writes for a frequency that is not set."""


@dataclass(frozen=True)
class Label:
    """One region: seconds, and Hz with ``None`` for an open end (no spectral selection: both)."""

    start: float
    end: float
    low: float | None = None
    high: float | None = None
    text: str = ""
    line: int = 0
    """Line of the file it came from (1-based; 0 when made in memory)."""

    @property
    def time(self) -> tuple[float, float]:
        return (self.start, self.end)

    @property
    def freq(self) -> tuple[float | None, float | None]:
        return (self.low, self.high)


def _number(text: str) -> float:
    value = float(text.strip().replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse(text: str, name: str = "labels") -> list[Label]:
    """The regions of an Audacity label file's text; :class:`UsageError` naming ``name:LINE`` for
    anything that is not a region with a positive length."""
    labels: list[Label] = []
    lines = re.split(r"\r\n|\r|\n", text)  # line ends as Audacity reads them (not str.splitlines's others)
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].lstrip("\ufeff") if index == 0 else lines[index]
        index += 1
        if not line.strip():
            continue
        where = f"{name}:{number}"
        if line.startswith("\\"):
            raise UsageError(f"{where}: a frequency line ('\\' first) with no label line before it")
        fields = line.split("\t")
        try:
            start = _number(fields[0])
        except ValueError:
            raise UsageError(
                f"{where}: not a label line: {line[:40]!r}; expected START<TAB>END<TAB>TEXT in seconds "
                "(an Audacity label file)"
            ) from None
        try:
            end = _number(fields[1]) if len(fields) > 1 else start
            text_field = "\t".join(fields[2:])
        except ValueError:  # as Audacity: a second field that is not a number is the text of a point label
            end, text_field = start, "\t".join(fields[1:])
        low = high = None
        first_continuation = True
        while index < len(lines) and lines[index].startswith("\\"):
            if first_continuation:
                low, high = _frequencies(lines[index], f"{name}:{index + 1}")
                first_continuation = False
            index += 1
        if start < 0:
            raise UsageError(f"{where}: the label starts at {start:g} s; times start at 0")
        if end == start:
            raise UsageError(
                f"{where}: a point label (at {start:g} s); give a region with an end after its start, "
                f"e.g. {start:g}<TAB>{start + 1:g}<TAB>TEXT"
            )
        if end < start:
            raise UsageError(f"{where}: the label ends ({end:g} s) before it starts ({start:g} s)")
        labels.append(Label(start, end, low, high, text_field.strip(), number))
    if not labels:
        raise UsageError(f"{name}: no labels; expected lines START<TAB>END<TAB>TEXT (an Audacity label file)")
    return labels


def _frequencies(line: str, where: str) -> tuple[float | None, float | None]:
    fields = line.split("\t")
    try:
        if fields[0] != "\\" or len(fields) < 3:
            raise ValueError(line)
        low, high = _number(fields[1]), _number(fields[2])
    except ValueError:
        raise UsageError(f"{where}: not a frequency line: {line[:40]!r}; expected \\<TAB>LOW<TAB>HIGH in Hz") from None
    lo = None if low < 0 else low  # -1: undefined
    hi = None if high < 0 else high
    if lo is not None and hi is not None and hi <= lo:
        raise UsageError(f"{where}: the high frequency ({hi:g} Hz) is not above the low one ({lo:g} Hz)")
    return lo, hi


def read(path: str | Path) -> list[Label]:
    """The regions of label file ``path``; :class:`UsageError` for a missing, huge or malformed file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"--labels {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"--labels {path}: is a directory; give an Audacity label file") from None
    except OSError as exc:
        raise UsageError(f"--labels {path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"--labels {path}: larger than {MAX_BYTES} bytes; not a label file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse(text, str(path))


def _format(value: float) -> str:
    return f"{value:.6f}"


def dumps(labels: list[Label]) -> str:
    """The labels as Audacity writes them: a frequency line for each label with a range (an open end
    as ``-1``), none for a label over the whole band."""
    out = []
    for label in labels:
        text = label.text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        out.append(f"{_format(label.start)}\t{_format(label.end)}\t{text}")
        if label.low is not None or label.high is not None:
            low = UNDEFINED_HZ if label.low is None else label.low
            high = UNDEFINED_HZ if label.high is None else label.high
            out.append(f"\\\t{_format(low)}\t{_format(high)}")
    return "\n".join(out) + "\n"
