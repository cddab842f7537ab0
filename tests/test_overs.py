"""Edited samples over full scale, held under it by short dips in gain (specblur.edit.overs)."""

from __future__ import annotations

import numpy as np

from specblur.edit import overs

RATE = 44100
REACH = int(round(overs.REACH_SECONDS * RATE))


def _loud(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stereo tone at 0.9 of full scale with a few peaks pushed over it (one channel each)."""
    t = np.arange(RATE // 2) / RATE
    x = 0.9 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1)
    at = np.sort(np.random.default_rng(seed).choice(np.arange(2000, len(t) - 2000), 6, replace=False))
    for k, p in enumerate(at):
        x[p, k % 2] = (1.0 + 0.3 * (k + 1) / 6) * np.sign(x[p, k % 2] or 1.0)
    return x, at


def test_overs_are_brought_to_full_scale_and_only_near_them_anything_moves() -> None:
    x, at = _loud()
    y = x.copy()
    held = overs.hold_under(y, RATE)
    assert held.frames == len(at) and np.abs(y).max() <= 1.0
    assert held.gain == 1 / np.abs(x).max()
    assert np.allclose(np.abs(y).max(axis=1)[at], 1.0)  # at full scale, not below it
    near = np.zeros(len(x), dtype=bool)
    for p in at:
        near[p - REACH : p + REACH + 1] = True
    assert np.array_equal(y[~near], x[~near])  # beyond each dip's reach: to the bit
    both = near & (np.abs(x) > 1e-3).all(axis=1)  # (away from either channel's zero crossings)
    gain = y[both] / x[both]
    assert np.allclose(gain[:, 0], gain[:, 1], rtol=0, atol=1e-9)  # one gain, both channels
    assert np.all(gain <= 1.0 + 1e-12) and gain.min() < 0.8
    # a dip, not a step: the gain rises back smoothly from each over (no jump of more than its
    # depth over the reach's steps)
    stretch = slice(at[0] - REACH, at[0] + REACH + 1)
    ch = 0 if abs(x[at[0], 0]) > 1 else 1
    around = y[stretch, ch] / np.where(np.abs(x[stretch, ch]) > 1e-3, x[stretch, ch], np.nan)
    assert np.nanmax(np.abs(np.diff(around))) < 0.05


def test_nothing_over_leaves_the_samples_and_outside_the_span_is_not_touched() -> None:
    x, at = _loud(1)
    quiet = 0.5 * x
    y = quiet.copy()
    assert overs.hold_under(y, RATE) == overs.Held() and np.array_equal(y, quiet)
    lo, hi = int(at[2]) - 10, int(at[4]) + 10  # only the overs from the third to the fifth, and their dips' insides
    y = x.copy()
    held = overs.hold_under(y, RATE, lo, hi)
    assert held.frames == 3
    assert np.array_equal(y[:lo], x[:lo]) and np.array_equal(y[hi:], x[hi:])
    assert np.abs(y[lo:hi]).max() <= 1.0
    mono = x[:, 0].copy()  # a mono array: the same dips
    assert overs.hold_under(mono, RATE).frames == int(np.sum(np.abs(x[:, 0]) > 1.0))
    assert np.abs(mono).max() <= 1.0


def test_the_dips_are_the_same_taken_an_over_at_a_time_or_a_step_at_a_time() -> None:
    """A loud file's thousands of overs take the gain a step of the dip at a time; a few, an over at a
    time: both give the same gain to the bit (the lowest dip wins where they meet, edges clipped)."""
    rng = np.random.default_rng(3)
    n, reach = 5000, 20
    for count in (5, 41, 42, 900):
        idx = np.sort(rng.choice(n, count, replace=False))
        idx[0] = 0  # (dips cut at both ends)
        idx[-1] = n - 1
        floor = rng.uniform(0.3, 0.99, count)
        by_over = np.ones(n)
        shape = 0.5 + 0.5 * np.cos(np.pi * np.arange(reach + 1) / (reach + 1))
        for at, f in zip(idx, floor, strict=True):
            for step in range(-reach, reach + 1):
                if 0 <= at + step < n:
                    by_over[at + step] = min(by_over[at + step], 1.0 - (1.0 - f) * shape[abs(step)])
        assert np.array_equal(overs._gain(idx, floor, n, reach), by_over), count


def test_the_plot_draws_the_output_as_written_after_its_dips() -> None:
    """``--plot``'s "after" is the output's own spectrogram: drawn once the dips have held it under
    full scale, not from the edit before them."""
    import specblur
    from specblur.edit import segment
    from specblur.edit.options import options as make_options

    loaded = specblur.load_model()
    rate = 44100
    t = np.arange(2 * rate) / rate
    x = sum(np.sin(2 * np.pi * 220 * k * t) / k**2 for k in range(1, 12, 2))
    x = 0.99 * x / np.abs(x).max()
    span = (0.5, 1.5)
    result = segment.blur(loaded, x, rate, time=span, full_scale=True, keep_views=True)
    assert result.held.frames > 0, "the blur of a tone at full scale went over nowhere: nothing to test"
    where = segment.plan(loaded, len(x), rate, span, (None, None), make_options(None, full_scale=True))
    out = result.samples[where.start : where.stop, None]
    model = loaded.model
    heard = segment._magnitude(model, out, [0], rate)
    after = model.spectrogram.to_db(model.spectrogram.features_from_magnitude(heard))
    view = result.views[0]["after_db"]
    np.testing.assert_allclose(view, after[:, : view.shape[1]], atol=1e-9)


def _limited(seconds: float, rate: int) -> np.ndarray:
    """A master limited hard against full scale (noise through tanh): a fill of it with its own
    spectrum but not its limiting goes well over full scale."""
    x = np.random.default_rng(7).standard_normal((int(seconds * rate), 2))
    return 0.99 * np.tanh(4 * x)


def test_a_repair_filled_in_memory_is_held_under_full_scale(tmp_path, capsys) -> None:
    """A short dropout in a loud 16-bit master, filled from its context (``hybrid``): the fill goes
    over full scale and is held under it by the dips, not clipped; the samples outside the fill's span
    keep their bytes, and ``--plot`` (in memory too) writes the same bytes."""
    import soundfile as sf
    from conftest import cli_in_process

    rate = 44100
    x = _limited(3.0, rate)
    x[int(1.5 * rate) : int(1.55 * rate)] = 0.0
    src = tmp_path / "loud.wav"
    sf.write(src, x, rate, subtype="PCM_16")
    code, err = cli_in_process(capsys, "repair", str(src), str(tmp_path / "a.wav"), "-t", "1.5-1.55")
    assert code == 0 and "held under it by dips in gain" in err and "clipped" not in err.replace("not clipped", ""), err
    code, err2 = cli_in_process(
        capsys, "repair", str(src), str(tmp_path / "b.wav"), "-t", "1.5-1.55", "--plot", str(tmp_path / "p.png")
    )
    assert code == 0 and err2 == err
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    y = sf.read(tmp_path / "a.wav", always_2d=True, dtype="int16")[0]
    before = sf.read(src, always_2d=True, dtype="int16")[0]
    changed = np.flatnonzero(np.any(y != before, axis=1))
    assert changed[0] >= int(1.5 * rate) - int(0.01 * rate) and changed[-1] < int(1.55 * rate) + int(0.01 * rate)
    # the same fill of the same samples as made (a float file keeps it): each over is brought to full
    # scale and the samples around it come down with it (a dip), where clipping would leave them
    floats = tmp_path / "loud.f.wav"
    sf.write(floats, before / 32768.0, rate, subtype="FLOAT")
    code, err = cli_in_process(capsys, "repair", str(floats), str(tmp_path / "f.wav"), "-t", "1.5-1.55")
    assert code == 0 and err == "", err
    made = sf.read(tmp_path / "f.wav", always_2d=True)[0]
    peak = np.abs(made).max(axis=1)
    over = np.flatnonzero(peak > 1.0)
    assert len(over) > 10, "the fill went over too little to tell dips from clipping"
    near = np.unique(np.concatenate([over + k for k in range(-20, 21) if k]))
    near = near[(peak[near] <= 1.0) & (peak[near] > 0.3)]
    ratio = np.abs(y[near] / 32768.0).max(axis=1) / peak[near]
    assert np.median(ratio) < 0.97, np.median(ratio)


def test_a_long_repair_streamed_is_held_as_the_same_fill_made_in_memory(tmp_path, capsys) -> None:
    """A 3 s dropout of the same master is filled a block at a time and streamed (memory follows a
    block); its patches are held under full scale as they come, the same numbers as the whole fill
    held in memory (``--plot`` makes it so): the same bytes, the same warning."""
    import soundfile as sf
    from conftest import cli_in_process

    rate = 16000
    x = _limited(8.0, rate)
    x[2 * rate : 5 * rate] = 0.0
    src = tmp_path / "loud.wav"
    sf.write(src, x, rate, subtype="PCM_16")
    code, err = cli_in_process(capsys, "repair", str(src), str(tmp_path / "a.wav"), "-t", "2-5", "-v")
    assert code == 0 and "held under it by dips in gain" in err and "edited samples clipped" not in err, err
    code, err2 = cli_in_process(
        capsys, "repair", str(src), str(tmp_path / "b.wav"), "-t", "2-5", "-v", "--plot", str(tmp_path / "p.png")
    )
    assert code == 0 and err2 == err
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    y = sf.read(tmp_path / "a.wav", always_2d=True)[0]
    assert np.array_equal(y[: int(1.99 * rate)], sf.read(src, always_2d=True)[0][: int(1.99 * rate)])


def test_a_span_given_as_patches_is_held_as_the_whole_span_is() -> None:
    """:class:`overs.HeldStream` (a long fill streamed a block at a time) gives the same samples, to
    the bit, and the same count and deepest dip, as :func:`overs.hold_under` of the whole span, however
    the span is cut into patches (patches shorter than a dip's reach, longer, one sample)."""
    rng = np.random.default_rng(5)
    for trial, cuts in enumerate(([1000], [7, 300, 301, 2500], list(range(1, 3000, 37)), [1, 2, 3, 1500])):
        x = rng.standard_normal((3000, 2)) * (0.45 if trial % 2 else 0.3)
        whole = x.copy()
        held = overs.hold_under(whole, RATE)
        assert held.frames > 0
        bounds = [0, *cuts, len(x)]
        patches = ((a, x[a:b].copy()) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        stream = overs.HeldStream(patches, RATE)
        got = list(stream)
        assert got[0][0] == 0
        for (a, part), (b, _) in zip(got, got[1:], strict=False):
            assert b == a + len(part)
        assert np.array_equal(np.concatenate([p for _, p in got]), whole), trial
        assert stream.held == held, (stream.held, held)


def test_patches_with_gaps_between_them_are_held_as_the_whole_span_is() -> None:
    """A declick's patches are its clicks' alone: with the frames between them read as they are (never
    over full scale), :class:`overs.HeldStream` gives, besides the patches, the frames of each gap that
    a dip reaches, and the span comes out as :func:`overs.hold_under` of all of it makes it (gaps
    shorter than a dip's two reaches, longer, a patch of one frame)."""
    rng = np.random.default_rng(9)
    n = 8000
    layouts = [(100, 400), (450, 460), (3000, 3001), (3001, 3100), (3200, 5000), (7990, 8000)], [(0, 8000)], [(5, 9)]
    for layout, scale in [(layout, scale) for layout in layouts for scale in (0.5, 0.32)]:
        x = np.clip(rng.standard_normal((n, 2)) * 0.3, -1.0, 1.0)  # (what is not edited: within full scale)
        for a, b in layout:
            x[a:b] = rng.standard_normal((b - a, 2)) * scale  # (the edit: over full scale here and there)
        lo, hi = layout[0][0], layout[-1][1]
        whole = x.copy()
        held = overs.hold_under(whole, RATE, lo, hi)
        out = x.copy()
        stream = overs.HeldStream(((a, x[a:b].copy()) for a, b in layout), RATE, read=lambda a, b, x=x: x[a:b].copy())
        last = lo
        for first, part in stream:
            assert first >= last and lo <= first and first + len(part) <= hi
            out[first : first + len(part)] = part
            last = first + len(part)
        assert np.array_equal(out, whole), layout
        assert stream.held == held


def test_a_long_declick_streamed_is_held_as_in_memory(tmp_path, capsys) -> None:
    """``declick`` of 5 s of a master limited against full scale, with clicks: streamed, its patches
    are the clicks' alone; the mended samples that go over are held under full scale all the same,
    the frames between the patches that a dip reaches read and written, and ``--plot`` (the whole
    region in memory) writes the same bytes and says the same."""
    import soundfile as sf
    from conftest import cli_in_process

    rate = 16000
    rng = np.random.default_rng(7)
    t = np.arange(8 * rate) / rate
    x = 0.99 * np.tanh(3 * (np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(len(t))))
    x = np.stack([x, x], axis=1)
    for at in rng.integers(int(1.2 * rate), int(5.8 * rate), 40):
        x[at : at + 8] += 0.8 * np.sign(rng.standard_normal())
    src = tmp_path / "clicky.wav"
    sf.write(src, np.clip(x, -1, 1 - 2**-15), rate, subtype="PCM_16")
    args = ("repair", str(src), "-t", "1-6", "--method", "declick")
    code, err = cli_in_process(capsys, *args[:2], str(tmp_path / "a.wav"), *args[2:])
    assert code == 0 and "held under it by dips in gain" in err and "edited samples clipped" not in err, err
    code, err2 = cli_in_process(
        capsys, *args[:2], str(tmp_path / "b.wav"), *args[2:], "--plot", str(tmp_path / "p.png")
    )
    assert code == 0 and err2 == err
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
