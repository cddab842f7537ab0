"""The two-level VQ-VAE (VQ-VAE-2, Razavi et al., 2019) over log-spectrogram images.

Images are ``(batch, 1, bins, frames)``. The bottom encoder down-samples by ``bottom_down``
(frequency, time) and the top encoder by a further ``top_down``. The top code map is quantised
first; its decoding conditions the bottom quantiser; the decoder sees both quantised maps. Inputs of
any size are padded with silence to a multiple of the total down-sampling and the output cropped
back, so callers never see the padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specblur.config import Config, ModelConfig
from specblur.learn.quantizer import Quantized, VectorQuantizer
from specblur.learn.spectrogram import Spectrogram


def _steps(factor: tuple[int, int]) -> list[tuple[int, int]]:
    """Split a (freq, time) power-of-two factor into per-layer strides of 1 or 2."""
    for f in factor:
        if f < 1 or f & (f - 1):
            raise ValueError(f"down-sampling factors must be powers of two, got {factor}")
    nf, nt = int(math.log2(factor[0])), int(math.log2(factor[1]))
    return [(2 if i < nf else 1, 2 if i < nt else 1) for i in range(max(nf, nt))]


def _kernel(stride: tuple[int, int]) -> tuple[int, int]:
    return (4 if stride[0] == 2 else 3, 4 if stride[1] == 2 else 3)


class ResBlock(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _res_stack(cfg: ModelConfig) -> list[nn.Module]:
    return [ResBlock(cfg.channels, cfg.res_channels) for _ in range(cfg.res_blocks)] + [nn.ReLU()]


def _down(cfg: ModelConfig, c_in: int, factor: tuple[int, int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = c_in
    for i, stride in enumerate(_steps(factor)):
        c_out = cfg.channels if i == len(_steps(factor)) - 1 else cfg.channels // 2
        layers += [nn.Conv2d(c, c_out, _kernel(stride), stride=stride, padding=1), nn.ReLU()]
        c = c_out
    layers += [nn.Conv2d(c, cfg.channels, 3, padding=1), *_res_stack(cfg)]
    return nn.Sequential(*layers)


def _up(cfg: ModelConfig, c_in: int, c_out: int, factor: tuple[int, int]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, cfg.channels, 3, padding=1), *_res_stack(cfg)]
    steps = _steps(factor)
    c = cfg.channels
    for i, stride in enumerate(steps):
        last = i == len(steps) - 1
        nxt = c_out if last else cfg.channels // 2
        layers.append(nn.ConvTranspose2d(c, nxt, _kernel(stride), stride=stride, padding=1))
        if not last:
            layers.append(nn.ReLU())
        c = nxt
    if not steps:
        layers.append(nn.Conv2d(c, c_out, 1))
    return nn.Sequential(*layers)


@dataclass
class Codes:
    """Code maps of one or more images: integer tensors ``(batch, rows, columns)`` per level."""

    top: Tensor
    bottom: Tensor


@dataclass
class ModelOutput:
    reconstruction: Tensor
    loss: Tensor
    """Reconstruction MSE plus both quantisers' losses."""
    recon_loss: Tensor
    top: Quantized
    bottom: Quantized


class VQVAE2(nn.Module):
    """Encoder, two quantisers and decoder of one :class:`~specblur.config.Config`."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        m = config.model
        self.spectrogram = Spectrogram(config.spectrogram)
        self.enc_bottom = _down(m, 1, m.bottom_down)
        self.enc_top = _down(m, m.channels, m.top_down)
        self.pre_top = nn.Conv2d(m.channels, m.top.dim, 1)
        self.quant_top = VectorQuantizer(m.top)
        self.dec_top = _up(m, m.top.dim, m.top.dim, m.top_down)
        self.pre_bottom = nn.Conv2d(m.channels + m.top.dim, m.bottom.dim, 1)
        self.quant_bottom = VectorQuantizer(m.bottom)
        self.up_top = _up(m, m.top.dim, m.top.dim, m.top_down)
        self.decoder = _up(m, m.bottom.dim + m.top.dim, 1, m.bottom_down)

    # -- geometry --------------------------------------------------------------------------------
    @property
    def cell(self) -> dict[str, tuple[int, int]]:
        """Size of one code cell in (bins, frames) for each level."""
        b, t = self.config.model.bottom_down, self.config.model.top_down
        return {"bottom": b, "top": (b[0] * t[0], b[1] * t[1])}

    def _pad(self, images: Tensor) -> Tensor:
        fb, tb = self.cell["top"]
        bins, frames = images.shape[-2:]
        pad_f = -bins % fb
        pad_t = -frames % tb
        return F.pad(images, (0, pad_t, 0, pad_f), value=self.spectrogram.floor_value)

    # -- the two halves --------------------------------------------------------------------------
    def _quantize(self, images: Tensor) -> tuple[Quantized, Quantized]:
        h_bottom = self.enc_bottom(images)
        h_top = self.enc_top(h_bottom)
        q_top = self.quant_top(self.pre_top(h_top).permute(0, 2, 3, 1))
        top_map = q_top.quantized.permute(0, 3, 1, 2)
        cond = self.dec_top(top_map)
        z_bottom = self.pre_bottom(torch.cat([h_bottom, cond], 1)).permute(0, 2, 3, 1)
        q_bottom = self.quant_bottom(z_bottom)
        return q_top, q_bottom

    def _decode_quantized(self, top_map: Tensor, bottom_map: Tensor) -> Tensor:
        return self.decoder(torch.cat([bottom_map, self.up_top(top_map)], 1))

    def forward(self, images: Tensor) -> ModelOutput:
        """Images ``(batch, 1, bins, frames)`` → reconstruction of the same shape, and losses."""
        bins, frames = images.shape[-2:]
        padded = self._pad(images)
        q_top, q_bottom = self._quantize(padded)
        recon = self._decode_quantized(q_top.quantized.permute(0, 3, 1, 2), q_bottom.quantized.permute(0, 3, 1, 2))[
            ..., :bins, :frames
        ]
        recon_loss = F.mse_loss(recon, images)
        return ModelOutput(recon, recon_loss + q_top.loss + q_bottom.loss, recon_loss, q_top, q_bottom)

    @torch.no_grad()
    def encode(self, images: Tensor) -> Codes:
        """Images ``(batch, 1, bins, frames)`` → code maps. Call in eval mode."""
        q_top, q_bottom = self._quantize(self._pad(images))
        return Codes(top=q_top.indexes, bottom=q_bottom.indexes)

    @torch.no_grad()
    def decode(self, codes: Codes, frames: int) -> Tensor:
        """Code maps → images ``(batch, 1, bins, frames)`` cropped to ``frames``."""
        top_map = self.quant_top.lookup(codes.top).permute(0, 3, 1, 2)
        bottom_map = self.quant_bottom.lookup(codes.bottom).permute(0, 3, 1, 2)
        recon = self._decode_quantized(top_map, bottom_map)
        return recon[..., : self.config.spectrogram.n_bins, :frames]

    def code_shape(self, frames: int) -> dict[str, tuple[int, int]]:
        """(rows, columns) of each level's code map for an image of ``frames`` frames."""
        out = {}
        for level, (fb, tb) in self.cell.items():
            ftop, ttop = self.cell["top"]
            bins = -(-self.config.spectrogram.n_bins // ftop) * ftop
            padded = -(-frames // ttop) * ttop
            out[level] = (bins // fb, padded // tb)
        return out
