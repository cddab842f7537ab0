"""What a spectrogram representation can hold, before any training (a developer tool, issue 14).

For each candidate (rate, n_fft, hop, mel bands, f_max) and each set of files: every file's first
``--seconds`` (4 s) is resampled to the candidate's rate, its linear STFT magnitude taken, turned
into the model's image (mel bands, dB, floored, normalised: ``Spectrogram.features_from_magnitude``)
and mapped back (``magnitude_from_features``: the filterbank's pseudo-inverse). The log-spectral
distance between the two linear magnitudes is what the representation loses whatever the VQ-VAE
does; it is computed as ``tools/evaluate.py recon`` computes its linear LSD: dB relative to the
file's loudest bin, floored 60 dB below it, RMS over bins, mean over frames, over *active* frames
(a bin within 30 dB of the loudest) and over all frames. ``<=8k`` is the same over the bins up to
8 kHz only, the band the 16 kHz model covers, so candidates compare with it on its own band.

Also per candidate: the image size (rows x frames per second, which training and edits pay for),
whether the rows divide by the model's total down-sampling (else the image is padded), and the time
of one forward pass (encode, quantise, decode) of an untrained model of the default preset's
architecture over a 4 s image, against the 16 kHz default representation in the same run (the
candidates taking turns, median of 9 rounds): the VQ-VAE part of an edit's cost scales with it.

    python tools/measure_representation.py NAME=DATA... [--max-files 120] [--json out.json]

``NAME=DATA`` names a set (``notes=/tmp/fullband/notes``); DATA is anything ``specblur train`` reads
(an NSynth-like folder's held-out split with ``NAME=DATA:heldout``). Files are taken evenly spread.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specblur import audio  # noqa: E402
from specblur.config import PRESETS, SpectrogramConfig  # noqa: E402
from specblur.learn import data
from specblur.learn.data import resample as resample_torch
from specblur.learn.model import VQVAE2  # noqa: E402
from specblur.learn.spectrogram import Spectrogram  # noqa: E402

FLOOR_DB = -60.0
ACTIVE_DB = -30.0
REFERENCE = "16k default"


def candidates() -> dict[str, SpectrogramConfig]:
    base = PRESETS["default"].spectrogram
    out = {REFERENCE: base}
    for n_fft, hop in ((2048, 512), (2048, 256)):
        for mels in (128, 160, 192):
            out[f"44.1k n_fft {n_fft} hop {hop} mel {mels}"] = SpectrogramConfig(
                sample_rate=44100, n_fft=n_fft, hop_length=hop, win_length=n_fft, n_mels=mels, f_max=22050.0
            )
    return out


def _db(x: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    return (20 * torch.log10(x.clamp_min(1e-20) / peak.clamp_min(1e-20))).clamp_min(FLOOR_DB)


def _lsd(ref: torch.Tensor, est: torch.Tensor, mask: torch.Tensor | None) -> float:
    per_frame = (ref - est).pow(2).mean(0).sqrt()
    if mask is not None:
        if not bool(mask.any()):
            return math.nan
        per_frame = per_frame[mask]
    return float(per_frame.mean())


def measure(cfg: SpectrogramConfig, waves: dict[int, list[np.ndarray]]) -> dict[str, float]:
    spec = Spectrogram(cfg)
    freqs = np.arange(cfg.n_fft // 2 + 1) * cfg.sample_rate / cfg.n_fft
    low = torch.from_numpy(freqs <= 8000.0)
    sums: dict[str, list[float]] = {"active": [], "all": [], "active_8k": []}
    for wave in waves[cfg.sample_rate]:
        with torch.no_grad():
            mag = spec.stft(torch.from_numpy(wave)).abs()
            back = spec.magnitude_from_features(spec.features_from_magnitude(mag))
        peak = mag.max()
        if float(peak) <= 0:
            continue
        ref, est = _db(mag, peak), _db(back, peak)
        active = ref.amax(0) > ACTIVE_DB
        sums["active"].append(_lsd(ref, est, active))
        sums["all"].append(_lsd(ref, est, None))
        sums["active_8k"].append(_lsd(ref[low], est[low], active))
    return {k: float(np.nanmean(v)) for k, v in sums.items()}


def forward_ms(cands: dict[str, SpectrogramConfig], seconds: float = 4.0, rounds: int = 9) -> dict[str, float]:
    """Median ms of one forward pass of an untrained default-architecture model over a ``seconds``
    image, per candidate; the candidates take turns round by round, so a busy moment of a shared
    machine falls on all of them alike."""
    runs = {}
    for label, cfg in cands.items():
        config = PRESETS["default"].replace("spectrogram", **{k: getattr(cfg, k) for k in cfg.__dataclass_fields__})
        torch.manual_seed(0)
        frames = int(seconds * cfg.sample_rate) // cfg.hop_length + 1
        runs[label] = (VQVAE2(config).eval(), torch.randn(1, 1, cfg.n_bins, frames))
    times: dict[str, list[float]] = {label: [] for label in cands}
    with torch.no_grad():
        for model, image in runs.values():
            model(image)
        for _ in range(rounds):
            for label, (model, image) in runs.items():
                t = time.perf_counter()
                model(image)
                times[label].append(time.perf_counter() - t)
    return {label: 1000 * float(np.median(t)) for label, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="What each candidate representation loses, before training.")
    parser.add_argument("sets", nargs="+", metavar="NAME=DATA[:heldout]")
    parser.add_argument("--max-files", type=int, default=120, help="per set, evenly spread")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    cands = candidates()
    rates = sorted({c.sample_rate for c in cands.values()})
    sets: dict[str, dict[int, list[np.ndarray]]] = {}
    for spec_arg in args.sets:
        name, _, where = spec_arg.partition("=")
        root, _, which = where.partition(":")
        items = data.collect([Path(root)])
        if which == "heldout":
            _, items = data.split(items, 0.1)
        items = items[:: max(1, len(items) // args.max_files)][: args.max_files]
        sets[name] = {r: [] for r in rates}
        for item in items:
            sound = audio.read(item.path)
            mono = audio.to_mono(sound.samples)[: int(args.seconds * sound.sample_rate)]
            for r in rates:
                w = np.asarray(resample_torch(mono, sound.sample_rate, r), dtype=np.float32)
                if len(w) >= 2048:
                    sets[name][r].append(w)
        print(f"{name}: {len(sets[name][rates[0]])} files from {where}", file=sys.stderr)

    down = [a * b for a, b in zip(PRESETS["default"].model.bottom_down, PRESETS["default"].model.top_down, strict=True)]
    rows = []
    times = forward_ms(cands)
    reference_ms = times[REFERENCE]
    for label, cfg in cands.items():
        ms = times[label]
        frame_rate = cfg.sample_rate / cfg.hop_length
        row = {
            "candidate": label,
            "rows": cfg.n_bins,
            "frames_per_s": frame_rate,
            "pixels_per_s": cfg.n_bins * frame_rate,
            "rows_divisible": cfg.n_bins % down[0] == 0,
            "forward_4s_ms": ms,
            "forward_vs_reference": ms / reference_ms,
            "sets": {name: measure(cfg, waves) for name, waves in sets.items()},
        }
        rows.append(row)
    names = list(sets)
    head = "| candidate | rows x frames/s | pixels/s | rows % 8 | forward 4 s (ms) |"
    head += "".join(f" {n}: active / all / active <=8k (dB) |" for n in names)
    print(head)
    print("|" + "---|" * (5 + len(names)))
    for r in rows:
        cells = [
            r["candidate"],
            f"{r['rows']} x {r['frames_per_s']:.1f}",
            f"{r['pixels_per_s']:.0f}",
            "yes" if r["rows_divisible"] else "no",
            f"{r['forward_4s_ms']:.0f} ({r['forward_vs_reference']:.2f}x)",
        ]
        cells += [f"{m['active']:.2f} / {m['all']:.2f} / {m['active_8k']:.2f}" for m in r["sets"].values()]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
