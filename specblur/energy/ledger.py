"""The energy ledger: one row per measured stage in ``<data dir>/energy.csv`` (columns
:data:`COLUMNS`), appended under a file lock, one whole line per write, so processes writing at once
never lose or interleave a row; and its summaries by model and stage, and by command-line call, that
``specblur energy --report`` renders (:mod:`specblur.cli.energy`).

The grid's carbon intensity comes from the country given by ``--country``, else
``$SPECBLUR_COUNTRY``, else :data:`DEFAULT_COUNTRY` (ISO 3166 alpha-3; codecarbon's offline tables).
What the rows measure, and how, is :mod:`specblur.energy.meter`'s.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specblur.errors import SpecblurError, UsageError
from specblur.files import atomic_write_bytes, locked
from specblur.runtime import registry

COLUMNS = (
    "time",
    "command",
    "model",
    "stage",
    "runs",
    "duration_s",
    "energy_kwh",
    "emissions_kg",
    "audio_s",
    "method",
    "country",
    "codecarbon_version",
    # the split, as codecarbon reported it, and how each part was obtained
    "cpu_kwh",
    "gpu_kwh",
    "ram_kwh",
    "cpu_method",
    "gpu_method",
    "ram_method",
    # the whole call (command-line edits only; empty otherwise)
    "call",
    "startup_s",
    "startup_cpu_s",
    "core_w",
    "startup_kwh",
    "call_s",
    "call_kwh",
    # several processes (torchrun): how many measured this row, and on how many devices (GPUs; 0: CPU)
    "processes",
    "devices",
)
"""The ledger's columns, in order. New columns are only ever appended at the end, so an older
ledger's rows are read by position.

