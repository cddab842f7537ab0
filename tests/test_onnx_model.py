"""specblur.learn.export + specblur.runtime.onnx_model against the torch model: the same codes, the same images.

Both the bundled default model and the ``tiny`` fixture are exported once per module; each is checked
at several widths (in frames, not multiples of a code cell), on real features and on random images.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch

from specblur.learn import checkpoint
from specblur.learn.export import OPSET, export_onnx
from specblur.learn.model import Codes
from specblur.runtime import dsp, registry
from specblur.runtime.onnx_model import OnnxModel

NOTE = Path(__file__).resolve().parent.parent / "examples" / "note.wav"
WIDTHS = [1, 8, 9, 63, 251]


@pytest.fixture(scope="module")
def default_pair():
    loaded = checkpoint.load(registry.resolve(None))
    exported = export_onnx(loaded)
    return loaded, exported, OnnxModel.from_export(exported, threads=2)


@pytest.fixture(scope="module")
def tiny_pair(tiny_model: Path):
    loaded = checkpoint.load(tiny_model)
    exported = export_onnx(loaded.model)  # a bare VQVAE2 works too
    return loaded, exported, OnnxModel.from_export(exported, threads=2)


def images_for(loaded, seed: int) -> np.ndarray:
    """Two images of 251 frames: the real note's features and random values around the floor."""
    cfg = loaded.model.config.spectrogram
    wave, rate = sf.read(NOTE, dtype="float32")
    real = dsp.Features(cfg).features(dsp.resample(wave, rate, cfg.sample_rate))[:, :251]
    rng = np.random.default_rng(seed)
    noisy = (rng.standard_normal(real.shape) * 0.6 + 0.2).astype(np.float32)
    return np.stack([real, noisy])[:, None]


def check_model(loaded, onnx_model: OnnxModel, seed: int) -> None:
    model = loaded.model
    images = images_for(loaded, seed)
    rng = np.random.default_rng(seed)
    for width in WIDTHS:
        part = np.ascontiguousarray(images[..., :width])
        ref = model.encode(torch.from_numpy(part))
        top, bottom = onnx_model.encode(part)
        assert top.dtype == bottom.dtype == np.int64
        assert np.array_equal(top, ref.top.numpy()), f"top codes differ at {width} frames"
        assert np.array_equal(bottom, ref.bottom.numpy()), f"bottom codes differ at {width} frames"
        shape = model.code_shape(width)
        assert onnx_model.code_shape(width) == shape
        assert top.shape[1:] == shape["top"] and bottom.shape[1:] == shape["bottom"]

        decoded = onnx_model.decode(top, bottom, width)
        decoded_ref = model.decode(ref, width).numpy()
        assert decoded.shape == decoded_ref.shape == (2, 1, model.config.spectrogram.n_bins, width)
        assert np.abs(decoded - decoded_ref).max() <= 1e-4  # measured 2e-6

        # arbitrary codes (not an encoder's output) decode the same too
        r_top = rng.integers(0, model.config.model.top.num_codes, top.shape)
        r_bottom = rng.integers(0, model.config.model.bottom.num_codes, bottom.shape)
        ref_img = model.decode(Codes(torch.from_numpy(r_top), torch.from_numpy(r_bottom)), width).numpy()
        assert np.abs(onnx_model.decode(r_top, r_bottom, width) - ref_img).max() <= 1e-4


def test_default_model_codes_and_images_match_torch(default_pair) -> None:
    loaded, _, onnx_model = default_pair
    check_model(loaded, onnx_model, seed=0)


def test_tiny_model_codes_and_images_match_torch(tiny_pair) -> None:
    loaded, _, onnx_model = tiny_pair
    check_model(loaded, onnx_model, seed=1)


def test_single_image_batch_and_one_thread(default_pair) -> None:
    loaded, exported, _ = default_pair
    onnx_model = OnnxModel(exported.encoder, exported.decoder, threads=1)
    image = images_for(loaded, 2)[:1, :, :, :100]
    ref = loaded.model.encode(torch.from_numpy(image))
    top, bottom = onnx_model.encode(image)
    assert np.array_equal(top, ref.top.numpy()) and np.array_equal(bottom, ref.bottom.numpy())


def test_graphs_and_metadata(default_pair) -> None:
    loaded, exported, onnx_model = default_pair
    for data, role in ((exported.encoder, "encoder"), (exported.decoder, "decoder")):
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto)
        assert {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}["ai.onnx"] == OPSET == 17
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["specblur.role"] == role
        assert meta["specblur.model_hash"] == loaded.hash
        assert json.loads(meta["specblur.config"]) == loaded.model.config.to_dict()
    assert onnx_model.config == loaded.model.config
    assert onnx_model.hash == loaded.hash
    assert onnx_model.cell == loaded.model.cell
    assert onnx_model.floor_value == loaded.model.spectrogram.floor_value
    assert exported.seconds > 0


def test_bad_inputs_are_refused(default_pair) -> None:
    loaded, exported, onnx_model = default_pair
    rows = loaded.model.config.spectrogram.n_bins
    with pytest.raises(ValueError, match="expected images"):
        onnx_model.encode(np.zeros((1, 1, 64, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="0 frames"):
        onnx_model.encode(np.zeros((1, 1, rows, 0), dtype=np.float32))
    top, bottom = onnx_model.encode(np.zeros((1, 1, rows, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        onnx_model.decode(top, bottom[:, :, :2], 16)
    with pytest.raises(ValueError, match="outside"):
        onnx_model.decode(top + 10_000, bottom, 16)
    with pytest.raises(ValueError, match="encoder"):
        OnnxModel(exported.decoder, exported.decoder)


def test_runtime_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import specblur.runtime.dsp, specblur.runtime.onnx_model, specblur.runtime.resynth\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
