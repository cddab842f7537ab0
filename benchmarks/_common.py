"""Shared pieces of the benchmark scripts: timing, reference commands, tables and JSON.

Every figure is the median of several runs, and is reported next to a reference measured in the same
run (``python -c pass``, ``sox``), because the machines these run on are shared and noisy: compare
ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPECBLUR = [sys.executable, "-m", "specblur"]


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is reported)")
    p.add_argument("--model", default=None, help="model name or checkpoint (default: the bundled default)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--workdir", type=Path, help="where test files go (default: a temporary folder)")
    return p


def machine() -> dict[str, Any]:
    """What the numbers were measured on: the CPU, and the versions of what an edit computes with.

    The edit path runs on numpy and onnxruntime, so those are named; torch is named only when the
    script already imported it (training throughput), never imported here for the sake of a version.
    """
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    found: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import onnxruntime

        found["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        found["onnxruntime"] = None
    torch = sys.modules.get("torch")
    if torch is not None:
        found["torch"] = torch.__version__
        found["torch_threads"] = torch.get_num_threads()
    return found


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(cmd: list[str], check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(cmd)} failed: {result.stderr.decode(errors='replace')[-500:]}")
    return result


def time_command(cmd: list[str], repeat: int, check: bool = True, warmup: int = 1) -> float:
    return median_time(lambda: run(cmd, check=check), repeat, warmup)


def time_commands(cmds: dict[str, list[str]], repeat: int, check: bool = True, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each command, the commands taking turns round by round.

    Interleaving puts a command and its reference under the same passing load (this machine is
    shared), so their ratio is steadier than that of two medians taken one after the other.
    """
    for _ in range(warmup):
        for cmd in cmds.values():
            run(cmd, check=check)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            t = time.perf_counter()
            run(cmd, check=check)
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def time_commands_cpu(cmds: dict, repeat: int) -> dict:
    """Like :func:`time_commands` (no warm-up): per command, the median wall seconds and the median
    CPU seconds (user + system) of the command and every process it waited for, so ``cpu / wall``
    is how many cores it kept busy."""
    times: dict = {name: ([], []) for name in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            run(cmd)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            times[name][0].append(wall)
            times[name][1].append(cpu)
    return {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in times.items()}


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MB) of one run of ``cmd``, by GNU time or getrusage."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True); w = time.perf_counter() - t; "
        "sys.exit(r.returncode) if r.returncode else None; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    out = run([sys.executable, "-c", wrapper, *cmd])
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


def peak_rss_runs(cmd: list[str], repeat: int) -> tuple[float, float]:
    """(median wall seconds, highest peak resident memory in MB) over ``repeat`` runs of ``cmd``."""
    runs = [peak_rss_mb(cmd) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), max(m for _, m in runs)


def sox() -> str:
    path = shutil.which("sox")
    if path is None:
        raise SystemExit("benchmark: sox is the reference and is not installed (Debian: apt-get install sox)")
    return path


def tone_file(path: Path, seconds: float, rate: int, channels: int, seed: int = 0, subtype: str = "PCM_16") -> Path:
    """A test file of harmonic tones and a little noise, written in blocks (any length, little memory)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(round(seconds * rate))
    block = rate * 10
    with sf.SoundFile(path, "w", rate, channels, subtype, format="WAV") as f:
        for lo in range(0, total, block):
            t = (lo + np.arange(min(block, total - lo))) / rate
            data = np.empty((len(t), channels))
            for c in range(channels):
                f0 = 220.0 * (1 + 0.5 * c)
                data[:, c] = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t + c) for k in (1, 2, 3, 5))
                data[:, c] *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
            data += 0.003 * rng.standard_normal(data.shape)
            f.write(data)
    return path


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text (Markdown) table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(name: str, text: str, results: dict[str, Any], json_path: Path | None) -> None:
    measured_on = machine()
    print(text)
    print(f"\nmachine: {measured_on}")
    if json_path is not None:
        json_path.write_text(json.dumps({"benchmark": name, "machine": measured_on, "results": results}, indent=1))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
