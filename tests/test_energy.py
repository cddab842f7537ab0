"""The energy ledger and its report: rows written and read back, concurrent writers, no network,
training always measured, edits measured on request, codecarbon imported only when measuring; the
CPU/GPU/RAM split and how each part was obtained; the whole call of a command-line edit; ledgers
written before those columns."""

from __future__ import annotations

import csv
import io
import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import soundfile as sf

from specblur import energy
from specblur.cli import energy as report
from specblur.energy import ledger as ledger_module
from specblur.errors import SpecblurError
from specblur.learn import checkpoint
from tests.conftest import run_cli, tone


def _row(i: int, model: str = "m", stage: str = "blur") -> dict:
    return {
        "time": "2026-11-25T00:00:00+00:00",
        "command": "test",
        "model": model,
        "stage": stage,
        "runs": 1,
        "duration_s": 0.5,
        "energy_kwh": 1e-6 * (i + 1),
        "emissions_kg": 1e-7 * (i + 1),
        "audio_s": 4.0,
        "method": "estimated: TDP x process CPU load",
        "country": "USA",
        "codecarbon_version": "3.3.2",
    }


def test_ledger_round_trip(tmp_path: Path) -> None:
    ledger = tmp_path / "energy.csv"
    energy.append([_row(0), _row(1, stage="train")], ledger)
    energy.append([_row(2, model="other")], ledger)
    rows = energy.read(ledger)
    assert [r["model"] for r in rows] == ["m", "m", "other"]
    assert rows[1]["stage"] == "train" and rows[1]["energy_kwh"] == pytest.approx(2e-6)
    assert rows[2]["runs"] == 1 and rows[2]["audio_s"] == 4.0
    header = ledger.read_text().splitlines()[0]
    assert header == ",".join(energy.COLUMNS)


def test_summary_and_context() -> None:
    rows = [_row(0, stage="train"), _row(0, stage="prior")] + [_row(0) for _ in range(4)]
    rows[0]["energy_kwh"] = 1e-3  # training: 1 Wh
    lines = {(x.model, x.stage): x for x in energy.summarise(rows)}
    blur = lines[("m", "blur")]
    assert blur.runs == 4 and blur.energy_kwh == pytest.approx(4e-6)
    assert blur.joules_per_audio_s == pytest.approx(4e-6 * 3.6e6 / 16.0)
    (sentence,) = energy.context(list(lines.values()))
    assert "1,001 edits" in sentence  # (1e-3 + 1e-6) kWh of training / 1e-6 kWh an edit


_WRITER = """
import json, sys
from pathlib import Path
from specblur import energy
path, worker, n, template = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
for i in range(n):
    energy.append([template | {"model": f"w{worker}", "energy_kwh": 1e-6 * (i + 1)}], path)
"""


def _writers(ledger: Path, n: int, workers: int = 8) -> None:
    """``workers`` processes appending ``n`` rows each to ``ledger`` at once (importing only
    specblur.energy.ledger, so they start in a blink and really overlap)."""
    template = json.dumps(_row(0) | {"cpu_kwh": 1e-7, "cpu_method": "measured: RAPL", "call": "1-a", "call_kwh": 3e-6})
    root = Path(__file__).resolve().parent.parent
    args = [sys.executable, "-c", _WRITER, str(ledger)]
    procs = [subprocess.Popen([*args, str(w), str(n), template], cwd=root) for w in range(workers)]
    assert all(p.wait(timeout=120) == 0 for p in procs)


def test_concurrent_writers_keep_every_row(tmp_path: Path) -> None:
    ledger = tmp_path / "energy.csv"
    _writers(ledger, 40)
    rows = energy.read(ledger)
    assert len(rows) == 8 * 40
    for w in range(8):
        assert sorted(r["energy_kwh"] for r in rows if r["model"] == f"w{w}") == pytest.approx(
            [1e-6 * (i + 1) for i in range(40)]
        )
    assert ledger.read_text().count("time,command") == 1
    assert all(r["cpu_method"] == "measured: RAPL" and r["call_kwh"] == 3e-6 for r in rows)


