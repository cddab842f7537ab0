"""One edit: in-process blur time, and the CLI's wall time and peak memory against references.

Clips: 4 s 16 kHz mono, 4 s 44.1 kHz mono and 10 s 44.1 kHz stereo; region 1.0-2.0 s, 200-2000 Hz.
References, measured in the same run and taking turns with the CLI: ``python -c "import numpy,
soundfile"`` (the least a Python audio tool starts with) and ``sox IN OUT lowpass 1000``. Targets, on both 4 s clips: an
in-process blur in at most 50 ms with Naive Bayes (issue 11) and 150 ms with the transformer prior
(issue 12); ``specblur blur`` at most 0.35 s beyond the numpy + soundfile import, peaking under
150 MB. Each clip is edited with the model's default prior and, on a second row, with the other one.
Run: ``python benchmarks/edit.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import soundfile as sf
from _common import median_time, parser, peak_rss_runs, report, sox, table, time_commands, tone_file, verdict

REGION = ["--time", "1.0-2.0", "--freq", "200-2000"]
IMPORT_REF = [sys.executable, "-c", "import numpy, soundfile"]
TARGET_CLIPS = ("4 s 16 kHz mono", "4 s 44.1 kHz mono")
TARGET_ARRAY_MS = {"naive-bayes": 50.0, "transformer": 150.0}
TARGET_BEYOND_S = 0.35
TARGET_PEAK_MB = 150.0


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    import specblur
    from specblur import priors
    from specblur.edit import on_file

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = {
        TARGET_CLIPS[0]: tone_file(work / "clip4.wav", 4.0, 16000, 1),
        TARGET_CLIPS[1]: tone_file(work / "clip4-44k.wav", 4.0, 44100, 1, seed=2),
        "10 s 44.1 kHz stereo": tone_file(work / "clip10.wav", 10.0, 44100, 2, seed=1),
    }
    loaded = specblur.load_model(args.model)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []
    _, import_mb = peak_rss_runs(IMPORT_REF, args.repeat)
    rows, results = [], {}
    priors = [loaded.default_prior] + [p for p in priors.NAMES if p != loaded.default_prior]
    if not loaded.prior_nn:
        priors = ["naive-bayes"]
    cases = [(clip, prior) for clip in clips for prior in priors]
    for clip, prior in cases:
        path = clips[clip]
        name = f"{clip}, {prior}" + (" (default)" if prior == loaded.default_prior else "")
        samples, rate = sf.read(path, dtype="float64")
        array_s = median_time(
            lambda s=samples, r=rate, p=prior: specblur.blur(s, r, (1.0, 2.0), (200, 2000), model=loaded, prior=p),
            args.repeat,
        )
        out = work / f"out-{path.name}"
        file_s = median_time(
            lambda p=path, o=out, pr=prior: on_file.blur_file(
                loaded, str(p), str(o), time=(1.0, 2.0), freq=(200, 2000), prior=pr
            ),
            args.repeat,
        )
        cli = [exe, "blur", str(path), str(out), *REGION, "-f", "--prior", prior, *model_args]
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
            "clip": clip,
            "prior": prior,
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
    text += f'\n\nreference: python -c "import numpy, soundfile" peaks at {import_mb:.0f} MB'
    text += "\ntargets, on the 4 s clips:"
    results["targets"] = {}
    for clip, prior in [(c, p) for c in TARGET_CLIPS for p in priors]:
        key = f"{clip}, {prior}" + (" (default)" if prior == loaded.default_prior else "")
        mark = results[key]
        array_ok = mark["array_ms"] <= TARGET_ARRAY_MS[prior]
        beyond_ok = mark["cli_beyond_import_ms"] <= TARGET_BEYOND_S * 1000
        peak_ok = mark["cli_peak_mb"] < TARGET_PEAK_MB
        results["targets"][f"{clip}, {prior}"] = {
            "array_ms_max": TARGET_ARRAY_MS[prior],
            "cli_beyond_import_s_max": TARGET_BEYOND_S,
            "cli_peak_mb_under": TARGET_PEAK_MB,
            "array_met": array_ok,
            "cli_time_met": beyond_ok,
            "cli_peak_met": peak_ok,
        }
        text += f"\n- {clip}, {prior}: in-process blur <= {TARGET_ARRAY_MS[prior]:.0f} ms: {mark['array_ms']:.1f} ms: "
        text += verdict(array_ok)
        text += (
            f"\n- {clip}, {prior}: CLI blur <= {TARGET_BEYOND_S} s beyond `import numpy, soundfile`: "
            f"{mark['cli_ms'] / 1000:.3f} s - {mark['import_numpy_soundfile_ms'] / 1000:.3f} s = "
            f"{mark['cli_beyond_import_ms'] / 1000:.3f} s: {verdict(beyond_ok)}"
        )
        peak = f"{mark['cli_peak_mb']:.0f} MB: {verdict(peak_ok)}"
        text += f"\n- {clip}, {prior}: CLI blur peak < {TARGET_PEAK_MB:.0f} MB: {peak}"
    report("edit", text, results, args.json)


if __name__ == "__main__":
    main()
