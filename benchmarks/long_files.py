"""Long files: a 1 s region in 1, 10 and 60 minute 44.1 kHz stereo WAVs, against ``sox IN OUT``.

Reports wall time and peak memory of ``specblur blur`` and of sox copying the same file (the two take
turns, run by run). Targets: the 60-minute file within 2x sox's copy time plus specblur's start-up
(a blur of a 1 s file, measured in the same run), and peak memory under 200 MB whatever the length.
Run: ``python benchmarks/long_files.py [--minutes 1 10 60]`` (the 60-minute file takes 635 MB of
disk, twice over).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import parser, peak_rss_mb, peak_rss_runs, report, sox, table, tone_file, verdict

TARGET_PEAK_MB = 200.0
TARGET_SOX_FACTOR = 2.0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    p.set_defaults(repeat=3)
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []

    def measure_pair(blur_cmd: list[str], sox_cmd: list[str]) -> tuple[float, float, float, float]:
        """(blur wall, blur peak, sox wall, sox peak): medians of the walls, highest peaks, runs alternating."""
        blur_runs, sox_runs = [], []
        for _ in range(args.repeat):
            blur_runs.append(peak_rss_mb(blur_cmd))
            sox_runs.append(peak_rss_mb(sox_cmd))
        return (
            statistics.median(w for w, _ in blur_runs),
            max(m for _, m in blur_runs),
            statistics.median(w for w, _ in sox_runs),
            max(m for _, m in sox_runs),
        )

    _, import_mb = peak_rss_runs([sys.executable, "-c", "import specblur.edit.on_file"], args.repeat)
    short = tone_file(work / "short.wav", 1.0, 44100, 2)
    startup, startup_mb = peak_rss_runs(
        [exe, "blur", str(short), str(work / "short-out.wav"), "-f", *model_args], args.repeat
    )
    rows, results = [], {"startup_s": startup, "startup_mb": startup_mb, "import_mb": import_mb, "files": {}}
    peak_ok = startup_mb < TARGET_PEAK_MB
    time_ok = True
    for minutes in args.minutes:
        src = tone_file(work / f"long{minutes:g}.wav", minutes * 60, 44100, 2, seed=int(minutes))
        mid = minutes * 30
        blur_cmd = [
            exe,
            "blur",
            str(src),
            str(work / "out.wav"),
            "-f",
            "--time",
            f"{mid:g}-{mid + 1:g}",
            "--freq",
            "200-2000",
            *model_args,
        ]
        peak_rss_mb(blur_cmd)  # warm-up: the file was just written, both then read it from the page cache
        wall, mb, sox_wall, sox_mb = measure_pair(blur_cmd, [sox(), str(src), str(work / "sox.wav")])
        size_mb = src.stat().st_size / 1e6
        limit = TARGET_SOX_FACTOR * sox_wall + startup
        rows.append(
            [
                f"{minutes:g} min ({size_mb:,.0f} MB)",
                wall,
                mb,
                mb - import_mb,
                sox_wall,
                sox_mb,
                wall / sox_wall,
                limit,
                verdict(wall <= limit and mb < TARGET_PEAK_MB),
            ]
        )
        results["files"][f"{minutes:g}"] = {
            "blur_s": wall,
            "blur_mb": mb,
            "sox_s": sox_wall,
            "sox_mb": sox_mb,
            "size_mb": size_mb,
            "limit_s": limit,
        }
        peak_ok &= mb < TARGET_PEAK_MB
        if minutes == max(args.minutes):
            time_ok = wall <= limit
            longest = (minutes, wall, limit)
        src.unlink()
    text = table(
        f"Long files, 1 s region (median wall time of {args.repeat} runs, highest peak memory)",
        [
            "file",
            "blur (s)",
            "blur peak (MB)",
            "above importing specblur.edit.on_file (MB)",
            "sox copy (s)",
            "sox peak (MB)",
            "blur / sox",
            f"target: {TARGET_SOX_FACTOR:g} x sox + start-up (s)",
            f"time and < {TARGET_PEAK_MB:.0f} MB",
        ],
        rows,
    )
    text += f"\n\nstart-up (blur of a 1 s file): {startup:.3f} s, {startup_mb:.0f} MB"
    text += (
        f"\nimporting specblur.edit.on_file (numpy, soundfile; onnxruntime comes with the model) and doing nothing: "
        f"{import_mb:.0f} MB"
    )
    minutes, wall, limit = longest
    text += (
        f"\ntarget: the {minutes:g}-minute file within {TARGET_SOX_FACTOR:g}x sox's copy + start-up: "
        f"{wall:.2f} s against {limit:.2f} s: {verdict(time_ok)}"
    )
    text += f"\ntarget: peak memory < {TARGET_PEAK_MB:.0f} MB at every length: {verdict(peak_ok)}"
    results["targets"] = {
        "peak_mb_under": TARGET_PEAK_MB,
        "sox_factor": TARGET_SOX_FACTOR,
        "time_met": time_ok,
        "peak_met": peak_ok,
    }
    report("long_files", text, results, args.json)


if __name__ == "__main__":
    main()
