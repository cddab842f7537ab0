"""Energy: measure stages with codecarbon (offline, imported lazily) and keep one ledger of them.

Every measurement is one row of ``<data dir>/energy.csv`` with the columns of :data:`COLUMNS`. Rows
are appended under a file lock, one whole line per write, so processes writing at once never lose or
interleave a row. Only :class:`Meter` imports codecarbon; nothing else in specblur pays for it.

Each row splits the energy into CPU, GPU and RAM as codecarbon reported them, and says how each part
was obtained (``cpu_method``, ``gpu_method``, ``ram_method``; ``method`` sums them up). codecarbon
reads RAPL energy counters where the kernel exposes them; elsewhere (most VMs, these machines
included) it *estimates* CPU power from the processor's TDP and the process's CPU load. A GPU is
read through NVML (its own energy counter: the whole card). RAM is always codecarbon's model from
the memory size. The report says plainly what was estimated.

A command-line edit (``Meter(..., whole_call=True)``) also records what the whole call cost: the
start-up before the tracker started (the process's CPU seconds times the power codecarbon gives a
busy core, plus RAM at codecarbon's RAM power for that time) and the call's wall time, so
``call_kwh = startup_kwh + energy_kwh``.

The grid's carbon intensity comes from the country given by ``--country``, else
``$SPECBLUR_COUNTRY``, else :data:`DEFAULT_COUNTRY` (ISO 3166 alpha-3; codecarbon's offline tables).
"""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specblur.errors import SpecblurError, UsageError
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
startup_s + duration_s``; ``call_kwh = startup_kwh + energy_kwh``."""

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
    from filelock import FileLock

    path = path or ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    for row in rows:
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    with FileLock(str(path) + ".lock", timeout=60):
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
    tmp = path.with_name(path.name + ".upgrade")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(COLUMNS) + "\n")
        f.write(rest)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Measurement:
    """What one stage cost; ``energy_kwh`` is ``None`` when codecarbon could not measure."""

    stage: str
    runs: int = 1
    """How many operations (edits, files) the measurement spans."""
    duration_s: float = 0.0
    energy_kwh: float | None = None
    emissions_kg: float | None = None
    audio_s: float = 0.0
    cpu_kwh: float | None = None
    gpu_kwh: float | None = None
    ram_kwh: float | None = None
    methods: dict[str, str] = field(default_factory=dict)
    """How each part (cpu, gpu, ram) was obtained; see :func:`component_methods`."""
    startup_s: float | None = None
    """Whole-call meters only: wall seconds before this stage that no tracker measured."""
    startup_cpu_s: float | None = None
    """Whole-call meters only: the process's CPU seconds in that time."""
    core_w: float | None = None
    """The watts one busy core was priced at (see :func:`core_watts`)."""
    startup_kwh: float | None = None

    @property
    def joules(self) -> float:
        return (self.energy_kwh or 0.0) * JOULES_PER_KWH

    @property
    def call_s(self) -> float | None:
        return None if self.startup_s is None else self.startup_s + self.duration_s

    @property
    def call_kwh(self) -> float | None:
        if self.startup_kwh is None or self.energy_kwh is None:
            return None
        return self.startup_kwh + self.energy_kwh


_CPU_MODES = {
    "intel_rapl": "measured: RAPL",
    "intel_power_gadget": "measured: Intel Power Gadget",
    "windows_emi": "measured: Windows EMI",
    "apple_powermetrics": "measured: powermetrics",
    "constant": "estimated: constant TDP",
}
_GPU_LIBRARIES = {"NvidiaGPUDevice": "NVML", "AMDGPUDevice": "AMD SMI"}


