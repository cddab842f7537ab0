"""The VQ layer: vectors onto the nearest of K codewords, with a straight-through gradient.

Follows "Neural Discrete Representation Learning" (van den Oord et al., 2017): the encoder output
``z`` is replaced by its nearest codeword ``e``; the decoder's gradient passes to ``z`` unchanged
(``z + (e - z).detach()``); the loss is ``|sg[z] - e|^2 + beta |z - sg[e]|^2``. Options, each in
:class:`~specblur.config.QuantizerConfig`:

* ``ema``: codewords are exponential moving averages of the encoder outputs assigned to them
  (decay ``decay``, Laplace-smoothed counts); the codebook term of the loss is then dropped.
* ``restart_dead``: a codeword whose moving-average use per batch falls under ``dead_threshold``
  is moved onto a random encoder output of the current batch (Jukebox, Dhariwal et al., 2020).
* ``kmeans_init``: the first training batch sets the codebook by k-means.

Under several processes (:mod:`specblur.learn.distributed`) the codebook stays one codebook, the one
a single process would compute from the whole batch: the batch's counts and sums are summed over
ranks before the moving averages take them, and codewords set from a batch (k-means, restarts) are
drawn from every rank's vectors gathered in batch order, with the same generator on every rank.

Usage is reported as the perplexity of the batch's code histogram (K when all codes are used
equally) and the fraction of dead codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specblur.config import QuantizerConfig
from specblur.learn import distributed


@dataclass
class Quantized:
    """What :meth:`VectorQuantizer.forward` returns."""

    quantized: Tensor
    """Straight-through output, shaped like the input: forward value ``codebook[indexes]``."""
    indexes: Tensor
    """Integer codeword indexes, the input's shape without its last dimension."""
    loss: Tensor
    """Codebook (unless EMA) plus ``beta`` times commitment loss."""
    perplexity: Tensor
    """``exp`` of the entropy of this batch's code histogram."""
    dead_fraction: Tensor
    """Fraction of codewords whose moving-average use is under the threshold (before restarts)."""


class VectorQuantizer(nn.Module):
    """Projects vectors of dimension D onto a codebook of K codewords."""

    codebook: Tensor
    ema_count: Tensor
    ema_sum: Tensor
    usage: Tensor
    initialized: Tensor

    def __init__(self, config: QuantizerConfig) -> None:
        super().__init__()
        self.config = config
        k, d = config.num_codes, config.dim
        init = torch.randn(k, d) * (1.0 / d**0.5)
        if config.ema:
            self.register_buffer("codebook", init)
        else:
            self.codebook = nn.Parameter(init)  # type: ignore[assignment]
        self.register_buffer("ema_count", torch.ones(k))
        self.register_buffer("ema_sum", init.clone())
        self.register_buffer("usage", torch.full((k,), float(config.dead_threshold)))
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))

    def nearest(self, flat: Tensor) -> Tensor:
        """Index of the nearest codeword (squared Euclidean distance) for each row of ``flat``."""
        codebook = self.codebook.detach()
        distances = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ codebook.t() + codebook.pow(2).sum(1).unsqueeze(0)
        return distances.argmin(1)

    def lookup(self, indexes: Tensor) -> Tensor:
        """Codewords for an integer tensor of indexes: shape ``indexes.shape + (D,)``."""
        return F.embedding(indexes, self.codebook)

    def forward(self, z: Tensor) -> Quantized:
        """Quantise ``z`` of shape ``(..., D)``; in training mode also update the codebook.

        Under autocast (bfloat16 on CUDA) it runs in float32: nearest-codeword distances and the
        moving averages lose too much in 8 bits of mantissa."""
        if torch.is_autocast_enabled(z.device.type):
            with torch.autocast(z.device.type, enabled=False):
                return self.forward(z.float())
        k = self.config.num_codes
        flat = z.reshape(-1, self.config.dim)
        if self.training and not bool(self.initialized):
            self._kmeans_init(distributed.cat_rows(flat.detach()))
        indexes = self.nearest(flat.detach())
        quantized = self.lookup(indexes)
        counts = torch.bincount(indexes, minlength=k).to(flat.dtype)
        dead_fraction = (self.usage < self.config.dead_threshold).float().mean()
        if self.training:
            with torch.no_grad():
                self._update(flat.detach(), indexes, counts)

        commitment = F.mse_loss(flat, quantized.detach())
        loss = self.config.beta * commitment
        if not self.config.ema:
            loss = loss + F.mse_loss(quantized, flat.detach())
        straight_through = flat + (quantized - flat).detach()

        probs = counts / counts.sum().clamp_min(1.0)
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-12))).sum())
        return Quantized(
            quantized=straight_through.view_as(z),
            indexes=indexes.view(z.shape[:-1]),
            loss=loss,
            perplexity=perplexity,
            dead_fraction=dead_fraction,
        )

    def _update(self, flat: Tensor, indexes: Tensor, counts: Tensor) -> None:
        cfg = self.config
        decay = cfg.decay
        if distributed.active():
            counts = distributed.reduce_(counts.clone())
        self.usage.mul_(decay).add_(counts, alpha=1 - decay)
        if cfg.ema:
            sums = distributed.reduce_(torch.zeros_like(self.ema_sum).index_add_(0, indexes, flat))
            self.ema_count.mul_(decay).add_(counts, alpha=1 - decay)
            self.ema_sum.mul_(decay).add_(sums, alpha=1 - decay)
            n = self.ema_count.sum()
            smoothed = (self.ema_count + 1e-5) / (n + cfg.num_codes * 1e-5) * n
            self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(1))
        if cfg.restart_dead:
            dead = torch.nonzero(self.usage < cfg.dead_threshold).squeeze(1)
            if dead.numel():
                whole = distributed.cat_rows(flat)  # the whole batch's vectors, as one process sees them
                picks = torch.randint(0, whole.shape[0], (dead.numel(),), device=flat.device)
                self._set_codewords(dead, whole[picks])

    def _set_codewords(self, which: Tensor, vectors: Tensor) -> None:
        self.codebook.data[which] = vectors
        self.ema_sum[which] = vectors
        self.ema_count[which] = 1.0
        self.usage[which] = float(self.config.dead_threshold)

    def _kmeans_init(self, flat: Tensor) -> None:
        """Lloyd's k-means on one batch; empty clusters keep their random start."""
        k = self.config.num_codes
        with torch.no_grad():
            picks = torch.randint(0, flat.shape[0], (k,), device=flat.device)
            centres = flat[picks].clone()
            for _ in range(self.config.kmeans_iters):
                distances = torch.cdist(flat, centres)
                assign = distances.argmin(1)
                counts = torch.bincount(assign, minlength=k).to(flat.dtype)
                sums = torch.zeros_like(centres).index_add_(0, assign, flat)
                filled = counts > 0
                centres[filled] = sums[filled] / counts[filled].unsqueeze(1)
            self._set_codewords(torch.arange(k, device=flat.device), centres)
            self.initialized.fill_(True)
