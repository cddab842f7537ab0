"""The VQ layer's contract."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from specblur.config import QuantizerConfig
from specblur.learn.quantizer import VectorQuantizer

PLAIN = QuantizerConfig(num_codes=16, dim=4, ema=False, restart_dead=False, kmeans_init=False)


def test_indexes_are_argmin_distances_and_quantized_is_codebook_lookup() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(PLAIN).eval()
    z = torch.randn(3, 5, 7, 4)
    out = vq(z)
    expected = torch.cdist(z.reshape(-1, 4), vq.codebook).argmin(1).view(3, 5, 7)
    assert torch.equal(out.indexes, expected)
    assert out.indexes.dtype == torch.int64
    assert torch.allclose(out.quantized, vq.codebook[out.indexes], atol=1e-6)
    assert torch.equal(vq.lookup(out.indexes), vq.codebook[out.indexes])


def test_straight_through_gradient_is_exactly_identity() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(PLAIN)
    z = torch.randn(2, 9, 4, requires_grad=True)
    upstream = torch.randn(2, 9, 4)
    vq(z).quantized.backward(upstream)
    assert torch.equal(z.grad, upstream)


def test_losses_follow_the_paper() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(dataclasses.replace(PLAIN, beta=0.5))
    z = torch.randn(50, 4, requires_grad=True)
    out = vq(z)
    q = vq.codebook[out.indexes].detach()
    mse = ((z.detach() - q) ** 2).mean()
    assert float(out.loss.detach()) == pytest.approx(float(1.5 * mse), rel=1e-5)
    out.loss.backward()
    assert vq.codebook.grad is not None and float(vq.codebook.grad.abs().sum()) > 0


def test_ema_moves_codewords_toward_assigned_inputs() -> None:
    cfg = QuantizerConfig(num_codes=2, dim=2, ema=True, decay=0.5, restart_dead=False, kmeans_init=False)
    vq = VectorQuantizer(cfg).train()
    vq._set_codewords(torch.arange(2), torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    target = torch.tensor([1.0, -1.0])
    inputs = target + 0.01 * torch.randn(64, 2)
    before = (vq.codebook[0] - target).norm()
    for _ in range(5):
        vq(inputs)
    after = (vq.codebook[0] - target).norm()
    assert after < 0.1 * before
    assert torch.allclose(vq.codebook[1], torch.tensor([10.0, 10.0]), atol=0.01)  # unassigned: barely moved


def test_dead_codes_are_restarted_from_encoder_outputs() -> None:
    cfg = QuantizerConfig(num_codes=4, dim=2, ema=True, restart_dead=True, dead_threshold=1.0, kmeans_init=False)
    vq = VectorQuantizer(cfg).train()
    vq._set_codewords(torch.arange(4), torch.tensor([[0.0, 0.0], [0.1, 0.0], [100.0, 100.0], [-100.0, 50.0]]))
    inputs = torch.randn(32, 2) * 0.1
    vq(inputs)
    far = vq.codebook[2:]
    assert float(far.abs().max()) < 1.0  # both far codewords now sit on batch vectors
    assert all(bool((inputs - row).norm(dim=1).min() < 1e-6) for row in far)


def test_no_restarts_when_disabled() -> None:
    cfg = QuantizerConfig(num_codes=4, dim=2, ema=False, restart_dead=False, kmeans_init=False)
    vq = VectorQuantizer(cfg).train()
    vq._set_codewords(torch.arange(4), torch.tensor([[0.0, 0.0], [0.1, 0.0], [100.0, 100.0], [-100.0, 50.0]]))
    for _ in range(3):
        out = vq(torch.randn(32, 2) * 0.1)
    assert torch.equal(vq.codebook[2], torch.tensor([100.0, 100.0]))
    assert float(out.dead_fraction) == pytest.approx(0.5)


def test_kmeans_init_finds_clusters() -> None:
    torch.manual_seed(0)
    cfg = QuantizerConfig(num_codes=2, dim=2, ema=True, restart_dead=False, kmeans_init=True, kmeans_iters=10)
    vq = VectorQuantizer(cfg).train()
    centres = torch.tensor([[5.0, 5.0], [-5.0, 0.0]])
    inputs = torch.cat([centres[0] + 0.1 * torch.randn(100, 2), centres[1] + 0.1 * torch.randn(100, 2)])
    assert not bool(vq.initialized)
    vq(inputs)
    assert bool(vq.initialized)
    found = sorted(vq.codebook.tolist())
    assert found[0] == pytest.approx([-5.0, 0.0], abs=0.1)
    assert found[1] == pytest.approx([5.0, 5.0], abs=0.1)


def test_perplexity_is_number_of_equally_used_codes() -> None:
    vq = VectorQuantizer(PLAIN).eval()
    out = vq(vq.codebook.detach()[:8].repeat(3, 1))
    assert float(out.perplexity) == pytest.approx(8.0, rel=1e-5)
