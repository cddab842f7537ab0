"""One edit: in-process blur time, and the CLI's wall time and peak memory against references.

Clips: 4 s 16 kHz mono and 10 s 44.1 kHz stereo; region 1.0-2.0 s, 200-2000 Hz. References, measured
in the same run and taking turns with the CLI: ``python -c "import numpy, soundfile"`` (the least a
Python audio tool starts with) and ``sox IN OUT lowpass 1000``. Targets: an in-process blur of the
4 s clip in at most 50 ms; ``specblur blur`` of the 4 s clip at most 0.35 s beyond the numpy +
soundfile import, peaking under 150 MB. Run: ``python benchmarks/edit.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import soundfile as sf
from _common import median_time, parser, peak_rss_runs, report, sox, table, time_commands, tone_file, verdict

REGION = ["--time", "1.0-2.0", "--freq", "200-2000"]
IMPORT_REF = [sys.executable, "-c", "import numpy, soundfile"]
TARGET_CLIP = "4 s 16 kHz mono"
TARGET_ARRAY_MS = 50.0
TARGET_BEYOND_S = 0.35
TARGET_PEAK_MB = 150.0


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    import specblur
    from specblur import pipeline

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = {
        TARGET_CLIP: tone_file(work / "clip4.wav", 4.0, 16000, 1),
        "10 s 44.1 kHz stereo": tone_file(work / "clip10.wav", 10.0, 44100, 2, seed=1),
    }
    loaded = pipeline.load_model(args.model)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []
    _, import_mb = peak_rss_runs(IMPORT_REF, args.repeat)
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
        cli = [exe, "blur", str(path), str(out), *REGION, "-f", *model_args]
        times = time_commands(
            {"cli": cli, "import": IMPORT_REF, "sox": [sox(), str(path), str(work / "sox.wav"), "lowpass", "1000"]},
            args.repeat,
        )
        _, cli_mb = peak_rss_runs(cli, args.repeat)
        cli_s, import_s, sox_s = times["cli"], times["import"], times["sox"]
        rows.append(
            [
                name,
                array_s * 1000,
                file_s * 1000,
                cli_s * 1000,
                import_s * 1000,
                (cli_s - import_s) * 1000,
                cli_mb,
                sox_s * 1000,
                cli_s / sox_s,
            ]
        )
        results[name] = {
            "array_ms": array_s * 1000,
            "file_ms": file_s * 1000,
            "cli_ms": cli_s * 1000,
            "import_numpy_soundfile_ms": import_s * 1000,
            "cli_beyond_import_ms": (cli_s - import_s) * 1000,
            "cli_peak_mb": cli_mb,
            "sox_ms": sox_s * 1000,
        }
    results["import_numpy_soundfile_peak_mb"] = import_mb
    text = table(
        "One edit (median wall time; peak memory: the highest of the runs)",
        [
            "clip",
            "in-process, array (ms)",
            "in-process, file to file (ms)",
            "CLI (ms)",
            "import numpy, soundfile (ms)",
            "CLI beyond that import (ms)",
            "CLI peak (MB)",
            "sox lowpass (ms)",
            "CLI / sox",
        ],
        rows,
    )
    mark = results[TARGET_CLIP]
    array_ok = mark["array_ms"] <= TARGET_ARRAY_MS
    beyond_ok = mark["cli_beyond_import_ms"] <= TARGET_BEYOND_S * 1000
    peak_ok = mark["cli_peak_mb"] < TARGET_PEAK_MB
    results["targets"] = {
        "array_ms_max": TARGET_ARRAY_MS,
        "cli_beyond_import_s_max": TARGET_BEYOND_S,
        "cli_peak_mb_under": TARGET_PEAK_MB,
        "array_met": array_ok,
        "cli_time_met": beyond_ok,
        "cli_peak_met": peak_ok,
    }
    text += f'\n\nreference: python -c "import numpy, soundfile" peaks at {import_mb:.0f} MB'
    text += "\ntargets, on the 4 s clip:"
    text += f"\n- in-process blur <= {TARGET_ARRAY_MS:.0f} ms: {mark['array_ms']:.1f} ms: {verdict(array_ok)}"
    text += (
        f"\n- CLI blur <= {TARGET_BEYOND_S} s beyond `import numpy, soundfile`: "
        f"{mark['cli_ms'] / 1000:.3f} s - {mark['import_numpy_soundfile_ms'] / 1000:.3f} s = "
        f"{mark['cli_beyond_import_ms'] / 1000:.3f} s: {verdict(beyond_ok)}"
    )
    text += f"\n- CLI blur peak < {TARGET_PEAK_MB:.0f} MB: {mark['cli_peak_mb']:.0f} MB: {verdict(peak_ok)}"
    report("edit", text, results, args.json)


if __name__ == "__main__":
    main()
