"""Reconstruction and codebook-usage metrics, in units people quote.

* log-spectral distance (LSD, dB): per frame, the RMS over bins of the difference of the two
  images in dB, averaged over frames; "active" frames are those whose loudest bin is above
  ``active_db`` in the original (silence flatters LSD).
* perplexity: ``exp`` of the entropy of a code histogram (K when all codes are used equally).
* unused fraction: codes that never occur in the evaluated maps.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def lsd_db(reference_db: Tensor, estimate_db: Tensor, active_db: float | None = None) -> float:
    """Mean over frames of the per-frame RMS dB difference of ``(..., bins, frames)`` images."""
    per_frame = (reference_db - estimate_db).pow(2).mean(-2).sqrt()
    if active_db is not None:
        mask = reference_db.amax(-2) > active_db
        if not bool(mask.any()):
            return float("nan")
        return float(per_frame[mask].mean())
    return float(per_frame.mean())


def spectral_convergence(reference: Tensor, estimate: Tensor) -> float:
    """``|| |X| - |Y| ||_F / || |X| ||_F`` on linear magnitudes."""
    return float((reference - estimate).norm() / reference.norm().clamp_min(1e-12))


def usage(indexes: Tensor, num_codes: int) -> tuple[float, float]:
    """(perplexity, unused fraction) of a tensor of code indexes."""
    counts = torch.bincount(indexes.reshape(-1), minlength=num_codes).double()
    probs = counts / counts.sum()
    nz = probs[probs > 0]
    perplexity = math.exp(float(-(nz * nz.log()).sum()))
    return perplexity, float((counts == 0).double().mean())
