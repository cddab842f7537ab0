"""bfloat16 autocast against float32 (issue 21): the same recipe, the same steps, the held-out LSD.

``specblur train`` runs its forward pass under bfloat16 autocast on a CUDA GPU that supports it (the
quantizer in float32) and in float32 elsewhere. This trains a preset's model here for ``--steps``
steps three times from the same start on the same crops: in float32, under bfloat16 autocast (on a
CPU, torch's CPU autocast: the same number format, not a GPU's kernels), and in float32 again from
another seed (how far two float32 runs of the recipe fall apart on their own, for scale). Each is
scored on held-out notes by the training's own ``evaluate`` (log-spectral distance of the
reconstruction, dB). Target: bfloat16 within 0.1 dB of float32. Steps per second are reported too.

Data: harmonic notes with decays and a little noise (as in train_scaling.py), 48 for training, 8
other ones held out. Run: ``python benchmarks/precision.py [--preset default] [--steps 150]
[--device auto]``.
"""

from __future__ import annotations

import time

import numpy as np
from _common import parser, report, table, verdict

TARGET_DB = 0.1


def notes(count: int, rate: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(4 * rate) / rate
    out = []
    for _ in range(count):
        f0 = 55.0 * 2 ** (rng.uniform(0, 48) / 12)
        wave = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) for k in range(1, 9))
        wave *= np.exp(-t * rng.uniform(0.3, 2.0))
        out.append((0.2 * wave + 1e-3 * rng.standard_normal(len(t))).astype(np.float32))
    return out


def run(preset: str, steps: int, device_name: str, autocast: bool, seed: int) -> dict[str, float]:
    import torch

    from specblur.config import PRESETS
    from specblur.learn import data
    from specblur.learn.model import VQVAE2
    from specblur.learn.train import _train_step, evaluate

    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device_name)
    cfg = PRESETS[preset]
    rate = cfg.spectrogram.sample_rate
    waves = notes(48, rate, 0)
    held = notes(8, rate, 1)
    torch.manual_seed(seed)
    model = VQVAE2(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    crops = data.Crops(waves, (cfg.train.segment_frames - 1) * cfg.spectrogram.hop_length)
    order = data.Order(len(waves), 0)
    batch = cfg.train.batch_size
    started = time.perf_counter()
    for s in range(steps):
        wave = crops.take(data.Order.rows(s, batch, 0, 1), order)
        _train_step(model, model, optimizer, wave, cfg.train, device, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    images = [model.spectrogram.features(torch.from_numpy(w)[None]).unsqueeze(1) for w in held]
    scores = evaluate(model, images, device)
    return {"lsd_db": scores["lsd_db"], "steps_per_s": steps / elapsed, "device": str(device)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = p.parse_args()
    runs = {
        "float32": run(args.preset, args.steps, args.device, False, 0),
        "bfloat16 autocast": run(args.preset, args.steps, args.device, True, 0),
        "float32, another seed": run(args.preset, args.steps, args.device, False, 1),
    }
    base = runs["float32"]["lsd_db"]
    rows = [[k, v["lsd_db"], v["lsd_db"] - base, v["steps_per_s"]] for k, v in runs.items()]
    device = runs["float32"]["device"]
    text = table(
        f"preset {args.preset}, {args.steps} steps on {device}: held-out LSD",
        ["precision", "held-out LSD (dB)", "minus float32 (dB)", "steps/s"],
        rows,
    )
    gap = abs(runs["bfloat16 autocast"]["lsd_db"] - base)
    text += (
        f"\n\ntarget: bfloat16 within {TARGET_DB} dB of float32: {verdict(gap <= TARGET_DB)} ({gap:.3f} dB; "
        f"two float32 seeds: {abs(runs['float32, another seed']['lsd_db'] - base):.3f} dB)"
    )
    if device == "cpu":
        text += "\n(on a CPU: torch's CPU autocast, the bfloat16 number format; a GPU's kernels are not measured here)"
    report("precision", text, {"preset": args.preset, "steps": args.steps, "runs": runs}, args.json)


if __name__ == "__main__":
    main()
