"""The blur, measured (issue 18): does a blur keep the region's level and coarse shape?

``python tools/evaluate_blur.py [--seeds 5] [--prior NAME] [--json docs/eval/blur.json] [--causes]``

Held-out material (never in training; installed system files, mono mix): speech (alsa-utils'
Front_Center.wav: two words and a pause), a plucked string (Sonic Pi guit_em9), piano (ambi_piano), a
choir (ambi_choir) and a dense orchestral mix (4 s of Wesnoth's battle.ogg). Each is blurred over 1 s
at 1-8 kHz and over the whole band, at the default settings of :func:`specblur.blur`, for ``--seeds``
seeds, ``before`` (the change as decoded, the input encoded at its own level: ``keep_shape`` and
``encoder_gain`` bypassed) and ``after`` (issue 18's :func:`specblur.edit.shape.encoder_gain` and
:func:`specblur.edit.shape.keep_shape`, as shipped). Measures, on the input's and the output's own STFT (46 ms
window, 75 % overlap, at the file's rate), inside the region (its time span x its band):

- ``level_db``: band level change, 10 log10 of output power over input power;
- ``envelope_db``: envelope distance, RMS dB difference of the power smoothed over 0.2 s and summed in
  third-octave bands (cells more than 90 dB under the input's loudest are floored there);
- ``quiet_db``: the level change of the envelope in the region's quietest fifth of frames (a pause
  filling up shows here);
- ``gain_db``: gain dependence, the level change of the same blur (same seed) of the input at -30 dB
  minus that at +10 dB;
- ``detail_db``: fine-detail change, RMS dB difference of the detail (each bin's dB minus its own
  envelope over 0.2 s x 1/3 octave), same floor; what a blur should change.

Each is the median over seeds. ``--causes`` also prints where the level goes wrong: the encoder's input
level, the decoder's bias on this material (decode(encode(x)) - x) and the change's coarse mean.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import specblur  # noqa: E402
from specblur.edit import segment  # noqa: E402
from specblur.edit.effects import EFFECTS  # noqa: E402
from specblur.edit.plan import plan  # noqa: E402
from specblur.runtime import dsp  # noqa: E402
from specblur.runtime.loader import load_model  # noqa: E402
from specblur.runtime.model import Codes  # noqa: E402

BLUR = type(EFFECTS["blur"])

MATERIALS = {
    # name: (path, excerpt start s, excerpt length s or None, region start s)
    "speech": ("/usr/share/sounds/alsa/Front_Center.wav", 0.0, None, 0.2),
    "plucked string": ("/usr/share/sonic-pi/samples/guit_em9.flac", 0.0, 4.0, 1.0),
    "piano": ("/usr/share/sonic-pi/samples/ambi_piano.flac", 0.0, None, 0.8),
    "choir": ("/usr/share/sonic-pi/samples/ambi_choir.flac", 0.0, None, 0.3),
    "dense mix": ("/usr/share/games/wesnoth/1.16/data/core/music/battle.ogg", 30.0, 4.0, 1.5),
}
BANDS = {"1-8 kHz": (1000.0, 8000.0), "whole band": (None, None)}
GAINS_DB = (-30.0, 10.0)
FLOOR_DB = 90.0


def load(name: str) -> tuple[np.ndarray, int, tuple[float, float]]:
    path, start, length, region = MATERIALS[name]
    info = sf.info(path)
    a = int(start * info.samplerate)
    b = -1 if length is None else a + int(length * info.samplerate)
    x, rate = sf.read(path, start=a, stop=b, dtype="float64", always_2d=True)
    return x.mean(axis=1), rate, (region, region + 1.0)


def power_spec(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_fft = 2 * round(0.0464 * rate / 2)
    hop = n_fft // 4
    p = np.abs(dsp.stft(x, n_fft, hop, dsp.window("hann", n_fft, np.float64))) ** 2
    return p, np.arange(n_fft // 2 + 1) * rate / n_fft, np.arange(p.shape[1]) * hop / rate


def smooth_time(p: np.ndarray, frame_s: float, seconds: float = 0.2) -> np.ndarray:
    k = max(1, int(round(seconds / frame_s)))
    kernel = np.ones(k) / k
    return np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, p)


def third_octaves(lo: float, hi: float) -> list[tuple[float, float]]:
    edges = [lo]
    while edges[-1] * 2 ** (1 / 3) < hi * 1.01:
        edges.append(min(edges[-1] * 2 ** (1 / 3), hi))
    if edges[-1] < hi:
        edges.append(hi)
    return list(zip(edges[:-1], edges[1:], strict=False))


def measures(x: np.ndarray, y: np.ndarray, rate: int, span: tuple[float, float], band: tuple) -> dict[str, float]:
    lo = band[0] or 50.0
    hi = band[1] or rate / 2
    px, f, t = power_spec(x, rate)
    py, _, _ = power_spec(y, rate)
    frame_s = t[1] - t[0]
    cols = (t >= span[0]) & (t <= span[1])
    rows = (f >= lo) & (f <= hi)
    level = 10 * np.log10(py[np.ix_(rows, cols)].sum() / max(px[np.ix_(rows, cols)].sum(), 1e-30))
    # envelope: third-octave band powers smoothed over 0.2 s
    bands = third_octaves(lo, hi)
    ex = np.stack([px[(f >= a) & (f < b)].sum(axis=0) for a, b in bands])
    ey = np.stack([py[(f >= a) & (f < b)].sum(axis=0) for a, b in bands])
    ex, ey = smooth_time(ex, frame_s), smooth_time(ey, frame_s)
    floor = 10 * np.log10(ex.max() + 1e-30) - FLOOR_DB
    dx = np.maximum(10 * np.log10(ex + 1e-30), floor)[:, cols]
    dy = np.maximum(10 * np.log10(ey + 1e-30), floor)[:, cols]
    envelope = float(np.sqrt(np.mean((dy - dx) ** 2)))
    total_x, total_y = ex[:, cols].sum(axis=0), ey[:, cols].sum(axis=0)
    quiet = np.argsort(total_x)[: max(1, len(total_x) // 5)]
    quiet_db = 10 * np.log10(total_y[quiet].sum() / max(total_x[quiet].sum(), 1e-30))
    # detail: each bin's dB minus its envelope over 0.2 s x 1/3 octave
    sub = np.nonzero(rows)[0]
    octave = np.log2(np.maximum(f[sub], 20.0))
    m = (np.abs(octave[:, None] - octave[None, :]) <= 1 / 6).astype(np.float64)
    m /= m.sum(axis=1, keepdims=True)

    def detail(p: np.ndarray) -> np.ndarray:
        q = p[sub]
        env = smooth_time(m @ q, frame_s)
        pfloor = 10 * np.log10(px[sub].max() + 1e-30) - FLOOR_DB
        return (np.maximum(10 * np.log10(q + 1e-30), pfloor) - np.maximum(10 * np.log10(env + 1e-30), pfloor))[:, cols]

    fine = float(np.sqrt(np.mean((detail(py) - detail(px)) ** 2)))
    return {"level_db": float(level), "envelope_db": envelope, "quiet_db": float(quiet_db), "detail_db": fine}


TEMPERATURE = 1.0


def run(loaded, x, rate, span, band, seed, prior, shaped: bool) -> np.ndarray:
    """The blur, ``shaped`` (issue 18's keep_shape, as shipped) or as before (the change as decoded)."""
    saved = BLUR.shaped, BLUR.input_gain
    if not shaped:  # the blur effect's two hooks (keep_shape, encoder_gain) bypassed
        BLUR.shaped = lambda self, change, *a, **k: change
        BLUR.input_gain = lambda self, *a, **k: 1.0
    try:
        return specblur.blur(x, rate, span, band, model=loaded, seed=seed, prior=prior, temperature=TEMPERATURE)
    finally:
        BLUR.shaped, BLUR.input_gain = saved


def table(loaded, seeds: int, prior: str | None, names: list[str], versions: list[str], bands: list[str]) -> dict:
    results: dict = {}
    for name in names:
        x, rate, span = load(name)
        x = x / np.max(np.abs(x)) * 10 ** (-12 / 20)  # peak at -12 dBFS, so +10 dB stays under full scale
        for band_name in bands:
            band = BANDS[band_name]
            for version in versions:
                rows = []
                for seed in range(seeds):
                    y = run(loaded, x, rate, span, band, seed, prior, version == "after")
                    row = measures(x, y, rate, span, band)
                    levels = []
                    for g in GAINS_DB:
                        s = 10 ** (g / 20)
                        yg = run(loaded, x * s, rate, span, band, seed, prior, version == "after")
                        levels.append(measures(x * s, yg, rate, span, band)["level_db"])
                    row["gain_db"] = levels[0] - levels[1]
                    rows.append(row)
                med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
                med["gain_abs_db"] = float(np.median([abs(r["gain_db"]) for r in rows]))
                results.setdefault(name, {}).setdefault(band_name, {})[version] = med
                print(
                    f"{name:15s} {band_name:10s} {version:6s} level {med['level_db']:+6.2f}"
                    f"  envelope {med['envelope_db']:5.2f}  quiet {med['quiet_db']:+6.2f}"
                    f"  gain {med['gain_db']:+6.2f}  detail {med['detail_db']:5.2f}",
                    flush=True,
                )
    return results


def causes(loaded, prior: str | None) -> dict:
    """Per material and input gain: the encoder's input level in the region (dB, and in the model's
    normalised units), the decoder's bias there (decode(encode(x)) - x, dB), decode(new) - x, and the
    change's brush-weighted mean (dB) over the region, median of 3 seeds. As before issue 18's fix:
    the input encoded at its own level (``encoder_gain`` bypassed)."""
    BLUR.input_gain = lambda self, *a, **k: 1.0
    model = loaded.model
    cfg = model.config.spectrogram
    out: dict = {}
    for name in MATERIALS:
        x, rate, span = load(name)
        x = x / np.max(np.abs(x)) * 10 ** (-12 / 20)
        for g in (-30.0, 0.0, 10.0):
            rows = []
            for seed in range(3):
                res = segment.blur(
                    loaded,
                    x[:, None] * 10 ** (g / 20),
                    rate,
                    span,
                    (1000.0, 8000.0),
                    seed=seed,
                    keep_views=True,
                    prior=prior,
                )
                view = res.views[0]
                image = view["before"]
                region = res.regions[-1]
                f0 = region.frames[0] - int(round(view["t0"] * cfg.sample_rate / cfg.hop_length))
                f1 = f0 + region.frames[1] - region.frames[0]
                sl = (slice(*region.bins), slice(max(f0, 0), f1))
                n = image.shape[-1]
                dec = model.decode(
                    Codes(
                        top=np.concatenate([view["codes_before"].top, view["codes_after"].top]),
                        bottom=np.concatenate([view["codes_before"].bottom, view["codes_after"].bottom]),
                    ),
                    n,
                )[:, 0]
                old, new = dec[0] * cfg.norm_std_db, dec[1] * cfg.norm_std_db
                xi = image * cfg.norm_std_db
                rows.append(
                    {
                        "input_db": float(np.mean(model.spectrogram.to_db(image)[sl])),
                        "input_norm": float(np.mean(image[sl])),
                        "bias_old_db": float(np.mean((old - xi)[sl])),
                        "bias_new_db": float(np.mean((new - xi)[sl])),
                        "change_mean_db": float(np.mean((new - old)[sl])),
                    }
                )
            med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
            out.setdefault(name, {})[f"{g:+.0f} dB"] = med
            print(
                f"{name:15s} gain {g:+5.0f}  input {med['input_db']:7.1f} dB ({med['input_norm']:+5.2f})  "
                f"decode(old)-x {med['bias_old_db']:+6.2f}  decode(new)-x {med['bias_new_db']:+6.2f}  "
                f"change mean {med['change_mean_db']:+6.2f}",
                flush=True,
            )
    return out


def spill(loaded, seeds: int, prior: str | None) -> dict:
    """Issue 18's edge case: ``-F 10k-16k`` over 1.5-2.5 s of the dense mix (44.1 kHz), before and
    after. Per frequency range, the level change (dB) over the feather's time span: within the snapped
    band, in the feather above it, and beyond the stated extent (:func:`band_extent`), where nothing may
    change (per STFT bin, the largest |change|)."""
    from specblur.edit.shape import band_extent

    x, rate, _ = load("dense mix")
    x = x / np.max(np.abs(x)) * 10 ** (-12 / 20)
    span, band = (1.5, 2.5), (10000.0, 16000.0)
    where = plan(loaded, len(x), rate, span, band)
    ext = band_extent(loaded.model.config.spectrogram, where.regions[-1], where.sigma, rate, len(x) / rate)
    px, f, t = power_spec(x, rate)
    cols = (t >= ext.feather_start) & (t <= ext.feather_end)
    ranges = {
        "snapped band": (ext.low, ext.high),
        f"{ext.high / 1000:.1f}-17.6 kHz": (ext.high, 17600.0),
        "17.6-20 kHz": (17600.0, 20000.0),
        "20-22 kHz": (20000.0, 22050.0),
    }
    out: dict = {"extent": ext.describe()}
    for version in ("before", "after"):
        rows = []
        for seed in range(seeds):
            py, _, _ = power_spec(run(loaded, x, rate, span, band, seed, prior, version == "after"), rate)
            row = {}
            for name, (a, b) in ranges.items():
                r = (f >= a) & (f < b)
                row[name] = float(10 * np.log10(py[np.ix_(r, cols)].sum() / px[np.ix_(r, cols)].sum()))
            per_bin = 10 * np.log10((py[:, cols].sum(1) + 1e-30) / (px[:, cols].sum(1) + 1e-30))
            beyond = (f < ext.feather_low) | (f > ext.feather_high)
            row["beyond extent, max per bin"] = float(np.abs(per_bin[beyond]).max()) if beyond.any() else 0.0
            rows.append(row)
        out[version] = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        print(f"spill {version}: " + ", ".join(f"{k} {v:+.2f} dB" for k, v in out[version].items()), flush=True)
    print(f"spill: {ext.describe()}")
    return out


def markdown(report: dict) -> str:
    """The table as Markdown: per material and band, before and after."""
    lines = [
        f"Blur, default settings (`specblur.blur`, -T {report.get('temperature', 1.0):g}), model `{report['model']}` "
        f"({report['model_hash']}), prior {report['prior']}, median of {report['seeds']} seeds, {report['date']}.",
        "",
        "| material | band | version | level change (dB) | envelope distance (dB) | quietest fifth (dB) "
        "| gain dependence (dB) | fine-detail change (dB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, bands in report["table"].items():
        for band, versions in bands.items():
            for version, m in versions.items():
                lines.append(
                    f"| {name} | {band} | {version} | {m['level_db']:+.2f} | {m['envelope_db']:.2f} | "
                    f"{m['quiet_db']:+.2f} | {m['gain_db']:+.2f} | {m['detail_db']:.2f} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--prior", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--temperature", type=float, default=1.0, help="-T of every blur (default 1)")
    ap.add_argument("--json", default="docs/eval/blur.json")
    ap.add_argument("--materials", nargs="*", default=list(MATERIALS), choices=list(MATERIALS))
    ap.add_argument("--versions", nargs="*", default=["before", "after"], choices=["before", "after"])
    ap.add_argument("--bands", nargs="*", default=list(BANDS), choices=list(BANDS))
    ap.add_argument("--spill", action="store_true", help="measure a 10k-16k band edit's spill (no table)")
    ap.add_argument("--causes", action="store_true", help="measure where the level goes wrong (no table)")
    args = ap.parse_args()
    global TEMPERATURE
    TEMPERATURE = args.temperature
    loaded = load_model(args.model)
    started = time.time()
    report = {
        "date": datetime.date.today().isoformat(),
        "model": loaded.name,
        "model_hash": loaded.hash[:12],
        "prior": args.prior or loaded.default_prior,
        "seeds": args.seeds,
        "temperature": args.temperature,
    }
    if args.spill:
        report["spill"] = spill(loaded, args.seeds, args.prior)
    elif args.causes:
        report["causes"] = causes(loaded, args.prior)
    else:
        report["table"] = table(loaded, args.seeds, args.prior, args.materials, args.versions, args.bands)
    report["seconds"] = round(time.time() - started, 1)
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.is_file() else {}
        key = (
            "causes"
            if args.causes
            else f"table:{report['prior']}" + (f"@T{args.temperature:g}" if args.temperature != 1 else "")
        )
        old[key] = report
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(old, indent=1) + "\n")
        if "table" in report:
            path.with_name(f"blur-{key.split(':', 1)[1]}.md").write_text(markdown(report))


if __name__ == "__main__":
    main()
