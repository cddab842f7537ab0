"""``specblur energy``: the ledger's report rendered (a rich table, JSON or CSV), and the standard
workload that ``--measure`` runs under the meter (blurs of the bundled example or of FILES)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from specblur.energy.ledger import (
    CSV_FIELDS,
    JOULES_PER_KWH,
    Line,
    _cell,
    ledger_path,
    read,
    report_data,
    summarise,
    summarise_calls,
)


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
        return Path(__file__).resolve().parents[2] / "examples" / "note.wav"


def measure_workload(loaded: Any, files: list[str] | None, runs: int, country_code: str | None = None) -> str:
    """Blur each file ``runs`` times (seeds 0..runs-1) under one tracker; one ledger row per file.

    One blur before measuring warms the model up, so the rows hold steady-state edits only. Returns
    a one-line summary.
    """
    from specblur import audio
    from specblur.edit import segment
    from specblur.energy.meter import Meter

    meter = Meter("energy --measure", loaded.name, country_code)
    paths = files or [str(example_sound())]
    sounds = [(p, audio.read(p, dtype="float64")) for p in paths]

    def one(sound: Any, seed: int) -> None:
        duration = sound.seconds
        time_span = (min(WORKLOAD_TIME[0], duration / 2), min(WORKLOAD_TIME[1], duration))
        segment.blur(loaded, sound.samples, sound.sample_rate, time_span, WORKLOAD_FREQ, seed=seed)

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
