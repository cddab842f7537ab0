"""Batch: N files in one ``specblur blur ... --output-dir`` call against N separate calls.

Target: the batch's cost per file within 1.5x the in-process time of one edit. Run:
``python benchmarks/batch.py [--files 100]``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import median_time, parser, report, run, sox, table, tone_file, verdict

REGION = ["--time", "1.0-2.0", "--freq", "200-2000"]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=100)
    args = p.parse_args()
    from specblur import pipeline

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    src = work / "in"
    src.mkdir(parents=True, exist_ok=True)
    first = tone_file(src / "f000.wav", 4.0, 16000, 1)
    files = [first] + [shutil.copyfile(first, src / f"f{i:03d}.wav") for i in range(1, args.files)]
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []

    loaded = pipeline.load_model(args.model)
    one = median_time(
        lambda: pipeline.blur_file(loaded, str(first), str(work / "one.wav"), time=(1.0, 2.0), freq=(200, 2000)),
        args.repeat,
    )

    def fresh(name: str) -> Path:
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return out

    single = median_time(
        lambda: run([exe, "blur", str(first), str(work / "single.wav"), "-f", *REGION, *model_args]), args.repeat
    )
    out = fresh("batch")
    t = time.perf_counter()
    run([exe, "blur", *map(str, files), "--output-dir", str(out), *REGION, *model_args])
    batch = time.perf_counter() - t
    out = fresh("separate")
    t = time.perf_counter()
    for f in files:
        run([exe, "blur", str(f), str(out / f.name), *REGION, *model_args])
    separate = time.perf_counter() - t
    out = fresh("sox")
    t = time.perf_counter()
    for f in files:
        run([sox(), str(f), str(out / f.name), "lowpass", "1000"])
    sox_loop = time.perf_counter() - t

    n = len(files)
    marginal = (batch - single) / (n - 1)
    rows = [
        ["in-process, one file (median)", one * 1000, 1.0],
        ["one call, one file (start-up, model load, one edit)", single * 1000, single / one],
        [f"one call, {n} files (--output-dir): wall time / {n}", batch / n * 1000, batch / n / one],
        [f"one call, {n} files: each file after the first", marginal * 1000, marginal / one],
        [f"{n} separate calls", separate / n * 1000, separate / n / one],
        [f"{n} sox lowpass calls (reference)", sox_loop / n * 1000, sox_loop / n / one],
    ]
    text = table(f"Batch of {n} 4 s 16 kHz files (ms per file)", ["how", "ms / file", "x in-process"], rows)
    text += (
        f"\n\ntarget: batch per file <= 1.5x in-process: each file after the first {marginal / one:.2f}x "
        f"({verdict(marginal <= 1.5 * one)}); the whole call / {n} {batch / n / one:.2f}x "
        f"({verdict(batch / n <= 1.5 * one)}: it includes one start-up, mostly importing torch)"
    )
    results = {
        "single_call_ms": single * 1000,
        "marginal_ms_per_file": marginal * 1000,
        "files": n,
        "in_process_ms": one * 1000,
        "batch_ms_per_file": batch / n * 1000,
        "separate_ms_per_file": separate / n * 1000,
        "sox_ms_per_file": sox_loop / n * 1000,
    }
    report("batch", text, results, args.json)


if __name__ == "__main__":
    main()
