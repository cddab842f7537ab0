"""Shapes of the VQ-VAE-2 for any length, and the config's strictness."""

from __future__ import annotations

import pytest
import torch

from specblur import cli
from specblur.config import PRESETS, Config
from specblur.learn.model import VQVAE2, _steps


@pytest.mark.parametrize("frames", [1, 7, 33, 101])
def test_any_length_round_trips_in_shape(frames: int) -> None:
    torch.manual_seed(0)
    model = VQVAE2(PRESETS["tiny"])
    bins = model.config.spectrogram.n_bins
    x = torch.randn(2, 1, bins, frames)
    out = model(x)
    assert out.reconstruction.shape == x.shape
    model.eval()
    codes = model.encode(x)
    shape = model.code_shape(frames)
    assert tuple(codes.top.shape) == (2, *shape["top"])
    assert tuple(codes.bottom.shape) == (2, *shape["bottom"])
    assert model.decode(codes, frames).shape == x.shape


def test_levels_follow_the_configured_factors() -> None:
    cfg = PRESETS["tiny"]
    cfg = cfg.replace("model", bottom_down=(2, 4), top_down=(4, 1))
    model = VQVAE2(cfg).eval()
    codes = model.encode(torch.randn(1, 1, cfg.spectrogram.n_bins, 40))
    assert tuple(codes.bottom.shape[1:]) == (32 // 2, 40 // 4)
    assert tuple(codes.top.shape[1:]) == (32 // 8, 40 // 4)


def test_non_power_of_two_factor_is_refused() -> None:
    with pytest.raises(ValueError, match="powers of two"):
        _steps((3, 2))


def test_config_round_trip_and_strictness() -> None:
    for cfg in PRESETS.values():
        assert Config.from_dict(cfg.to_dict()) == cfg
    data = PRESETS["tiny"].to_dict()
    data["model"]["extra"] = 1
    with pytest.raises(ValueError, match="unknown keys"):
        Config.from_dict(data)
    data = PRESETS["tiny"].to_dict()
    del data["spectrogram"]["hop_length"]
    with pytest.raises(ValueError, match="missing keys"):
        Config.from_dict(data)


def test_cli_knows_every_preset() -> None:
    assert set(cli.PRESET_NAMES) == set(PRESETS)