def test_meter_measures_offline_and_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    ledger = tmp_path / "energy.csv"
    meter = energy.Meter("test", "m", "FRA", ledger=ledger)
    with meter.measure("blur", audio_s=2.0) as m:
        sum(i * i for i in range(300_000))
    assert attempts == []
    assert m.energy_kwh is not None and m.energy_kwh > 0 and m.duration_s > 0
    (row,) = energy.read(ledger)
    assert row["stage"] == "blur" and row["country"] == "FRA" and row["audio_s"] == 2.0
    assert row["codecarbon_version"]
    # the split is codecarbon's, and each part names how codecarbon obtained it on this machine
    assert row["cpu_kwh"] + row["gpu_kwh"] + row["ram_kwh"] == pytest.approx(row["energy_kwh"], rel=1e-9)
    assert row["cpu_kwh"] > 0 and row["ram_kwh"] > 0
    from codecarbon.external.hardware import CPU, GPU

    hardware = meter._tracker._hardware
    (cpu,) = [h for h in hardware if isinstance(h, CPU)]
    expected = {
        "cpu_load": "estimated: TDP x process CPU load",
        "intel_rapl": "measured: RAPL",
        "constant": "estimated: constant TDP",
    }
    assert row["cpu_method"] == expected[cpu._mode]
    assert (row["gpu_method"] == "none") == (not any(isinstance(h, GPU) for h in hardware))
    assert row["ram_method"] == "estimated: RAM model from process memory size"
    assert row["method"].startswith(f"cpu {row['cpu_method']}") and "ram estimated" in row["method"]
    # not a command-line call: no whole-call columns
    assert row["call"] == "" and row["startup_kwh"] is None and row["call_kwh"] is None
    if cpu._mode == "cpu_load":  # the watts a busy core is charged: codecarbon's TDP over its cores
        assert row["core_w"] == pytest.approx(cpu._tdp / cpu._cpu_count)


def test_bad_country_is_a_usage_error() -> None:
    result = run_cli("train", "nowhere", "--name", "x", "--country", "France")
    assert result.returncode == 1 and b"ISO 3166" in result.stderr


