"""Checkpoints: round trip, strict loading, corruption, hash mismatch, code-carrying pickles."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch

from specblur.config import PRESETS
from specblur.errors import CheckpointError
from specblur.learn import checkpoint
from specblur.learn.model import VQVAE2


def _model() -> VQVAE2:
    torch.manual_seed(0)
    return VQVAE2(PRESETS["tiny"]).eval()


def _payload(model: VQVAE2) -> dict:
    return torch.load(io.BytesIO(checkpoint.to_bytes(model, "m", {"steps": 3})), weights_only=True)


def test_round_trip_keeps_weights_config_and_record(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "m.pt"
    checkpoint.save(path, model, "m", {"steps": 3, "heldout": {"lsd_db": 1.5}})
    loaded = checkpoint.load(path)
    assert loaded.name == "m"
    assert loaded.hash == checkpoint.model_hash(model)
    assert loaded.training["heldout"]["lsd_db"] == 1.5
    assert loaded.model.config == model.config
    x = torch.randn(1, 1, 32, 20)
    assert torch.equal(loaded.model(x).reconstruction, model(x).reconstruction)
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == checkpoint.FORMAT_VERSION and raw["specblur_version"]


def test_half_precision_storage(tmp_path: Path) -> None:
    model = _model()
    full = tmp_path / "full.pt"
    checkpoint.save(full, model, "m", {})
    half = tmp_path / "half.pt"
    half.write_bytes(checkpoint.to_bytes(model, "m", {}, half=True))
    raw = torch.load(half, weights_only=True)
    assert all(v.dtype != torch.float32 for v in raw["state_dict"].values())
    loaded = checkpoint.load(half)  # the hash is of the rounded weights, so it verifies
    assert loaded.hash == checkpoint.model_hash(model) and half.stat().st_size < full.stat().st_size
    x = torch.randn(1, 1, 32, 20)
    assert torch.equal(loaded.model(x).reconstruction, model(x).reconstruction)


def _write(tmp_path: Path, payload: dict) -> Path:
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    return path


def test_missing_tensor_is_an_error(tmp_path: Path) -> None:
    payload = _payload(_model())
    payload["state_dict"].pop("decoder.0.weight")
    with pytest.raises(CheckpointError, match="does not match its config"):
        checkpoint.load(_write(tmp_path, payload))


def test_mis_shaped_tensor_is_an_error(tmp_path: Path) -> None:
    payload = _payload(_model())
    payload["state_dict"]["decoder.0.weight"] = torch.zeros(1, 2, 3, 3)
    with pytest.raises(CheckpointError, match="does not match its config"):
        checkpoint.load(_write(tmp_path, payload))


def test_changed_weights_fail_the_hash(tmp_path: Path) -> None:
    payload = _payload(_model())
    payload["state_dict"]["decoder.0.weight"][0, 0, 0, 0] += 1.0
    with pytest.raises(CheckpointError, match="hash"):
        checkpoint.load(_write(tmp_path, payload))


def test_wrong_format_version_is_an_error(tmp_path: Path) -> None:
    payload = _payload(_model())
    payload["format_version"] = 99
    with pytest.raises(CheckpointError, match="format version 99"):
        checkpoint.load(_write(tmp_path, payload))


@pytest.mark.parametrize("keep", [0, 100, 5000])
def test_truncated_file_is_a_clear_error(tmp_path: Path, keep: int) -> None:
    data = checkpoint.to_bytes(_model(), "m", {})
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match="cut.pt"):
        checkpoint.load(path)


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_carrying_code_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "specblur-checkpoint", "x": _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match="refused"):
        checkpoint.load(path)
    assert not marker.exists()
