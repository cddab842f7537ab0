"""Where patched samples land, without a model: :func:`specblur.audio.write_patches` given samples
that each encoding holds exactly, so the decoded output must be the input with those frames
replaced, sample for sample, and every byte outside them the input's.

It also runs a small fixed set of mutants of the patching code (docs/MUTATION.md): each is put in
place in this process and the same checks must fail on it. They are what ``tools/mutation.sh`` runs
at length, kept here because they take a second.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from specblur import audio, container
from tests import containers as B

RATE = 8000
FRAMES = 4 * RATE


def _signal(channels: int, seed: int) -> np.ndarray:
    """Noise under a tone: every sample differs from its neighbours by many steps of any encoding."""
    rng = np.random.default_rng(seed)
    t = np.arange(FRAMES) / RATE
    return 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.2 * rng.uniform(-1, 1, (FRAMES, channels))


CASES: list[tuple[str, Callable[[np.ndarray], B.Built]]] = [
    ("RIFF PCM_16 stereo, LIST after data", lambda x: B.riff(x, RATE, "PCM_16", after=((b"LIST", b"INFOabcd"),))),
    ("RIFX PCM_24", lambda x: B.riff(x, RATE, "PCM_24", kind="RIFX")),
    ("RF64 FLOAT", lambda x: B.riff(x, RATE, "FLOAT", kind="RF64")),
    ("Wave64 PCM_U8", lambda x: B.w64(x, RATE, "PCM_U8")),
    ("AIFF PCM_32 with an SSND offset", lambda x: B.aiff(x, RATE, "PCM_32", offset_pad=6)),
    ("AIFC ulaw", lambda x: B.aiff(x, RATE, "ULAW", compression=b"ulaw")),
    ("CAF little-endian DOUBLE", lambda x: B.caf(x, RATE, "DOUBLE", little=True)),
    ("AU ALAW", lambda x: B.au(x, RATE, "ALAW")),
]
CHANNELS = (2, 1, 3, 2, 1, 2, 3, 1)


def _decoded(data: bytes) -> np.ndarray:
    """``data`` (a file's bytes) decoded by libsndfile."""
    return sf.read(io.BytesIO(data), dtype="float64", always_2d=True)[0]


def _patches(built: B.Built, build: Callable[[np.ndarray], B.Built], channels: int) -> list[tuple[int, np.ndarray]]:
    """Three patches of another signal's decoded samples (exactly representable): the first frames,
    a run in the middle, the last frames."""
    other = _decoded(build(_signal(channels, seed=99)).data)
    spans = [(0, 37), (12_345, 12_345 + 2_001), (FRAMES - 50, FRAMES)]
    return [(a, other[a:b]) for a, b in spans]


def check_patching(tmp_path: Path, built: B.Built, patches: list[tuple[int, np.ndarray]]) -> None:
    src, dst = tmp_path / f"in{built.suffix}", tmp_path / f"out{built.suffix}"
    built.write(src)
    assert audio.write_patches(src, dst, patches) == []
    after = dst.read_bytes()
    assert len(after) == len(built.data)
    expected = _decoded(built.data).copy()
    for start, x in patches:
        expected[start : start + len(x)] = x
    got = _decoded(after)
    bad = np.nonzero(np.any(got != expected, axis=1))[0]
    assert not len(bad), f"frames {bad[:5].tolist()}... are not where they belong"
    # and not one byte outside the patched frames' bytes
    frame_bytes = built.length // built.frames
    allowed = np.zeros(len(after), bool)
    for start, x in patches:
        allowed[built.offset + start * frame_bytes : built.offset + (start + len(x)) * frame_bytes] = True
    diff = np.frombuffer(after, np.uint8) != np.frombuffer(built.data, np.uint8)
    assert not np.any(diff & ~allowed), "bytes outside the patched samples changed"
    assert src.read_bytes() == built.data


@pytest.mark.parametrize(
    ("case", "build", "channels"),
    [(c, b, CHANNELS[i]) for i, (c, b) in enumerate(CASES)],
    ids=[c for c, _ in CASES],
)
def test_patches_land_on_their_frames(tmp_path: Path, case: str, build, channels: int) -> None:
    built = build(_signal(channels, seed=len(case)))
    check_patching(tmp_path, built, _patches(built, build, channels))


def test_patches_land_on_their_frames_in_a_streamed_flac(tmp_path: Path) -> None:
    """FLAC is re-encoded through libsndfile (lossless): the same frames, sample for sample."""
    src, dst = tmp_path / "in.flac", tmp_path / "out.flac"
    x = np.round(_signal(2, seed=5) * 32767) / 32768
    sf.write(src, x, RATE, subtype="PCM_16")
    x = sf.read(src, dtype="float64", always_2d=True)[0]
    patch = np.round(_signal(2, seed=6)[:3000] * 32767) / 32768
    assert audio.write_patches(src, dst, [(20_000, patch)]) == []
    got = sf.read(dst, dtype="float64", always_2d=True)[0]
    expected = x.copy()
    expected[20_000:23_000] = patch
    assert np.array_equal(got, expected)


def test_a_source_object_and_stdout(tmp_path: Path, capsysbinary) -> None:
    """An open :class:`specblur.audio.Source` (what the pipeline passes) patches the same, and ``-``
    writes the very bytes of the file to stdout."""
    build = CASES[0][1]
    built = build(_signal(2, seed=7))
    patches = _patches(built, build, 2)
    src = tmp_path / "in.wav"
    built.write(src)
    audio.write_patches(audio.Source(src), tmp_path / "file.wav", patches)
    capsysbinary.readouterr()
    assert audio.write_patches(audio.Source(src), "-", patches) == []
    assert capsysbinary.readouterr().out == (tmp_path / "file.wav").read_bytes()
    check_patching(tmp_path, built, patches)


def test_one_patch(tmp_path: Path) -> None:
    """:func:`specblur.audio.write_patched`: the one-patch form."""
    build = CASES[2][1]
    built = build(_signal(3, seed=4))
    start, x = _patches(built, build, 3)[1]
    src = tmp_path / "in.wav"
    built.write(src)
    assert audio.write_patched(src, tmp_path / "one.wav", start, x) == []
    audio.write_patches(src, tmp_path / "many.wav", [(start, x)])
    assert (tmp_path / "one.wav").read_bytes() == (tmp_path / "many.wav").read_bytes() != built.data
    check_patching(tmp_path, built, [(start, x)])


def test_touching_patches_are_written_and_overlapping_ones_refused(tmp_path: Path) -> None:
    build = CASES[0][1]
    built = build(_signal(2, seed=8))
    other = _patches(built, build, 2)[1][1]
    src = tmp_path / "in.wav"
    built.write(src)
    # given out of order, touching end to start: both written
    check_patching(tmp_path, built, [(1000 + len(other), other[:100]), (1000, other)])
    for starts in ((1000, 1000 + len(other) - 1), (1000, 1000), (5, 1000, 1000 + len(other) - 1)):
        with pytest.raises(ValueError, match=r"^patches at frames \d+ and \d+ overlap$"):
            audio.write_patches(src, tmp_path / "x.wav", [(s, other.copy()) for s in starts])
    bad = other.copy()
    bad[7, 1] = np.nan
    with pytest.raises(audio.AudioError, match="^the edited samples are not all finite; nothing written$"):
        audio.write_patches(src, tmp_path / "x.wav", [(10, bad)])
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("kind", ["RIFF", "W64"])
def test_a_file_cut_short_gets_true_sizes_and_its_patch(tmp_path: Path, kind: str) -> None:
    """The samples there (whole frames) are kept and patched; the size fields say so; the data ends
    the file, padded as the container wants."""
    x = _signal(1, seed=9)[:, :1]
    built = B.w64(x, RATE, "PCM_24") if kind == "W64" else B.riff(x, RATE, "PCM_24")
    kept = 20_001  # frames left whole (an odd count of 3-byte frames: an odd data size)
    src, dst = tmp_path / f"cut{built.suffix}", tmp_path / f"out{built.suffix}"
    src.write_bytes(built.data[: built.offset + kept * 3 + 2])  # and two bytes of a frame
    patch = _decoded(built.data)[20_500:20_600]  # (beyond the cut: not in the file)
    assert audio.write_patches(src, dst, [(9_000, patch)]) == []
    out = dst.read_bytes()
    assert len(out) == built.offset + kept * 3 + (1 if kind == "RIFF" else -(kept * 3) % 8)
    assert out[built.offset + kept * 3 :] == bytes(len(out) - built.offset - kept * 3)  # pad bytes zero
    got = _decoded(out)
    expected = _decoded(built.data)[:kept].copy()
    expected[9_000:9_100] = patch
    # (libsndfile reads the pad bytes of a Wave64 as one more frame; specblur reads its own header)
    assert len(got) == kept + (kind == "W64") and np.array_equal(got[:kept], expected)
    assert audio.info(dst).frames == kept and not audio.info(dst).truncated


# -- a fixed set of mutants of the patching code: each must make the checks above fail ------------


def _shift(frames: int) -> Callable:
    """``_patched_bytes`` writing every patch ``frames`` frames off its place."""
    real = audio._patched_bytes

    def mutant(source, layout, patches):
        moved = [(offset + frames * layout.frame_bytes, data) for offset, data in patches]
        return real(source, layout, iter(moved))

    return mutant


def _short_copy(source_end: int) -> Callable:
    """``_copy_range`` stopping ``source_end`` bytes early (a gap before each patch or at the end)."""
    real = audio._copy_range

    def mutant(f, lo, hi):
        return real(f, lo, hi - source_end)

    return mutant


def _byte_order_swapped() -> Callable:
    """``container.encode`` in the other byte order than the file's."""
    real = container.encode

    def mutant(samples, layout):
        flipped = {"<": ">", ">": "<"}[layout.byteorder]
        return real(samples, dataclasses.replace(layout, byteorder=flipped))

    return mutant


def _last_patch_dropped() -> Callable:
    real = audio._patched_bytes

    def mutant(source, layout, patches):
        return real(source, layout, iter(list(patches)[:-1]))

    return mutant


def _stream_shift() -> Callable:
    """The streamed path (FLAC, OGG) writing each patch one frame early."""
    real = audio._stream_patched

    def mutant(source, dst, patches):
        return real(source, dst, iter([(max(0, s - 1), x) for s, x in patches]))

    return mutant


MUTANTS: list[tuple[str, str, Callable[[], Callable]]] = [
    ("patch one frame early", "_patched_bytes", lambda: _shift(-1)),
    ("patch one frame late", "_patched_bytes", lambda: _shift(1)),
    ("last patch not written", "_patched_bytes", _last_patch_dropped),
    ("copy stops one byte short", "_copy_range", lambda: _short_copy(1)),
    ("samples in the other byte order", "encode", _byte_order_swapped),
    ("streamed patch one frame early", "_stream_patched", _stream_shift),
]


@pytest.mark.parametrize(("name", "target", "make"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_the_checks_catch_each_fixed_mutant(tmp_path: Path, monkeypatch, name: str, target: str, make) -> None:
    monkeypatch.setattr(container if target == "encode" else audio, target, make())
    caught = 0
    for i, (case, build) in enumerate(CASES):
        built = build(_signal(CHANNELS[i], seed=len(case)))
        folder = tmp_path / str(i)
        folder.mkdir()
        try:
            check_patching(folder, built, _patches(built, build, CHANNELS[i]))
        except (AssertionError, audio.AudioError, ValueError, sf.LibsndfileError):  # each a failed check
            caught += 1
    if target == "_stream_patched":
        with pytest.raises(AssertionError):
            test_patches_land_on_their_frames_in_a_streamed_flac(tmp_path)
        return
    # byte order cannot matter for one-byte samples (8-bit, mu-law, A-law)
    expected = sum(1 for case, _ in CASES if not any(k in case for k in ("U8", "ulaw", "ALAW")))
    assert caught == (expected if target == "encode" else len(CASES)), f"{name}: caught in {caught} of {len(CASES)}"
