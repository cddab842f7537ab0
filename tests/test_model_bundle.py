"""The shipped default model: listed and verified, used when no --model is given, safe when many
processes start at once on an empty data dir, and good enough to edit the bundled example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from specblur import checkpoint, registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "note.wav"


def test_manifest_lists_a_verified_default() -> None:
    entry = registry.bundled()["default"]
    path = registry.bundled_folder() / entry.file
    assert registry.sha256_file(path) == entry.sha256
    # small enough to ship: 14 MB (float16 weights, both priors), 16 MB (float32 graphs, stored uncompressed)
    assert path.stat().st_size < 20e6
    assert (registry.bundled_folder() / registry.bundled("runtime")["default"].file).stat().st_size < 20e6
    loaded = checkpoint.load(path)
    assert set(loaded.prior) == {"top", "bottom"}
    record = loaded.training
    assert record["heldout"]["lsd_db"] < 0.25 * record["initial"]["lsd_db"]  # it learned
    for level in ("top", "bottom"):
        assert record["prior"][level]["bits"] < record["prior"][level]["unigram_bits"]
    assert record["energy"]["train_kwh"] > 0  # training was measured


def test_eight_processes_at_once_on_an_empty_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "SPECBLUR_DATA_DIR": str(data), "OMP_NUM_THREADS": "1"}
    outs = [tmp_path / f"out{i}.wav" for i in range(8)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "specblur",
                "blur",
                str(EXAMPLE),
                str(out),
                "--time",
                "1.0-2.0",
                "--freq",
                "200-2000",
            ],
            stderr=subprocess.PIPE,
            env=env,
        )
        for out in outs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    copies = sorted((data / "bundled").glob("*.onnx.npz"))  # edits load the runtime form
    assert len(copies) == 1 and copies[0].name.startswith("default-")
    assert registry.sha256_file(copies[0]) == registry.bundled("runtime")["default"].sha256
    assert not list((data / "bundled").glob("*.pt"))  # the training checkpoint is not needed
    first = outs[0].read_bytes()
    assert all(out.read_bytes() == first for out in outs)  # same seed, same bytes
    x, rate = sf.read(EXAMPLE, dtype="float64")
    y = sf.read(outs[0], dtype="float64")[0]
    inside = slice(int(1.0 * rate), int(2.0 * rate))
    assert np.sqrt(np.mean((y[inside] - x[inside]) ** 2)) > 1e-3 * np.sqrt(np.mean(x[inside] ** 2))
    assert np.array_equal(y[: int(0.4 * rate)], x[: int(0.4 * rate)])
    assert np.array_equal(y[int(2.6 * rate) :], x[int(2.6 * rate) :])
