"""Which phase `specblur repair` should give the region it refills, measured on damaged recordings.

``python tools/evaluate_repair_phase.py DIR... [--holes 64 128 256] [--limit N] [--json OUT]``

For every file (mono mix of its loudest 6 s; a folder holding an NSynth-style ``examples.json``
contributes only its held-out ``valid`` notes), a hole is placed at the loudest point, 300-3000 Hz,
and damaged with a noise burst limited to that band, 6 dB above the recording's level there (the
kind of thing a user repairs: a cough, a bump, a passing car). ``specblur repair`` then refills the
hole with the model's default prior, once per phase option (the codes drawn are the same for every
option: same seed), and the result is compared with the recording before the damage:

- ``lsd_db``: log-spectral distance (RMS dB) inside the hole, on a 2048-point STFT at the file's rate,
  dB floored 60 dB below the file's loudest bin (the refill is not expected to equal the original;
  lower is closer to what was there);
- ``burst_db``: the hole's energy above the undamaged recording's, in dB (0: the burst's excess is
  gone; the damaged file scores about +7; below 0: the refill is quieter than what was there, e.g.
  where a phase that does not fit the magnitudes cancels itself in the overlap-add).

Options: the input's phase (what the damaged input has there, i.e. the burst's), Griffin-Lim from
it (8 and 32 iterations), the phase extrapolated from before the hole (phase vocoder), with and
without 8 Griffin-Lim iterations, and Griffin-Lim from a random phase (32). Runtime only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluate_fill import files_in  # noqa: E402  (tools/ is on the path: this runs as a script)

import specblur
from specblur.edit import segment
from specblur.runtime import dsp  # noqa: E402

OPTIONS = {
    "input": ("input", 0),
    "input+gl8": ("input", 8),
    "input+gl32": ("input", 32),
    "extrapolate": ("extrapolate", 0),
    "extrapolate+gl8": ("extrapolate", 8),
    "random+gl32": ("random", 32),
}
BAND = (300.0, 3000.0)
N_FFT = 2048
FLOOR_DB = 60.0


def power_db(x: np.ndarray) -> np.ndarray:
    spec = dsp.stft(np.asarray(x, dtype=np.float64), N_FFT, N_FFT // 4, dsp.window("hann", N_FFT, np.float64))
    return 10 * np.log10(np.abs(spec) ** 2 + 1e-10)


def burst(n: int, rate: int, band: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise of ``n`` samples with 5 ms raised-cosine ends, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    hz = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(hz < band[0]) | (hz > band[1])] = 0
    noise = np.fft.irfft(spectrum, n)
    ramp = min(n // 2, int(0.005 * rate))
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
        noise[:ramp] *= edge
        noise[-ramp:] *= edge[::-1]
    return noise / max(np.sqrt(np.mean(noise**2)), 1e-12)


def band_level(x: np.ndarray, rate: int, band: tuple[float, float]) -> float:
    spectrum = np.fft.rfft(x)
    hz = np.fft.rfftfreq(len(x), 1 / rate)
    spectrum[(hz < band[0]) | (hz > band[1])] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spectrum, len(x)) ** 2)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--holes", type=float, nargs="+", default=[64, 128, 256])
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--model", default=None)
    p.add_argument("--prior", default=None)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    loaded = specblur.load_model(args.model)
    rng = np.random.default_rng(0)
    results: dict[str, dict] = {}
    started = time.perf_counter()
    for folder in args.folders:
        rows: dict[str, dict[str, list[float]]] = {}
        for path in files_in(folder, args.limit):
            x, rate = sf.read(path, dtype="float64", always_2d=True)
            x = x.mean(axis=1)
            if len(x) < rate:
                continue
            # the loudest 6 s, and the loudest 50 ms window in it (the hole's centre)
            env = np.convolve(x**2, np.ones(int(0.05 * rate)) / int(0.05 * rate), mode="same")
            centre = int(np.argmax(env))
            a = max(0, min(centre - 3 * rate, len(x) - 6 * rate))
            clean = x[a : a + 6 * rate]
            centre -= a
            for ms in args.holes:
                half = int(ms / 2000 * rate)
                t0, t1 = max(0, centre - half), min(len(clean), centre + half)
                if t0 < int(0.3 * rate) or len(clean) - t1 < int(0.3 * rate):
                    shift = int(0.3 * rate) - t0 if t0 < int(0.3 * rate) else len(clean) - t1 - int(0.3 * rate)
                    t0, t1 = t0 + shift, t1 + shift
                level = band_level(clean[t0:t1], rate, BAND)
                if level < 1e-4:
                    continue
                damaged = clean.copy()
                damaged[t0:t1] += 2.0 * level * burst(t1 - t0, rate, BAND, rng)
                span = (t0 / rate, t1 / rate)
                ref_db = power_db(clean)
                floor = ref_db.max() - FLOOR_DB  # quiet and loud files count alike; silence does not dominate
                ref_db, dmg_db = np.maximum(ref_db, floor), np.maximum(power_db(damaged), floor)
                hop = N_FFT // 4
                hz = np.arange(N_FFT // 2 + 1) * rate / N_FFT
                bins = (hz >= BAND[0]) & (hz <= BAND[1])
                # frames whose centre lies inside the hole
                centres = np.arange(ref_db.shape[1]) * hop
                frames = (centres >= t0) & (centres < t1)
                if not frames.any():
                    continue
                cell = np.ix_(bins, frames)

                def energy(db: np.ndarray, cell=cell) -> float:
                    return float(10 * np.log10(np.mean(10 ** (db[cell] / 10))))

                row = rows.setdefault(f"{ms:g}", {})
                row.setdefault("damaged:lsd_db", []).append(float(np.sqrt(np.mean((dmg_db - ref_db)[cell] ** 2))))
                row.setdefault("damaged:burst_db", []).append(energy(dmg_db) - energy(ref_db))
                for name, (start, iters) in OPTIONS.items():
                    out = segment.blur(
                        loaded,
                        damaged,
                        rate,
                        span,
                        BAND,
                        effect="repair",
                        prior=args.prior,
                        phase_iters=iters,
                        phase_start=start,
                    ).samples
                    out_db = np.maximum(power_db(out), floor)
                    row.setdefault(f"{name}:lsd_db", []).append(float(np.sqrt(np.mean((out_db - ref_db)[cell] ** 2))))
                    row.setdefault(f"{name}:burst_db", []).append(energy(out_db) - energy(ref_db))
        results[str(folder)] = {
            ms: {key: float(np.mean(v)) for key, v in sorted(row.items())} | {"files": len(next(iter(row.values())))}
            for ms, row in rows.items()
        }
    report = {
        "model": loaded.name,
        "prior": args.prior or loaded.default_prior,
        "band_hz": BAND,
        "burst": "band-limited noise, 6 dB above the recording's band level in the hole",
        "stft": N_FFT,
        "seconds": time.perf_counter() - started,
        "results": results,
    }
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    for folder, by_ms in results.items():
        print(f"\n{folder}")
        names = ["damaged", *OPTIONS]
        print("| hole (ms) | files | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 2) + "|")
        for ms, r in by_ms.items():
            cells = [f"{r[f'{n}:lsd_db']:.2f} / {r[f'{n}:burst_db']:+.1f}" for n in names]
            print(f"| {ms} | {r['files']} | " + " | ".join(cells) + " |")
    print("\ncells: LSD inside (dB) / excess energy inside (dB)")


if __name__ == "__main__":
    main()