``cpu_kwh``, ``gpu_kwh``, ``ram_kwh``: codecarbon's split of ``energy_kwh``. ``*_method``: how each
part was obtained (``"measured: RAPL"``, ``"estimated: TDP x process CPU load"``, ``"measured:
NVML"``, ``"none"`` for no such device, ...). ``call``: one id per process, shared by the rows of one
command-line call. ``startup_s``, ``startup_cpu_s``: wall and process CPU seconds before this stage
that no tracker measured (since the process started, for a call's first stage; since the previous
stage ended, for later ones), codecarbon's own set-up excluded. ``core_w``: the watts one busy core
was priced at. ``startup_kwh = startup_cpu_s x core_w + startup_s x RAM power``; ``call_s =
startup_s + duration_s``; ``call_kwh = startup_kwh + energy_kwh``. ``processes``: how many processes'
measurements the row sums (a ``torchrun`` training job: every rank measures its own share, rank 0
sums them and writes the one row; ``duration_s`` is then the longest rank's); ``devices``: the GPUs
they ran on (0 on CPU). Both are empty in rows written before these columns."""

BASE_COLUMNS = COLUMNS[:12]
"""The columns every ledger has had; a row with fewer fields is damaged."""

NUMERIC = ("duration_s", "energy_kwh", "emissions_kg", "audio_s")
"""Numbers every row has (an empty cell reads as 0)."""

OPTIONAL_NUMERIC = (
    "cpu_kwh",
    "gpu_kwh",
    "ram_kwh",
    "startup_s",
    "startup_cpu_s",
    "core_w",
    "startup_kwh",
    "call_s",
    "call_kwh",
    "processes",
    "devices",
)
"""Numbers that older rows, and rows of other than command-line edits, lack (read as ``None``)."""

COMPONENTS = ("cpu", "gpu", "ram")

DEFAULT_COUNTRY = "USA"
JOULES_PER_KWH = 3.6e6


def ledger_path() -> Path:
    return registry.data_dir() / "energy.csv"


def country(option: str | None = None) -> str:
    """The country whose grid sets the emissions: option, else ``$SPECBLUR_COUNTRY``, else the default."""
    code = (option or os.environ.get("SPECBLUR_COUNTRY") or DEFAULT_COUNTRY).strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise UsageError(f"country {code!r}: give an ISO 3166 alpha-3 code such as USA, FRA or DEU")
    return code


# -- the ledger --------------------------------------------------------------------------------


def append(rows: list[dict[str, Any]], path: Path | None = None) -> None:
    """Append rows to the ledger (header first if the file is new), under a lock.

    A ledger written by an older specblur (its header a shorter prefix of :data:`COLUMNS`) gets the
    current header first, so every line matches the header again; its rows are kept as they are.
    """
    path = path or ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    for row in rows:
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    with locked(path, timeout=60):
        new = not path.exists() or path.stat().st_size == 0
        if not new:
            _upgrade_header(path)
        with open(path, "a", encoding="utf-8", newline="") as f:
            if new:
                f.write(",".join(COLUMNS) + "\n")
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())


def _upgrade_header(path: Path) -> None:
    """Rewrite an older ledger's header as the current one (call with the ledger's lock held).

    The file is replaced whole (written beside it, then renamed), so a reader sees the old file or
    the new one, never half of either.
    """
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline()
        names = first.rstrip("\r\n").split(",")
        if not (len(names) < len(COLUMNS) and tuple(names) == COLUMNS[: len(names)]):
            return
        rest = f.read()
    atomic_write_bytes(path, (",".join(COLUMNS) + "\n" + rest).encode("utf-8"))


def read(path: Path | None = None) -> list[dict[str, Any]]:
    """The ledger's rows, numbers as floats; an empty list when nothing was measured yet.

    Every row has every key of :data:`COLUMNS`: what an older row lacks is ``""`` for text and
    ``None`` for the numbers of :data:`OPTIONAL_NUMERIC`.
    """
    path = path or ledger_path()
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None) or []
        # A header that is a prefix of ours is an older ledger: its rows are read by position. A longer
        # one (a newer specblur's) is read by its names; columns we do not know are kept as text.
        names = list(COLUMNS) if tuple(header) == COLUMNS[: len(header)] else header
        for n, values in enumerate(reader, start=2):
            if not values:
                continue
            try:
                if len(values) < len(BASE_COLUMNS) or len(values) > len(names):
                    raise ValueError(f"{len(values)} fields, not {len(BASE_COLUMNS)} to {len(names)}")
                row = {k: "" for k in COLUMNS} | dict(zip(names, values, strict=False))
                row["runs"] = int(row["runs"] or 1)
                row.update({k: float(row[k] or 0.0) for k in NUMERIC})
                row.update({k: float(row[k]) if row[k] else None for k in OPTIONAL_NUMERIC})
            except (TypeError, ValueError) as exc:
                raise SpecblurError(f"{path}: line {n} is damaged ({exc}); fix or remove that line") from exc
            rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def is_estimate(method: str) -> bool:
    """Whether a row's ``method`` (old or new) or one part's method says that some energy was not measured."""
    if method in ("", "none", "rapl"):  # "rapl": the old ledgers' word for measured
        return False
    for part in method.split(";"):
        head, _, tail = part.strip().partition(" ")
        how = tail if head in COMPONENTS else part.strip()
        if how and how != "none" and not how.startswith("measured"):
            return True
    return False


# -- the report --------------------------------------------------------------------------------


@dataclass
class Line:
    """The ledger's rows of one (model, stage), summed."""

    model: str
    stage: str
    runs: int = 0
    energy_kwh: float = 0.0
    emissions_kg: float = 0.0
    duration_s: float = 0.0
    audio_s: float = 0.0
    estimated: bool = False
    cpu_kwh: float | None = None
    """The parts, summed over the rows that carry them (older rows do not)."""
    gpu_kwh: float | None = None
    ram_kwh: float | None = None
    cpu_method: str = ""
    """Each part's methods, as in the rows (several joined by " | "); empty for older rows only."""
    gpu_method: str = ""
    ram_method: str = ""

    @property
    def mean_kwh(self) -> float:
        return self.energy_kwh / self.runs if self.runs else 0.0

    @property
    def joules_per_audio_s(self) -> float | None:
        return self.energy_kwh * JOULES_PER_KWH / self.audio_s if self.audio_s else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage": self.stage,
            "runs": self.runs,
            "energy_kwh": self.energy_kwh,
            "mean_energy_kwh": self.mean_kwh,
            "emissions_kg": self.emissions_kg,
            "duration_s": self.duration_s,
            "audio_s": self.audio_s,
            "joules_per_audio_s": self.joules_per_audio_s,
            "estimated": self.estimated,
            "cpu_kwh": self.cpu_kwh,
            "gpu_kwh": self.gpu_kwh,
            "ram_kwh": self.ram_kwh,
            "cpu_method": self.cpu_method,
            "gpu_method": self.gpu_method,
            "ram_method": self.ram_method,
        }


