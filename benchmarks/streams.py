"""What streams besides a blur (issue 20): ``specblur decode`` of a long code file, a blur read from a
pipe, and a repair of a long span, each against its reference measured in the same run.

- decode: ``specblur decode CODES OUT`` (a block at a time) against the whole-array decode that it
  replaced (``codec.decode`` then one write, run the same way in a process of its own), on codes of
  1 and 5 minutes of 44.1 kHz stereo: wall time, peak memory, and whether the two files are the same
  bytes.
- stdin: ``cat IN | specblur blur - OUT`` (stdin spooled to a temporary file, then read as a file)
  against ``specblur blur IN OUT``, a 1 s region of 1- and 10-minute files: wall time, peak memory.
- repair: ``specblur repair IN OUT -t 60-120`` (60 s of a 10-minute file) and ``-t 1-599`` (almost
  all of it) against a 1 s repair of the same file: wall time, peak memory (a long hole streams, a
  block at a time: it should peak about as high as the short one).
- labels: ``specblur repair IN OUT --labels`` with a 0.1 s dropout every 10 s of the same file (each
  repair reads about 8 s either side to search for a match, so their parts all overlap) and
  ``specblur blur IN OUT --labels`` with 0.2 s regions every 0.25 s over 100 s (300-3000 Hz), against
  one such region alone: wall time, peak memory (the regions' changes are written as soon as no
  region still to come reads them: it should peak about as high as one region).

Run: ``python benchmarks/streams.py [--minutes 1 5] [--skip decode stdin repair labels] [--spans 60-61 60-120]
[--label-regions 59 400]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import parser, peak_rss_mb, report, run, table, tone_file, verdict

WHOLE_DECODE = (
    "import sys, specblur; from specblur import audio; from specblur.codes import read; "
    "from specblur.edit import codec; m = specblur.load_model(sys.argv[3] or None); "
    "s = codec.decode(m, read(sys.argv[1])); audio.write(sys.argv[2], s)"
)


def shell(cmd: str) -> list[str]:
    return ["/bin/sh", "-c", cmd]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 5], help="decode: lengths of the codes")
    p.add_argument("--stdin-minutes", type=float, nargs="+", default=[1, 10])
    p.add_argument("--skip", nargs="*", default=[], choices=["decode", "stdin", "repair", "labels"])
    p.add_argument(
        "--label-regions",
        type=int,
        nargs=2,
        default=[59, 400],
        help="labels: the dropouts (every 10 s) and the blur regions (every 0.25 s)",
    )
    p.add_argument(
        "--spans",
        nargs="+",
        default=["60-61", "60-120", "1-599"],
        help="repair: the spans (s), the first the short one",
    )
    p.set_defaults(repeat=1)
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("specblur"))
    model_args = ["--model", args.model] if args.model else []
    results: dict = {"decode": {}, "stdin": {}, "repair": {}, "labels": {}}
    text, verdicts = [], []
    if "decode" not in args.skip:
        rows = []
        for minutes in args.minutes:
            src = tone_file(work / f"dec{minutes:g}.wav", minutes * 60, 44100, 2, seed=int(minutes))
            codes = work / f"dec{minutes:g}.npz"
            run([exe, "encode", str(src), str(codes), "-f", *model_args])
            src.unlink()
            streamed, whole = work / "streamed.wav", work / "whole.wav"
            s_runs, w_runs = [], []
            for _ in range(args.repeat):  # taking turns
                s_runs.append(peak_rss_mb([exe, "decode", str(codes), str(streamed), "-f", *model_args]))
                whole.unlink(missing_ok=True)
                w_runs.append(
                    peak_rss_mb([sys.executable, "-c", WHOLE_DECODE, str(codes), str(whole), args.model or ""])
                )
            s_wall, s_mb = statistics.median(w for w, _ in s_runs), max(m for _, m in s_runs)
            w_wall, w_mb = statistics.median(w for w, _ in w_runs), max(m for _, m in w_runs)
            same = streamed.read_bytes() == whole.read_bytes()
            results["decode"][f"{minutes:g}"] = {
                "streamed_s": s_wall,
                "streamed_mb": s_mb,
                "whole_s": w_wall,
                "whole_mb": w_mb,
                "same_bytes": same,
            }
            rows.append([f"{minutes:g} min", s_wall, s_mb, w_wall, w_mb, s_wall / w_wall, s_mb / w_mb, same])
        text.append(
            table(
                f"specblur decode, 44.1 kHz stereo codes (median of {args.repeat}, highest peak)",
                [
                    "codes of",
                    "streamed (s)",
                    "peak (MB)",
                    "whole array (s)",
                    "peak (MB)",
                    "time ratio",
                    "memory ratio",
                    "same bytes",
                ],
                rows,
            )
        )
        d = results["decode"]
        if len(d) > 1:
            lo, hi = d[f"{min(args.minutes):g}"], d[f"{max(args.minutes):g}"]
            verdicts.append(
                f"decode: peak at {max(args.minutes):g} min {hi['streamed_mb'] / lo['streamed_mb']:.2f}x the "
                f"{min(args.minutes):g}-min peak (whole array: {hi['whole_mb'] / lo['whole_mb']:.2f}x); "
                f"flat within 20%: {verdict(hi['streamed_mb'] <= 1.2 * lo['streamed_mb'])}"
            )
        verdicts.append(
            f"decode: the same bytes as the whole-array decode: {verdict(all(v['same_bytes'] for v in d.values()))}"
        )
    if "stdin" not in args.skip:
        rows = []
        for minutes in args.stdin_minutes:
            src = tone_file(work / f"in{minutes:g}.wav", minutes * 60, 44100, 2, seed=int(minutes))
            a, b = work / "from-file.wav", work / "from-pipe.wav"
            f_runs, p_runs = [], []
            for _ in range(args.repeat):
                f_runs.append(peak_rss_mb([exe, "blur", str(src), str(a), "-t", "10-11", "-f", *model_args]))
                cmd = f"cat {src} | {exe} blur - - -t 10-11 {' '.join(model_args)} > {b}"
                p_runs.append(peak_rss_mb(shell(cmd)))
            f_wall, f_mb = statistics.median(w for w, _ in f_runs), max(m for _, m in f_runs)
            p_wall, p_mb = statistics.median(w for w, _ in p_runs), max(m for _, m in p_runs)
            same = a.read_bytes() == b.read_bytes()
            results["stdin"][f"{minutes:g}"] = {
                "file_s": f_wall,
                "file_mb": f_mb,
                "pipe_s": p_wall,
                "pipe_mb": p_mb,
                "same_bytes": same,
                "size_mb": src.stat().st_size / 1e6,
            }
            rows.append(
                [f"{minutes:g} min ({src.stat().st_size / 1e6:,.0f} MB)", p_wall, p_mb, f_wall, f_mb, p_mb / f_mb, same]
            )
            src.unlink()
        text.append(
            table(
                "A 1 s blur of a 44.1 kHz stereo WAV read from a pipe, against the same file named",
                ["file", "pipe (s)", "pipe peak (MB)", "file (s)", "file peak (MB)", "memory ratio", "same bytes"],
                rows,
            )
        )
        s = results["stdin"]
        longest = s[f"{max(args.stdin_minutes):g}"]
        verdicts.append(
            f"stdin: peak {longest['pipe_mb']:.0f} MB for {longest['size_mb']:.0f} MB piped, "
            f"{longest['pipe_mb'] / longest['file_mb']:.2f}x the named file's: "
            f"{verdict(longest['pipe_mb'] <= 1.2 * longest['file_mb'])} (within 20%)"
        )
    if "repair" not in args.skip:
        src = tone_file(work / "take.wav", 600, 44100, 2, seed=7)
        out = work / "fixed.wav"
        rows = []
        for span in args.spans:
            runs = [
                peak_rss_mb([exe, "repair", str(src), str(out), "-t", span, "-f", *model_args])
                for _ in range(args.repeat)
            ]
            wall, mb = statistics.median(w for w, _ in runs), max(m for _, m in runs)
            results["repair"][span] = {"s": wall, "mb": mb}
            rows.append([span, wall, mb, mb / results["repair"][args.spans[0]]["mb"]])
        text.append(
            table(
                "specblur repair of a 10-minute 44.1 kHz stereo WAV (106 MB)",
                ["span (s)", "wall (s)", "peak (MB)", "peak / the first's"],
                rows,
            )
        )
        r = results["repair"]
        short = r[args.spans[0]]
        for span in args.spans[1:]:
            ratio = r[span]["mb"] / short["mb"]
            verdicts.append(
                f"repair: {span} s span peak {r[span]['mb']:.0f} MB, {ratio:.2f}x the {args.spans[0]} s span's: "
                f"{verdict(ratio <= 1.3)} (within 30%)"
            )
        src.unlink()
    if "labels" not in args.skip:
        src = tone_file(work / "take.wav", 600, 44100, 2, seed=7)
        out = work / "fixed.wav"
        drops, blurs = args.label_regions
        cases = {
            "repair": [(5.0 + 10 * k, 5.1 + 10 * k, None) for k in range(drops)],
            "blur": [(1.0 + 0.25 * k, 1.2 + 0.25 * k, (300, 3000)) for k in range(blurs)],
        }
        rows = []
        for effect, marks in cases.items():
            lines = []
            for t0, t1, band in marks:
                lines.append(f"{t0:.3f}\t{t1:.3f}\t{effect}")
                if band:
                    lines.append(f"\\\t{band[0]}\t{band[1]}")
            many, one = work / f"{effect}.labels.txt", work / f"{effect}-one.labels.txt"
            many.write_text("\n".join(lines) + "\n")
            one.write_text("\n".join(lines[: 2 if marks[0][2] else 1]) + "\n")
            measured = {}
            for name, labels in (("one", one), ("all", many)):
                runs = [
                    peak_rss_mb([exe, effect, str(src), str(out), "--labels", str(labels), "-f", *model_args])
                    for _ in range(args.repeat)
                ]
                measured[name] = (statistics.median(w for w, _ in runs), max(m for _, m in runs))
            (w1, m1), (wa, ma) = measured["one"], measured["all"]
            results["labels"][effect] = {"regions": len(marks), "one_s": w1, "one_mb": m1, "all_s": wa, "all_mb": ma}
            rows.append([effect, len(marks), wa, ma, w1, m1, ma / m1])
            verdicts.append(
                f"labels: {effect} of {len(marks)} regions peak {ma:.0f} MB, {ma / m1:.2f}x one region's: "
                f"{verdict(ma <= 1.3 * m1)} (within 30%)"
            )
        text.append(
            table(
                "--labels on a 10-minute 44.1 kHz stereo WAV: every region against the first alone",
                ["effect", "regions", "all (s)", "peak (MB)", "one (s)", "peak (MB)", "peak ratio"],
                rows,
            )
        )
        src.unlink()
    report("streams", "\n\n".join(text) + "\n\n" + "\n".join(verdicts), results, args.json)


if __name__ == "__main__":
    main()
