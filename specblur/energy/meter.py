"""The meter: measure stages with codecarbon (offline, imported lazily) and write each as a row of
the ledger (:mod:`specblur.energy.ledger`). Only :class:`Meter` imports codecarbon; nothing else in
specblur pays for it. The meter measures work that its caller does; it never runs an edit itself.

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

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specblur.energy.ledger import COMPONENTS, JOULES_PER_KWH, append, country
from specblur.errors import UsageError

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
    processes: int = 1
    """How many processes' measurements this one sums (see ``combine`` in :class:`Meter`)."""
    devices: int = 0
    """The GPUs those processes ran on (0: CPU only)."""

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
        combine: Callable[[Measurement], None] | None = None,
        gpu_ids: list[int] | None = None,
    ) -> None:
        self.command = command
        self.model = model
        self.country = country(country_code)
        self.ledger = ledger
        self.record = record
        self.whole_call = whole_call
        self.call = f"{os.getpid()}-{uuid.uuid4().hex[:12]}" if whole_call else ""
        self.combine = combine
        """Called by every process of a job with its own finished stage, to sum it in place with
        the other processes' (the training side passes one that sums over ranks); not called
        when the stage raised, so a failing job enters no collective here."""
        self.gpu_ids = gpu_ids
        """The GPUs this process's tracker reads (its own, under torchrun); ``None``: all."""
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
                    **({"gpu_ids": self.gpu_ids} if self.gpu_ids is not None else {}),
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
        failed = False
        try:
            yield result
        except BaseException:
            failed = True
            raise
        finally:
            result.duration_s = time.perf_counter() - started
            cpu_s = time.process_time() - cpu_started
            try:
                data = tracker.stop_task()
            except Exception:  # noqa: BLE001 - a failed measurement must not fail the work measured
                data = None
            if data is not None:
                self._fill(result, data, cpu_s, before_wall, before_cpu)
            if self.combine is not None and not failed:
                self.combine(result)
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
            "processes": m.processes,
            "devices": m.devices,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