@dataclass
class CallLine:
    """The whole-call rows of one (command, model), summed: what one command-line call costs."""

    command: str
    model: str
    calls: int = 0
    edits: int = 0
    edit_kwh: float = 0.0
    """The measured stages (the edits alone)."""
    startup_kwh: float = 0.0
    call_kwh: float = 0.0
    edit_s: float = 0.0
    call_s: float = 0.0
    startup_cpu_s: float = 0.0
    core_w: list[float] = field(default_factory=list)
    """The busy-core watts the start-ups were priced at, one per row."""
    cpu_method: str = ""

    def mean(self, total: float) -> float:
        return total / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "model": self.model,
            "calls": self.calls,
            "edits": self.edits,
            "mean_edit_kwh": self.mean(self.edit_kwh),
            "mean_startup_kwh": self.mean(self.startup_kwh),
            "mean_call_kwh": self.mean(self.call_kwh),
            "mean_edit_s": self.mean(self.edit_s),
            "mean_call_s": self.mean(self.call_s),
            "mean_startup_cpu_s": self.mean(self.startup_cpu_s),
            "core_w": sum(self.core_w) / len(self.core_w) if self.core_w else None,
            "cpu_method": self.cpu_method,
        }


TRAINING_STAGES = ("train", "prior")
EDIT_STAGES = ("blur",)


def _join(seen: str, value: str) -> str:
    if not value or value in seen.split(" | "):
        return seen
    return f"{seen} | {value}" if seen else value


