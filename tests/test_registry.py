"""Model resolution: explicit path, data dir, bundled models verified and copied once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from specblur.config import PRESETS
from specblur.errors import ChecksumError, ModelNotFoundError, UsageError
from specblur.learn import checkpoint
from specblur.learn.model import VQVAE2
from specblur.runtime import registry


@pytest.fixture()
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    torch.manual_seed(0)
    checkpoint.save(folder / "b.pt", VQVAE2(PRESETS["tiny"]), "bundled", {})
    digest = hashlib.sha256((folder / "b.pt").read_bytes()).hexdigest()
    (folder / "MANIFEST").write_text(f"# comment\nbundled b.pt {digest}\n")
    monkeypatch.setattr(registry, "bundled_folder", lambda: folder)
    monkeypatch.setenv("SPECBLUR_DATA_DIR", str(tmp_path / "data"))
    return folder


def test_explicit_path_then_data_dir_then_bundled(bundle: Path, tmp_path: Path) -> None:
    assert registry.resolve(str(bundle / "b.pt")) == bundle / "b.pt"
    copied = registry.resolve("bundled")
    assert copied.parent == tmp_path / "data" / "bundled"
    assert copied.read_bytes() == (bundle / "b.pt").read_bytes()
    checkpoint.save(registry.model_path("bundled"), VQVAE2(PRESETS["tiny"]), "mine", {})
    assert registry.resolve("bundled") == registry.model_path("bundled")  # a trained model wins


def test_hash_mismatch_is_refused(bundle: Path) -> None:
    data = bytearray((bundle / "b.pt").read_bytes())
    data[-100] ^= 0xFF
    (bundle / "b.pt").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="MANIFEST"):
        registry.resolve("bundled")
    assert not list((registry.data_dir() / "bundled").glob("*.pt"))


def test_concurrent_first_use_makes_one_verified_copy(bundle: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: registry.resolve("bundled"), range(8)))
    assert len(set(paths)) == 1
    assert [p.name for p in paths[0].parent.iterdir() if p.suffix == ".pt"] == [paths[0].name]
    assert checkpoint.load(paths[0]).name == "bundled"


def test_unknown_model_lists_known_ones(bundle: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="known models: bundled"):
        registry.resolve("nope")
    with pytest.raises(ModelNotFoundError, match="no such model file"):
        registry.resolve("missing/file.pt")
    with pytest.raises(UsageError):
        registry.model_path("../escape")