def test_empty_ledger_says_nothing_measured(tmp_path: Path) -> None:
    env = {"SPECBLUR_DATA_DIR": str(tmp_path / "empty")}
    result = run_cli("energy", "--report", env=env)
    assert result.returncode == 0 and b"nothing measured yet" in result.stderr
    as_json = run_cli("energy", "--json", env=env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["lines"] == []


def test_training_and_edits_show_in_the_report(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    spent = checkpoint.load(tiny_model).training["energy"]
    assert spent["train_kwh"] > 0 and spent["prior_kwh"] > 0 and spent["train_s"] > 0
    parts = sum(spent[f"{p}_kwh"] for p in ("cpu", "gpu", "ram"))
    assert parts == pytest.approx(spent["train_kwh"] + spent["prior_kwh"], rel=1e-6)
    assert spent["methods"]["ram"].startswith("estimated") and spent["method"].startswith("cpu ")
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.0, 16000, (300.0, 600.0)), 16000)
    for i in range(2):
        result = run_cli("blur", str(src), str(tmp_path / f"out{i}.wav"), "-m", "tiny", "--time", "0.5-1", "--energy")
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""  # quiet on success, codecarbon included
    report = run_cli("energy", "--json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    lines = {(x["model"], x["stage"]): x for x in data["lines"]}
    assert lines[("tiny", "train")]["energy_kwh"] > 0 and lines[("tiny", "prior")]["runs"] >= 1
    assert lines[("tiny", "blur")]["runs"] >= 2
    assert lines[("tiny", "blur")]["joules_per_audio_s"] > 0
    assert any(s.startswith("tiny: training cost as much as") for s in data["context"])
    (call,) = [c for c in data["calls"] if (c["command"], c["model"]) == ("blur", "tiny")]
    assert call["calls"] >= 2 and call["edits"] >= 2
    assert call["mean_call_kwh"] > call["mean_edit_kwh"] > 0 and call["mean_call_s"] > call["mean_edit_s"]
    assert lines[("tiny", "blur")]["cpu_method"] and lines[("tiny", "blur")]["ram_kwh"] > 0
    table = run_cli("energy", env={"COLUMNS": "200"})
    assert table.returncode == 0 and b"tiny" in table.stdout and b"blur" in table.stdout
    text = b" ".join(table.stdout.split()).decode()
    assert "whole call (J)" in text and "Whole call = the edit + its start-up" in text
    if data["estimated"]:
        assert "Estimated" in text
    if "estimated: TDP x process CPU load" in call["cpu_method"]:
        assert "no RAPL counters here, so the start-up is CPU time x TDP-derived power" in text
    as_csv = run_cli("energy", "--csv")
    header, *body = as_csv.stdout.decode().splitlines()
    assert header == ",".join(energy.CSV_FIELDS) and header.startswith("model,stage,runs,energy_kwh")
    assert {"cpu_kwh", "gpu_kwh", "ram_kwh", "cpu_method", "gpu_method", "ram_method"} <= set(energy.CSV_FIELDS)
    assert len(body) == len(data["lines"])


def test_measure_workload_records_joules_per_second(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "clip.wav"
    sf.write(src, tone(3.0, 22050, (200.0, 400.0), channels=2), 22050)
    env = {"SPECBLUR_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "data").mkdir()
    result = run_cli("energy", "--measure", "-m", str(tiny_model), "-n", "3", str(src), env=env)
    assert result.returncode == 0, result.stderr
    assert b"J per second of audio" in result.stderr
    (row,) = energy.read(tmp_path / "data" / "energy.csv")
    assert row["runs"] == 3 and row["audio_s"] == pytest.approx(9.0) and row["energy_kwh"] > 0


def test_commands_without_energy_do_not_import_codecarbon(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(1.0, 16000, (300.0,)), 16000)
    code = (
        "import sys\nfrom specblur.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('codecarbon' in sys.modules)"
    )
    args = ["blur", str(src), str(tmp_path / "out.wav"), "-m", "tiny"]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# -- how each part was obtained ------------------------------------------------------------------


def _cpu(mode: str, tdp: float = 8.0, cores: int = 2) -> object:
    """codecarbon's own CPU object, as its hardware set-up leaves it for ``mode`` (no probing)."""
    from codecarbon.external.hardware import CPU

    cpu = CPU.__new__(CPU)
    cpu._mode, cpu._tracking_mode, cpu._tdp, cpu._cpu_count = mode, "process", tdp, cores
    return cpu


def _gpu(kind: str = "NvidiaGPUDevice", fallback: bool = False) -> object:
    """codecarbon's own GPU object holding one device of ``kind`` (no NVML needed)."""
    from codecarbon.core import gpu as cc_gpu
    from codecarbon.external.hardware import GPU

    device = getattr(cc_gpu, kind).__new__(getattr(cc_gpu, kind))
    device._use_power_fallback = fallback
    gpu = GPU.__new__(GPU)
    gpu.devices = SimpleNamespace(devices=[device], device_count=1)
    return gpu


def test_component_methods_follow_codecarbons_hardware() -> None:
    from codecarbon.external.ram import RAM

    ram = RAM(tracking_mode="process")
    methods = energy.component_methods([ram, _cpu("cpu_load"), _gpu()])
    assert methods == {
        "cpu": "estimated: TDP x process CPU load",
        "gpu": "measured: NVML",
        "ram": "estimated: RAM model from process memory size",
    }
    assert energy.summary_method(methods) == (
        "cpu estimated: TDP x process CPU load; gpu measured: NVML; ram estimated: RAM model from process memory size"
    )
    assert energy.component_methods([_cpu("intel_rapl"), ram])["cpu"] == "measured: RAPL"
    assert energy.component_methods([_cpu("constant")])["cpu"] == "estimated: constant TDP"
    assert energy.component_methods([_cpu("intel_rapl")]) == {"cpu": "measured: RAPL", "gpu": "none", "ram": "none"}
    assert energy.component_methods([_gpu("AMDGPUDevice")])["gpu"] == "measured: AMD SMI"
    assert energy.component_methods([_gpu(fallback=True)])["gpu"] == "measured: NVML (power samples)"
    assert (
        energy.component_methods([RAM(tracking_mode="process", force_ram_power=6)])["ram"] == "fixed: 6 W as configured"
    )
    # the busy-core watts: TDP / cores (x PUE) in load mode, else the stage's CPU joules / CPU seconds
    assert energy.core_watts([_cpu("cpu_load", tdp=120, cores=16)], 1.0, 1.0, 1.0) == pytest.approx(7.5)
    assert energy.core_watts([_cpu("cpu_load", tdp=120, cores=16)], 1.5, None, 0.0) == pytest.approx(11.25)
    assert energy.core_watts([_cpu("intel_rapl")], 1.0, 30 / 3.6e6, 2.0) == pytest.approx(15.0)
    assert energy.core_watts([_cpu("intel_rapl")], 1.0, 30 / 3.6e6, 0.0) is None
    # which rows are estimates: any part not measured; the old ledgers' words
    assert energy.is_estimate(
        "cpu measured: RAPL; gpu measured: NVML; ram estimated: RAM model from process memory size"
    )
    assert not energy.is_estimate("cpu measured: RAPL; gpu measured: NVML")
    assert not energy.is_estimate("rapl") and energy.is_estimate("estimated: TDP x process CPU load")


class _GpuTracker:
    """Stands in for codecarbon's tracker on a GPU machine: its hardware objects and a task's figures,
    shaped like codecarbon's ``EmissionsData`` (as seen on an H100 training: the GPU near 660 W)."""

    def __init__(self, seconds: float) -> None:
        from codecarbon.external.ram import RAM

        self._hardware = [RAM(tracking_mode="process"), _cpu("cpu_load", tdp=240, cores=16), _gpu()]
        self._pue = 1.0
        self.seconds = seconds

    def start_task(self, name: str) -> None:
        pass

    def stop_task(self) -> SimpleNamespace:
        cpu, gpu, ram = (w * self.seconds / 3.6e6 for w in (15.0, 660.0, 10.0))
        return SimpleNamespace(
            energy_consumed=cpu + gpu + ram,
            emissions=(cpu + gpu + ram) * 0.4,
            cpu_energy=cpu,
            gpu_energy=gpu,
            ram_energy=ram,
            cpu_power=15.0,
            gpu_power=660.0,
            ram_power=10.0,
        )


def test_a_gpu_row_says_the_gpu_was_measured(tmp_path: Path) -> None:
    ledger = tmp_path / "energy.csv"
    meter = energy.Meter("train", "m", ledger=ledger)
    meter._tracker, meter._version = _GpuTracker(20.0), "3.3.2"
    with meter.measure("train"):
        pass
    (row,) = energy.read(ledger)
    assert row["gpu_method"] == "measured: NVML" and row["cpu_method"] == "estimated: TDP x process CPU load"
    assert row["gpu_kwh"] == pytest.approx(660 * 20 / 3.6e6) and row["cpu_kwh"] == pytest.approx(15 * 20 / 3.6e6)
    assert "gpu measured: NVML" in row["method"] and "cpu estimated" in row["method"]
    assert row["core_w"] == pytest.approx(240 / 16)
    spent: dict = {}
    meter.add_to(spent, meter.measurements[0])
    assert spent["gpu_kwh"] == pytest.approx(row["gpu_kwh"]) and spent["methods"]["gpu"] == "measured: NVML"
    data = energy.report_data(energy.read(ledger))
    (line,) = data["lines"]
    assert line["gpu_method"] == "measured: NVML" and line["gpu_kwh"] == pytest.approx(row["gpu_kwh"])
    assert data["methods"]["gpu"] == ["measured: NVML"]
    assert any(n.startswith("GPU measured: NVML") for n in data["notes"])
    assert any(n.startswith("Estimated: no RAPL") for n in data["notes"])  # the CPU part still is


# -- the whole call ----------------------------------------------------------------------------


def test_whole_call_of_a_real_cli_blur(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.0, 16000, (300.0, 600.0)), 16000)
    env = {"SPECBLUR_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "data").mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    args = ("blur", str(src), str(tmp_path / "out.wav"), "-m", str(tiny_model), "-t", "0.5-1", "--energy")
    result = run_cli(*args, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stderr
    child_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    (row,) = energy.read(tmp_path / "data" / "energy.csv")
    assert row["command"] == "blur" and row["call"]
    # the start-up is real: Python, numpy, the model... before the tracker started, in CPU and wall time
    assert 0.05 < row["startup_cpu_s"] < child_cpu
    assert 0.05 < row["startup_s"] and row["call_s"] < wall
    assert row["call_s"] == pytest.approx(row["startup_s"] + row["duration_s"], abs=1e-5)
    assert row["call_s"] > row["duration_s"]
    assert row["call_kwh"] > row["energy_kwh"] > 0
    assert row["call_kwh"] == pytest.approx(row["startup_kwh"] + row["energy_kwh"], rel=1e-9)
    # priced as codecarbon priced the edit: CPU seconds x the busy-core watts, RAM at its RAM power
    ram_w = row["ram_kwh"] * 3.6e6 / row["duration_s"]
    expected_j = row["startup_cpu_s"] * row["core_w"] + row["startup_s"] * ram_w
    assert row["startup_kwh"] * 3.6e6 == pytest.approx(expected_j, rel=1e-3)
    meter = energy.Meter("test", "m", record=False)
    with meter.measure("probe"):
        sum(i * i for i in range(100_000))
    if meter.methods["cpu"] == "estimated: TDP x process CPU load":
        (cpu,) = [h for h in meter._tracker._hardware if getattr(h, "_mode", None) == "cpu_load"]
        assert row["core_w"] == pytest.approx(cpu._tdp / cpu._cpu_count)
    assert row["cpu_method"] == meter.methods["cpu"] and row["gpu_method"] == meter.methods["gpu"]
    (call,) = energy.report_data([row])["calls"]
    assert call["calls"] == 1 and call["mean_call_kwh"] == pytest.approx(row["call_kwh"])


def test_a_batch_call_counts_its_start_up_once(tiny_model: Path, tmp_path: Path) -> None:
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, tone(1.5, 16000, (300.0,)), 16000)
    (tmp_path / "out").mkdir()
    env = {"SPECBLUR_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "data").mkdir()
    files = [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    result = run_cli("blur", *files, "--output-dir", str(tmp_path / "out"), "-m", str(tiny_model), "--energy", env=env)
    assert result.returncode == 0, result.stderr
    first, second = energy.read(tmp_path / "data" / "energy.csv")
    assert first["call"] == second["call"] != ""
    # the second edit's "start-up" is only the gap since the first ended: no second interpreter start
    assert second["startup_cpu_s"] < first["startup_cpu_s"] / 5
    (call,) = energy.summarise_calls([first, second])
    assert call.calls == 1 and call.edits == 2
    assert call.call_kwh == pytest.approx(first["call_kwh"] + second["call_kwh"])
    assert call.edit_kwh == pytest.approx(first["energy_kwh"] + second["energy_kwh"])


# -- ledgers from before the split ---------------------------------------------------------------

OLD_LEDGER = """\
time,command,model,stage,runs,duration_s,energy_kwh,emissions_kg,audio_s,method,country,codecarbon_version
2026-11-20T10:00:00+00:00,train,default,train,1,4000.0,0.02,0.007,900.0,estimated: TDP x process CPU load,USA,3.3.2
2026-11-20T11:00:00+00:00,blur,default,blur,1,0.07,2e-07,7e-08,4.0,estimated: TDP x process CPU load,USA,3.3.2
2026-11-20T12:00:00+00:00,blur,default,blur,2,0.1,3e-07,1e-07,8.0,rapl,USA,3.3.2
"""


def test_an_old_ledger_still_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "energy.csv"
    ledger.write_text(OLD_LEDGER)
    rows = energy.read(ledger)
    assert [r["runs"] for r in rows] == [1, 1, 2] and rows[0]["energy_kwh"] == pytest.approx(0.02)
    assert all(r["cpu_kwh"] is None and r["call"] == "" and r["call_kwh"] is None for r in rows)
    data = energy.report_data(rows)
    lines = {(x["model"], x["stage"]): x for x in data["lines"]}
    assert lines[("default", "blur")]["runs"] == 3 and lines[("default", "blur")]["cpu_kwh"] is None
    assert data["estimated"] and data["calls"] == []
    assert any("before the CPU/GPU/RAM split" in n for n in data["notes"])
    report.show_report(rows=rows)
    shown = " ".join(capsys.readouterr().out.split())
    assert "default" in shown and "Estimated" in shown and "whole call" not in shown
    report.show_report(as_csv=True, rows=rows)
    header, *body = capsys.readouterr().out.splitlines()
    assert header == ",".join(energy.CSV_FIELDS) and len(body) == 2
    report.show_report(as_json=True, rows=rows)
    assert json.loads(capsys.readouterr().out)["lines"] == data["lines"]
    # a new row appended to it: the header becomes the current one, the old rows read as before
    new = _row(5) | {"cpu_kwh": 1e-6, "gpu_kwh": 0.0, "ram_kwh": 5e-6, "cpu_method": "measured: RAPL"}
    energy.append([new], ledger)
    text = ledger.read_text().splitlines()
    assert text[0] == ",".join(energy.COLUMNS) and text[1:4] == OLD_LEDGER.splitlines()[1:]
    again = energy.read(ledger)
    assert again[:3] == rows and again[3]["cpu_method"] == "measured: RAPL" and again[3]["ram_kwh"] == 5e-6


def test_rows_are_read_by_position_under_an_old_header(tmp_path: Path) -> None:
    # a ledger whose header was not rewritten (copied from elsewhere, merged by hand): the new
    # columns only ever come last, so a longer row still reads by position
    ledger = tmp_path / "energy.csv"
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=energy.COLUMNS, lineterminator="\n").writerow(
        {k: ledger_module._cell(v) for k, v in (_row(1) | {"call": "7-x", "call_kwh": 9e-6}).items()}
    )
    ledger.write_text(OLD_LEDGER + buffer.getvalue())
    rows = energy.read(ledger)
    assert rows[3]["call"] == "7-x" and rows[3]["call_kwh"] == 9e-6 and rows[3]["energy_kwh"] == 2e-6
    ledger.write_text(OLD_LEDGER + "2026-11-21T00:00:00+00:00,blur,default\n")
    with pytest.raises(SpecblurError, match="line 5 is damaged"):
        energy.read(ledger)


def test_concurrent_writers_on_an_old_ledger(tmp_path: Path) -> None:
    ledger = tmp_path / "energy.csv"
    ledger.write_text(OLD_LEDGER)
    _writers(ledger, 20)
    rows = energy.read(ledger)
    assert len(rows) == 3 + 8 * 20 and [r["model"] for r in rows[:3]] == ["default"] * 3
    text = ledger.read_text()
    assert text.splitlines()[0] == ",".join(energy.COLUMNS) and text.count("time,command") == 1