def component_methods(hardware: list[Any]) -> dict[str, str]:
    """How codecarbon obtained each part's energy, from its tracker's hardware objects.

    CPU: ``"measured: RAPL"`` (or another counter codecarbon read), ``"estimated: TDP x process CPU
    load"`` (no counter: the TDP's share for the cores this process kept busy), ``"estimated:
    constant TDP"``. GPU: ``"measured: NVML"`` / ``"measured: AMD SMI"`` (the card's energy counter;
    ``"(power samples)"`` where codecarbon had to average power readings instead), ``"none"``
    without one. RAM: ``"estimated: RAM model from <process|machine> memory size"``, or the power
    it was told. A part codecarbon did not track is ``"none"``.
    """
    methods = dict.fromkeys(COMPONENTS, "none")
    if not hardware:  # nothing measured yet: no need for codecarbon
        return methods
    from codecarbon.external.hardware import CPU, GPU, AppleSiliconChip, Raspberry
    from codecarbon.external.ram import RAM

    for h in hardware:
        if isinstance(h, CPU):
            mode = getattr(h, "_mode", None)
            if mode == "cpu_load":
                methods["cpu"] = f"estimated: TDP x {getattr(h, '_tracking_mode', 'machine')} CPU load"
            else:
                methods["cpu"] = _CPU_MODES.get(mode, f"unknown: codecarbon mode {mode}")
        elif isinstance(h, GPU):
            devices = list(getattr(getattr(h, "devices", None), "devices", []) or [])
            if devices:
                libraries = sorted({_GPU_LIBRARIES.get(type(d).__name__, type(d).__name__) for d in devices})
                sampled = any(getattr(d, "_use_power_fallback", False) for d in devices)
                methods["gpu"] = "measured: " + " + ".join(libraries) + (" (power samples)" if sampled else "")
        elif isinstance(h, RAM):
            forced = getattr(h, "_force_ram_power", None)
            if forced is not None:
                methods["ram"] = f"fixed: {float(forced):g} W as configured"
            else:
                methods["ram"] = f"estimated: RAM model from {getattr(h, '_tracking_mode', 'machine')} memory size"
        elif isinstance(h, AppleSiliconChip | Raspberry):
            part = str(getattr(h, "chip_part", "")).lower()
            if part in methods:
                methods[part] = "measured: powermetrics" if isinstance(h, AppleSiliconChip) else "measured: PMIC"
    return methods


def summary_method(methods: dict[str, str]) -> str:
    """The ``method`` column: each tracked part and how, e.g. ``"cpu estimated: TDP x process CPU load;
    gpu measured: NVML; ram estimated: RAM model from process memory size"``."""
    return "; ".join(f"{part} {how}" for part, how in methods.items() if how != "none") or "none"


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


def core_watts(hardware: list[Any], pue: float, cpu_kwh: float | None, cpu_s: float) -> float | None:
    """The watts codecarbon gives one busy core, to price CPU seconds it did not see.

    In its TDP x process-load mode codecarbon charges ``TDP x (CPU seconds / wall) / cores`` watts,
    i.e. exactly ``TDP / cores`` (times the PUE) for each CPU second: that figure. Otherwise (RAPL,
    a constant), the stage's CPU energy over the process's CPU seconds in it, if it used any.
    """
    from codecarbon.external.hardware import CPU

    for h in hardware:
        if isinstance(h, CPU) and getattr(h, "_mode", None) == "cpu_load":
            tdp, cores = getattr(h, "_tdp", None), getattr(h, "_cpu_count", None)
            if getattr(h, "_tracking_mode", None) == "process" and tdp and cores:
                return float(tdp) / float(cores) * pue
    if cpu_kwh and cpu_s > 0.01:
        return cpu_kwh * JOULES_PER_KWH / cpu_s
    return None


