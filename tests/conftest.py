"""Shared fixtures: a private data dir, synthetic audio with awkward lengths, and one tiny model
trained through the real CLI once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test sees an empty private data dir (never the user's)."""
    path = tmp_path_factory.mktemp("specblur-data")
    old = os.environ.get("SPECBLUR_DATA_DIR")
    os.environ["SPECBLUR_DATA_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SPECBLUR_DATA_DIR", None)
    else:
        os.environ["SPECBLUR_DATA_DIR"] = old


def tone(seconds: float, rate: int, freqs: tuple[float, ...], channels: int = 1, seed: int = 0) -> np.ndarray:
    """Decaying harmonic tones plus a little noise: ``(frames, channels)`` float32."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    out = np.empty((n, channels), dtype=np.float32)
    for c in range(channels):
        wave = sum(0.25 / (k + 1) * np.sin(2 * np.pi * f * (c + 1) * t) for k, f in enumerate(freqs))
        out[:, c] = wave * np.exp(-t * 0.8) + 1e-4 * rng.standard_normal(n)
    return out


def frames_db(x: np.ndarray, rate: int, hop: float = 0.025) -> tuple[np.ndarray, np.ndarray]:
    """Per 50 ms frame (hop 25 ms) of ``(frames, channels)`` audio: level (dB) and log spectrum (dB)
    of the channels' mean (what the seam tests of tiles and repair blocks compare)."""
    mono = x.mean(axis=1)
    size, step = int(0.05 * rate), int(hop * rate)
    starts = np.arange(0, len(mono) - size, step)
    frames = np.stack([mono[s : s + size] for s in starts]) * np.hanning(size)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    spec = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-6)
    return level, spec


@pytest.fixture(scope="session")
def tones_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve short synthetic notes of lengths that are not multiples of the hop."""
    folder = tmp_path_factory.mktemp("tones")
    for i in range(12):
        f0 = 110.0 * 2 ** (i / 5)
        rate = 16000 if i % 3 else 22050
        sf.write(folder / f"note{i:02d}.wav", tone(1.5 + 0.0137 * i, rate, (f0, 2 * f0, 3 * f0), seed=i), rate)
    return folder


def cli_in_process(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """The CLI in this process (the model stays loaded between calls): (exit code, stderr)."""
    from specblur.cli import main

    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = 0
    return code, capsys.readouterr().err


def run_cli(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "specblur", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture(scope="session")
def tiny_model(tones_dir: Path, data_dir: Path) -> Path:
    """A ``tiny`` model trained end to end through the CLI, saved as ``tiny`` in the data dir.

    ``SPECBLUR_TEST_MODELS``, a folder holding such a model (``tiny.pt`` and what goes with it), is
    copied instead: tools/mutation.sh trains it once and runs the tests once per mutant."""
    trained = os.environ.get("SPECBLUR_TEST_MODELS")
    if trained:
        import shutil

        shutil.copytree(trained, data_dir / "models", dirs_exist_ok=True)
        return data_dir / "models" / "tiny.pt"
    result = run_cli("train", str(tones_dir), "--name", "tiny", "--preset", "tiny", "--steps", "300", "--seed", "1")
    assert result.returncode == 0, result.stderr.decode()
    path = data_dir / "models" / "tiny.pt"
    assert path.is_file()
    return path


def sigint_default() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: a shell starts background jobs
    (``cmd &``) with SIGINT ignored and children inherit that, so under such a runner Python would never
    raise KeyboardInterrupt; the child gets the default back (what a terminal's Ctrl-C meets)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Paused:
    """The CLI in a subprocess, stopped at ``specblur._testhooks.pause_point(point)``: the test acts
    (sends a signal, looks at the folder) while the command is known to be there, then lets it go on
    with :meth:`resume` and collects it with :meth:`finish`."""

    def __init__(
        self, point: str, *args: str, stdin: Any = None, python: tuple[str, ...] = ("-m", "specblur"), env: Any = None
    ) -> None:
        """``stdin``: what the command reads (a pipe's end, a file); ``python``: what runs the
        arguments (``("-c", CODE)`` to change something first); ``env``: variables added."""
        import select

        reached_r, reached_w = os.pipe()
        resume_r, self._resume_w = os.pipe()
        env = {**os.environ, **(env or {}), "SPECBLUR_TEST_PAUSE": f"{point}:{reached_w}:{resume_r}"}
        self.proc = subprocess.Popen(
            [sys.executable, *python, *args],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=(reached_w, resume_r),
            preexec_fn=sigint_default,
        )
        os.close(reached_w)
        os.close(resume_r)
        try:
            # a safety net against a hung child, not a timing: the line comes, or EOF when it exits
            ready, _, _ = select.select([reached_r], [], [], 600)
            line = os.read(reached_r, 100) if ready else b""
        finally:
            os.close(reached_r)
        if line != f"{point}\n".encode():
            self.proc.kill()
            _, err = self.proc.communicate()
            os.close(self._resume_w)
            raise AssertionError(f"the command never reached {point!r}: {err.decode()}")

    def resume(self) -> None:
        os.write(self._resume_w, b"x")

    def finish(self) -> tuple[int, str]:
        os.close(self._resume_w)  # EOF resumes it too, if it is still waiting
        _, err = self.proc.communicate(timeout=300)
        return self.proc.returncode, err.decode()


def edge_taper(n: int, rate: int = 44100, seconds: float = 0.005) -> np.ndarray:
    """Ones, with raised-cosine ramps of ``seconds`` at both ends (at most half of ``n`` each)."""
    w = np.ones(n)
    k = max(1, min(int(seconds * rate), n // 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
    w[:k], w[n - k :] = ramp, ramp[::-1]
    return w
