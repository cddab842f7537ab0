"""Training beyond one process (issue 21): steps/s and scaling efficiency of 1 and N processes under
torchrun (gloo on CPU), memory per process on a corpus 10 times larger, in memory and streamed, and
the time and memory of indexing an NSynth ``examples.json`` of 300,000 entries.

Scaling: the same global batch (``--batch``, split among the processes, as ``specblur train`` does)
timed over ``--steps`` DDP steps of a preset's model on synthetic notes held in memory, the median
of up to 3 rounds, 1 and N processes taking turns; efficiency = (steps/s with N processes) / (N x
steps/s with 1). The reference, measured in the same run, is a fixed
float32 matrix product (GFLOP/s), as in train_throughput.py. Memory: tests/memory_probe.py (the data
path alone) and whole ``specblur train --loading stream`` runs (the peak the run records), on 8 and 80
files of 20 s. Index: ``data.collect`` of a generated NSynth folder (an ``examples.json`` with the
real file's fields and a few short notes in ``audio/``) against ``json.loads`` of the same file, each
in a fresh process (peak memory above the process's after its imports).

Run: ``python benchmarks/train_scaling.py [--preset default] [--processes 2] [--entries 300000]``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, parser, report, table

SPECBLUR = [sys.executable, "-m", "specblur"]


# -- the worker: one process of a torchrun job -----------------------------------------------------
def worker(preset: str, batch: int, steps: int) -> None:
    import torch

    from specblur.config import PRESETS
    from specblur.learn import data, distributed
    from specblur.learn.model import VQVAE2
    from specblur.learn.train import _train_step

    world = distributed.setup("cpu")
    cfg = PRESETS[preset].replace("train", batch_size=batch)
    rate = cfg.spectrogram.sample_rate
    rng = np.random.default_rng(0)
    t = np.arange(4 * rate) / rate
    waves = [
        (0.3 * np.sin(2 * np.pi * 110 * 2 ** (i / 12) * t) * np.exp(-t) + 1e-3 * rng.standard_normal(len(t))).astype(
            np.float32
        )
        for i in range(48)
    ]
    torch.manual_seed(0)
    model = VQVAE2(cfg)
    net: torch.nn.Module = model
    if world.distributed:
        net = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    crops = data.Crops(waves, (cfg.train.segment_frames - 1) * cfg.spectrogram.hop_length)
    order = data.Order(len(waves), 0)

    def step(s: int) -> None:
        wave = crops.take(data.Order.rows(s, batch, world.rank, world.size), order)
        _train_step(net, model, optimizer, wave, cfg.train, world.device)

    for s in range(3):
        step(s)
    distributed.max_(0.0)  # all ranks start the clock together
    start = time.perf_counter()
    for s in range(3, 3 + steps):
        step(s)
    elapsed = distributed.max_(time.perf_counter() - start)
    if world.main:
        result = {"processes": world.size, "steps_per_s": steps / elapsed, "threads": torch.get_num_threads()}
        print("RESULT " + json.dumps(result), flush=True)
    distributed.teardown(world)


def scaling(preset: str, batch: int, steps: int, processes: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median steps/s of 1 process with 1 thread, ``processes`` processes of 1 thread each (what
    torchrun gives each when it starts several) and, for reference, 1 process with torch's default
    threads (every core), taking turns ``rounds`` times."""
    configs = {"1": (1, "1"), str(processes): (processes, "1"), "1, all threads": (1, "")}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in configs}
    for _ in range(rounds):
        for label, (n, threads) in configs.items():
            env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
            if threads:
                env["OMP_NUM_THREADS"] = threads
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)]
            cmd += [__file__, "--worker", "--preset", preset, "--batch", str(batch), "--steps", str(steps)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT / "benchmarks", env=env, check=True)
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            runs[label].append(json.loads(line[7:]))
    return {
        label: {
            "processes": configs[label][0],
            "steps_per_s": statistics.median(r["steps_per_s"] for r in got),
            "threads": got[0]["threads"],
        }
        for label, got in runs.items()
    }


# -- memory ------------------------------------------------------------------------------------------
def corpora(root: Path) -> dict[str, Path]:
    import soundfile as sf

    wave = (0.1 * np.random.default_rng(0).standard_normal(20 * 16000)).astype(np.float32)
    made = {}
    for name, count in (("1x", 8), ("10x", 80)):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            sf.write(folder / f"f{i:03d}.wav", wave, 16000, subtype="PCM_16")
        made[name] = folder
    return made


def probe(mode: str, folder: Path) -> float:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "memory_probe.py"), mode, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["peak_mb"]


def train_peak(folder: Path, data_dir: Path, name: str) -> float:
    import torch

    env = {**os.environ, "SPECBLUR_DATA_DIR": str(data_dir)}
    cmd = [*SPECBLUR, "train", str(folder), "--name", name, "--preset", "tiny", "--steps", "20"]
    subprocess.run([*cmd, "--prior-steps", "2", "--loading", "stream", "-q"], env=env, check=True)
    record = torch.load(data_dir / "runs" / f"{name}.pt", map_location="cpu", weights_only=True)["training"]
    return float(record["peak_memory_mb"])


# -- the NSynth index --------------------------------------------------------------------------------
FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")


