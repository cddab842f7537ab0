"""One edit: in-process blur time, and the CLI's wall time against ``sox IN OUT lowpass 1000``.

Clips: 4 s 16 kHz mono and 10 s 44.1 kHz stereo; region 1.0-2.0 s, 200-2000 Hz. Target: an
in-process blur of the 4 s clip in at most 50 ms. Run: ``python benchmarks/edit.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import soundfile as sf
from _common import median_time, parser, report, sox, table, time_command, tone_file, verdict

REGION = ["--time", "1.0-2.0", "--freq", "200-2000"]


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    import specblur
    from specblur import pipeline

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = {
        "4 s 16 kHz mono": tone_file(work / "clip4.wav", 4.0, 16000, 1),
        "10 s 44.1 kHz stereo": tone_file(work / "clip10.wav", 10.0, 44100, 2, seed=1),
    }
    loaded = pipeline.load_model(args.model)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []
    rows, results = [], {}
    for name, path in clips.items():
        samples, rate = sf.read(path, dtype="float64")
        array_s = median_time(
            lambda s=samples, r=rate: specblur.blur(s, r, (1.0, 2.0), (200, 2000), model=loaded), args.repeat
        )
        out = work / f"out-{path.name}"
        file_s = median_time(
            lambda p=path, o=out: pipeline.blur_file(loaded, str(p), str(o), time=(1.0, 2.0), freq=(200, 2000)),
            args.repeat,
        )
        cli_s = time_command([exe, "blur", str(path), str(out), *REGION, "-f", *model_args], args.repeat)
        sox_s = time_command([sox(), str(path), str(work / "sox.wav"), "lowpass", "1000"], args.repeat)
        rows.append([name, array_s * 1000, file_s * 1000, cli_s * 1000, sox_s * 1000, cli_s / sox_s])
        results[name] = {
            "array_ms": array_s * 1000,
            "file_ms": file_s * 1000,
            "cli_ms": cli_s * 1000,
            "sox_ms": sox_s * 1000,
        }
    text = table(
        "One edit (median wall time)",
        [
            "clip",
            "in-process, array (ms)",
            "in-process, file to file (ms)",
            "CLI (ms)",
            "sox lowpass (ms)",
            "CLI / sox",
        ],
        rows,
    )
    target = results["4 s 16 kHz mono"]["array_ms"] <= 50
    text += f"\n\ntarget: in-process blur of the 4 s clip <= 50 ms: {verdict(target)}"
    report("edit", text, results, args.json)


if __name__ == "__main__":
    main()
