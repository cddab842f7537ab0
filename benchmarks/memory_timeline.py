"""How a whole-file edit's memory moves over its run: is the peak a level that grows with the file
(something held, or the heap spreading), or the highest of many short spikes (the tiles in flight)?

``python benchmarks/memory_timeline.py [--minutes 60] [--prior naive-bayes] [--window 10]``

Runs ``specblur blur IN OUT -q`` (the whole file, the whole band) on a 44.1 kHz stereo 16-bit test
file and reads the process's resident memory from ``/proc/PID/statm`` every 20 ms from outside (the
command is not changed in any way). Prints, for each window of the run, the highest and lowest
resident memory seen, then the peak the kernel kept for the process (``ru_maxrss``, what
``/usr/bin/time -f %M`` prints), the peak seen in the run's first minute, and the slope of the
windows' highest values over the run (a straight line fitted by least squares) and their median in
each third of the run: near zero where the
peak is a spike that can come at any time, positive where something grows with the file (the slope
of a rise that levels off depends on the run's length: the thirds of the run say which it is).
Linux only.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
from _common import SPECBLUR, parser, report, table, tone_file

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return None


def timeline(cmd: list[str], every: float = 0.02) -> tuple[list[tuple[float, float]], float, float]:
    """``cmd`` run to its end: (seconds since start, resident MB) samples, ru_maxrss in MB, wall s."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while True:
        got, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if got:
            break
        mb = resident_mb(proc.pid)
        if mb is not None:
            samples.append((time.perf_counter() - start, mb))
        time.sleep(every)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.read().decode()[-400:]}")
    return samples, usage.ru_maxrss / 1024, wall


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0, help="length of the test file")
    p.add_argument("--prior", default=None, help="--prior for the blur (default: the model's default)")
    p.add_argument("--window", type=float, default=10.0, help="seconds of run per row")
    args = p.parse_args()
    workdir = args.workdir or Path("/tmp/specblur-bench-timeline")
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"tone-{args.minutes:g}min.wav"
    if not src.exists():
        tone_file(src, args.minutes * 60, 44100, 2)
    out = workdir / "out.wav"
    cmd = [*SPECBLUR, "blur", str(src), str(out), "-q"]
    if args.prior:
        cmd += ["--prior", args.prior]
    if args.model:
        cmd += ["--model", args.model]
    samples, peak, wall = timeline(cmd)
    out.unlink(missing_ok=True)
    t = np.array([s[0] for s in samples])
    mb = np.array([s[1] for s in samples])
    rows, highs, mids = [], [], []
    for w0 in np.arange(0.0, t[-1], args.window):
        inside = (t >= w0) & (t < w0 + args.window)
        if inside.any():
            rows.append([f"{w0:.0f}-{w0 + args.window:.0f}", round(mb[inside].max(), 1), round(mb[inside].min(), 1)])
            highs.append(mb[inside].max())
            mids.append(w0 + args.window / 2)
    slope = float(np.polyfit(mids, highs, 1)[0]) * 600 if len(highs) > 2 else float("nan")
    first = float(mb[t < 60].max()) if (t < 60).any() else float("nan")
    thirds = [float(np.median(part)) for part in np.array_split(np.array(highs), 3) if len(part)]
    label = args.prior or "default"
    text = table(
        f"Whole-file blur of {args.minutes:g} min, 44.1 kHz stereo, prior {label}: resident memory per "
        f"{args.window:g} s of run (MB)",
        ["run time (s)", "highest", "lowest"],
        rows,
    )
    text += (
        f"\npeak (ru_maxrss) {peak:.0f} MB in {wall:.0f} s; the highest seen in the first minute of the run "
        f"{first:.0f} MB; the windows' highest values: median {np.median(highs):.0f}, range "
        f"{min(highs):.0f}-{max(highs):.0f} MB, median in each third of the run "
        f"{' / '.join(f'{v:.0f}' for v in thirds)} MB, trend {slope:+.1f} MB per 10 minutes of run\n"
    )
    results = {
        "minutes": args.minutes,
        "prior": label,
        "peak_mb": peak,
        "wall_s": wall,
        "first_minute_mb": first,
        "window_s": args.window,
        "windows": rows,
        "trend_mb_per_10min": slope,
        "highest_median_by_third_mb": thirds,
    }
    report("memory_timeline", text, results, args.json)


if __name__ == "__main__":
    main()
