"""The command line end to end: train, encode, decode, errors and exit codes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from specblur.learn import checkpoint
from tests.conftest import run_cli, sigint_default, tone


def test_importing_the_cli_does_not_import_torch() -> None:
    code = (
        "import sys, specblur.cli; "
        "print([m for m in ('torch', 'torchaudio', 'sklearn', 'codecarbon') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and b"train" in result.stdout and b"encode" in result.stdout
    assert run_cli("--version").stdout.strip().startswith(b"specblur, version")


def test_tiny_training_learns(tiny_model: Path) -> None:
    loaded = checkpoint.load(tiny_model)
    record = loaded.training
    assert record["steps"] == 300 and record["train_files"] + record["heldout_files"] == 12
    # held-out notes are other pitches than the 8 trained on: the error falls, though not to zero
    assert record["heldout"]["recon_mse"] < 0.6 * record["initial"]["recon_mse"]
    assert record["heldout"]["lsd_db"] < 0.8 * record["initial"]["lsd_db"]
    assert record["history"][-1]["step"] == 300
    assert set(loaded.prior) == {"top", "bottom"}
    bottom = record["prior"]["bottom"]
    assert bottom["bits"] < bottom["unigram_bits"]
    assert loaded.prior["bottom"].temperature >= 1.0


def test_fit_prior_alone(tiny_model: Path, tones_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "refit.pt"
    result = run_cli("fit-prior", str(tones_dir), "-m", "tiny", "--radius", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    refit = checkpoint.load(out)
    assert refit.prior["bottom"].radius == 2
    original = checkpoint.load(tiny_model)
    assert refit.hash == original.hash  # the codec is untouched
    assert refit.training["energy"]["prior_kwh"] > original.training["energy"]["prior_kwh"]  # measured


def test_same_seed_same_model_and_resume_matches(tones_dir: Path, data_dir: Path) -> None:
    args = [str(tones_dir), "--preset", "tiny", "--seed", "3", "-q"]
    assert run_cli("train", *args, "--name", "a", "--steps", "20").returncode == 0
    assert run_cli("train", *args, "--name", "b", "--steps", "20").returncode == 0
    assert run_cli("train", *args, "--name", "c", "--steps", "10").returncode == 0
    first_half = checkpoint.load(data_dir / "models" / "c.pt").training["energy"]["train_s"]
    resumed = run_cli("train", *args, "--name", "c", "--steps", "20", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(data_dir / "models" / "c.pt").training["energy"]["train_s"] > first_half  # both halves
    hashes = [checkpoint.load(data_dir / "models" / f"{n}.pt").hash for n in "abc"]
    assert hashes[0] == hashes[1] == hashes[2]
    assert run_cli("train", *args, "--name", "d", "--steps", "20", "--seed", "4").returncode == 0
    assert checkpoint.load(data_dir / "models" / "d.pt").hash != hashes[0]


def test_encode_decode_stereo_44k(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "stereo.wav"
    sf.write(src, tone(1.23, 44100, (220.0, 660.0), channels=2), 44100, subtype="PCM_24")
    before = src.read_bytes()
    codes = tmp_path / "stereo.npz"
    out = run_cli("encode", str(src), str(codes), "--model", "tiny")
    assert out.returncode == 0, out.stderr
    assert src.read_bytes() == before
    with np.load(codes, allow_pickle=False) as npz:
        assert npz["top"].shape[0] == 2 and npz["bottom"].shape[0] == 2
        assert npz["bottom"].dtype == np.int32
    wav = tmp_path / "back.wav"
    assert run_cli("decode", str(codes), str(wav)).returncode == 0
    info = sf.info(wav)
    assert (info.samplerate, info.channels) == (16000, 2)
    assert abs(info.frames - round(1.23 * 16000)) <= 1
    full = tmp_path / "back44.flac"
    assert run_cli("decode", str(codes), str(full), "--original-rate").returncode == 0
    info = sf.info(full)
    assert (info.samplerate, info.channels, info.frames, info.format) == (44100, 2, round(1.23 * 44100), "FLAC")
    decoded, _ = sf.read(full)
    assert np.abs(decoded).max() > 0.01  # not silence


def test_stdin_to_stdout(tiny_model: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, tone(0.7, 16000, (300.0,)), 16000, format="WAV")
    coded = run_cli("encode", "-", "-", "-m", "tiny", stdin=buffer.getvalue())
    assert coded.returncode == 0, coded.stderr
    decoded = run_cli("decode", "-", "-", stdin=coded.stdout)
    assert decoded.returncode == 0, decoded.stderr
    samples, rate = sf.read(io.BytesIO(decoded.stdout))
    assert rate == 16000 and len(samples) == round(0.7 * 16000)


def test_codes_from_another_model_are_refused(tiny_model: Path, tmp_path: Path, data_dir: Path) -> None:
    other = checkpoint.load(tiny_model)
    with torch.no_grad():
        other.model.decoder[0].weight.add_(0.01)
    checkpoint.save(tmp_path / "other.pt", other.model, "other", {})
    src = tmp_path / "a.wav"
    sf.write(src, tone(0.5, 16000, (440.0,)), 16000)
    codes = tmp_path / "a.npz"
    assert run_cli("encode", str(src), str(codes), "-m", "tiny").returncode == 0
    result = run_cli("decode", str(codes), str(tmp_path / "x.wav"), "-m", str(tmp_path / "other.pt"))
    assert result.returncode == 2
    assert b"made by model 'tiny'" in result.stderr and b"--model tiny" in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_errors_are_one_line_with_sox_exit_codes(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, tone(0.5, 16000, (440.0,)), 16000)
    existing = tmp_path / "exists.npz"
    existing.write_bytes(b"keep")
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    cases = [
        (("encode", str(tmp_path / "missing.wav"), str(tmp_path / "o1.npz"), "-m", "tiny"), 2, b"no such file"),
        (("encode", str(text), str(tmp_path / "o2.npz"), "-m", "tiny"), 2, b"cannot read audio"),
        (("encode", str(src), str(existing), "-m", "tiny"), 1, b"--force"),
        (("encode", str(src), str(src), "-m", "tiny"), 1, b"output is the input"),
        (("encode", str(src), str(tmp_path / "o3.npz"), "-m", "nosuchmodel"), 2, b"not found"),
        (("encode", str(src), str(tmp_path / "nodir" / "o.npz"), "-m", "tiny"), 1, b"does not exist"),
        (("decode", str(text), str(tmp_path / "o4.wav")), 2, b"not a specblur code file"),
        (("train", str(tmp_path / "nodata"), "--name", "x", "--preset", "tiny"), 2, b"no such folder"),
        (("train", str(tmp_path), "--name", "bad/name"), 1, b"bad model name"),
        (("encode", str(src)), 1, b"Missing argument"),
        (("frobnicate",), 1, b"No such command"),
    ]
    for args, code, message in cases:
        result = run_cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count(b"\n") == 1, (args, result.stderr)
        assert b"Traceback" not in result.stderr
    assert existing.read_bytes() == b"keep"
    assert not any(p.name.startswith("o") for p in tmp_path.iterdir())
    assert b"Traceback" in run_cli("--debug", "encode", str(src), str(tmp_path / "o.npz"), "-m", "nope").stderr


def test_ctrl_c_saves_a_resumable_run(tones_dir: Path, data_dir: Path) -> None:
    import os
    import signal

    args = [sys.executable, "-m", "specblur", "train", str(tones_dir), "--name", "stopped", "--preset", "tiny"]
    proc = subprocess.Popen(
        [*args, "--steps", "1000000"], stderr=subprocess.PIPE, env=os.environ.copy(), preexec_fn=sigint_default
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(b"step 100:"):  # the first held-out evaluation: training is under way
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"--resume" in err
    saved = checkpoint.load(data_dir / "runs" / "stopped.pt")
    step = saved.extra["step"]
    assert step >= 100
    resumed = subprocess.run([*args, "--steps", str(step + 5), "--resume", "-q"], capture_output=True)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(data_dir / "models" / "stopped.pt").training["steps"] == step + 5
