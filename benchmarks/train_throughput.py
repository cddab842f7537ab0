"""Training throughput of a preset on the CPU, in examples (crops) per second.

Synthetic notes stand in for a corpus so the script runs anywhere. The reference, measured in the
same run, is a fixed torch workload (float32 matrix products, GFLOP/s), so machines can be compared.
Run: ``python benchmarks/train_throughput.py [--preset default] [--steps 30]``.
"""

from __future__ import annotations

import time

import numpy as np
from _common import median_time, parser, report, table


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--preset", default="default")
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    import torch

    from specblur.config import PRESETS
    from specblur.learn import data
    from specblur.learn.model import VQVAE2

    cfg = PRESETS[args.preset]
    rate = cfg.spectrogram.sample_rate
    rng = np.random.default_rng(0)
    t = np.arange(4 * rate) / rate
    waves = [
        (0.3 * np.sin(2 * np.pi * 110 * 2 ** (i / 12) * t) * np.exp(-t) + 1e-3 * rng.standard_normal(len(t))).astype(
            np.float32
        )
        for i in range(48)
    ]
    torch.manual_seed(0)
    model = VQVAE2(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    crops = data.Crops(waves, (cfg.train.segment_frames - 1) * cfg.spectrogram.hop_length)
    gen = torch.Generator().manual_seed(0)
    from specblur.learn.train import _train_step

    for _ in range(3):
        _train_step(model, model, optimizer, crops.batch(cfg.train.batch_size, gen), cfg.train, torch.device("cpu"))
    start = time.perf_counter()
    for _ in range(args.steps):
        _train_step(model, model, optimizer, crops.batch(cfg.train.batch_size, gen), cfg.train, torch.device("cpu"))
    per_step = (time.perf_counter() - start) / args.steps
    a = torch.randn(1024, 1024)
    mm = median_time(lambda: a @ a, max(args.repeat, 5))
    gflops = 2 * 1024**3 / mm / 1e9
    examples = cfg.train.batch_size / per_step
    params = sum(x.numel() for x in model.parameters())
    rows = [
        [args.preset, params, cfg.train.batch_size, 1 / per_step, examples, gflops, examples / gflops],
    ]
    text = table(
        "Training throughput (CPU)",
        ["preset", "parameters", "batch", "steps / s", "examples / s", "reference GFLOP/s", "examples / s per GFLOP/s"],
        rows,
    )
    results = {"preset": args.preset, "steps_per_s": 1 / per_step, "examples_per_s": examples, "gflops": gflops}
    report("train_throughput", text, results, args.json)


if __name__ == "__main__":
    main()
