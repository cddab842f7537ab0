"""The energy ledger and its report: rows written and read back, concurrent writers, no network,
training always measured, edits measured on request, codecarbon imported only when measuring."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from specblur import checkpoint, energy
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


def _append_many(args: tuple[str, int, int]) -> None:
    path, worker, n = args
    for i in range(n):
        energy.append([_row(i, model=f"w{worker}")], Path(path))


def test_concurrent_writers_keep_every_row(tmp_path: Path) -> None:
    ledger = tmp_path / "energy.csv"
    code = (
        "import sys; from pathlib import Path; from tests.test_energy import _append_many; "
        "_append_many((sys.argv[1], int(sys.argv[2]), 40))"
    )
    root = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ledger), str(w)], cwd=root) for w in range(8)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = energy.read(ledger)
    assert len(rows) == 8 * 40
    for w in range(8):
        assert sorted(r["energy_kwh"] for r in rows if r["model"] == f"w{w}") == pytest.approx(
            [1e-6 * (i + 1) for i in range(40)]
        )
    assert ledger.read_text().count("time,command") == 1


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
    assert row["method"] in ("rapl", "estimated: TDP x process CPU load", "estimated: constant TDP")
    assert row["codecarbon_version"]


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
    table = run_cli("energy")
    assert table.returncode == 0 and b"tiny" in table.stdout and b"blur" in table.stdout
    if data["estimated"]:
        assert b"Estimated" in table.stdout
    as_csv = run_cli("energy", "--csv")
    assert as_csv.stdout.decode().splitlines()[0].startswith("model,stage,runs,energy_kwh")


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
