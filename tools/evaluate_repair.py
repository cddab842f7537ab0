"""Repair, measured: damaged held-out recordings restored by each method, scored against the originals.

``python tools/evaluate_repair.py [--cache FILE] [--json docs/eval/repair.json] [--redo METHOD...]
[--only KIND...] [--methods M...] [--no-visqol]``

The damaged set is built deterministically from held-out real recordings (never used in training):
sonic-pi samples (choir, piano, guitar, drum loop), Battle for Wesnoth music (dense orchestral
mixes) and spoken voice (librivox). Each source gives a mono excerpt of at most 4 s (mean
of the channels; the choir and piano samples are shorter, 1.6 and 2.8 s, and used whole), resampled
to 48 kHz; the hole is centred on the loudest 50 ms in the middle quarter of the excerpt (1 s
dropouts only where the excerpt is at least 2.5 s).
Kinds of damage (:data:`DAMAGE`): dropouts (digital silence) of 32, 100, 300 and 1000 ms; clicks
(three 1 ms impulses at twice the excerpt's peak in a 16 ms region); a 200 ms burst of 1-4 kHz noise
10 dB above the recording's level in that band (repaired with that band given).

Methods: ``original`` (the undamaged excerpt: ViSQOL's ceiling for the case, its LSD 0), ``damaged``
(the damaged file itself), the functions of :mod:`specblur.edit.restore`
called directly (``interpolate``: the spectral editor's replace, the baseline; ``envelope``; ``ar``,
up to 300 ms; ``auto``), and the model's repair as it is today, through the CLI
(``specblur repair ... --prior naive-bayes|transformer``).

Scores, inside the hole (frames whose centre lies in it; for band noise only the mel bands inside
1-4 kHz), against the undamaged excerpt, on a 1024-point STFT (hop 256) at 48 kHz, 64 mel bands
40 Hz-20 kHz, dB floored 80 dB under the excerpt's loudest cell:

- ``lsd``: mel log-spectral distance (RMS dB over bands, mean over frames);
- ``level``: the hole's level error per band (8 groups of 8 mel bands, mean power over the hole),
  ``level_abs`` the mean |error| over bands, ``level_max`` the largest |error| (bands above floor);
- ``visqol``: ViSQOL v3 MOS-LQO, audio mode, on the 2 s around the hole's centre (48 kHz);
- ``ms``: the method's time in process (for the CLI: the whole command, model load included).

Results are cached per (case, method) in ``--cache`` (resumable; ``--redo`` drops methods).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specblur.edit import restore as R  # noqa: E402
from specblur.runtime import dsp  # noqa: E402

RATE = 48000
SONIC = "/usr/share/sonic-pi/samples"
WESNOTH = "/usr/share/games/wesnoth/1.16/data/core/music"
LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
# (name, path, excerpt start in s)
SOURCES = [
    ("choir", f"{SONIC}/ambi_choir.flac", 0.0),
    ("piano", f"{SONIC}/ambi_piano.flac", 0.0),
    ("guitar", f"{SONIC}/guit_em9.flac", 0.0),
    ("drums", f"{SONIC}/loop_amen_full.flac", 0.0),
    ("orchestra", f"{WESNOTH}/battle.ogg", 30.0),
    ("orchestra2", f"{WESNOTH}/elvish-theme.ogg", 40.0),
    ("speech", f"{LIBRIVOX}/sense_and_sensibility_01_austen_64kb-0870.wav", 0.0),
    ("speech2", f"{LIBRIVOX}/sense_and_sensibility_01_austen_64kb-0890.wav", 0.0),
]
DAMAGE = ["dropout32", "dropout100", "dropout300", "dropout1000", "clicks", "noise"]
NOISE_BAND = (1000.0, 4000.0)
METHODS = [
    "original",
    "damaged",
    "interpolate",
    "envelope",
    "ar",
    "hybrid",
    "declick",
    "match",
    "auto",
    "texture-nb",
    "texture-tf",
    "model-nb",
    "model-tf",
]
PRIORS = {"nb": "naive-bayes", "tf": "transformer"}
PLACEMENTS = ["loudest", "random"]
VISQOL_FOR = ["original", "damaged", "interpolate", "envelope", "hybrid", "declick", "auto", "texture-tf"]
"""ViSQOL costs 5-9 s a call on the shared machine: it is run for the methods the targets and the
auto rule compare (``auto``'s row is its chosen method's, copied: the same call, the same seed)."""
N_FFT, HOP, N_MELS = 1024, 256, 64


def excerpt(path: str, start: float) -> np.ndarray:
    x, rate = sf.read(path, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    x = x[int(start * rate) :]
    x = np.asarray(dsp.resample(x, rate, RATE), dtype=np.float64)
    return x[: 4 * RATE]  # short samples (choir 1.6 s, piano 2.8 s) whole


def hole_centre(x: np.ndarray, placement: str = "loudest", seed: int = 0) -> int:
    """``loudest``: the centre of the loudest 50 ms in the middle quarter of ``x``; ``random``: a
    seeded uniform draw in the middle half (the hole and 0.6 s of context on each side inside)."""
    if placement == "random":
        lo, hi = int(0.25 * len(x)), int(0.75 * len(x))
        return int(np.random.default_rng(50000 + seed).integers(lo, hi))
    k = int(0.05 * RATE)
    env = np.convolve(x**2, np.ones(k) / k, mode="same")
    lo, hi = int(0.375 * len(x)), int(0.625 * len(x))
    return lo + int(np.argmax(env[lo:hi]))


def band_noise(n: int, band: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    hz = np.fft.rfftfreq(n, 1 / RATE)
    spec[(hz < band[0]) | (hz > band[1])] = 0
    y = np.fft.irfft(spec, n)
    ramp = int(0.005 * RATE)
    edge = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
    y[:ramp] *= edge
    y[-ramp:] *= edge[::-1]
    return y / max(np.sqrt(np.mean(y**2)), 1e-12)


def band_rms(x: np.ndarray, band: tuple[float, float]) -> float:
    spec = np.fft.rfft(x)
    hz = np.fft.rfftfreq(len(x), 1 / RATE)
    spec[(hz < band[0]) | (hz > band[1])] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spec, len(x)) ** 2)))


def damage(
    x: np.ndarray, kind: str, seed: int, placement: str = "loudest"
) -> tuple[np.ndarray, tuple[int, int], tuple | None]:
    """The damaged excerpt, the hole (samples) and the band (None: whole band)."""
    rng = np.random.default_rng(seed)
    c = hole_centre(x, placement, seed)
    y = x.copy()
    if kind.startswith("dropout"):
        half = int(int(kind[7:]) / 2000 * RATE)
        h = (c - half, c + half)
        y[h[0] : h[1]] = 0.0
        return y, h, None
    if kind == "clicks":
        h = (c - int(0.008 * RATE), c + int(0.008 * RATE))
        peak = np.abs(x).max()
        decay = np.exp(-np.arange(int(0.001 * RATE)) / (0.0002 * RATE))
        for pos in (h[0] + int(0.002 * RATE), c, h[1] - int(0.003 * RATE)):
            y[pos : pos + len(decay)] += 2.0 * peak * rng.choice([-1.0, 1.0]) * decay
        return y, h, None
    if kind == "noise":
        half = int(0.1 * RATE)
        h = (c - half, c + half)
        level = max(band_rms(x[h[0] : h[1]], NOISE_BAND), 1e-5)
        y[h[0] : h[1]] += 10 ** (10 / 20) * level * band_noise(h[1] - h[0], NOISE_BAND, rng)
        return y, h, NOISE_BAND
    raise ValueError(kind)


# -- scores -------------------------------------------------------------------------------------------

_FB = dsp.mel_filterbank(N_FFT // 2 + 1, 40.0, 20000.0, N_MELS, RATE).astype(np.float64)
_CENTRES = np.fft.rfftfreq(N_FFT, 1 / RATE)[np.argmax(_FB, axis=0)]  # each mel band's peak


def mel_db(x: np.ndarray) -> np.ndarray:
    spec = dsp.stft(x, N_FFT, HOP, dsp.window("hann", N_FFT, np.float64))
    return 10 * np.log10((np.abs(spec) ** 2).T @ _FB + 1e-20).T  # (bands, frames)


def scores(ref: np.ndarray, out: np.ndarray, hole: tuple[int, int], band) -> dict:
    r, o = mel_db(ref), mel_db(out)
    floor = r.max() - 80.0
    r, o = np.maximum(r, floor), np.maximum(o, floor)
    centres = np.arange(r.shape[1]) * HOP
    frames = np.nonzero((centres >= hole[0]) & (centres < hole[1]))[0]
    if not len(frames):
        frames = np.array([int(round((hole[0] + hole[1]) / 2 / HOP))])
    rows = np.ones(N_MELS, dtype=bool) if band is None else (_CENTRES >= band[0]) & (_CENTRES <= band[1])
    d = o[np.ix_(rows, frames)] - r[np.ix_(rows, frames)]
    lsd = float(np.mean(np.sqrt(np.mean(d**2, axis=0))))
    rp = 10 ** (r[:, frames] / 10)
    op = 10 ** (o[:, frames] / 10)
    groups = [g for g in np.array_split(np.arange(N_MELS), 8) if rows[g].all()]
    if not groups:
        groups = [np.nonzero(rows)[0]]
    errs = []
    for g in groups:
        ref_level = 10 * np.log10(rp[g].mean())
        if ref_level <= floor + 10:
            continue
        errs.append(10 * np.log10(op[g].mean()) - ref_level)
    return {
        "lsd": lsd,
        "level": [float(e) for e in errs],
        "level_abs": float(np.mean(np.abs(errs))) if errs else 0.0,
        "level_max": float(np.max(np.abs(errs))) if errs else 0.0,
    }


_VISQOL = None


def visqol(ref: np.ndarray, out: np.ndarray, hole: tuple[int, int]) -> float:
    global _VISQOL
    if _VISQOL is None:
        from visqol import VisqolApi

        _VISQOL = VisqolApi()
        _VISQOL.create(mode="audio")
    c = (hole[0] + hole[1]) // 2
    a = max(0, min(c - RATE, len(ref) - 2 * RATE))
    return float(_VISQOL.measure_from_arrays(ref[a : a + 2 * RATE], out[a : a + 2 * RATE], RATE).moslqo)


# -- methods ------------------------------------------------------------------------------------------


def run_method(method: str, damaged: np.ndarray, hole: tuple[int, int], band, model) -> tuple[np.ndarray, float]:
    """``method`` through the library as ``specblur repair`` runs it (``specblur.repair``, the model
    loaded once; ``texture-nb``/``model-tf``: the method with the naive-Bayes/transformer prior)."""
    import specblur

    if method == "damaged":
        return damaged, 0.0
    name, _, prior = method.partition("-")
    seconds = (hole[0] / RATE, hole[1] / RATE)
    t0 = time.perf_counter()
    y = specblur.repair(damaged, RATE, seconds, band, model=model, method=name, prior=PRIORS.get(prior))
    return np.asarray(y, dtype=np.float64), 1000 * (time.perf_counter() - t0)


def record_cases(
    kinds: list[str], placements: list[str] = PLACEMENTS, names: list[str] | None = None
) -> Iterator[tuple[str, str, np.ndarray, str, np.ndarray, tuple[int, int], tuple | None]]:
    """The evaluation's cases: (placement, source name, undamaged excerpt, kind, damaged excerpt,
    hole in samples, band), sources missing on this machine skipped (said on stderr), the 1 s
    dropout only where the excerpt is at least 2.5 s."""
    for placement in placements:
        for si, (name, path, start) in enumerate(SOURCES):
            if names and name not in names:
                continue
            if not os.path.exists(path):
                print(f"skip {name}: {path} missing", file=sys.stderr)
                continue
            x = excerpt(path, start)
            for kind in kinds:
                if kind == "dropout1000" and len(x) < 2.5 * RATE:
                    continue
                damaged, hole, band = damage(x, kind, 1000 * si + DAMAGE.index(kind), placement)
                yield placement, name, x, kind, damaged, hole, band


def add_set_argument(p: argparse.ArgumentParser, note: str) -> None:
    """``--set NAME=VALUE ...``: a variant, constants of :mod:`specblur.edit.restore` set (see :func:`apply_sets`)."""
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help=f"a variant: constants of specblur.edit.restore set (e.g. TEXTURE_DEPTH=0.5, LIFT=1); {note}",
    )


def apply_sets(items: list[str]) -> None:
    """Set each ``NAME=VALUE`` constant of :mod:`specblur.edit.restore`, in the type it has (a flag: 1 or true)."""
    for item in items:
        key, _, value = item.partition("=")
        old = getattr(R, key)
        setattr(R, key, value.lower() in ("1", "true") if isinstance(old, bool) else type(old)(float(value)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "specblur" / "evaluate_repair_lib.json")
    p.add_argument("--json", type=Path, default=Path("docs/eval/repair.json"))
    p.add_argument("--redo", nargs="*", default=[])
    p.add_argument("--only", nargs="*", default=None, help="damage kinds")
    p.add_argument("--methods", nargs="*", default=METHODS)
    p.add_argument("--placements", nargs="*", default=PLACEMENTS)
    p.add_argument("--sources", nargs="*", default=None, help="source names (default: all)")
    add_set_argument(p, "give it a --tag")
    p.add_argument("--tag", default="", help="appended to the method names of a variant's rows")
    p.add_argument("--no-visqol", action="store_true")
    p.add_argument("--visqol-methods", nargs="*", default=VISQOL_FOR)
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args()
    apply_sets(args.set)
    import specblur

    model = specblur.load_model()
    cache: dict = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    for key in list(cache):
        if key.split("|")[-1] in args.redo:
            del cache[key]
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    kinds = args.only or DAMAGE
    for placement, name, x, kind, damaged, hole, band in record_cases(kinds, args.placements, args.sources):
        for method in args.methods:
            if method == "ar" and hole[1] - hole[0] > 0.35 * RATE:
                continue
            tagged = method + args.tag if method not in ("original", "damaged") else method
            key = f"{placement}|{name}|{kind}|{tagged}"
            want_visqol = not args.no_visqol and method in args.visqol_methods
            if key in cache and ("visqol" in cache[key] or not want_visqol):
                continue
            chose = None
            if method == "auto":
                from specblur.edit.effects import repair

                chose = repair.choose((hole[1] - hole[0]) / RATE, band)
                if chose == "auto":  # (settled on the audio: the library's search sees the excerpt)
                    seconds = (hole[1] - hole[0]) / RATE
                    found = R.find_match(damaged[:, None], RATE, hole[0], hole[1])
                    if seconds <= R.MATCH_MIN_SECONDS:
                        found = None
                    clicks = None
                    if band is None and seconds <= R.DECLICK_MAX_SECONDS:
                        clicks = R.find_clicks(damaged[:, None], RATE, hole[0], hole[1])
                    chose = R.choose_method(seconds, band, match=found, clicks=clicks)
                same = cache.get(f"{placement}|{name}|{kind}|{chose}{args.tag}")
                if same is not None and ("visqol" in same or not want_visqol):
                    cache[key] = {**same, "chose": chose}
                    args.cache.write_text(json.dumps(cache))
                    continue
            y, ms = (x, 0.0) if method == "original" else run_method(method, damaged, hole, band, model)
            row = scores(x, y, hole, band)
            row["ms"] = ms
            row["hole"] = [int(hole[0]), int(hole[1])]
            if chose:
                row["chose"] = chose
            if want_visqol:
                row["visqol"] = visqol(x, y, hole)
            cache[key] = row
            args.cache.write_text(json.dumps(cache))
            print(
                f"{key}: lsd {row['lsd']:.2f} level {row['level_abs']:.2f}/{row['level_max']:.2f} "
                f"visqol {row.get('visqol', float('nan')):.2f} {ms:.0f} ms",
                flush=True,
            )
    if not args.no_report:
        report(cache, kinds, args.json)


def report(cache: dict, kinds: list[str], out: Path) -> None:
    """The table per placement, damage and method (every method in the cache), and the JSON."""
    table: dict = {}
    for key in cache:
        placement, _, kind, method = key.split("|")
        if kind not in kinds:
            continue
        group = table.setdefault(placement, {}).setdefault(kind, {})
        group.setdefault(method, []).append(cache[key])
    summary: dict = {}
    lines = [
        "| placement | damage | method | n | mel LSD dB | mean abs level error dB | signed level error dB | "
        "max abs level error dB | ViSQOL | ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = {m: i for i, m in enumerate(METHODS)}
    for placement in sorted(table):
        for kind in kinds:
            rows_by = table[placement].get(kind, {})
            for method in sorted(rows_by, key=lambda m: (order.get(m, 99), m)):
                rows = rows_by[method]
                signed = [e for r in rows for e in r["level"]]
                entry = {
                    "n": len(rows),
                    "lsd": float(np.mean([r["lsd"] for r in rows])),
                    "level_abs": float(np.mean([r["level_abs"] for r in rows])),
                    "level_signed": float(np.mean(signed)) if signed else 0.0,
                    "level_max": float(np.max([r["level_max"] for r in rows])),
                    "ms": float(np.median([r["ms"] for r in rows])),
                }
                vis = [r["visqol"] for r in rows if "visqol" in r]
                if vis and len(vis) == len(rows):  # (a mean over some of the cases would mislead)
                    entry["visqol"] = float(np.mean(vis))
                summary.setdefault(placement, {}).setdefault(kind, {})[method] = entry
                e = entry
                lines.append(
                    f"| {placement} | {kind} | {method} | {e['n']} | {e['lsd']:.2f} | {e['level_abs']:.2f} | "
                    f"{e['level_signed']:+.2f} | {e['level_max']:.1f} | {e.get('visqol', float('nan')):.2f} | "
                    f"{e['ms']:.0f} |"
                )
    print("\n".join(lines))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"table": summary, "cases": cache}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