def process_started() -> float:
    """When this process started, in :func:`time.time`'s seconds.

    On Linux from the kernel's clock ticks since boot (``/proc``: 10 ms steps); elsewhere from
    psutil, whose start time can be a second off where the boot time is kept in whole seconds.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.time() - max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        import psutil

        return float(psutil.Process().create_time())


class Meter:
    """One codecarbon tracker for this process, measuring named stages one after the other.

    codecarbon's first start in a process costs about a second (it probes the CPU); later stages
    reuse the tracker and cost milliseconds. Each finished stage is appended to the ledger at once,
    so a run cut short still records what it spent.

    ``whole_call=True`` (the command line's edits): each row also carries what the process spent
    before the stage that no tracker saw (since the process started, or since the previous stage
    ended), priced as in :class:`Measurement` and :data:`COLUMNS`, and one id for the call, so the
    report can say what one call costs. codecarbon's own set-up and bookkeeping are left out of it:
    a call without ``--energy`` does not pay them.
    """

    def __init__(
        self,
        command: str,
        model: str,
        country_code: str | None = None,
        ledger: Path | None = None,
        record: bool = True,
        whole_call: bool = False,
    ) -> None:
        self.command = command
        self.model = model
        self.country = country(country_code)
        self.ledger = ledger
        self.record = record
        self.whole_call = whole_call
        self.call = f"{os.getpid()}-{uuid.uuid4().hex[:12]}" if whole_call else ""
        self.measurements: list[Measurement] = []
        self._tracker: Any = None
        self._version = ""
        self._accounted: tuple[float, float] | None = None
        """(wall clock, process CPU seconds) when the previous stage's bookkeeping ended."""

    def _ensure(self) -> Any:
        if self._tracker is None:
            os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
            import logging

            import codecarbon
            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            self._version = codecarbon.__version__
            try:
                # output_methods=[]: codecarbon writes nowhere (no emissions.csv, no API, whatever a
                # .codecarbon.config says); the ledger is ours
                self._tracker = OfflineEmissionsTracker(
                    country_iso_code=self.country,
                    output_methods=[],
                    allow_multiple_runs=True,
                    tracking_mode="process",
                    log_level="error",
                )
            except Exception as exc:  # codecarbon rejects what it cannot place
                raise UsageError(f"energy: codecarbon cannot measure for country {self.country!r} ({exc})") from exc
        return self._tracker

    @property
    def version(self) -> str:
        """codecarbon's version (known once a stage was measured)."""
        return self._version

    @property
    def methods(self) -> dict[str, str]:
        """How each part (cpu, gpu, ram) is obtained; all ``"none"`` before the first stage."""
        return component_methods(list(getattr(self._tracker, "_hardware", None) or []))

    @property
    def method(self) -> str:
        """How the energy was obtained, part by part (the ledger's ``method`` column)."""
        return summary_method(self.methods)

    @contextmanager
    def measure(self, stage: str, audio_s: float = 0.0, runs: int = 1) -> Iterator[Measurement]:
        """Measure the body as ``stage``; set ``audio_s`` or ``runs`` on the yielded record if known
        only later."""
        before_wall, before_cpu = time.time(), time.process_time()
        tracker = self._ensure()
        result = Measurement(stage, runs=runs, audio_s=audio_s)
        tracker.start_task(stage)
        started = time.perf_counter()
        cpu_started = time.process_time()
        try:
            yield result
        finally:
            result.duration_s = time.perf_counter() - started
            cpu_s = time.process_time() - cpu_started
            try:
                data = tracker.stop_task()
            except Exception:  # noqa: BLE001 - a failed measurement must not fail the work measured
                data = None
            if data is not None:
                self._fill(result, data, cpu_s, before_wall, before_cpu)
            self.measurements.append(result)
            if self.record and result.energy_kwh is not None:
                append([self.row(result)], self.ledger)
            self._accounted = (time.time(), time.process_time())

    def _fill(self, m: Measurement, data: Any, cpu_s: float, before_wall: float, before_cpu: float) -> None:
        """Copy codecarbon's figures into ``m``, and price the unmeasured time before it."""
        hardware = list(getattr(self._tracker, "_hardware", None) or [])
        m.energy_kwh = float(data.energy_consumed)
        m.emissions_kg = float(data.emissions)
        m.cpu_kwh, m.gpu_kwh, m.ram_kwh = (float(getattr(data, f"{p}_energy", 0.0) or 0.0) for p in COMPONENTS)
        m.methods = component_methods(hardware)
        m.core_w = core_watts(hardware, float(getattr(self._tracker, "_pue", 1.0) or 1.0), m.cpu_kwh, cpu_s)
        if not self.whole_call:
            return
        since_wall, since_cpu = self._accounted or (process_started(), 0.0)
        m.startup_s = max(before_wall - since_wall, 0.0)
        m.startup_cpu_s = max(before_cpu - since_cpu, 0.0)
        ram_w = m.ram_kwh * JOULES_PER_KWH / m.duration_s if m.duration_s > 0 else 0.0
        joules = m.startup_cpu_s * (m.core_w or 0.0) + m.startup_s * ram_w
        m.startup_kwh = joules / JOULES_PER_KWH

    def add_to(self, spent: dict[str, Any], m: Measurement) -> None:
        """Add a measured stage to a model's energy record (``<stage>_kwh``, ``<stage>_s``,
        ``emissions_kg``, ``cpu_kwh``/``gpu_kwh``/``ram_kwh``), so resumed runs and refits keep counting."""
        if m.energy_kwh is None:
            return
        for key, value in ((f"{m.stage}_kwh", m.energy_kwh), (f"{m.stage}_s", m.duration_s)):
            spent[key] = float(spent.get(key, 0.0)) + value
        spent["emissions_kg"] = float(spent.get("emissions_kg", 0.0)) + (m.emissions_kg or 0.0)
        for part in COMPONENTS:
            value = getattr(m, f"{part}_kwh")
            if value is not None:
                spent[f"{part}_kwh"] = float(spent.get(f"{part}_kwh", 0.0)) + value
        methods = m.methods or self.methods
        spent.update(method=summary_method(methods), methods=methods, country=self.country, codecarbon=self.version)

    def row(self, m: Measurement) -> dict[str, Any]:
        methods = m.methods or self.methods
        whole = self.whole_call and m.startup_kwh is not None
        return {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
            "model": self.model,
            "stage": m.stage,
            "runs": m.runs,
            "duration_s": round(m.duration_s, 6),
            "energy_kwh": m.energy_kwh,
            "emissions_kg": m.emissions_kg,
            "audio_s": round(m.audio_s, 6),
            "method": summary_method(methods),
            "country": self.country,
            "codecarbon_version": self._version,
            "cpu_kwh": m.cpu_kwh,
            "gpu_kwh": m.gpu_kwh,
            "ram_kwh": m.ram_kwh,
            "cpu_method": methods.get("cpu", ""),
            "gpu_method": methods.get("gpu", ""),
            "ram_method": methods.get("ram", ""),
            "call": self.call if whole else "",
            "startup_s": _rounded(m.startup_s) if whole else None,
            "startup_cpu_s": _rounded(m.startup_cpu_s) if whole else None,
            "core_w": m.core_w,
            "startup_kwh": m.startup_kwh if whole else None,
            "call_s": _rounded(m.call_s) if whole else None,
            "call_kwh": m.call_kwh if whole else None,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


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


def _split(line: Line) -> str:
    parts = [line.cpu_kwh, line.gpu_kwh, line.ram_kwh]
    known = sum(p for p in parts if p is not None)
    if all(p is None for p in parts) or known <= 0:
        return "-"
    return "/".join(f"{100 * (p or 0.0) / known:.0f}" for p in parts)


def show_report(as_json: bool = False, as_csv: bool = False, rows: list[dict[str, Any]] | None = None) -> None:
    """Print the ledger summed by model and stage, and the whole calls by command: a rich table, JSON
    or CSV (the first table only) on stdout."""
    import json
    import sys

    rows = read() if rows is None else rows
    data = report_data(rows)
    if not rows:
        print(
            "nothing measured yet: train a model, run blur/encode/decode with --energy, "
            "or run 'specblur energy --measure'",
            file=sys.stderr,
        )
    if as_json:
        print(json.dumps(data, indent=1))
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in line.items()} for line in data["lines"])
        return
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Energy ledger: {data['ledger']}", title_justify="left")
    headings = ("model", "stage", "runs", "energy (Wh)", "mean (J)", "CPU/GPU/RAM %", "CO2eq (g)", "J / s audio")
    for name in (*headings, "wall (s)"):
        table.add_column(name, justify="left" if name in ("model", "stage") else "right")
    for line in summarise(rows):
        per_audio = line.joules_per_audio_s
        table.add_row(
            line.model,
            line.stage,
            str(line.runs),
            f"{line.energy_kwh * 1000:.4g}",
            f"{line.mean_kwh * JOULES_PER_KWH:.4g}",
            _split(line),
            f"{line.emissions_kg * 1000:.4g}",
            "-" if per_audio is None else f"{per_audio:.3g}",
            f"{line.duration_s:.1f}",
        )
    console = Console()
    console.print(table)
    calls = summarise_calls(rows)
    if calls:
        per_call = Table(
            title="One command-line call, on average: the whole call and the edit inside it", title_justify="left"
        )
        headings = ("command", "model", "calls", "edits/call", "edit (J)", "start-up (J)", "whole call (J)")
        for name in (*headings, "edit (s)", "whole call (s)"):
            per_call.add_column(name, justify="left" if name in ("command", "model") else "right")
        for c in calls:
            per_call.add_row(
                c.command,
                c.model,
                str(c.calls),
                f"{c.edits / c.calls:.3g}" if c.calls else "-",
                f"{c.mean(c.edit_kwh) * JOULES_PER_KWH:.4g}",
                f"{c.mean(c.startup_kwh) * JOULES_PER_KWH:.4g}",
                f"{c.mean(c.call_kwh) * JOULES_PER_KWH:.4g}",
                f"{c.mean(c.edit_s):.3g}",
                f"{c.mean(c.call_s):.3g}",
            )
        console.print(per_call)
    methods = data["methods"]
    if any(methods.values()):
        said = "; ".join(f"{part.upper()} {' | '.join(hows)}" for part, hows in methods.items() if hows)
        console.print(f"How each part was obtained: {said}.", highlight=False)
    for sentence in data["notes"]:
        console.print(sentence, highlight=False)
    for sentence in data["context"]:
        console.print(sentence, highlight=False)


