"""Energy: measure stages with codecarbon (offline, imported lazily) and keep one ledger of them.

Every measurement is one row of ``<data dir>/energy.csv`` with the columns of :data:`COLUMNS`. Rows
are appended under a file lock, one whole line per write, so processes writing at once never lose or
interleave a row. Only :class:`Meter` imports codecarbon; nothing else in specblur pays for it.

codecarbon reads RAPL energy counters where the kernel exposes them; elsewhere (most VMs, these
machines included) it *estimates* CPU power from the processor's TDP and the process's CPU load, and
RAM power from its size. The ``method`` column says which, and the report says so plainly.

The grid's carbon intensity comes from the country given by ``--country``, else
``$SPECBLUR_COUNTRY``, else :data:`DEFAULT_COUNTRY` (ISO 3166 alpha-3; codecarbon's offline tables).
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specblur import registry
from specblur.errors import SpecblurError, UsageError

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
)
"""The ledger's columns, in order. New columns are only ever appended at the end."""

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
    """Append rows to the ledger (header first if the file is new), under a lock."""
    from filelock import FileLock

    path = path or ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    for row in rows:
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    with FileLock(str(path) + ".lock", timeout=60):
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", encoding="utf-8", newline="") as f:
            if new:
                f.write(",".join(COLUMNS) + "\n")
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())


def read(path: Path | None = None) -> list[dict[str, Any]]:
    """The ledger's rows, numbers as floats; an empty list when nothing was measured yet."""
    path = path or ledger_path()
    if not path.is_file():
        return []
    numeric = ("duration_s", "energy_kwh", "emissions_kg", "audio_s")
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append({**row, "runs": int(row["runs"] or 1), **{k: float(row[k] or 0.0) for k in numeric}})
            except (TypeError, ValueError) as exc:
                raise SpecblurError(f"{path}: line {n} is damaged ({exc}); fix or remove that line") from exc
    return rows


def _cell(value: Any) -> str:
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

    @property
    def joules(self) -> float:
        return (self.energy_kwh or 0.0) * JOULES_PER_KWH


class Meter:
    """One codecarbon tracker for this process, measuring named stages one after the other.

    codecarbon's first start in a process costs about a second (it probes the CPU); later stages
    reuse the tracker and cost milliseconds. Each finished stage is appended to the ledger at once,
    so a run cut short still records what it spent.
    """

    def __init__(
        self,
        command: str,
        model: str,
        country_code: str | None = None,
        ledger: Path | None = None,
        record: bool = True,
    ) -> None:
        self.command = command
        self.model = model
        self.country = country(country_code)
        self.ledger = ledger
        self.record = record
        self.measurements: list[Measurement] = []
        self._tracker: Any = None
        self._version = ""

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
    def method(self) -> str:
        """How the energy was obtained: RAPL counters, or an estimate from TDP and load."""
        modes = {getattr(h, "_mode", None) for h in getattr(self._tracker, "_hardware", [])}
        if "intel_rapl" in modes:
            return "rapl"
        if "cpu_load" in modes:
            return "estimated: TDP x process CPU load"
        return "estimated: constant TDP"

    @contextmanager
    def measure(self, stage: str, audio_s: float = 0.0, runs: int = 1) -> Iterator[Measurement]:
        """Measure the body as ``stage``; set ``audio_s`` or ``runs`` on the yielded record if known
        only later."""
        tracker = self._ensure()
        result = Measurement(stage, runs=runs, audio_s=audio_s)
        tracker.start_task(stage)
        started = time.perf_counter()
        try:
            yield result
        finally:
            result.duration_s = time.perf_counter() - started
            try:
                data = tracker.stop_task()
            except Exception:  # noqa: BLE001 - a failed measurement must not fail the work measured
                data = None
            if data is not None:
                result.energy_kwh = float(data.energy_consumed)
                result.emissions_kg = float(data.emissions)
            self.measurements.append(result)
            if self.record and result.energy_kwh is not None:
                append([self.row(result)], self.ledger)

    def add_to(self, spent: dict[str, Any], m: Measurement) -> None:
        """Add a measured stage to a model's energy record (``<stage>_kwh``, ``<stage>_s``,
        ``emissions_kg``), so resumed runs and refits keep counting."""
        if m.energy_kwh is None:
            return
        for key, value in ((f"{m.stage}_kwh", m.energy_kwh), (f"{m.stage}_s", m.duration_s)):
            spent[key] = float(spent.get(key, 0.0)) + value
        spent["emissions_kg"] = float(spent.get("emissions_kg", 0.0)) + (m.emissions_kg or 0.0)
        spent.update(method=self.method, country=self.country, codecarbon=self.version)

    def row(self, m: Measurement) -> dict[str, Any]:
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
            "method": self.method,
            "country": self.country,
            "codecarbon_version": self._version,
        }


# -- the report --------------------------------------------------------------------------------


@dataclass
class Line:
    """The ledger's rows of one (model, stage), summed."""

    model: str
    stage: str
    runs: int
    energy_kwh: float
    emissions_kg: float
    duration_s: float
    audio_s: float
    estimated: bool

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
        }


TRAINING_STAGES = ("train", "prior")
EDIT_STAGES = ("blur",)


def summarise(rows: list[dict[str, Any]]) -> list[Line]:
    """Sum the rows by (model, stage), in the order each pair first appears."""
    lines: dict[tuple[str, str], Line] = {}
    for r in rows:
        key = (r["model"], r["stage"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = Line(r["model"], r["stage"], 0, 0.0, 0.0, 0.0, 0.0, False)
        line.runs += r["runs"]
        line.energy_kwh += r["energy_kwh"]
        line.emissions_kg += r["emissions_kg"]
        line.duration_s += r["duration_s"]
        line.audio_s += r["audio_s"]
        line.estimated |= r["method"] != "rapl"
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
    "processor's TDP and this process's CPU load, and RAM power from its size; treat the figures as "
    "orders of magnitude, and compare runs measured the same way."
)


def report_data(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lines = summarise(rows)
    return {
        "ledger": str(ledger_path()),
        "estimated": any(line.estimated for line in lines),
        "lines": [line.to_dict() for line in lines],
        "context": context(lines),
    }


def show_report(as_json: bool = False, as_csv: bool = False, rows: list[dict[str, Any]] | None = None) -> None:
    """Print the ledger summed by model and stage: a rich table, JSON or CSV on stdout."""
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
        fields = list(Line("", "", 0, 0, 0, 0, 0, False).to_dict())
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data["lines"])
        return
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Energy ledger: {data['ledger']}", title_justify="left")
    for name in ("model", "stage", "runs", "energy (Wh)", "mean (J)", "CO2eq (g)", "J / s audio", "wall (s)"):
        table.add_column(name, justify="left" if name in ("model", "stage") else "right")
    for line in summarise(rows):
        per_audio = line.joules_per_audio_s
        table.add_row(
            line.model,
            line.stage,
            str(line.runs),
            f"{line.energy_kwh * 1000:.4g}",
            f"{line.mean_kwh * JOULES_PER_KWH:.4g}",
            f"{line.emissions_kg * 1000:.4g}",
            "-" if per_audio is None else f"{per_audio:.3g}",
            f"{line.duration_s:.1f}",
        )
    console = Console()
    console.print(table)
    if data["estimated"]:
        console.print(ESTIMATE_NOTE, highlight=False)
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
    from specblur import audio, pipeline

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
