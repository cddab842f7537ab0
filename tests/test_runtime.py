"""The light runtime: edits, codes, plots and the Python API run without torch; a model's runtime
form loads without running code and verifies its hash; training without torch says what to install."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import specblur
from specblur.errors import CheckpointError, ModelNotFoundError
from specblur.runtime import model as runtime
from specblur.runtime import registry
from tests.conftest import tone

# Run a specblur command with torch, torchaudio and scikit-learn made unimportable, as on a machine
# with `pip install specblur` only; report whether any of them got into sys.modules.
_WITHOUT_TORCH = """
import sys
for name in ("torch", "torchaudio", "sklearn", "onnx", "onnxscript"):
    sys.modules[name] = None
from specblur.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
loaded = [m for m in ("torch", "torchaudio", "sklearn") if sys.modules.get(m) is not None]
sys.stderr.write(f"\\nheavy={loaded}\\n")
sys.exit(code)
"""


def without_torch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="module")
def runtime_model(tiny_model: Path) -> Path:
    """``tiny``'s runtime form, written by ``train`` beside its checkpoint."""
    path = tiny_model.with_name("tiny.onnx.npz")
    assert path.is_file()
    return path


def test_edit_commands_run_without_torch(runtime_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(2.0, 44100, (220.0, 330.0), channels=2), 44100, subtype="PCM_24")
    out, codes, back, plot = (tmp_path / n for n in ("out.wav", "c.npz", "back.wav", "p.png"))
    for args in (
        ("blur", str(src), str(out), "-m", "tiny", "-t", "0.5-1.5", "--plot", str(plot), "--energy"),
        ("encode", str(src), str(codes), "-m", "tiny"),
        ("decode", str(codes), str(back), "--original-rate"),
    ):
        proc = without_torch(*args)
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stderr.decode().rstrip().endswith("heavy=[]")
    assert sf.info(out).frames == sf.info(src).frames and plot.stat().st_size > 1000
    assert sf.info(back).samplerate == 44100 and sf.info(back).channels == 2
    piped = without_torch("blur", "-", "-", "-m", "tiny", "-t", "0.5-1.5", stdin=src.read_bytes())
    assert piped.returncode == 0 and piped.stdout == out.read_bytes()  # same seed, same bytes