def nsynth(root: Path, entries: int) -> Path:
    """An NSynth-style folder: ``examples.json`` with ``entries`` notes (the real file's fields) and
    audio for the first 20 of them (short notes)."""
    import soundfile as sf

    (root / "audio").mkdir(parents=True, exist_ok=True)
    with open(root / "examples.json", "w", encoding="utf-8") as f:
        f.write("{")
        for i in range(entries):
            family, source = FAMILIES[i % 11], SOURCES[(i // 11) % 3]
            inst = i // 80
            pitch, velocity = 21 + i % 88, (25, 50, 75, 100, 127)[i % 5]
            name = f"{family}_{source}_{inst:03d}"
            key = f"{name}-{pitch:03d}-{velocity:03d}"
            entry = {
                "note": i,
                "sample_rate": 16000,
                "pitch": pitch,
                "instrument_source": i % 3,
                "instrument_family_str": family,
                "instrument_str": name,
                "note_str": key,
                "qualities_str": ["bright"] if i % 4 == 0 else [],
                "instrument_source_str": source,
                "velocity": velocity,
                "instrument_family": i % 11,
                "instrument": inst,
                "qualities": [int(i % 4 == 0), 0, 0, 0, 0, 0, 0, 0, 0, 0],
            }
            f.write(("" if i == 0 else ", ") + json.dumps(key) + ": " + json.dumps(entry))
            if i < 20:
                sf.write(root / "audio" / f"{key}.wav", np.zeros(1600, np.float32), 16000)
        f.write("}")
    return root


_INDEX = """
import json, sys, time
from pathlib import Path
from specblur.learn import data
def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
root = Path(sys.argv[2])
before = hwm()
t = time.perf_counter()
if sys.argv[1] == "collect":
    n = len(data.collect([root]))
else:
    n = len(json.loads((root / "examples.json").read_text()))
elapsed = time.perf_counter() - t
print(json.dumps({"entries": n, "seconds": elapsed, "memory_mb": hwm() - before}))
"""


def index(how: str, root: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _INDEX, how, str(root)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--batch", type=int, default=16, help="the global batch (split among the processes)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--entries", type=int, default=300_000)
    p.add_argument("--worker", action="store_true", help=None)
    args = p.parse_args()
    if args.worker:
        worker(args.preset, args.batch, args.steps)
        return
    import torch

    a = torch.randn(1024, 1024)
    for _ in range(3):
        a @ a
    t = time.perf_counter()
    for _ in range(10):
        a @ a
    gflops = 2 * 1024**3 * 10 / (time.perf_counter() - t) / 1e9
    measured = scaling(args.preset, args.batch, args.steps, args.processes, max(1, min(args.repeat, 3)))
    n = args.processes
    base = measured["1"]["steps_per_s"]
    efficiency = measured[str(n)]["steps_per_s"] / (n * base)
    text = table(
        f"Scaling on CPU (preset {args.preset}, global batch {args.batch}, torchrun, gloo)",
        ["processes", "threads each", "steps / s", "speed-up", "efficiency", "reference GFLOP/s", "steps / s per GFLOP/s"],
        [
            [label, m["threads"], m["steps_per_s"], m["steps_per_s"] / base,
             m["steps_per_s"] / (m["processes"] * base), gflops, m["steps_per_s"] / gflops]
            for label, m in measured.items()
        ],
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        folders = corpora(work / "corpora")
        memory = {(mode, size): probe(mode, folders[size]) for mode in ("stream", "memory") for size in ("1x", "10x")}
        whole = {size: train_peak(folders[size], work / "data", f"m{size}") for size in ("1x", "10x")}
        rows = [
            [f"data path, {mode}", memory[(mode, "1x")], memory[(mode, "10x")], memory[(mode, "10x")] / memory[(mode, "1x")]]
            for mode in ("stream", "memory")
        ]
        rows.append(["specblur train --loading stream", whole["1x"], whole["10x"], whole["10x"] / whole["1x"]])
        text += "\n\n" + table(
            "Peak memory per process (MB): 8 files of 20 s (1x) and 80 (10x)", ["path", "1x", "10x", "10x / 1x"], rows
        )
        root = nsynth(work / "nsynth", args.entries)
        size_mb = (root / "examples.json").stat().st_size / 1e6
        ours, plain = index("collect", root), index("loads", root)
        text += "\n\n" + table(
            f"Indexing an NSynth examples.json of {args.entries:,} entries ({size_mb:,.0f} MB)",
            ["how", "entries", "seconds", "memory added (MB)"],
            [
                ["data.collect (entry by entry)", ours["entries"], ours["seconds"], ours["memory_mb"]],
                ["reference: json.loads of the file", plain["entries"], plain["seconds"], plain["memory_mb"]],
            ],
        )
    results = {
        "preset": args.preset,
        "batch": args.batch,
        "processes": n,
        "steps_per_s": {label: m["steps_per_s"] for label, m in measured.items()},
        "threads": {label: m["threads"] for label, m in measured.items()},
        "efficiency": efficiency,
        "gflops": gflops,
        "memory_mb": {f"{m}_{s}": v for (m, s), v in memory.items()},
        "train_stream_peak_mb": whole,
        "index": {"collect": ours, "json_loads": plain, "entries": args.entries, "json_mb": size_mb},
    }
    report("train_scaling", text, results, args.json)


if __name__ == "__main__":
    main()
