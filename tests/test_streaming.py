"""Long edits stream a tile at a time (issue 20): the result does not depend on how the work is run,
tiles meet without a seam, a batch runs on several processes with the same bytes, progress shows
on a terminal only, and whatever goes wrong on the way (the input cut while it is read, a full disk,
SIGTERM) leaves no output."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import Paused, frames_db, run_cli, tone

from specblur.edit import on_file, tiles


def _long(path: Path, seconds: float, rate: int = 16000, subtype: str = "PCM_16", seed: int = 0) -> Path:
    """Notes that change every 1.3 s (not on the tiles' boundaries) and pauses, so that tiles differ
    and a seam would show."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(int(seconds / 1.3) + 1):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        note = tone(1.3, rate, (f0, 2 * f0, 3 * f0), channels=2, seed=k)
        if k % 7 == 6:
            note *= 0.0  # a pause
        parts.append(note)
    x = np.concatenate(parts)[: int(seconds * rate)]
    sf.write(path, x, rate, subtype=subtype)
    return path


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _long(tmp_path_factory.mktemp("long") / "long.wav", 40.0, subtype="FLOAT")


def test_tiles_cover_the_region_in_equal_shares_that_overlap() -> None:
    assert tiles.tiles((1.0, 1.0 + tiles.LONG_SECONDS), 16000) is None
    cut = tiles.tiles((2.0, 42.0), 16000)
    assert len(cut) == int(np.ceil(40.0 / tiles.TILE_SECONDS))  # 40 s in equal shares of at most TILE_SECONDS
    assert all(t.time[1] - t.time[0] <= tiles.TILE_SECONDS + 2 * tiles.OVERLAP_SECONDS + 1e-9 for t in cut)
    assert cut[0].time[0] == 2.0 and cut[-1].time[1] == 42.0
    for a, b in zip(cut, cut[1:], strict=False):
        # each reaches into the next, and what the output takes from them meets end to start
        assert a.time[1] - b.time[0] == pytest.approx(2 * tiles.OVERLAP_SECONDS)
        assert a.keep[1] == b.keep[0] and b.fade == round(tiles.CROSSFADE_SECONDS * 16000)
    gain = tiles.crossfade(100)
    assert gain[0] > 0.99 and gain[-1] < 0.01 and np.allclose(gain + gain[::-1], 1.0)


def test_a_long_blur_is_the_same_whatever_runs_it(tiny_model: Path, long_file: Path, tmp_path: Path) -> None:
    """The file form streams; the array form and each tile run on its own (in any order, on any
    worker) give the same samples; progress counts the tiles."""
    import specblur
    from specblur.edit.on_file import blur_file, edit_samples
    from specblur.edit.options import EditOptions
    from specblur.edit.plan import plan

    model = specblur.load_model(str(tiny_model))
    seen: list[tuple[int, int]] = []
    out = tmp_path / "out.wav"
    edit = blur_file(model, str(long_file), str(out), seed=5, progress=lambda d, n: seen.append((d, n)))
    n = len(tiles.tiles((0.0, 40.0), 16000))
    assert seen == [(k, n) for k in range(n + 1)]
    got, rate = sf.read(out, always_2d=True)
    x, _ = sf.read(long_file, always_2d=True)
    assert edit.result.span == (0, len(x)) and not np.allclose(got, x)
    held = x.copy()
    assert np.array_equal(got, edit_samples(model, x, rate, options=EditOptions(seed=5)).astype(np.float32))
    assert np.array_equal(x, held)  # (the file's tiles are edited in place; the array given is left alone)
    cut = tiles.tiles((0.0, 40.0), rate)
    opts = EditOptions(seed=5)
    for k in (3, 1):  # alone, out of order
        where = plan(model, len(x), rate, cut[k].time, (None, None), opts)
        alone = tiles.run_tile(model, x[where.start : where.stop], rate, where, opts, cut[k], cut[k + 1])
        lo = alone.start + cut[k].fade
        hi = alone.start + len(alone.samples) - cut[k + 1].fade
        assert np.array_equal(
            got[lo:hi], alone.samples[cut[k].fade : len(alone.samples) - cut[k + 1].fade].astype(np.float32)
        )


@pytest.mark.parametrize("prior", ["naive-bayes", "transformer"])
def test_tiles_on_two_threads_write_the_bytes_of_one(
    tiny_model: Path, long_file: Path, tmp_path: Path, monkeypatch, prior: str
) -> None:
    """Tiles edited two at a time (each worker thread on sessions of its own) write what one at a
    time writes, and the threads are gone after."""
    import threading

    import specblur
    from specblur.edit.on_file import blur_file

    model = specblur.load_model(str(tiny_model))
    written = []
    for workers in (1, 2):
        monkeypatch.setattr(tiles, "WORKERS", workers)
        out = tmp_path / f"{workers}.wav"
        blur_file(model, str(long_file), str(out), seed=2, prior=prior)
        written.append(out.read_bytes())
    assert written[0] == written[1] != long_file.read_bytes()
    assert not [t for t in threading.enumerate() if t.name.startswith("specblur-tile")]


def test_a_tile_that_fails_stops_the_others_and_writes_nothing(
    tiny_model: Path, long_file: Path, tmp_path: Path, monkeypatch
) -> None:
    import threading

    import specblur
    from specblur.edit.on_file import blur_file
    from specblur.errors import AudioError

    model = specblur.load_model(str(tiny_model))
    run_tile = tiles.run_tile
    started: list[int] = []

    def failing(loaded, segment, rate, where, options, tile, after, **kw):
        started.append(tile.index)
        if tile.index == 2:
            raise AudioError("tile 2 went wrong")
        return run_tile(loaded, segment, rate, where, options, tile, after, **kw)

    monkeypatch.setattr(tiles, "WORKERS", 2)
    monkeypatch.setattr(tiles, "run_tile", failing)
    out = tmp_path / "out.wav"
    with pytest.raises(AudioError, match="tile 2 went wrong"):
        blur_file(model, str(long_file), str(out), seed=2)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
    assert max(started) <= 4  # (at most the tiles in flight and the one read ahead after the failure)
    assert not [t for t in threading.enumerate() if t.name.startswith("specblur-tile")]


def test_tiles_left_unfinished_may_be_finalised_on_a_worker_thread(monkeypatch) -> None:
    """A caller stopped by an error leaves run_in_order suspended; the garbage collector may then
    finalise it on any thread, a worker's too (seen when a full disk stopped a whole-file blur).
    Closing it there neither raises ("cannot join current thread") nor waits for itself, and the
    other workers stop."""
    import threading

    class Loaded:
        def with_threads(self, threads: int) -> Loaded:
            return self

    go, closed = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    holder: dict[str, object] = {}

    def fake_tile(loaded, segment, rate, where, options, tile, after, **kw):
        if tile.index == 1:  # a worker finalises the generator the caller let go of
            assert go.wait(30)
            try:
                holder["gen"].close()
            except BaseException as exc:  # noqa: BLE001 - whatever it is, the test reports it
                errors.append(exc)
            closed.set()
        return tile.index

    monkeypatch.setattr(tiles, "run_tile", fake_tile)
    plan = [tiles.Tile(k, (k, k + 1.0), (None, None), 0) for k in range(6)]
    prepared = ((t, np.zeros((1, 1)), None, None) for t in plan)
    gen = tiles.run_in_order(Loaded(), 16000, None, prepared, count=2)
    holder["gen"] = gen
    assert next(gen) == 0
    go.set()  # the caller stops taking results; a worker closes the generator
    assert closed.wait(30)
    assert errors == []
    deadline = time.monotonic() + 30
    while [t for t in threading.enumerate() if t.name.startswith("specblur-tile")] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("specblur-tile")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_tiles_run_on_threads_leaves_nothing(tiny_model: Path, tmp_path: Path, sig: int) -> None:
    """Held while the first tile is written, the next ones in flight on the worker threads: a signal
    stops them all (exit 130, no output, no temporary file), the workers at their next step."""
    src = _long(tmp_path / "in.wav", 40.0)
    out = tmp_path / "out.wav"
    two = "from specblur.edit import tiles; tiles.WORKERS = 2; from specblur.cli import main; main()"
    paused = Paused("writing", "blur", str(src), str(out), "-m", str(tiny_model), python=("-c", two))
    paused.proc.send_signal(sig)
    code, err = paused.finish()
    assert code == 130 and "interrupted" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_tiles_meet_without_a_seam(long_file: Path, tmp_path: Path) -> None:
    """Across each boundary the output's level and spectrum step no more than inside a tile: the
    change of (output minus input) from one frame to the next, at the boundaries against everywhere
    else."""
    out = tmp_path / "out.wav"
    result = run_cli("blur", str(long_file), str(out), "--prior", "naive-bayes", "--seed", "2")
    assert result.returncode == 0, result.stderr.decode()
    x, rate = sf.read(long_file, always_2d=True)
    y, _ = sf.read(out, always_2d=True)
    lx, sx = frames_db(x, rate)
    ly, sy = frames_db(y, rate)
    level_step = np.abs(np.diff(ly - lx))
    spectral_step = np.sqrt(np.mean(np.diff(sy - sx, axis=0) ** 2, axis=1))
    loud = (lx[1:] > lx.max() - 40) & (lx[:-1] > lx.max() - 40)  # not the pauses' silence
    cut = tiles.tiles((0.0, 40.0), rate)
    bounds = np.array([t.keep[0] for t in cut[1:]]) / rate + tiles.CROSSFADE_SECONDS / 2
    centres = (np.arange(len(level_step)) + 1) * 0.025 + 0.025
    near = np.min(np.abs(centres[:, None] - bounds[None, :]), axis=1) < 0.2
    for step in (level_step, spectral_step):
        at, inside = step[near & loud], step[~near & loud]
        assert len(at) >= 4 * len(bounds) // 2 and len(inside) > 500
        # the boundaries' steps are drawn from the inside's distribution: their median and 90th
        # percentile are within the inside's 75th and 99th (a hard cut from tile to tile fails this)
        assert np.median(at) <= np.percentile(inside, 75), (np.median(at), np.percentile(inside, [50, 75]))
        assert np.percentile(at, 90) <= np.percentile(inside, 99), (np.percentile(at, 90), np.percentile(inside, 99))
    # and no click: at each boundary the sample-to-sample step of (output minus input) is one its
    # neighbourhood has too (a hard cut from one tile to the next leaves a step there)
    jump = np.abs(np.diff((y - x).mean(axis=1)))
    near_s = int(0.1 * rate)
    checked = 0
    for c in (bounds * rate).astype(int):
        here = jump[c - 2 : c + 3]
        local = np.concatenate([jump[c - near_s : c - 2], jump[c + 3 : c + near_s]])
        if local.max() > 1e-4:  # not a pause
            assert here.max() <= local.max(), (c / rate, here.max(), np.percentile(local, [50, 99, 100]))
            checked += 1
    assert checked >= len(bounds) - 2


def _batch(
    tmp_path: Path, model: Path, inputs: list[Path], name: str, *extra: str
) -> tuple[subprocess.CompletedProcess, Path]:
    folder = tmp_path / name
    folder.mkdir()
    result = run_cli("blur", *map(str, inputs), "-o", str(folder), "-m", str(model), "-t", "0.5-2.5", *extra)
    return result, folder


def test_a_batch_on_two_processes_writes_the_same_bytes(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    inputs = [_long(src / f"f{i}.wav", 3.0, seed=i) for i in range(5)]
    (src / "broken.wav").write_bytes(b"RIFF not really")
    inputs.insert(2, src / "broken.wav")
    one, a = _batch(tmp_path, tiny_model, inputs, "one", "--jobs", "1")
    two, b = _batch(tmp_path, tiny_model, inputs, "two", "--jobs", "2")
    for result in (one, two):
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode != 0 and lines[-1] == "specblur: 1 of 6 files failed (see above)", lines
        assert any("broken.wav" in line for line in lines[:-1])
    for f in inputs:
        if f.name != "broken.wav":
            assert (a / f.name).read_bytes() == (b / f.name).read_bytes() != f.read_bytes()
    assert sorted(p.name for p in b.iterdir()) == sorted(f.name for f in inputs if f.name != "broken.wav")


_NO_LOAD_HERE = (
    "import sys; import specblur.runtime.loader as loader\n"
    "def refuse(path): raise RuntimeError('the model was loaded in the main process')\n"
    "loader.load = refuse\n"
    "from specblur.cli import main; main(sys.argv[1:])"
)


def test_a_batch_loads_the_model_in_its_workers_only(tiny_model: Path, tmp_path: Path) -> None:
    """With several jobs the main process only finds the model file; each worker loads it (a main
    process that loads fails here). One job loads it here, as it edits here."""
    src = tmp_path / "in"
    src.mkdir()
    inputs = [_long(src / f"f{i}.wav", 3.0, seed=i) for i in range(3)]
    args = ["blur", *map(str, inputs), "-m", str(tiny_model), "-t", "0.5-2.5"]
    out = {}
    for jobs in ("2", "1"):
        (tmp_path / jobs).mkdir()
        result = subprocess.run(
            [sys.executable, "-c", _NO_LOAD_HERE, *args, "-o", str(tmp_path / jobs), "-j", jobs],
            capture_output=True,
            timeout=300,
        )
        out[jobs] = result
    assert out["2"].returncode == 0 and out["2"].stderr == b"", out["2"].stderr.decode()
    assert out["1"].returncode == 2 and b"loaded in the main process" in out["1"].stderr
    reference, _ = _batch(tmp_path, tiny_model, inputs, "ref", "--jobs", "1")
    assert reference.returncode == 0
    for f in inputs:
        assert (tmp_path / "2" / f.name).read_bytes() == (tmp_path / "ref" / f.name).read_bytes()


def test_a_damaged_model_fails_a_batch_in_one_line_whatever_the_jobs(tiny_model: Path, tmp_path: Path) -> None:
    import specblur

    good = Path(specblur.load_model(str(tiny_model)).path)
    damaged = tmp_path / "damaged.onnx.npz"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size * 3 // 5])  # a copy cut short
    src = tmp_path / "in"
    src.mkdir()
    inputs = [_long(src / f"f{i}.wav", 2.0, seed=i) for i in range(3)]
    errors = []
    for jobs in ("1", "2"):
        folder = tmp_path / f"out{jobs}"
        folder.mkdir()
        result = run_cli("blur", *map(str, inputs), "-o", str(folder), "-m", str(damaged), "-j", jobs)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and str(damaged) in lines[0], lines
        assert list(folder.iterdir()) == []
        errors.append(lines[0])
    assert errors[0] == errors[1]


def test_jobs_sets_one_files_tiles_at_once(tiny_model: Path, long_file: Path, tmp_path: Path) -> None:
    """For one file, --jobs is how many tiles of a long region are edited at once: the same bytes."""
    written = []
    for jobs in ("1", "2"):
        out = tmp_path / f"{jobs}.wav"
        result = run_cli("blur", str(long_file), str(out), "-m", str(tiny_model), "--jobs", jobs, "--seed", "4")
        assert result.returncode == 0, result.stderr.decode()
        written.append(out.read_bytes())
    assert written[0] == written[1] != long_file.read_bytes()


def test_sigterm_stops_a_batch_and_its_workers_leaving_only_whole_files(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    inputs = [_long(src / f"f{i}.wav", 20.0, seed=i) for i in range(8)]
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "specblur", "blur", *map(str, inputs), "-o", str(out), "-m", str(tiny_model), "-j", "2"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240  # a safety net against a hung child, not a timing
    while not any(p.suffix == ".wav" for p in out.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    # one line: the workers stop quietly (a traceback from one caught between files would show here)
    assert proc.returncode == 130 and err.decode().strip().splitlines() == ["specblur: interrupted"], err.decode()
    time.sleep(2.0)  # a worker left running would still be writing or renaming now
    left = sorted(p.name for p in out.iterdir())
    assert left and not any(name.endswith(".part") or name.startswith(".") for name in left), left
    assert len(left) < len(inputs)
    reference = tmp_path / "ref"
    reference.mkdir()
    kept = [src / name for name in left]
    again = run_cli("blur", *map(str, kept), "-o", str(reference), "-m", str(tiny_model), "-j", "1")
    assert again.returncode == 0
    for name in left:  # what was left is whole: what a run that was not stopped writes
        assert (out / name).read_bytes() == (reference / name).read_bytes()


def test_an_input_cut_while_it_is_read_leaves_no_output(tiny_model: Path, tmp_path: Path) -> None:
    src = _long(tmp_path / "in.wav", 40.0)
    out = tmp_path / "out.wav"
    paused = Paused("writing", "blur", str(src), str(out), "-m", str(tiny_model))
    with open(src, "r+b") as f:  # another program cuts the file while the first tile is being written
        f.truncate(os.path.getsize(src) // 2)
    paused.resume()
    code, err = paused.finish()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"specblur: {src}: the audio ends early, at frame ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_a_pipe_cut_midway_is_a_file_cut_short(tiny_model: Path, tmp_path: Path) -> None:
    """stdin is read to its end first: a pipe whose writer died mid-way holds what a file cut at the
    same byte holds, and both get the same warning and the same output."""
    whole = _long(tmp_path / "whole.wav", 30.0).read_bytes()
    cut = whole[: len(whole) * 2 // 3 + 1]
    (tmp_path / "cut.wav").write_bytes(cut)
    from_file = run_cli("blur", str(tmp_path / "cut.wav"), str(tmp_path / "a.wav"), "-m", str(tiny_model))
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.stdout.buffer.write(open({str(tmp_path / 'cut.wav')!r}, 'rb').read()); sys.exit(1)",
        ],
        stdout=subprocess.PIPE,
    )
    from_pipe = subprocess.run(
        [sys.executable, "-m", "specblur", "blur", "-", "-", "-m", str(tiny_model)],
        stdin=writer.stdout,
        capture_output=True,
        timeout=300,
    )
    writer.wait()
    assert from_file.returncode == from_pipe.returncode == 0
    warn_file = from_file.stderr.decode().strip().splitlines()
    warn_pipe = from_pipe.stderr.decode().strip().splitlines()
    assert len(warn_file) == len(warn_pipe) == 1 and "file cut short" in warn_file[0]
    assert warn_file[0].split(": ", 3)[3] == warn_pipe[0].split(": ", 3)[3]
    assert (tmp_path / "a.wav").read_bytes() == from_pipe.stdout


def _pipe_of(path: Path) -> subprocess.Popen:
    """A writer process that sends ``path``'s bytes into a pipe (its ``stdout``)."""
    code = f"import sys, shutil; shutil.copyfileobj(open({str(path)!r}, 'rb'), sys.stdout.buffer)"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def _copies(folder: Path) -> list[str]:
    """specblur's files in ``folder`` (onnxruntime leaves a ``.ses`` of its own in $TMPDIR)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".specblur"))


_NO_PROC = "import sys, specblur.audio as a; a._by_descriptor = lambda fd: None; from specblur.cli import main; main()"


@pytest.mark.parametrize("how", ["unnamed", "named"])
def test_stdin_is_spooled_to_a_temporary_file_that_nothing_leaves_behind(
    tiny_model: Path, tmp_path: Path, how: str
) -> None:
    """A piped input is copied to a file in $TMPDIR and read from there: the same output as the file
    named; the copy has no name while it is used where the system can open it by its descriptor
    (Linux), else a name that is removed as the command ends; SIGTERM and Ctrl-C in the middle leave
    nothing, in TMPDIR or beside OUT, and SIGKILL leaves no copy (unnamed)."""
    src = _long(tmp_path / "in.wav", 20.0)
    spool = tmp_path / "spool"
    spool.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {"TMPDIR": str(spool)}
    python = ("-m", "specblur") if how == "unnamed" else ("-c", _NO_PROC)
    args = ("blur", "-", str(out / "a.wav"), "-m", str(tiny_model), "--seed", "3")
    reference = run_cli("blur", str(src), str(tmp_path / "ref.wav"), "-m", str(tiny_model), "--seed", "3")
    assert reference.returncode == 0
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL, None):
        if stop == signal.SIGKILL and how == "named":
            continue  # nothing can remove a name after SIGKILL
        writer = _pipe_of(src)
        paused = Paused("writing", *args, stdin=writer.stdout, python=python, env=env)
        writer.stdout.close()
        held = [os.readlink(f"/proc/{paused.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{paused.proc.pid}/fd")]
        copies = [link for link in held if ".specblur-stdin." in link]
        assert len(set(copies)) == 1 and copies[0].startswith(str(spool)), held  # held, and read
        if how == "unnamed":
            assert copies[0].endswith("(deleted)") and _copies(spool) == []
        else:
            assert _copies(spool) == [Path(copies[0]).name]
        if stop is not None:
            paused.proc.send_signal(stop)
        code, err = paused.finish()
        writer.wait()
        assert _copies(spool) == [], (stop, err)
        if stop is None:
            assert code == 0 and err == "", err
            assert (out / "a.wav").read_bytes() == (tmp_path / "ref.wav").read_bytes()
        else:
            assert code == (-9 if stop == signal.SIGKILL else 130), (stop, err)
            if stop != signal.SIGKILL:  # (after SIGKILL the half-written OUT's .part file stays, as ever)
                assert list(out.iterdir()) == []


def test_a_copy_of_stdin_that_does_not_fit_is_one_line(tiny_model: Path, tmp_path: Path) -> None:
    import specblur

    specblur.load_model(str(tiny_model))  # its runtime form is written beside it before the limit
    src = _long(tmp_path / "in.wav", 10.0)
    spool = tmp_path / "spool"
    spool.mkdir()
    writer = _pipe_of(src)
    result = subprocess.run(
        [sys.executable, "-m", "specblur", "blur", "-", str(tmp_path / "out.wav"), "-m", str(tiny_model)],
        stdin=writer.stdout,
        capture_output=True,
        env={**os.environ, "TMPDIR": str(spool)},
        preexec_fn=_file_size_limit(os.path.getsize(src) // 3),  # the copy fails a third of the way
        timeout=300,
    )
    writer.stdout.close()
    writer.wait()
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"specblur: stdin: cannot make a temporary copy in {spool} (")
    assert lines[0].endswith("; set TMPDIR to a folder with room")
    assert _copies(spool) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "spool"]


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_disk_that_fills_during_the_write_leaves_no_output(tiny_model: Path, tmp_path: Path) -> None:
    import specblur

    specblur.load_model(str(tiny_model))  # its runtime form is written beside it before the limit
    src = _long(tmp_path / "in.wav", 40.0)
    out = tmp_path / "out.wav"
    result = subprocess.run(
        [sys.executable, "-m", "specblur", "blur", str(src), str(out), "-m", str(tiny_model)],
        capture_output=True,
        preexec_fn=_file_size_limit(os.path.getsize(src) // 3),  # the write fails a third of the way
        timeout=300,
    )
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"specblur: {out}: cannot write (") and "too large" in lines[0].lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_a_region_spanning_the_whole_of_a_tenth_of_a_second(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "short.wav"
    sf.write(src, tone(0.1, 44100, (440.0, 880.0), channels=2), 44100, subtype="PCM_16")
    out = tmp_path / "out.wav"
    result = run_cli("blur", str(src), str(out), "-m", str(tiny_model), "-T", "3")
    assert result.returncode == 0, result.stderr.decode()
    assert sf.info(out).frames == sf.info(src).frames == 4410


def _stderr_on_a_terminal(args: list[str]) -> bytes:
    """What ``args`` (a Python command line) writes to stderr when stderr is a terminal (a pty)."""
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=300) == 0
    os.close(main)
    return seen


def test_progress_shows_on_a_terminal_only(tiny_model: Path, long_file: Path, tmp_path: Path) -> None:
    def stderr_of(*extra: str, terminal: bool) -> bytes:
        args = ["blur", str(long_file), str(tmp_path / "o.wav"), "-f", "-m", str(tiny_model), *extra]
        if terminal:
            return _stderr_on_a_terminal(["-m", "specblur", *args])
        result = run_cli(*args)
        assert result.returncode == 0
        return result.stderr

    shown = stderr_of(terminal=True)
    n = len(tiles.tiles((0.0, 40.0), 16000))
    assert b"tiles" in shown and f"{n}/{n}".encode() in shown
    assert stderr_of("-q", terminal=True) == b""
    assert stderr_of(terminal=False) == b""


def test_the_api_file_forms_write_what_the_command_line_writes(tiny_model: Path, tmp_path: Path) -> None:
    import specblur
    from specblur.errors import UsageError

    src = _long(tmp_path / "in.wav", 4.0)
    for effect, args, kwargs in (
        (
            "blur",
            ["-t", "1-2", "-T", "2", "--sweeps", "2", "--seed", "4"],
            {"time": "1-2", "temperature": 2.0, "sweeps": 2, "seed": 4},
        ),
        ("repair", ["-t", "2.0-2.1", "--method", "interpolate"], {"time": (2.0, 2.1), "method": "interpolate"}),
    ):
        cli = run_cli(effect, str(src), str(tmp_path / f"{effect}-cli.wav"), "-m", str(tiny_model), *args)
        assert cli.returncode == 0, cli.stderr.decode()
        edit = getattr(specblur, f"{effect}_file")(src, tmp_path / f"{effect}-api.wav", model=str(tiny_model), **kwargs)
        assert edit.result.span[1] > edit.result.span[0]
        assert (tmp_path / f"{effect}-api.wav").read_bytes() == (tmp_path / f"{effect}-cli.wav").read_bytes()
    with pytest.raises(UsageError, match="^blur_file: no setting 'steps' \\(use 'sweeps'\\)$"):
        specblur.blur_file(src, tmp_path / "x.wav", model=str(tiny_model), steps=3)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("other_rate", [False, True])
def test_encoding_block_by_block_gives_the_whole_files_codes(
    tiny_model: Path, tmp_path: Path, monkeypatch, other_rate: bool
) -> None:
    import specblur
    from specblur import audio
    from specblur.edit import codec

    model = specblur.load_model(str(tiny_model))
    rate = model.model.config.spectrogram.sample_rate
    src = _long(tmp_path / "in.wav", 12.0, rate=48000 if other_rate and rate != 48000 else rate, subtype="FLOAT")
    whole = codec.encode(model, audio.read(src))
    monkeypatch.setattr(codec, "ENCODE_BLOCK_TOP_CELLS", 16)  # many blocks in 12 s
    seen: list[tuple[int, int]] = []
    streamed = codec.encode_file(model, str(src), progress=lambda d, n: seen.append((d, n)))
    assert len(seen) > 5 and seen[-1][0] == seen[-1][1]
    assert streamed.meta == whole.meta and streamed.top.shape == whole.top.shape
    for level in ("top", "bottom"):
        same = np.mean(getattr(streamed, level) == getattr(whole, level))
        assert same == 1.0 if not other_rate else same >= 0.999, (level, same)


def test_encode_shows_its_blocks_on_a_terminal(tiny_model: Path, tmp_path: Path) -> None:
    src = _long(tmp_path / "in.wav", 6.0)
    code = (
        "import sys; from specblur.edit import codec; codec.ENCODE_BLOCK_TOP_CELLS = 8; "
        "from specblur.cli import main; main(sys.argv[1:])"
    )
    seen = _stderr_on_a_terminal(["-c", code, "encode", str(src), str(tmp_path / "c.npz"), "-m", str(tiny_model)])
    assert b"blocks" in seen and (tmp_path / "c.npz").is_file()
    piped = run_cli("encode", str(src), str(tmp_path / "d.npz"), "-m", str(tiny_model))
    assert piped.returncode == 0 and piped.stderr == b""
    assert (tmp_path / "c.npz").read_bytes() == (tmp_path / "d.npz").read_bytes()


@pytest.mark.parametrize("other_rate", [False, True])
def test_decoding_block_by_block_gives_the_whole_sound(
    tiny_model: Path, tmp_path: Path, monkeypatch, other_rate: bool
) -> None:
    """Each block is decoded with context and its phase found with margins and the whole image's
    start (and resampled to the source's rate a whole group of the resampler's at a time): the
    samples are the whole-array decode's, and the file is that sound written whole."""
    import specblur
    from specblur import audio
    from specblur.edit import codec

    model = specblur.load_model(str(tiny_model))
    rate = model.model.config.spectrogram.sample_rate
    src = _long(tmp_path / "in.wav", 12.0, rate=48000 if other_rate else rate, subtype="FLOAT")
    codes = codec.encode_file(model, str(src))
    # a fine grid of magnitudes, so that a block's frames are hardly widened past its margins
    monkeypatch.setattr(codec, "MAGNITUDE_FRAMES", 8)
    whole = codec.decode(model, codes, original_rate=other_rate)
    monkeypatch.setattr(codec, "DECODE_BLOCK_TOP_CELLS", 4)  # many blocks in 12 s
    seen: list[tuple[int, int]] = []
    blocks = list(
        codec.decode_blocks(model, codes, original_rate=other_rate, progress=lambda d, n: seen.append((d, n)))
    )
    # at the source's rate the blocks come out a group of the resampler's (4.4 s here) at a time
    assert len(blocks) > (2 if other_rate else 10) and seen[-1][0] == seen[-1][1] == len(seen) > 10
    streamed = np.concatenate(blocks)
    assert streamed.shape == whole.samples.shape == (sf.info(src).frames if other_rate else codes.meta["length"], 2)
    assert np.array_equal(streamed, whole.samples)
    # the command line writes it a block at a time: the file is the whole sound written at once
    (tmp_path / "c.npz").write_bytes(codes.to_bytes())
    args = ["--original-rate"] if other_rate else []
    code = (
        "import sys; from specblur.edit import codec; codec.DECODE_BLOCK_TOP_CELLS = 4; "
        "codec.MAGNITUDE_FRAMES = 8; from specblur.cli import main; main(sys.argv[1:])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "decode", str(tmp_path / "c.npz"), str(tmp_path / "out.wav"), *args],
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    audio.write(tmp_path / "whole.wav", whole)
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_decode_to_stdout_and_a_stopped_decode(tiny_model: Path, tmp_path: Path) -> None:
    """stdout gets the file's bytes; SIGTERM while the output is half written leaves nothing."""
    src = _long(tmp_path / "in.wav", 8.0)
    assert run_cli("encode", str(src), str(tmp_path / "c.npz"), "-m", str(tiny_model)).returncode == 0
    to_file = run_cli("decode", str(tmp_path / "c.npz"), str(tmp_path / "a.flac"))
    to_stdout = run_cli("decode", str(tmp_path / "c.npz"), "-")
    assert to_file.returncode == to_stdout.returncode == 0
    wav = run_cli("decode", str(tmp_path / "c.npz"), str(tmp_path / "a.wav"))
    assert wav.returncode == 0 and to_stdout.stdout == (tmp_path / "a.wav").read_bytes()
    flac, wav16 = sf.read(tmp_path / "a.flac", dtype="int16")[0], sf.read(tmp_path / "a.wav", dtype="int16")[0]
    assert flac.shape == wav16.shape and np.max(np.abs(flac.astype(int) - wav16)) <= 1  # libsndfile's own scalings
    out = tmp_path / "stopped.wav"
    paused = Paused("writing", "decode", str(tmp_path / "c.npz"), str(out))
    paused.proc.send_signal(signal.SIGTERM)
    code, err = paused.finish()
    assert code == 130 and err.strip().splitlines() == ["specblur: interrupted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "a.wav", "c.npz", "in.wav"]


def test_a_long_repair_reads_only_its_span_and_context(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """Repair is not tiled, but of a 12 s span of a 60 s file it reads only the span and the context
    its plan asks for, not the file; the long hole streams (issue 20): the part is read once, a piece
    at a time, to check it (as an edit in memory checks its part), then the blocks read what they
    need of it (the context's frames, the crossfades), a small share again. Every other byte is as
    it was, and the bytes are those of the same repair done in memory."""
    import specblur
    from specblur import audio
    from specblur.edit.effects import repair
    from specblur.edit.options import EditOptions
    from specblur.edit.plan import plan

    src = _long(tmp_path / "in.wav", 60.0)
    model = specblur.load_model(str(tiny_model))
    reads: list[tuple[int, int]] = []
    real = audio.Source.read_span

    def recorded(self: audio.Source, start: int, stop: int):
        reads.append((start, stop))
        return real(self, start, stop)

    monkeypatch.setattr(audio.Source, "read_span", recorded)
    edit = specblur.repair_file(src, tmp_path / "out.wav", model=str(tiny_model), time=(20.0, 32.0))
    where = plan(model, 60 * 16000, 16000, (20.0, 32.0), (None, None), EditOptions(effect="repair"))
    assert 0 < where.start < 20 * 16000 < 32 * 16000 < where.stop < 60 * 16000
    assert where.stop - where.start < 0.6 * 60 * 16000
    assert all(where.start <= a < b <= where.stop for a, b in reads)
    pieces = [r for r in reads if r[1] - r[0] == audio.BLOCK_FRAMES or r[1] == where.stop]
    assert len(reads) > len(pieces) and sum(b - a for a, b in reads) < 1.2 * (where.stop - where.start)
    s0, s1 = edit.result.span
    assert where.start <= s0 < s1 <= where.stop and s1 - s0 > 11 * 16000
    x, y = sf.read(src, dtype="int16")[0], sf.read(tmp_path / "out.wav", dtype="int16")[0]
    assert np.array_equal(x[:s0], y[:s0]) and np.array_equal(x[s1:], y[s1:]) and not np.array_equal(x, y)
    # in memory (the part read whole, as a short repair is): the same bytes, one read
    reads.clear()
    monkeypatch.setattr(repair.Repair, "streamed", lambda self, *args: None)
    held = specblur.repair_file(src, tmp_path / "held.wav", model=str(tiny_model), time=(20.0, 32.0))
    assert reads == [(where.start, where.stop)] and held.result.span == edit.result.span
    assert (tmp_path / "held.wav").read_bytes() == (tmp_path / "out.wav").read_bytes()
    assert [p.method for p in held.parts] == [p.method for p in edit.parts] == ["envelope"]


@pytest.mark.parametrize(
    "how", [{"amount": 0.5}, {"freq": (1000.0, 4000.0), "method": "interpolate"}, {"method": "hybrid"}]
)
def test_a_streamed_repair_is_the_repair_in_memory(tiny_model: Path, tmp_path: Path, monkeypatch, how) -> None:
    """A long hole streamed block by block (issue 20) writes the bytes the same repair held in memory
    does, mixed with what was there (``amount``) or in a band, in FLAC as in WAV."""
    import specblur
    from specblur.edit.effects import repair

    src = _long(tmp_path / "in.flac", 20.0)
    made = []
    real = repair.Repair.streamed
    monkeypatch.setattr(repair.Repair, "streamed", lambda self, *args: made.append(real(self, *args)) or made[-1])
    streamed = specblur.repair_file(src, tmp_path / "streamed.flac", model=str(tiny_model), time=(4.0, 15.0), **how)
    monkeypatch.setattr(repair.Repair, "streamed", lambda self, *args: None)
    held = specblur.repair_file(src, tmp_path / "held.flac", model=str(tiny_model), time=(4.0, 15.0), **how)
    assert len(made) == 1 and made[0] is not None and streamed.result.span == held.result.span
    a, b = sf.read(tmp_path / "streamed.flac")[0], sf.read(tmp_path / "held.flac")[0]
    assert np.array_equal(a, b) and not np.array_equal(a, sf.read(src)[0])


@pytest.mark.parametrize("linked", [True, False])
def test_a_streamed_declick_is_the_declick_in_memory(tiny_model: Path, tmp_path: Path, monkeypatch, linked) -> None:
    """``--method declick`` over 11 s (clicks found a chunk at a time, each group mended from the
    stretch read around it) writes the bytes the same declick held in memory does, the clicks gone."""
    import specblur
    from specblur.edit.effects import repair

    x = sf.read(_long(tmp_path / "notes.wav", 20.0), always_2d=True)[0]
    decay = 0.7 * np.exp(-np.arange(16) / 3.2)  # 1 ms at 16 kHz
    sounding = [p for p in range(4 * 16000, 15 * 16000) if np.abs(x[p - 400 : p + 400]).min(axis=0).max() > 0]
    at = np.sort(np.random.default_rng(1).choice(sounding, 40, replace=False))  # (not in the pauses'
    # digital silence: no signal there to predict a click from, and a run of zeros is a dropout's)
    for k, pos in enumerate(at):
        x[pos : pos + 16, k % 2] += (-1) ** k * decay  # a click in one channel or the other
    src = tmp_path / "in.wav"
    sf.write(src, np.clip(x, -1, 1), 16000, subtype="PCM_16")
    made = []
    real = repair.Repair.streamed
    monkeypatch.setattr(repair.Repair, "streamed", lambda self, *args: made.append(real(self, *args)) or made[-1])
    how = {"method": "declick", "linked": linked, "model": str(tiny_model), "time": (4.0, 15.0)}
    streamed = specblur.repair_file(src, tmp_path / "streamed.wav", **how)
    monkeypatch.setattr(repair.Repair, "streamed", lambda self, *args: None)
    held = specblur.repair_file(src, tmp_path / "held.wav", **how)
    assert len(made) == 1 and made[0] is not None and streamed.result.span == held.result.span
    assert (tmp_path / "streamed.wav").read_bytes() == (tmp_path / "held.wav").read_bytes()
    y, damaged = sf.read(tmp_path / "held.wav", always_2d=True)[0], sf.read(src, always_2d=True)[0]
    clean = sf.read(tmp_path / "notes.wav", always_2d=True)[0]
    near = np.zeros(len(y), dtype=bool)
    for pos in at:
        near[pos - 8 : pos + 24] = True
    assert np.sqrt(np.mean((y[near] - clean[near]) ** 2)) < 0.2 * np.sqrt(np.mean((damaged[near] - clean[near]) ** 2))


def test_a_streamed_repair_refuses_samples_that_are_not_finite(tiny_model: Path, tmp_path: Path) -> None:
    """A long hole streams, but the part it works on is checked first, as a part held in memory is:
    a NaN in it is named, and nothing is written."""
    import specblur
    from specblur.errors import AudioError

    src = tmp_path / "in.wav"
    x = np.random.default_rng(0).normal(0.0, 0.1, (30 * 16000, 2))
    x[int(16.5 * 16000), 1] = np.nan
    sf.write(src, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"NaN or infinite samples \(the first at 16.5 s\)"):
        specblur.repair_file(src, tmp_path / "out.wav", model=str(tiny_model), time=(5.0, 20.0))
    assert not (tmp_path / "out.wav").exists()


def test_a_long_region_is_plotted_decimated(tiny_model: Path, long_file: Path, tmp_path: Path) -> None:
    """--plot of a region too long to hold draws its spectrograms a column per few frames (the
    loudest of them), made as the tiles come: the input's and the output's, on the file's own grid;
    the edit writes the same bytes as without --plot."""
    import specblur
    from specblur.edit.on_file import blur_file
    from specblur.edit.segment import _magnitude

    plain = run_cli("blur", str(long_file), str(tmp_path / "plain.wav"), "-m", str(tiny_model), "--seed", "1")
    plotted = run_cli(
        "blur",
        str(long_file),
        str(tmp_path / "p.wav"),
        "-m",
        str(tiny_model),
        "--seed",
        "1",
        "--plot",
        str(tmp_path / "p.png"),
    )
    assert plain.returncode == plotted.returncode == 0 and plotted.stderr == b"", plotted.stderr.decode()
    assert (tmp_path / "p.wav").read_bytes() == (tmp_path / "plain.wav").read_bytes()
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    model = specblur.load_model(str(tiny_model))
    edit = blur_file(model, str(long_file), str(tmp_path / "api.wav"), seed=1, keep_views=True)
    (view,) = edit.result.views
    step = view["frames_per_column"]
    columns = view["before_db"].shape[1]
    assert 1 < step and columns <= tiles.PLOT_COLUMNS and view["after_db"].shape == view["before_db"].shape
    x, rate = sf.read(long_file, always_2d=True)
    y, _ = sf.read(tmp_path / "api.wav", always_2d=True)
    spec = model.model.spectrogram
    hop = spec.config.hop_length
    assert view["t0"] == 0.0 and (columns - 1) * step <= spec.frames(len(x)) <= columns * step + 16

    def pooled(samples: np.ndarray) -> np.ndarray:
        db = spec.to_db(spec.features_from_magnitude(_magnitude(model.model, samples, [0, 1], rate)))
        full = db.shape[1] // step * step
        return db[:, :full].reshape(db.shape[0], -1, step).max(axis=-1)

    before, after = pooled(x), pooled(y)
    n = min(before.shape[1], columns - 1)
    assert np.allclose(view["before_db"][:, :n], before[:, :n], atol=1e-3)
    # the output's own spectrogram, but where tiles crossfade (each tile's edit is drawn up to the boundary)
    cut = tiles.tiles((0.0, 40.0), rate)[1:]
    far = np.ones(n, dtype=bool)
    for t in cut:  # the crossfade and a column either side
        far[int(t.keep[0] / hop / step) - 1 : int((t.keep[0] + t.fade) / hop / step) + 2] = False
    assert far.sum() > n - 10 * len(cut)
    assert np.allclose(view["after_db"][:, :n][:, far], after[:, :n][:, far], atol=1e-3)
    assert not np.allclose(view["after_db"], view["before_db"], atol=1.0)


def test_jobs_with_one_file_is_for_a_blurs_tiles(tiny_model: Path, tmp_path: Path) -> None:
    src = _long(tmp_path / "a.wav", 2.0)
    result = run_cli("repair", str(src), str(tmp_path / "b.wav"), "-m", str(tiny_model), "-t", "1-1.1", "--jobs", "2")
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "specblur: --jobs with one file sets how many of a blur's tiles run at once; repair has none"
    )
    assert not (tmp_path / "b.wav").exists()


def test_patches_laid_over_each_other_hold_each_sample_once_and_read_as_laid_in_turn() -> None:
    rng = np.random.default_rng(5)
    base = np.zeros((400, 2))
    naive = base.copy()
    laid: list = []
    for k in range(60):
        at = int(rng.integers(0, 380))
        x = rng.standard_normal((int(rng.integers(1, 400 - at)), 2)) + k
        naive[at : at + len(x)] = x  # (the later patch wins)
        on_file.lay(laid, at, x)
        spans = sorted((s, s + len(p)) for s, p in laid)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # disjoint
        read = base.copy()
        for s, p in laid:
            read[s : s + len(p)] = p
        assert np.array_equal(read, naive)
        assert sum(len(p) for _, p in laid) == int(np.sum(np.any(naive != 0, axis=1)))
        assert all(p.base is None for _, p in laid)  # copies, not views keeping a whole patch alive


@pytest.mark.parametrize("effect", ["blur", "repair"])
def test_regions_whose_parts_overlap_stream_in_file_order_with_the_bytes_of_a_group_held_whole(
    tiny_model: Path, long_file: Path, tmp_path: Path, monkeypatch, effect: str
) -> None:
    """A label file's regions whose parts overlap (one group) are edited one after another, each
    seeing the edits before it, and each changed span is written as soon as no region still to come
    reads it: the first is written while most regions are still to do, and the bytes are those of
    the group edited in one buffer held whole."""
    import specblur
    from specblur import audio
    from specblur.edit import on_file
    from specblur.edit.options import EditOptions
    from specblur.edit.plan import plan

    model = specblur.load_model(str(tiny_model))
    x, rate = sf.read(long_file, always_2d=True)
    opts = EditOptions(seed=4, effect=effect)
    regions = [{"time": (1.0 + 0.6 * k, 1.3 + 0.6 * k), "freq": (300.0, 3000.0)} for k in range(40)]
    regions.insert(20, {"time": (3.1, 3.4), "freq": (None, None)})  # out of file order, over earlier ones
    wheres = [plan(model, len(x), rate, r["time"], r["freq"], opts) for r in regions]
    assert len(on_file.clusters([(w.start, w.stop) for w in wheres])) == 1
    whole = x.copy()
    for r in regions:
        on_file.edit_in_place(model, whole, rate, len(x), 0, r["time"], r["freq"], opts)
    done: list[int] = []
    arrivals: list[tuple[int, int, int]] = []
    write = audio.write_patches

    def watched(src, dst, patches):
        def seen():
            for start, patch in patches:
                arrivals.append((len(done), start, len(patch)))
                yield start, patch

        return write(src, dst, seen())

    monkeypatch.setattr(on_file.audio, "write_patches", watched)
    out = tmp_path / "out.wav"
    on_file.blur_file_regions(model, str(long_file), str(out), regions, opts, progress=lambda d, n: done.append(d))
    got, _ = sf.read(out, always_2d=True)
    assert np.array_equal(got, whole.astype(np.float32)) and not np.array_equal(got, x.astype(np.float32))
    starts = [start for _, start, _ in arrivals]
    assert starts == sorted(starts) and all(a[1] + a[2] <= b[1] for a, b in zip(arrivals, arrivals[1:], strict=False))
    # the first span went out with regions still to do (a repair reads about 8 s either side, and the
    # region out of file order reads from the start: nothing goes out before it is done)
    assert arrivals[0][0] <= len(regions) - 10
    largest = max(n for _, _, n in arrivals)
    assert largest < (wheres[-1].stop - wheres[0].start) // 4  # pieces of the group, never the group whole


@pytest.mark.parametrize("method", ["declick", "envelope"])
def test_a_streamed_repair_reports_its_progress_as_it_goes(tiny_model: Path, tmp_path: Path, method: str) -> None:
    """A long repair made as it is read counts its progress in pieces of 2 s of the region (a
    declick: the first half by the chunks looked at for clicks, the second by the clicks mended), so
    the command line's bar moves instead of jumping from 0 to 1 at the end."""
    import specblur

    x = sf.read(_long(tmp_path / "notes.wav", 20.0), always_2d=True)[0]
    decay = 0.7 * np.exp(-np.arange(16) / 3.2)
    for k, pos in enumerate(range(5 * 16000, 15 * 16000, 8000)):
        if np.abs(x[pos - 400 : pos + 400]).min(axis=0).max() > 0:
            x[pos : pos + 16, k % 2] += decay
    src = tmp_path / "in.wav"
    sf.write(src, np.clip(x, -1, 1), 16000, subtype="PCM_16")
    calls: list[tuple[int, int]] = []
    specblur.repair_file(
        src,
        tmp_path / "out.wav",
        (4.0, 16.0),
        model=str(tiny_model),
        method=method,
        progress=lambda d, t: calls.append((d, t)),
    )
    total = calls[0][1]
    assert total >= 6 and calls[0] == (0, total) and calls[-1] == (total, total), calls  # (12 s and context)
    done = [d for d, t in calls]
    assert all(t == total for _, t in calls) and done == sorted(done)
    assert len({d for d in done if 0 < d < total}) >= 3, calls
