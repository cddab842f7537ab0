"""The two priors: in-process blur and repair of a 4 s clip with each, against Naive Bayes in the same run.

The clip is mono at ``--rate`` (default 44100, the default model's rate).

Blur 1.0-2.0 s x 200-2000 Hz; repair 1.4-1.6 s x 200-2000 Hz (both levels). Target (issue 12): a
repair or blur of a 4 s clip with the transformer prior in at most 150 ms in process. Run:
``python benchmarks/priors.py [--rate 16000]``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf
from _common import median_time, parser, report, table, tone_file, verdict

EDITS = {"blur": ((1.0, 2.0), (200, 2000)), "repair": ((1.4, 1.6), (200, 2000))}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=44100, help="the clip's sample rate")
    args = p.parse_args()
    import specblur

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    samples, rate = sf.read(tone_file(work / "clip4.wav", 4.0, args.rate, 1), dtype="float64")
    loaded = specblur.load_model(args.model)
    priors = ["naive-bayes"] + (["transformer"] if loaded.prior_nn else [])
    results: dict[str, dict[str, float]] = {}
    for prior in priors:
        for edit, (span, band) in EDITS.items():
            fn = specblur.repair if edit == "repair" else specblur.blur
            seconds = median_time(
                lambda f=fn, s=span, b=band, p=prior: f(samples, rate, s, b, model=loaded, prior=p), args.repeat
            )
            results.setdefault(prior, {})[edit] = seconds * 1000
    rows = [[prior, r["blur"], r["repair"], r["blur"] / results["naive-bayes"]["blur"]] for prior, r in results.items()]
    results["rate"] = rate
    title = f"The priors, in process, 4 s {rate / 1000:g} kHz mono (median ms)"
    text = table(title, ["prior", "blur", "repair", "blur / NB"], rows)
    if "transformer" in results:
        ok = max(results["transformer"].values()) <= 150
        text += f"\n\ntarget: blur and repair with the transformer <= 150 ms in process: {verdict(ok)}"
    report("priors", text, results, args.json)


if __name__ == "__main__":
    main()
