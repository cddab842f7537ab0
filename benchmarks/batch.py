"""Batch: N files in one ``specblur blur ... --output-dir`` call against the same edits in process.

Each round times, one after the other, the N edits in this process (``on_file.blur_file``, model
loaded once beforehand), the batch call and a one-file call; figures are medians over the rounds, and
the ratio checked is the median of each round's own ratio (batch / in-process, measured seconds apart,
so a change in the shared machine's load touches both). N separate calls and N sox calls are timed
once, for scale. Target: the whole batch call / N at most 1.2x the in-process edit. Run:
``python benchmarks/batch.py [--files 100]``.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import median_time, parser, report, run, sox, table, tone_file, verdict

REGION = ["--time", "1.0-2.0", "--freq", "200-2000"]
TARGET_RATIO = 1.2


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=100)
    args = p.parse_args()
    import specblur
    from specblur.edit import on_file

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    src = work / "in"
    src.mkdir(parents=True, exist_ok=True)
    first = tone_file(src / "f000.wav", 4.0, 16000, 1)
    files = [first] + [shutil.copyfile(first, src / f"f{i:03d}.wav") for i in range(1, args.files)]
    n = len(files)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []

    def fresh(name: str) -> Path:
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return out

    loaded = specblur.load_model(args.model)
    one = median_time(
        lambda: on_file.blur_file(loaded, str(first), str(work / "one.wav"), time=(1.0, 2.0), freq=(200, 2000)),
        max(args.repeat, 20),
    )

    def in_process() -> float:
        out = fresh("in-process")
        t = time.perf_counter()
        for f in files:
            on_file.blur_file(loaded, str(f), str(out / f.name), time=(1.0, 2.0), freq=(200, 2000))
        return time.perf_counter() - t

    def batch_call() -> float:
        out = fresh("batch")
        t = time.perf_counter()
        run([exe, "blur", *map(str, files), "--output-dir", str(out), *REGION, *model_args])
        return time.perf_counter() - t

    def single_call() -> float:
        t = time.perf_counter()
        run([exe, "blur", str(first), str(work / "single.wav"), "-f", *REGION, *model_args])
        return time.perf_counter() - t

    in_process(), single_call()  # warm the page cache and the imports' files
    rounds: dict[str, list[float]] = {"in_process": [], "batch": [], "single": []}
    for _ in range(args.repeat):
        rounds["in_process"].append(in_process())
        rounds["batch"].append(batch_call())
        rounds["single"].append(single_call())
    loop, batch, single = (statistics.median(rounds[k]) for k in ("in_process", "batch", "single"))
    per_round = [b / i for b, i in zip(rounds["batch"], rounds["in_process"], strict=True)]
    ratio = statistics.median(per_round)

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

    per_edit = loop / n
    marginal = (batch - single) / (n - 1)
    rows = [
        [f"in process, {n} files in a loop: time / {n} (reference)", per_edit * 1000, 1.0],
        ["in process, one file (median of single edits)", one * 1000, one / per_edit],
        ["one call, one file (start-up, model load, one edit)", single * 1000, single / per_edit],
        [f"one call, {n} files (--output-dir): wall time / {n}", batch / n * 1000, batch / n / per_edit],
        [f"one call, {n} files: each file after the first", marginal * 1000, marginal / per_edit],
        [f"{n} separate calls (timed once)", separate / n * 1000, separate / n / per_edit],
        [f"{n} sox lowpass calls (timed once)", sox_loop / n * 1000, sox_loop / n / per_edit],
    ]
    text = table(
        f"Batch of {n} 4 s 16 kHz files (ms per file; medians of {args.repeat} rounds)",
        ["how", "ms / file", "x in-process"],
        rows,
    )
    ok = ratio <= TARGET_RATIO
    text += (
        f"\n\ntarget: the whole batch call / {n} <= {TARGET_RATIO}x the in-process edit: median of the rounds' "
        f"ratios {ratio:.2f}x (rounds: {', '.join(f'{r:.2f}' for r in per_round)}): {verdict(ok)}; "
        f"ratio of the medians {batch / n / per_edit:.2f}x; against the median single in-process edit "
        f"{batch / n / one:.2f}x"
    )
    results = {
        "files": n,
        "rounds": args.repeat,
        "in_process_loop_ms_per_file": per_edit * 1000,
        "in_process_ms": one * 1000,
        "single_call_ms": single * 1000,
        "batch_ms_per_file": batch / n * 1000,
        "marginal_ms_per_file": marginal * 1000,
        "separate_ms_per_file": separate / n * 1000,
        "sox_ms_per_file": sox_loop / n * 1000,
        "ratio": ratio,
        "round_ratios": per_round,
        "target_ratio": TARGET_RATIO,
        "met": ok,
    }
    report("batch", text, results, args.json)


if __name__ == "__main__":
    main()
