"""Evaluate a model on audio it did not train on (a developer tool; the numbers of models/MODEL_CARD.md).

``recon``: how well the VQ-VAE reconstructs, and how it uses its codebooks::

    python tools/evaluate.py recon DATA... [--model default] [--seconds 4] [--offset 0] [--max-files 300]

log-spectral distance (dB) on the model's mel image and on linear STFT bins (the mel image mapped
back through the filterbank's pseudo-inverse), spectral convergence on linear magnitudes, each over
all frames and over *active* frames (some bin within 30 dB of the file's loudest; silence flatters
every figure). dB are relative to each file's loudest bin and floored 60 dB below it, so quiet and
loud notes count alike. Codebook perplexity and unused codes per level, and the prior's top-1
accuracy and bits per code against the unigram baseline, on these files' codes, for the Naive Bayes
prior and (where the model has one) the transformer.

``edits``: the blur against two baselines at the same region::

    python tools/evaluate.py edits FILES... [--model default] [--time 1.0-2.0] [--freq 200-2000] [--seeds 3]

``prior`` is ``specblur blur``; ``gaussian`` blurs the log-magnitude inside the same feathered brush
(a Gaussian of one code cell's width); ``unigram`` draws the region's codes independently from the
codes' overall frequencies. Measured on the log-mel image of each output: the *seam* (how much
larger the dB step across the region's edges is than in the original, in dB; 0 = seamless) and the
*distance* to the original inside the region (LSD, dB).

``resynth``: how the edited magnitude is turned back into sound, against the alternatives::

    python tools/evaluate.py resynth FILES... [--model default] [--iters 0 8 32]

For each way (0: keep the input's phase, what specblur does; N: N Griffin-Lim iterations on the
changed frames, from the input's phase, unchanged frames held): the RMS dB distance, inside the
region, between the output's log-mel image and the image the decoder asked for, and the time taken.

``recon --gain-db G | --reverb RT60 | --mix``: the same on altered copies of the files, to see where
training augmentations could help (a gap between the plain and the altered figures is what they
could close): a gain of G dB; a synthetic room (exponentially decaying noise, seeded, RT60 in
seconds, equal parts dry and wet, same RMS as the input); each file mixed with the next one at equal
RMS. ``--no-prior`` skips the priors' scoring (the slow part).

DATA are folders (recursive) or NSynth-style folders (their held-out split with ``--heldout``).
``--json PATH`` writes the figures too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import specblur
from specblur import (
    audio,  # noqa: E402
)
from specblur.edit import plan as edit_plan
from specblur.edit import region, segment
from specblur.edit.options import EditOptions
from specblur.learn import checkpoint, data
from specblur.learn.data import resample as resample_torch
from specblur.learn.metrics import usage  # noqa: E402
from specblur.runtime import registry

FLOOR_DB = -60.0
ACTIVE_DB = -30.0


def _db(x: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """dB relative to ``peak`` (a magnitude), floored at :data:`FLOOR_DB`."""
    return (20 * torch.log10(x.clamp_min(1e-20) / peak.clamp_min(1e-20))).clamp_min(FLOOR_DB)


def _lsd(ref_db: torch.Tensor, est_db: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    per_frame = (ref_db - est_db).pow(2).mean(0).sqrt()
    if mask is not None:
        if not bool(mask.any()):
            return math.nan
        per_frame = per_frame[mask]
    return float(per_frame.mean())


def _items(paths: list[str], heldout: bool) -> list[Path]:
    items = data.collect([Path(p) for p in paths])
    if heldout:
        _, items = data.split(items, 0.1)
    return [it.path for it in items]


def _training_model(spec: str | None):
    """The torch model (training checkpoint): what reconstruction is measured on."""
    return checkpoint.load(registry.resolve(spec))


def _alter(wave: torch.Tensor, rate: int, args: argparse.Namespace, files: list[Path], path: Path, rng) -> torch.Tensor:
    """``wave`` with ``--gain-db``, ``--reverb`` or ``--mix`` applied (see the module's doc)."""
    x = wave.double().numpy()
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    if args.mix:
        other = audio.read(files[(files.index(path) + 1) % len(files)])
        y = np.asarray(resample_torch(audio.to_mono(other.samples), other.sample_rate, rate), dtype=np.float64)
        y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
        y_rms = float(np.sqrt(np.mean(y**2)))
        if y_rms > 0:
            x = 0.5 * (x + y * rms / y_rms)
    if args.reverb:
        n = int(args.reverb * rate)
        t = np.arange(n) / rate
        ir = rng.standard_normal(n) * 10 ** (-3 * t / args.reverb)  # -60 dB at RT60
        wet = np.fft.irfft(np.fft.rfft(x, len(x) + n) * np.fft.rfft(ir, len(x) + n))[: len(x)]
        wet *= rms / (float(np.sqrt(np.mean(wet**2))) or 1.0)
        x = 0.5 * (x + wet)
        x *= rms / (float(np.sqrt(np.mean(x**2))) or 1.0)
    if args.gain_db:
        x = x * 10 ** (args.gain_db / 20)
    return torch.from_numpy(x).float()


def recon(args: argparse.Namespace) -> dict:
    loaded = _training_model(args.model)
    model = loaded.model.eval()
    spec = model.spectrogram
    rate = model.config.spectrogram.sample_rate
    files = _items(args.data, args.heldout)[: args.max_files]
    rng = np.random.default_rng(0)
    sums: dict[str, list[float]] = {
        k: []
        for k in ("mel", "mel_active", "mel_active_0_8k", "lin", "lin_active", "lin_active_0_8k", "sc", "sc_active")
    }
    # the 16 kHz model's band, to compare models of different bands on the same one: linear bins up to
    # 8 kHz, dB against the loudest of them (as tools/measure_representation.py's "<=8k")
    freqs = torch.fft.rfftfreq(model.config.spectrogram.n_fft, 1 / rate)
    low = freqs <= 8000.0
    # and the model's own mel bands centred at or below 8 kHz (all of them for the 16 kHz model)
    low_mel = freqs[spec.fbank.argmax(0)] <= 8000.0 if spec.fbank is not None else low
    tops, bottoms = [], []
    maps: dict[str, list[np.ndarray]] = {"top": [], "bottom": []}
    for path in files:
        sound = audio.read(path)
        wave = torch.from_numpy(np.asarray(resample_torch(audio.to_mono(sound.samples), sound.sample_rate, rate)))
        skip = int(args.offset * rate) if len(wave) >= int((args.offset + args.seconds) * rate) else 0
        wave = wave[skip : skip + int(args.seconds * rate)].float()  # (a file too short for the offset: its start)
        if len(wave) < model.config.spectrogram.n_fft:
            continue
        wave = _alter(wave, rate, args, files, path, rng)
        with torch.no_grad():
            magnitude = spec.stft(wave).abs()
            image = spec.features_from_magnitude(magnitude)[None, None]
            out = model(image)
            codes = model.encode(image)
        ref_mel_db, est_mel_db = spec.to_db(image[0, 0]), spec.to_db(out.reconstruction[0, 0])
        top = ref_mel_db.max()
        ref_mel_db = (ref_mel_db - top).clamp_min(FLOOR_DB)
        est_mel_db = (est_mel_db - top).clamp_min(FLOOR_DB)
        ref_lin = magnitude
        est_lin = spec.magnitude_from_features(out.reconstruction[0, 0])
        peak = ref_lin.max()
        if float(peak) <= 0:
            continue
        active = _db(ref_lin, peak).amax(0) > ACTIVE_DB
        sums["mel"].append(_lsd(ref_mel_db, est_mel_db))
        sums["mel_active"].append(_lsd(ref_mel_db, est_mel_db, (ref_mel_db.amax(0) > ACTIVE_DB)))
        ref_low, est_low = ref_mel_db[low_mel], est_mel_db[low_mel]
        top_low = ref_low.max()  # dB against the loudest band in the range, as for the whole image
        ref_low, est_low = (ref_low - top_low).clamp_min(FLOOR_DB), (est_low - top_low).clamp_min(FLOOR_DB)
        sums["mel_active_0_8k"].append(_lsd(ref_low, est_low, ref_low.amax(0) > ACTIVE_DB))
        sums["lin"].append(_lsd(_db(ref_lin, peak), _db(est_lin, peak)))
        sums["lin_active"].append(_lsd(_db(ref_lin, peak), _db(est_lin, peak), active))
        peak_low = ref_lin[low].max()
        if float(peak_low) > 0:
            active_low = _db(ref_lin[low], peak_low).amax(0) > ACTIVE_DB
            sums["lin_active_0_8k"].append(_lsd(_db(ref_lin[low], peak_low), _db(est_lin[low], peak_low), active_low))
        sums["sc"].append(float((ref_lin - est_lin).norm() / ref_lin.norm().clamp_min(1e-12)))
        if bool(active.any()):
            r, e = ref_lin[:, active], est_lin[:, active]
            sums["sc_active"].append(float((r - e).norm() / r.norm().clamp_min(1e-12)))
        tops.append(codes.top.reshape(-1))
        bottoms.append(codes.bottom.reshape(-1))
        maps["top"].append(codes.top[0].numpy())
        maps["bottom"].append(codes.bottom[0].numpy())
    m = model.config.model
    ppl_top, unused_top = usage(torch.cat(tops), m.top.num_codes)
    ppl_bottom, unused_bottom = usage(torch.cat(bottoms), m.bottom.num_codes)
    result = {
        "files": len(tops),
        "seconds_each": args.seconds,
        "offset": args.offset,
        **{f"lsd_{k}_db" if not k.startswith("sc") else k: float(np.nanmean(v)) for k, v in sums.items() if v},
        "perplexity_top": ppl_top,
        "perplexity_bottom": ppl_bottom,
        "unused_top": unused_top,
        "unused_bottom": unused_bottom,
    }
    altered = {k: getattr(args, k) for k in ("gain_db", "reverb", "mix") if getattr(args, k)}
    if altered:
        result["altered"] = altered
    if args.no_prior:
        return result
    if loaded.prior:
        result["prior"] = {level: loaded.prior[level].evaluate(maps[level]) for level in ("top", "bottom")}
    if getattr(loaded, "prior_nn", None):
        from specblur.priors.transformer import NeuralPrior

        # the transformer on the same maps (the bottom level sees the top codes, all visible)
        result["prior_nn"] = {}
        for level, graph in loaded.prior_nn.items():
            neural = NeuralPrior(graph)
            tops = maps["top"] if level == "bottom" else None
            result["prior_nn"][level] = neural.evaluate(maps[level], tops)
    return result


def _seam_and_distance(
    loaded, original: np.ndarray, edited: np.ndarray, rate: int, where: edit_plan.Plan
) -> tuple[float, float]:
    """(seam dB, inside LSD dB) of one mono edit, on the log-mel image at the model's rate."""
    spec = loaded.model.spectrogram
    sr = loaded.model.config.spectrogram.sample_rate

    def image(x: np.ndarray) -> torch.Tensor:
        wave = torch.from_numpy(np.asarray(resample_torch(x.astype(np.float32), rate, sr)))
        return spec.to_db(spec.features(wave))

    before, after = image(original), image(edited)
    top = before.max()
    before, after = (before - top).clamp_min(FLOOR_DB), (after - top).clamp_min(FLOOR_DB)
    r = where.regions[-1]
    (b0, b1), (f0, f1) = r.bins, r.frames
    inside = _lsd(before[b0:b1, f0:f1], after[b0:b1, f0:f1])
    steps = []
    for img in (before, after):
        edges = []
        if f0 > 0:
            edges.append((img[b0:b1, f0] - img[b0:b1, f0 - 1]).abs())
        if f1 < img.shape[1]:
            edges.append((img[b0:b1, f1 - 1] - img[b0:b1, f1]).abs())
        if b0 > 0:
            edges.append((img[b0, f0:f1] - img[b0 - 1, f0:f1]).abs())
        if b1 < img.shape[0]:
            edges.append((img[b1 - 1, f0:f1] - img[b1, f0:f1]).abs())
        steps.append(float(torch.cat(edges).mean()) if edges else 0.0)
    return steps[1] - steps[0], inside


def _baseline(loaded, x: np.ndarray, rate: int, where: edit_plan.Plan, method: str, seed: int) -> np.ndarray:
    """The same region edited by a baseline, through the same resynthesis as the blur."""
    from specblur.learn.model import Codes
    from specblur.runtime.resynth import apply_change

    model = loaded.model
    cfg = model.config.spectrogram
    seg = x[where.start : where.stop]
    wave = torch.from_numpy(np.asarray(resample_torch(seg.astype(np.float32), rate, cfg.sample_rate)))
    image = model.spectrogram.features(wave)[None, None]
    n_frames = image.shape[-1]
    shifted = [edit_plan.shift(r, where.frame0, model.cell[r.level]) for r in where.regions]
    fine = shifted[-1]
    pixel = edit_plan.brush(cfg.n_bins, n_frames, fine.bins, fine.frames, where.sigma)
    if method == "gaussian":
        from scipy.ndimage import gaussian_filter

        db = model.spectrogram.to_db(image[0, 0]).numpy()
        cell = model.cell[fine.level]
        blurred = gaussian_filter(db, sigma=(cell[0], cell[1]), mode="nearest")
        change_db = (blurred - db) * pixel
    else:
        codes = model.encode(image)
        new = Codes(top=codes.top.clone(), bottom=codes.bottom.clone())
        rng = np.random.default_rng(seed)
        for r in shifted:
            prior = loaded.prior[r.level]
            p = prior.class_count / prior.class_count.sum()
            maps = getattr(new, r.level)[0]
            shape = (r.rows[1] - r.rows[0], r.cols[1] - r.cols[0])
            maps[r.rows[0] : r.rows[1], r.cols[0] : r.cols[1]] = torch.from_numpy(rng.choice(len(p), size=shape, p=p))
        decoded = model.decode(Codes(torch.cat([codes.top, new.top]), torch.cat([codes.bottom, new.bottom])), n_frames)
        change_db = (decoded[1, 0] - decoded[0, 0]).numpy() * cfg.norm_std_db * pixel
    frame_times = np.arange(n_frames) * cfg.hop_length / cfg.sample_rate
    edited, _ = apply_change(
        seg.astype(np.float64),
        rate,
        change_db,
        frame_times,
        region.band_centres(cfg),
        min(cfg.f_max, rate / 2),
        cfg.sample_rate,
        cfg.n_fft,
    )
    out = x.copy()
    out[where.start : where.stop] = edited
    return out


def edits(args: argparse.Namespace) -> dict:
    loaded = specblur.load_model(args.model)  # the edit path (runtime form)
    measured = _training_model(args.model)  # torch features for the measures and the baselines
    time_span = region.parse_time(args.time)
    freq_span = region.parse_freq(args.freq)
    methods = ("prior", "gaussian", "unigram")
    results: dict[str, dict[str, list[float]]] = {m: {"seam": [], "inside": []} for m in methods}
    for path in args.files:
        sound = audio.read(path, dtype="float64")
        x = audio.to_mono(sound.samples)
        rate = sound.sample_rate
        where = edit_plan.plan(loaded, len(x), rate, time_span, freq_span)
        for seed in range(args.seeds):
            outs = {
                "prior": segment.blur(loaded, x, rate, time_span, freq_span, seed=seed).samples,
                "gaussian": _baseline(measured, x, rate, where, "gaussian", seed),
                "unigram": _baseline(measured, x, rate, where, "unigram", seed),
            }
            for method, y in outs.items():
                seam, inside = _seam_and_distance(measured, x, y, rate, where)
                results[method]["seam"].append(seam)
                results[method]["inside"].append(inside)
    summary = {
        method: {
            "seam_db": float(np.mean(v["seam"])),
            "inside_lsd_db": float(np.mean(v["inside"])),
            "n": len(v["seam"]),
        }
        for method, v in results.items()
    }
    return {"files": len(args.files), "time": args.time, "freq": args.freq, "seeds": args.seeds, "methods": summary}


def resynth(args: argparse.Namespace) -> dict:
    import time

    loaded = specblur.load_model(args.model)
    measured = _training_model(args.model)
    spec = measured.model.spectrogram
    sr = measured.model.config.spectrogram.sample_rate
    time_span, freq_span = region.parse_time(args.time), region.parse_freq(args.freq)
    out: dict[str, dict[str, list[float]]] = {str(n): {"error_db": [], "ms": []} for n in args.iters}
    for path in args.files:
        sound = audio.read(path, dtype="float64")
        x = audio.to_mono(sound.samples)[:, None]
        rate = sound.sample_rate
        where = edit_plan.plan(loaded, len(x), rate, time_span, freq_span)
        seg = x[where.start : where.stop]
        for seed in range(args.seeds):
            for n in args.iters:
                t = time.perf_counter()
                settings = EditOptions(seed=seed, phase_iters=n)
                r = segment.edit_segment(loaded, seg, rate, where, settings, keep_views=True)
                out[str(n)]["ms"].append((time.perf_counter() - t) * 1000)
                view = r.views[0]
                wave = torch.from_numpy(np.asarray(resample_torch(r.samples[:, 0].astype(np.float32), rate, sr)))
                got = spec.to_db(spec.features(wave)).numpy()
                want = view["requested_db"]
                frames = min(got.shape[1], want.shape[1])
                mask = (np.abs(view["change_db"]) > 0)[:, :frames]
                if mask.any():
                    floor = want.max() + FLOOR_DB
                    diff = np.maximum(got[:, :frames], floor) - np.maximum(want[:, :frames], floor)
                    out[str(n)]["error_db"].append(float(np.sqrt(np.mean(diff[mask] ** 2))))
    return {
        "files": len(args.files),
        "by_iterations": {
            n: {"error_db": float(np.mean(v["error_db"])), "ms": float(np.median(v["ms"]))} for n, v in out.items()
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("recon", help="reconstruction, codebook usage and prior metrics")
    r.add_argument("data", nargs="+")
    r.add_argument("--seconds", type=float, default=4.0, help="evaluate the first S seconds of each file")
    r.add_argument(
        "--offset", type=float, default=0.0, help="start that far into each file long enough (past a track's intro)"
    )
    r.add_argument("--max-files", type=int, default=300)
    r.add_argument("--heldout", action="store_true", help="only the held-out split of DATA")
    r.add_argument("--gain-db", type=float, default=0.0, help="alter each file by this gain first")
    r.add_argument("--reverb", type=float, default=0.0, help="add a synthetic room of this RT60 (s) first")
    r.add_argument("--mix", action="store_true", help="mix each file with the next one first")
    r.add_argument("--no-prior", action="store_true", help="skip the priors' scoring")
    e = sub.add_parser("edits", help="the blur against a Gaussian blur and unigram codes")
    e.add_argument("files", nargs="+")
    g = sub.add_parser("resynth", help="keeping the input's phase against Griffin-Lim")
    g.add_argument("files", nargs="+")
    g.add_argument("--iters", type=int, nargs="+", default=[0, 8, 32])
    for q in (e, g):
        q.add_argument("--min-seconds", type=float, default=0.0, help="skip files shorter than this")
        q.add_argument("--time", default="1.0-2.0")
        q.add_argument("--freq", default="200-2000")
        q.add_argument("--seeds", type=int, default=3)
    for q in (r, e, g):
        q.add_argument("--model", default=None)
        q.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_grad_enabled(False)
    if getattr(args, "min_seconds", 0.0):
        import soundfile as sf

        args.files = [f for f in args.files if sf.info(f).duration >= args.min_seconds]
    result = {"recon": recon, "edits": edits, "resynth": resynth}[args.what](args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
