"""The built wheel carries the bundled models (``models/`` → ``specblur._models``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_models_and_manifest(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("specblur-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "specblur/_models/MANIFEST" in names
    listed = [ln.split()[1] for ln in (ROOT / "models" / "MANIFEST").read_text().splitlines() if ln and ln[0] != "#"]
    for file in listed:
        assert f"specblur/_models/{file}" in names
    assert "specblur/_examples/note.wav" in names  # the example 'specblur energy --measure' blurs
    assert "specblur/cli/__init__.py" in names and "specblur/py.typed" in names
    for room in ("runtime", "priors", "edit", "edit/effects", "energy", "learn"):
        assert f"specblur/{room}/__init__.py" in names, room
    for name in ("index.html", "app.js", "style.css"):  # specblur edit's page
        assert f"specblur/editor/static/{name}" in names
    # `pip install specblur` is the runtime; torch and the export tools come only with [train]
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    plain = {
        r.split(";")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() for r in requires if ";" not in r
    }
    train = {
        r.split(";")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() for r in requires if "train" in r
    }
    assert {"numpy", "soundfile", "onnxruntime"} <= plain
    assert not plain & {"torch", "torchaudio", "scikit-learn", "onnx", "onnxscript"}
    assert {"torch", "torchaudio", "scikit-learn", "onnx", "onnxscript"} <= train