# -- the standard workload ---------------------------------------------------------------------

WORKLOAD_TIME = (1.0, 2.0)
WORKLOAD_FREQ = (200.0, 2000.0)


def example_sound() -> Path:
    """The bundled example note (installed as ``specblur._examples``, else the checkout's)."""
    from importlib import resources

    try:
        return Path(str(resources.files("specblur._examples") / "note.wav"))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "examples" / "note.wav"


def measure_workload(loaded: Any, files: list[str] | None, runs: int, country_code: str | None = None) -> str:
    """Blur each file ``runs`` times (seeds 0..runs-1) under one tracker; one ledger row per file.

    One blur before measuring warms the model up, so the rows hold steady-state edits only. Returns
    a one-line summary.
    """
    from specblur import audio
    from specblur.edit import pipeline

    meter = Meter("energy --measure", loaded.name, country_code)
    paths = files or [str(example_sound())]
    sounds = [(p, audio.read(p, dtype="float64")) for p in paths]

    def one(sound: Any, seed: int) -> None:
        duration = sound.seconds
        time_span = (min(WORKLOAD_TIME[0], duration / 2), min(WORKLOAD_TIME[1], duration))
        pipeline.blur(loaded, sound.samples, sound.sample_rate, time=time_span, freq=WORKLOAD_FREQ, seed=seed)

    one(sounds[0][1], 0)
    total_j = total_audio = 0.0
    for _, sound in sounds:
        with meter.measure("blur", audio_s=runs * sound.seconds, runs=runs) as m:
            for seed in range(runs):
                one(sound, seed)
        total_j += m.joules
        total_audio += m.audio_s
    per_s = total_j / total_audio if total_audio else 0.0
    return (
        f"measured {runs * len(sounds)} blurs of {len(sounds)} file(s): {total_j:.3g} J, "
        f"{per_s:.3g} J per second of audio ({meter.method}); recorded in {meter.ledger or ledger_path()}"
    )
