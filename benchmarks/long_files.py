"""Long files: a 1 s region in 1, 10 and 60 minute 44.1 kHz stereo WAVs, against ``sox IN OUT``.

Reports wall time and peak memory of ``specblur blur`` and of sox copying the same file. Targets:
the 60-minute file within 2x sox's copy time plus specblur's start-up (a blur of a 1 s file), and
peak memory under 500 MB whatever the length. Run: ``python benchmarks/long_files.py
[--minutes 1 10 60]`` (the 60-minute file takes 635 MB of disk, twice over).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import parser, peak_rss_mb, report, sox, table, tone_file, verdict


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    p.set_defaults(repeat=3)
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []

    def measure(cmd: list[str]) -> tuple[float, float]:
        runs = [peak_rss_mb(cmd) for _ in range(args.repeat)]
        return statistics.median(w for w, _ in runs), max(m for _, m in runs)

    _, import_mb = measure([sys.executable, "-c", "import specblur.pipeline"])  # torch + torchaudio, no work
    short = tone_file(work / "short.wav", 1.0, 44100, 2)
    startup, startup_mb = measure([exe, "blur", str(short), str(work / "short-out.wav"), "-f", *model_args])
    rows, results = [], {"startup_s": startup, "startup_mb": startup_mb, "import_mb": import_mb, "files": {}}
    ok = True
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
        wall, mb = measure(blur_cmd)
        sox_wall, sox_mb = measure([sox(), str(src), str(work / "sox.wav")])
        size_mb = src.stat().st_size / 1e6
        limit = 2 * sox_wall + startup
        rows.append(
            [f"{minutes:g} min ({size_mb:,.0f} MB)", wall, mb, mb - import_mb, sox_wall, sox_mb, wall / sox_wall, limit]
        )
        results["files"][f"{minutes:g}"] = {
            "blur_s": wall,
            "blur_mb": mb,
            "sox_s": sox_wall,
            "sox_mb": sox_mb,
            "size_mb": size_mb,
        }
        ok &= mb < 500
        if minutes == max(args.minutes):
            ok &= wall <= limit
        src.unlink()
    text = table(
        "Long files, 1 s region (median wall time, peak memory)",
        [
            "file",
            "blur (s)",
            "blur peak (MB)",
            "above importing torch (MB)",
            "sox copy (s)",
            "sox peak (MB)",
            "blur / sox",
            "target: 2 x sox + start-up (s)",
        ],
        rows,
    )
    text += f"\n\nstart-up (blur of a 1 s file): {startup:.2f} s, {startup_mb:.0f} MB"
    text += f"\nimporting specblur.pipeline (torch, torchaudio) and doing nothing: {import_mb:.0f} MB"
    text += f"\ntargets (longest file within 2x sox + start-up; peak memory < 500 MB): {verdict(ok)}"
    report("long_files", text, results, args.json)


if __name__ == "__main__":
    main()
