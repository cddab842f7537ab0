"""Measure the stereo image and the strength control of ``specblur blur`` on a stereo recording.

``python tools/stereo_strength.py FILE --time 1.8-3.6 --freq 200-2000 [--seeds 5] [--json OUT]``

Inside the region (its time span, its band), for the input and for edits with ``--stereo linked`` and
``--stereo independent`` over several seeds: the left/right magnitude-squared coherence (averaged
over the band's STFT bins, cross-spectra summed over the span's frames) and the left/right balance
in dB. Then the log-spectral distance (dB) of the edit from the input inside the region, at
strengths 0-100% and at temperatures 0.1, 1 and 2, so a reader sees whether the control starts at
zero. Runtime only (numpy, soundfile, specblur).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import specblur
from specblur.edit import region, segment
from specblur.runtime import dsp  # noqa: E402


def _spectra(x: np.ndarray, rate: int, t: tuple[float, float], f: tuple[float, float]) -> np.ndarray:
    """STFT (channels, bins, frames) of ``x`` limited to the region (2048-point Hann, hop 512)."""
    n_fft, hop = 2048, 512
    win = dsp.window("hann", n_fft, np.float64)
    spec = np.stack([dsp.stft(x[:, c], n_fft, hop, win) for c in range(x.shape[1])])
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    times = np.arange(spec.shape[-1]) * hop / rate
    rows = (freqs >= f[0]) & (freqs <= f[1])
    cols = (times >= t[0]) & (times <= t[1])
    return spec[:, rows][:, :, cols]


def image(x: np.ndarray, rate: int, t, f) -> dict[str, float]:
    s = _spectra(x, rate, t, f)
    left, right = s[0], s[1]
    cross = np.abs(np.sum(left * np.conj(right), axis=1)) ** 2
    power = np.sum(np.abs(left) ** 2, axis=1) * np.sum(np.abs(right) ** 2, axis=1)
    coherence = float(np.mean(cross / np.maximum(power, 1e-30)))
    balance = float(10 * np.log10(np.sum(np.abs(left) ** 2) / max(np.sum(np.abs(right) ** 2), 1e-30)))
    return {"coherence": coherence, "balance_db": balance}


def lsd(x: np.ndarray, y: np.ndarray, rate: int, t, f) -> float:
    a, b = (np.abs(_spectra(z, rate, t, f)) for z in (x, y))
    floor = 1e-5 * max(a.max(), 1e-12)
    da, db = 20 * np.log10(np.maximum(a, floor)), 20 * np.log10(np.maximum(b, floor))
    return float(np.sqrt(np.mean((da - db) ** 2)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", type=Path)
    p.add_argument("--time", default="1.8-3.6")
    p.add_argument("--freq", default="200-2000")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--model", default=None)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    x, rate = sf.read(args.file, dtype="float64", always_2d=True)
    if x.shape[1] != 2:
        raise SystemExit(f"{args.file}: needs a stereo file")
    t, f = region.parse_time(args.time), region.parse_freq(args.freq)
    loaded = specblur.load_model(args.model)

    def edit(seed: int = 0, **options) -> np.ndarray:
        return segment.blur(loaded, x, rate, time=t, freq=f, seed=seed, **options).samples

    result = {"file": str(args.file), "time": args.time, "freq": args.freq, "input": image(x, rate, t, f)}
    for mode in ("linked", "independent"):
        runs = [image(edit(s, linked=mode == "linked"), rate, t, f) for s in range(args.seeds)]
        result[mode] = {key: {"min": min(r[key] for r in runs), "max": max(r[key] for r in runs)} for key in runs[0]}
    result["strength_lsd_db"] = {f"{p}%": lsd(x, edit(amount=p / 100), rate, t, f) for p in (0, 10, 25, 50, 100)}
    result["temperature_lsd_db"] = {str(T): lsd(x, edit(temperature=T), rate, t, f) for T in (0.1, 1.0, 2.0)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
