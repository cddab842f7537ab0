"""The MNIST prototype script runs, on scikit-learn's 8x8 digits (a fresh clone has no MNIST)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "mnist_vqvae.py"


def _module():
    spec = importlib.util.spec_from_file_location("mnist_vqvae", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prototype_learns_and_restarts_revive_codes(tmp_path: Path, capsys) -> None:
    results = _module().main(
        ["--digits", "--steps", "100", "--variants", "ema", "ema+restart", "--json", str(tmp_path / "r.json")]
    )
    for r in results.values():
        assert r["mse"] < 0.7 * r["untrained_mse"]
    assert results["ema+restart"]["unused_bottom"] < results["ema"]["unused_bottom"]
    assert results["ema+restart"]["perplexity_top"] > results["ema"]["perplexity_top"]
    assert "| ema+restart |" in capsys.readouterr().out
    assert (tmp_path / "r.json").is_file()