def summarise(rows: list[dict[str, Any]]) -> list[Line]:
    """Sum the rows by (model, stage), in the order each pair first appears."""
    lines: dict[tuple[str, str], Line] = {}
    for r in rows:
        key = (r["model"], r["stage"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = Line(r["model"], r["stage"])
        line.runs += r["runs"]
        line.energy_kwh += r["energy_kwh"]
        line.emissions_kg += r["emissions_kg"]
        line.duration_s += r["duration_s"]
        line.audio_s += r["audio_s"]
        line.estimated |= is_estimate(r.get("method", ""))
        for part in COMPONENTS:
            value = r.get(f"{part}_kwh")
            if value is not None:
                setattr(line, f"{part}_kwh", (getattr(line, f"{part}_kwh") or 0.0) + value)
            setattr(line, f"{part}_method", _join(getattr(line, f"{part}_method"), r.get(f"{part}_method", "")))
    return list(lines.values())


def summarise_calls(rows: list[dict[str, Any]]) -> list[CallLine]:
    """Sum the whole-call rows (those with a ``call`` id) by (command, model), in order of appearance."""
    lines: dict[tuple[str, str], CallLine] = {}
    calls: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        if not r.get("call") or r.get("call_kwh") is None:
            continue
        key = (r["command"], r["model"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = CallLine(r["command"], r["model"])
            calls[key] = set()
        calls[key].add(r["call"])
        line.calls = len(calls[key])
        line.edits += r["runs"]
        line.edit_kwh += r["energy_kwh"]
        line.startup_kwh += r.get("startup_kwh") or 0.0
        line.call_kwh += r["call_kwh"]
        line.edit_s += r["duration_s"]
        line.call_s += r.get("call_s") or r["duration_s"]
        line.startup_cpu_s += r.get("startup_cpu_s") or 0.0
        if r.get("core_w") is not None:
            line.core_w.append(r["core_w"])
        line.cpu_method = _join(line.cpu_method, r.get("cpu_method", ""))
    return list(lines.values())


def context(lines: list[Line]) -> list[str]:
    """Plain sentences: for each model with both, how many edits cost as much as its training."""
    out = []
    by_model: dict[str, list[Line]] = {}
    for line in lines:
        by_model.setdefault(line.model, []).append(line)
    for model, group in by_model.items():
        training = sum(x.energy_kwh for x in group if x.stage in TRAINING_STAGES)
        edits = [x for x in group if x.stage in EDIT_STAGES and x.runs]
        if training and edits:
            per_edit = sum(x.energy_kwh for x in edits) / sum(x.runs for x in edits)
            if per_edit > 0:
                out.append(
                    f"{model}: training cost as much as {training / per_edit:,.0f} edits "
                    f"({per_edit * JOULES_PER_KWH:.3g} J an edit on average)"
                )
    return out


ESTIMATE_NOTE = (
    "Estimated: no RAPL energy counters were readable, so codecarbon estimated CPU power from the "
    "processor's TDP and this process's CPU load (TDP / cores for each busy core); treat the figures as "
    "orders of magnitude, and compare runs measured the same way."
)


def _methods_seen(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {part: [] for part in COMPONENTS}
    for r in rows:
        for part in COMPONENTS:
            how = r.get(f"{part}_method", "")
            if how and how not in seen[part]:
                seen[part].append(how)
    return seen


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """Plain sentences on how the figures were obtained, for the methods the rows name."""
    seen = _methods_seen(rows)
    old = {r.get("method", "") for r in rows if not r.get("cpu_method")}
    out = []
    cpu = seen["cpu"] + sorted(old)
    if any(how.startswith("estimated: TDP") for how in cpu):
        out.append(ESTIMATE_NOTE)
    if "estimated: constant TDP" in cpu:
        out.append("Estimated: where codecarbon knew neither counters nor the CPU's load, it counted half the TDP.")
    for how in seen["cpu"]:
        if how.startswith("measured"):
            out.append(f"CPU {how} (the whole processor package, not only this process).")
    for how in seen["gpu"]:
        if how.startswith("measured"):
            out.append(f"GPU {how}: the card's own reading, the whole card (idle power included) while measured.")
    if any(how.startswith("estimated") for how in seen["ram"]):
        out.append(
            "RAM is never measured: codecarbon models it from the memory size (about 5 W a DIMM, 10 W at least)."
        )
    if old:
        out.append(
            "Rows from before the CPU/GPU/RAM split carry only their total and one method: " + ", ".join(sorted(old))
        )
    calls = summarise_calls(rows)
    if calls:
        watts = [w for c in calls for w in c.core_w]
        figure = (
            f"{min(watts):.3g} W"
            if watts and min(watts) == max(watts)
            else (f"{min(watts):.3g}-{max(watts):.3g} W" if watts else "no")
        )
        methods = {how for c in calls for how in c.cpu_method.split(" | ")}
        if all(how.startswith("estimated: TDP") for how in methods):
            source = "codecarbon's TDP / cores: no RAPL counters here, so the start-up is CPU time x TDP-derived power"
        else:
            source = "the edits' CPU energy over their CPU seconds, where codecarbon measured it"
        out.append(
            f"Whole call = the edit + its start-up before the tracker started: the process's CPU seconds x {figure} "
            f"a busy core ({source}), plus RAM at codecarbon's RAM power for that time. Not counted: codecarbon's own "
            "set-up (a call without --energy does not pay it) and what follows the last edit (--plot, exit)."
        )
    return out


def report_data(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lines = summarise(rows)
    return {
        "ledger": str(ledger_path()),
        "estimated": any(line.estimated for line in lines),
        "lines": [line.to_dict() for line in lines],
        "calls": [call.to_dict() for call in summarise_calls(rows)],
        "methods": _methods_seen(rows),
        "notes": notes(rows),
        "context": context(lines),
    }


CSV_FIELDS = tuple(Line("", "").to_dict())
"""``energy --csv``: one row per (model, stage), as the JSON report's ``lines``."""