def test_python_api_runs_without_torch(runtime_model: Path) -> None:
    code = (
        "import sys\n"
        "for n in ('torch', 'torchaudio', 'sklearn'): sys.modules[n] = None\n"
        "import numpy as np, specblur\n"
        "x = 0.3 * np.sin(np.arange(32000) / 16000 * 2 * np.pi * 440)\n"
        "y = specblur.blur(x, 16000, time=(0.5, 1.5), freq=(200, 2000), seed=0, model='tiny')\n"
        "print(np.abs(y - x).max() > 0, y.shape == x.shape)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]


def test_training_without_torch_says_what_to_install(tones_dir: Path) -> None:
    proc = without_torch("train", str(tones_dir), "--name", "x", "--preset", "tiny")
    lines = [line for line in proc.stderr.decode().splitlines() if line]
    assert proc.returncode == 1
    assert "pip install 'specblur[train]'" in lines[0] and lines[1].startswith("heavy=")


def test_a_checkpoint_without_torch_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old.pt"
    copy.write_bytes(tiny_model.read_bytes())  # a checkpoint with no runtime form beside it
    src = tmp_path / "in.wav"
    sf.write(src, tone(1.0, 16000, (220.0,)), 16000)
    proc = without_torch("blur", str(src), str(tmp_path / "o.wav"), "-m", str(copy))
    err = proc.stderr.decode().splitlines()[0]
    assert proc.returncode == 2 and "old.pt" in err and "specblur[train]" in err
    assert not (tmp_path / "o.wav").exists()


def test_a_checkpoint_is_converted_once_where_torch_is(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old.pt"
    copy.write_bytes(tiny_model.read_bytes())
    from specblur.learn.convert import write_runtime_file

    path = registry.resolve_runtime(str(copy), write_runtime_file)
    assert path == tmp_path / "old.onnx.npz"
    mtime = path.stat().st_mtime_ns
    assert registry.resolve_runtime(str(copy), write_runtime_file) == path and path.stat().st_mtime_ns == mtime
    # the API passes the training side's converter where torch is installed
    assert specblur.load_model(str(copy)).hash == runtime.load(path).hash
    # the runtime alone never converts: without a converter it says what to install
    again = tmp_path / "again.pt"
    again.write_bytes(tiny_model.read_bytes())
    with pytest.raises(ModelNotFoundError, match="specblur.train"):
        registry.resolve_runtime(str(again))
    assert runtime.load(path).hash == runtime.load(tiny_model.with_name("tiny.onnx.npz")).hash


def _rewrite(src: Path, dst: Path, change) -> None:
    with np.load(src, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    dst.write_bytes(buffer.getvalue())


def test_runtime_form_is_verified(runtime_model: Path, tmp_path: Path) -> None:
    ok = runtime.load(runtime_model)
    assert ok.prior and ok.name == "tiny"

    def flip(arrays):
        table = arrays["prior.bottom.class_count"].copy()
        table[0] += 1
        arrays["prior.bottom.class_count"] = table

    def newer(arrays):
        meta = json.loads(arrays["meta"].tobytes())
        meta["format_version"] = 99
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    def graph(arrays):
        data = arrays["decoder"].copy()
        data[len(data) // 2] ^= 0xFF
        arrays["decoder"] = data

    def forged(arrays):  # a damaged table whose recorded hash was edited to match: the record's own hash says no
        flip(arrays)
        meta = json.loads(arrays["meta"].tobytes())
        meta["members"]["prior.bottom.class_count"] = runtime._member_digest(
            "prior.bottom.class_count", arrays["prior.bottom.class_count"]
        )
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    def dropped(arrays):
        del arrays["prior.top.row_count"]

    cases = {
        "newer": (newer, "format version 99"),
        "graph": (graph, "damaged"),
        "forged": (forged, "damaged"),
        "dropped": (dropped, "damaged"),
    }
    for name, (change, message) in cases.items():
        _rewrite(runtime_model, tmp_path / f"{name}.onnx.npz", change)
        with pytest.raises(CheckpointError, match=message):
            runtime.load(tmp_path / f"{name}.onnx.npz")
    # a prior's tables are checked when an edit first uses them: loading succeeds, the use is refused
    _rewrite(runtime_model, tmp_path / "flip.onnx.npz", flip)
    flipped = runtime.load(tmp_path / "flip.onnx.npz")
    flipped.prior["top"]  # undamaged level: fine
    with pytest.raises(CheckpointError, match="prior.bottom.class_count does not match its recorded hash"):
        flipped.prior["bottom"]
    (tmp_path / "cut.onnx.npz").write_bytes(runtime_model.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        runtime.load(tmp_path / "cut.onnx.npz")
    with zipfile.ZipFile(tmp_path / "pickle.onnx.npz", "w") as z:  # an object array: would need pickle
        buf = io.BytesIO()
        np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        z.writestr("meta.npy", buf.getvalue())
    with pytest.raises(CheckpointError):
        runtime.load(tmp_path / "pickle.onnx.npz")
    with pytest.raises(ModelNotFoundError):
        registry.resolve_runtime(str(tmp_path / "missing.onnx.npz"))


def test_version_1_files_still_load_and_are_checked_whole(runtime_model: Path, tmp_path: Path) -> None:
    def as_version_1(arrays, damage=False):
        meta = json.loads(arrays.pop("meta").tobytes())
        meta["format_version"] = 1
        del meta["members"]
        meta["content_sha256"] = runtime._digest(meta, arrays)
        if damage:
            table = arrays["prior.top.class_count"].copy()
            table[0] += 1
            arrays["prior.top.class_count"] = table
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    _rewrite(runtime_model, tmp_path / "v1.onnx.npz", as_version_1)
    old = runtime.load(tmp_path / "v1.onnx.npz")
    assert old.hash == runtime.load(runtime_model).hash and set(old.prior) == {"top", "bottom"}
    assert old.prior["bottom"].num_codes == runtime.load(runtime_model).prior["bottom"].num_codes
    _rewrite(runtime_model, tmp_path / "v1bad.onnx.npz", lambda a: as_version_1(a, damage=True))
    with pytest.raises(CheckpointError, match="damaged"):
        runtime.load(tmp_path / "v1bad.onnx.npz")


def test_bundled_default_ships_in_runtime_form() -> None:
    entry = registry.bundled("runtime")["default"]
    path = registry.bundled_folder() / entry.file
    assert registry.sha256_file(path) == entry.sha256
    model = runtime.load(path)
    assert model.name == "default" and set(model.prior) == {"top", "bottom"}
    # codes made by the training checkpoint decode with the runtime form: the same weight hash
    from specblur.learn import checkpoint

    assert checkpoint.load(registry.bundled_folder() / registry.bundled()["default"].file).hash == model.hash


def _metadata_only_graph(data: bytes) -> bytes:
    """A protobuf ModelProto holding only ``data``'s metadata (as onnxruntime reads it): no graph."""
    from specblur.runtime.session import session

    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out

    def text(field: int, value: str) -> bytes:
        raw = value.encode()
        return bytes([field << 3 | 2]) + varint(len(raw)) + raw

    graph = b""
    for key, value in session(data, 1).get_modelmeta().custom_metadata_map.items():
        entry = text(1, key) + text(2, value)
        graph += bytes([14 << 3 | 2]) + varint(len(entry)) + entry  # ModelProto.metadata_props
    return graph


def test_graph_sessions_are_made_on_first_use(runtime_model: Path, tmp_path: Path, monkeypatch) -> None:
    """The graphs' metadata is read from their bytes (as onnxruntime reads it); the encoder's and
    decoder's sessions are made by the first edit that runs them, so a whole-file edit on two tile
    workers (sessions of their own) never makes them; a graph onnxruntime cannot load is a one-line
    model error naming the file when first run."""
    from specblur.edit import tiles
    from specblur.edit.on_file import blur_file
    from specblur.runtime.onnx_model import graph_metadata
    from specblur.runtime.session import session

    with np.load(runtime_model, allow_pickle=False) as archive:
        for role in ("encoder", "decoder"):
            data = archive[role].tobytes()
            assert graph_metadata(data) == dict(session(data, 1).get_modelmeta().custom_metadata_map)
            with pytest.raises(ValueError, match="truncated"):
                graph_metadata(data[: len(data) // 2])
    path = tmp_path / "long.wav"
    sf.write(path, tone(40.0, 16000, (220.0, 330.0)) * 0.3, 16000, subtype="PCM_16")
    model = runtime.load(runtime_model)
    assert model.model.onnx._sessions == {}
    monkeypatch.setattr(tiles, "WORKERS", 2)
    blur_file(model, str(path), str(tmp_path / "out.wav"), seed=1)
    assert model.model.onnx._sessions == {}  # the tiles ran on the workers' own sessions
    specblur.blur(tone(2.0, 16000, (220.0,)), 16000, time=(0.5, 1.5), model=model, seed=1)
    assert set(model.model.onnx._sessions) == {"encoder", "decoder"}

    def hollow(arrays):  # the decoder's metadata kept, its graph gone; the record's hashes made to match
        arrays["decoder"] = np.frombuffer(_metadata_only_graph(arrays["decoder"].tobytes()), np.uint8)
        meta = json.loads(arrays["meta"].tobytes())
        meta["members"]["decoder"] = runtime._member_digest("decoder", arrays["decoder"])
        meta["content_sha256"] = runtime._digest(meta, {})
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    _rewrite(runtime_model, tmp_path / "hollow.onnx.npz", hollow)
    broken = runtime.load(tmp_path / "hollow.onnx.npz")
    with pytest.raises(CheckpointError, match=r"hollow\.onnx\.npz: the decoder does not load \(.*\); export the"):
        specblur.blur(tone(2.0, 16000, (220.0,)), 16000, time=(0.5, 1.5), model=broken, seed=1)
