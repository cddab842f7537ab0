"""The MNIST prototype: specblur's own VQ layer and VQ-VAE-2 trained on handwritten digits.

Four variants of the quantiser, same model, same steps, same seed, each adding one option:
``plain`` (codebook loss only), ``ema`` (EMA codebook updates), ``ema+restart`` (plus dead-code
restarts) and ``ema+restart+kmeans`` (plus k-means initialisation from the first batch). Prints a
markdown table of test-set reconstruction error and codebook usage.

    python examples/mnist_vqvae.py                      # ../shared/data/mnist.npz
    python examples/mnist_vqvae.py --digits --steps 50  # scikit-learn's 8x8 digits (what the test uses)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from specblur.config import Config, ModelConfig, QuantizerConfig, SpectrogramConfig, TrainConfig
from specblur.learn.metrics import usage
from specblur.learn.model import VQVAE2

VARIANTS = {
    "plain": {"ema": False, "restart_dead": False, "kmeans_init": False},
    "ema": {"ema": True, "restart_dead": False, "kmeans_init": False},
    "ema+restart": {"ema": True, "restart_dead": True, "kmeans_init": False},
    "ema+restart+kmeans": {"ema": True, "restart_dead": True, "kmeans_init": True},
}
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist.npz"


def load_images(path: Path | None, digits: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) images ``(n, 1, h, w)`` scaled to [0, 1]."""
    if digits:
        from sklearn.datasets import load_digits

        images = load_digits().images.astype(np.float32) / 16.0
        rng = np.random.default_rng(0)
        order = rng.permutation(len(images))
        images = images[order]
        cut = int(0.8 * len(images))
        train, test = images[:cut], images[cut:]
    else:
        with np.load(path, allow_pickle=False) as npz:
            train = npz["train_images"].astype(np.float32) / 255.0
            test = npz["test_images"].astype(np.float32) / 255.0
    return torch.from_numpy(train)[:, None], torch.from_numpy(test)[:, None]


def make_config(variant: str, height: int, codes: int, dim: int) -> Config:
    quant = QuantizerConfig(num_codes=codes, dim=dim, **VARIANTS[variant])
    return Config(
        spectrogram=SpectrogramConfig(n_mels=height),
        model=ModelConfig(
            channels=32, res_channels=16, res_blocks=1, bottom_down=(2, 2), top_down=(2, 2), bottom=quant, top=quant
        ),
        train=TrainConfig(),
    )


@torch.no_grad()
def evaluate(model: VQVAE2, images: torch.Tensor) -> dict[str, float]:
    model.eval()
    mse, tops, bottoms = [], [], []
    for batch in images.split(500):
        out = model(batch)
        mse.append(float(((out.reconstruction - batch) ** 2).mean()) * len(batch))
        tops.append(out.top.indexes.reshape(-1))
        bottoms.append(out.bottom.indexes.reshape(-1))
    model.train()
    m = model.config.model
    ppl_top, unused_top = usage(torch.cat(tops), m.top.num_codes)
    ppl_bottom, unused_bottom = usage(torch.cat(bottoms), m.bottom.num_codes)
    error = sum(mse) / len(images)
    return {
        "mse": error,
        "psnr_db": 10 * math.log10(1.0 / max(error, 1e-12)),
        "perplexity_top": ppl_top,
        "perplexity_bottom": ppl_bottom,
        "unused_top": unused_top,
        "unused_bottom": unused_bottom,
    }


def run_variant(
    variant: str,
    train: torch.Tensor,
    test: torch.Tensor,
    steps: int,
    batch_size: int,
    seed: int,
    codes: int = 128,
    dim: int = 16,
    lr: float = 1e-3,
) -> dict[str, float]:
    """Train one variant; returns its test metrics, the untrained MSE and the wall time."""
    torch.manual_seed(seed)
    model = VQVAE2(make_config(variant, train.shape[-2], codes, dim))
    untrained = evaluate(model, test)["mse"]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(steps):
        batch = train[torch.randint(0, len(train), (batch_size,), generator=gen)]
        out = model(batch)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
    result = evaluate(model, test)
    result.update(
        untrained_mse=untrained,
        seconds=time.perf_counter() - started,
        dead_top=float(out.top.dead_fraction),
        dead_bottom=float(out.bottom.dead_fraction),
    )
    return result


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| variant | test MSE | PSNR (dB) | perplexity top / bottom | unused codes top / bottom | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['mse']:.4f} | {r['psnr_db']:.1f} | {r['perplexity_top']:.1f} / "
            f"{r['perplexity_bottom']:.1f} | {r['unused_top']:.0%} / {r['unused_bottom']:.0%} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description="Train specblur's VQ-VAE-2 on MNIST with four quantiser variants.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="mnist.npz")
    parser.add_argument("--digits", action="store_true", help="use scikit-learn's 8x8 digits instead")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--codes", type=int, default=128, help="codewords per level")
    parser.add_argument("--dim", type=int, default=16, help="codeword dimension")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = load_images(args.data, args.digits)
    results = {
        v: run_variant(v, train, test, args.steps, args.batch_size, args.seed, args.codes, args.dim)
        for v in args.variants
    }
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
