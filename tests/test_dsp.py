"""specblur.runtime.dsp and specblur.runtime.resynth (numpy only) against the torch implementations they replace.

Tolerances are max abs differences, measured first (in comments) and allowed with some margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import reference_resynth as resynth
import soundfile as sf
import torch
import torchaudio.functional as AF

from specblur.config import PRESETS, SpectrogramConfig
from specblur.edit.region import band_centres
from specblur.learn.spectrogram import Spectrogram
from specblur.runtime import dsp
from specblur.runtime import resynth as resynth_np

NOTE = Path(__file__).resolve().parent.parent / "examples" / "note.wav"

CONFIGS = {
    "default": SpectrogramConfig(),
    "tiny": PRESETS["tiny"].spectrogram,
    "hamming-short-window": SpectrogramConfig(
        n_fft=512, win_length=400, hop_length=160, window="hamming", n_mels=80, f_min=30.0, f_max=7600.0
    ),
    "blackman-linear": SpectrogramConfig(window="blackman", scale="linear"),
}


def noise(n: int, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


@pytest.fixture(scope="module")
def note() -> np.ndarray:
    wave, rate = sf.read(NOTE, dtype="float32")
    assert rate == 16000 and wave.ndim == 1
    return wave


@pytest.mark.parametrize("name", dsp.WINDOWS)
@pytest.mark.parametrize("length", [1, 400, 1024, 1025])
def test_windows(name: str, length: int) -> None:
    ref = getattr(torch, f"{name}_window")(length).numpy()
    assert np.abs(dsp.window(name, length) - ref).max() <= 5e-7  # measured 2.7e-7 (float32 rounding)
    ref64 = getattr(torch, f"{name}_window")(length, dtype=torch.float64).numpy()
    assert np.abs(dsp.window(name, length, np.float64) - ref64).max() <= 1e-15


@pytest.mark.parametrize(
    "args",
    [
        (513, 0.0, 8000.0, 128, 16000),
        (513, 0.0, 8000.0, 32, 16000),
        (257, 30.0, 7600.0, 80, 16000),
        (1025, 0.0, 11025.0, 128, 22050),
    ],
)
def test_mel_filterbank_and_pinv(args: tuple) -> None:
    ref = AF.melscale_fbanks(*args, norm=None, mel_scale="htk")
    ours = dsp.mel_filterbank(*args)
    assert ours.dtype == np.float32 and ours.shape == tuple(ref.shape)
    # measured 1.6e-5 at most (torchaudio rounds each step to float32; ours is float64 rounded once)
    assert np.abs(ours - ref.numpy()).max() <= 3e-5
    assert ((ours > 0) == (ref.numpy() > 0)).mean() > 0.999
    ref_pinv = torch.linalg.pinv(ref).numpy()
    # of the same matrix: measured 9.2e-7 of the largest entry (torch inverts in float32, ours in float64)
    assert np.abs(dsp.pinv(ref.numpy()) - ref_pinv).max() <= 5e-6 * np.abs(ref_pinv).max()


@pytest.mark.parametrize("cfg_name", list(CONFIGS))
@pytest.mark.parametrize("n", [1, 255, 1000, 16001])
def test_stft_and_istft_match_torch(cfg_name: str, n: int) -> None:
    cfg = CONFIGS[cfg_name]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    x = noise(n, seed=n)
    spec_ref = ref.stft(torch.from_numpy(x)).numpy()
    spec = ours.stft(x)
    assert spec.dtype == np.complex64 and spec.shape == spec_ref.shape
    # measured 2.1e-7 of the largest bin (float32)
    assert np.abs(spec - spec_ref).max() <= 1e-6 * max(1.0, np.abs(spec_ref).max())
    if n >= cfg.n_fft // 2:
        assert spec.shape[-1] == ours.frames(n)
    wave_ref = ref.istft(torch.from_numpy(spec_ref), n).numpy()
    wave = ours.istft(spec_ref, n)
    assert wave.shape == (n,)
    assert np.abs(wave - wave_ref).max() <= 1e-6  # measured 4.2e-7
    assert np.abs(wave - x).max() <= 1e-6  # the round trip


def test_batched_stft_and_float64() -> None:
    cfg = CONFIGS["default"]
    x = np.stack([noise(5000, 1), noise(5000, 2)])[None]  # (1, 2, 5000)
    ours = dsp.Features(cfg)
    spec = ours.stft(x)
    assert spec.shape == (1, 2, 513, 20)
    assert np.array_equal(spec[0, 1], ours.stft(x[0, 1]))
    assert np.abs(ours.istft(spec, 5000) - x).max() <= 1e-6
    x64 = x[0, 0].astype(np.float64)
    win = dsp.window("hann", 1024, np.float64)
    spec64 = dsp.stft(x64, 1024, 256, win)
    ref64 = torch.stft(
        torch.from_numpy(x64),
        1024,
        256,
        window=torch.hann_window(1024, dtype=torch.float64),
        pad_mode="constant",
        return_complex=True,
    ).numpy()
    assert spec64.dtype == np.complex128 and np.abs(spec64 - ref64).max() <= 1e-12
    assert np.abs(dsp.istft(spec64, 1024, 256, win, 5000) - x64).max() <= 1e-14


def test_istft_longer_than_signal_and_vanishing_envelope() -> None:
    cfg = CONFIGS["default"]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    x = noise(4000)
    spec = ours.stft(x)
    with pytest.warns(UserWarning):
        wave_ref = ref.istft(torch.from_numpy(spec), 5000).numpy()
    wave = ours.istft(spec, 5000)
    assert wave.shape == wave_ref.shape == (5000,)
    covered = 4000 - 4000 % cfg.hop_length
    assert np.abs(wave[:covered] - wave_ref[:covered]).max() <= 1e-6
    assert not wave[len(spec[0]) * cfg.hop_length + cfg.n_fft // 2 :].any()  # zero-padded as torch pads
    # a window shorter than n_fft leaves gaps past the last frame: both refuse
    short = CONFIGS["hamming-short-window"]
    spec = dsp.Features(short).stft(x)
    with pytest.raises(RuntimeError, match="overlap add"):
        Spectrogram(short).istft(torch.from_numpy(spec), 5000)
    with pytest.raises(ValueError, match="overlap-add"):
        dsp.Features(short).istft(spec, 5000)


@pytest.mark.parametrize("cfg_name", list(CONFIGS))
def test_features_and_magnitude_of_noise(cfg_name: str) -> None:
    cfg = CONFIGS[cfg_name]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    x = noise(23457, seed=3)
    feats_ref = ref.features(torch.from_numpy(x)).numpy()
    feats = ours.features(x)
    assert feats.dtype == np.float32 and feats.shape == feats_ref.shape
    assert np.abs(feats - feats_ref).max() <= 1.5e-4  # measured 3.7e-5 (normalised units; 1 = 25 dB)
    assert ours.floor_value == ref.floor_value
    assert np.abs(ours.to_db(feats_ref) - ref.to_db(torch.from_numpy(feats_ref)).numpy()).max() <= 1e-5
    mag_ref = ref.magnitude_from_features(torch.from_numpy(feats_ref)).numpy()
    mag = ours.magnitude_from_features(feats_ref)
    assert mag.dtype == np.float32
    assert np.abs(mag - mag_ref).max() <= 5e-5 * np.abs(mag_ref).max()  # measured 1.7e-5 of the largest


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 8000])
def test_features_of_a_recording_at_several_rates(note: np.ndarray, rate: int) -> None:
    """The runtime's path (dsp.resample then Features) against the training side's (torchaudio
    resample then Spectrogram), on the real recording brought to ``rate``, at two lengths."""
    cfg = CONFIGS["default"]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    source = note if rate == 16000 else AF.resample(torch.from_numpy(note), 16000, rate).numpy()
    for n in (len(source), len(source) - 777):
        x = source[:n]
        wave_ref = AF.resample(torch.from_numpy(x), rate, 16000)
        wave = dsp.resample(x, rate, 16000)
        assert wave.dtype == np.float32 and wave.shape == tuple(wave_ref.shape)
        assert np.abs(wave - wave_ref.numpy()).max() <= 2e-7  # measured 4.5e-8
        feats_ref = ref.features(wave_ref).numpy()
        feats = ours.features(wave)
        assert feats.shape == feats_ref.shape
        assert np.abs(feats - feats_ref).max() <= 2e-4  # measured 4.9e-5 (quiet bands near the floor)


@pytest.mark.parametrize(
    ("rate_in", "rate_out"),
    [
        (44100, 16000),
        (48000, 16000),
        (22050, 16000),
        (8000, 16000),
        (16000, 44100),
        (16000, 48000),
        (16000, 22050),
        (16000, 8000),
        (32000, 16000),
        (44100, 48000),
    ],
)
def test_resample_matches_torchaudio(rate_in: int, rate_out: int) -> None:
    x = np.stack([noise(12345, 1, 1.0), noise(12345, 2, 1.0)])  # full scale, two channels
    ref = AF.resample(torch.from_numpy(x), rate_in, rate_out).numpy()
    ours = dsp.resample(x, rate_in, rate_out)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 2e-6  # measured 7e-7
    x64 = x.astype(np.float64)
    ref64 = AF.resample(torch.from_numpy(x64), rate_in, rate_out).numpy()
    assert np.abs(dsp.resample(x64, rate_in, rate_out) - ref64).max() <= 1e-12


def test_resample_edge_cases() -> None:
    x = noise(5)
    assert dsp.resample(x, 16000, 16000) is x
    for n in (1, 2, 3):
        ref = AF.resample(torch.from_numpy(noise(n)), 44100, 16000).numpy()
        assert np.abs(dsp.resample(noise(n), 44100, 16000) - ref).max() <= 1e-6
    assert dsp.resample(noise(0), 44100, 16000).shape == (0,)  # torchaudio refuses an empty signal
    assert dsp.resample(np.arange(10), 2, 1).dtype == np.float32
    with pytest.raises(ValueError):
        dsp.resample(x, 44100.5, 16000)


def test_griffin_lim_matches_torch_from_a_given_phase() -> None:
    cfg = CONFIGS["default"]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    x = noise(9000, 5)
    feats = ours.features(x)
    mag = ours.magnitude_from_features(feats)
    phase = np.random.default_rng(1).random(mag.shape, dtype=np.float32) * np.float32(2 * np.pi)
    wave_ref = ref.griffin_lim(torch.from_numpy(mag), 9000, torch.from_numpy(phase), iters=6).numpy()
    wave = ours.griffin_lim(mag, 9000, phase, iters=6)
    assert wave.dtype == np.float32 and wave.shape == (9000,)
    assert np.abs(wave - wave_ref).max() <= 1e-4 * np.abs(wave_ref).max()  # measured 3.3e-6 of the peak


def test_waveform_with_random_phase_approaches_the_magnitude() -> None:
    """The random start differs from torch's (numpy's generator); the quality does not."""
    cfg = CONFIGS["tiny"]
    ref, ours = Spectrogram(cfg), dsp.Features(cfg)
    x = noise(12000, 7)
    feats = ours.features(x)
    wave = ours.waveform(feats, 12000)
    wave_ref = ref.waveform(torch.from_numpy(feats), 12000).numpy()
    err = np.abs(ours.features(wave) - feats).mean()
    err_ref = np.abs(ours.features(wave_ref) - feats).mean()
    assert wave.shape == (12000,) and np.array_equal(wave, ours.waveform(feats, 12000))  # seeded
    assert err <= 1.5 * err_ref + 0.01


def test_unknown_window_or_scale() -> None:
    with pytest.raises(ValueError, match="window"):
        dsp.Features(SpectrogramConfig(window="kaiser"))
    with pytest.raises(ValueError, match="scale"):
        dsp.Features(SpectrogramConfig(scale="bark"))


@pytest.mark.parametrize("rate", [16000, 44100, 22050, 8000])
@pytest.mark.parametrize("phase_iters", [0, 2])
def test_apply_change_numpy_matches_torch(rate: int, phase_iters: int) -> None:
    cfg = SpectrogramConfig()
    rng = np.random.default_rng(rate + phase_iters)
    n = int(2.3 * rate) + 17
    wave = rng.standard_normal(n) * 0.2
    n_frames = int(2.3 * cfg.sample_rate) // cfg.hop_length + 1
    frame_times = np.arange(n_frames) * cfg.hop_length / cfg.sample_rate
    change = np.zeros((cfg.n_mels, n_frames))
    change[20:60, 50:90] = rng.standard_normal((40, 40)) * 6
    args = (rate, change, frame_times, band_centres(cfg), min(cfg.f_max, rate / 2), cfg.sample_rate, cfg.n_fft)
    ref, ref_span = resynth.apply_change(wave, *args, phase_iters=phase_iters)
    ours, span = resynth_np.apply_change(wave, *args, phase_iters=phase_iters)
    assert span == ref_span and span[1] > span[0]
    assert np.abs(ours - ref).max() <= 1e-12  # measured 1.9e-15 (both float64)
    assert np.array_equal(ours[: span[0]], wave[: span[0]]) and np.array_equal(ours[span[1] :], wave[span[1] :])


def test_apply_change_without_change() -> None:
    cfg = SpectrogramConfig()
    wave = noise(20000).astype(np.float64)
    frame_times = np.arange(79) * cfg.hop_length / cfg.sample_rate
    out, span = resynth_np.apply_change(
        wave, 16000, np.zeros((128, 79)), frame_times, band_centres(cfg), 8000.0, 16000, 1024
    )
    assert span == (0, 0) and np.array_equal(out, wave) and out is not wave
    # a change only above the input's band changes nothing either
    change = np.zeros((128, 79))
    change[120:, 30:40] = 3.0
    out, span = resynth_np.apply_change(wave, 16000, change, frame_times, band_centres(cfg), 4000.0, 16000, 1024)
    ref_out, ref_span = resynth.apply_change(wave, 16000, change, frame_times, band_centres(cfg), 4000.0, 16000, 1024)
    assert span == ref_span and np.array_equal(out, ref_out)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_phase_start_extrapolate_continues_a_steady_partial(rate: int) -> None:
    """Replacing the phase inside a region: carried on from before it, a steady sine comes out as it
    was (its phase advances at its own frequency); a random start does not; the input's is the input."""
    cfg = SpectrogramConfig()
    n = int(2.0 * rate)
    t = np.arange(n) / rate
    wave = 0.5 * np.sin(2 * np.pi * 441.3 * t + 0.7)
    n_frames = int(2.0 * cfg.sample_rate) // cfg.hop_length + 1
    frame_times = np.arange(n_frames) * cfg.hop_length / cfg.sample_rate
    change = np.zeros((cfg.n_mels, n_frames))
    change[:, 40:60] = 1e-9  # "changed" cells with no change of level: only the phase start differs
    args = (rate, change, frame_times, band_centres(cfg), min(cfg.f_max, rate / 2), cfg.sample_rate, cfg.n_fft)
    errors = {}
    for start in resynth_np.PHASE_STARTS:
        out, span = resynth_np.apply_change(wave, *args, phase_start=start)
        assert span[1] > span[0]
        assert np.array_equal(out[: span[0]], wave[: span[0]]) and np.array_equal(out[span[1] :], wave[span[1] :])
        inside = slice(span[0], span[1])
        errors[start] = np.sqrt(np.mean((out[inside] - wave[inside]) ** 2)) / np.sqrt(np.mean(wave[inside] ** 2))
    assert errors["input"] < 1e-6
    assert errors["extrapolate"] < 0.05
    assert errors["random"] > 0.5
    with pytest.raises(ValueError, match="phase start"):
        resynth_np.apply_change(wave, *args, phase_start="zero")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_stft_in_blocks_is_the_one_call_bit_for_bit(monkeypatch, dtype) -> None:
    """stft and istft take the FFTs a block of frames at a time (memory): the numbers are those of
    one call over every frame, bit for bit, however the blocks fall."""
    rng = np.random.default_rng(3)
    n_fft, hop = 256, 64
    win = dsp.window("hann", n_fft, dtype)
    for frames_per_block in (64, 128):
        monkeypatch.setattr(dsp, "_BLOCK_BYTES", frames_per_block * n_fft * np.dtype(dtype).itemsize)
        for n in (100, 64 * hop * 3 + 17, 20000):
            for lead in ((), (2,)):
                x = rng.standard_normal((*lead, n)).astype(dtype)
                padded = np.pad(x, [(0, 0)] * len(lead) + [(n_fft // 2, n_fft // 2)])
                frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
                whole = np.swapaxes(np.fft.rfft(frames * win, axis=-1), -1, -2)
                spec = dsp.stft(x, n_fft, hop, win)
                assert spec.dtype == whole.dtype and np.array_equal(spec, whole)
                real = np.fft.irfft(np.swapaxes(whole, -1, -2), n=n_fft, axis=-1).astype(dtype) * win
                added = dsp._overlap_add(real, hop)
                envelope = dsp._overlap_add(np.broadcast_to(win * win, (whole.shape[-1], n_fft)), hop)
                expected = added[..., n_fft // 2 : n_fft // 2 + n] / envelope[n_fft // 2 : n_fft // 2 + n]
                assert np.array_equal(dsp.istft(spec, n_fft, hop, win, n), expected)


def test_the_change_is_carried_onto_the_bins_as_np_interp_does() -> None:
    """plan_change's frequency interpolation, every model frame at once, is np.interp's per frame to
    the bit: below the first band its value, above the last 0, on a band its value."""
    rng = np.random.default_rng(5)
    bands = np.array([40.0, 90.0, 90.5, 400.0, 1000.0, 8000.0])
    x = np.concatenate([np.linspace(0, 12000, 301), bands, [20.0, 8000.0 + 1e-9]])
    fp = rng.normal(0, 6, (len(bands), 17))
    ours = resynth_np._interp_rows(x, bands, fp)
    for k in range(fp.shape[1]):
        np.testing.assert_array_equal(ours[:, k], np.interp(x, bands, fp[:, k], right=0.0))


def test_one_plan_serves_every_channel_of_a_linked_edit() -> None:
    """A planned change applied to each channel is apply_change on each channel, to the bit."""
    cfg = PRESETS["default"].spectrogram
    rng = np.random.default_rng(6)
    waves = rng.standard_normal((2, 22050)) * 0.1
    centres = band_centres(cfg)
    frames = 40
    change = np.zeros((len(centres), frames))
    change[10:30, 5:25] = rng.normal(0, 6, (20, 20))
    times = np.arange(frames) * cfg.hop_length / cfg.sample_rate
    args = (22050, change, times, centres, 11025.0, cfg.sample_rate, cfg.n_fft)
    plan = resynth_np.plan_change(len(waves[0]), *args)
    for wave in waves:
        alone, span = resynth_np.apply_change(wave, *args)
        shared, span2 = resynth_np.apply_planned(wave, plan)
        np.testing.assert_array_equal(alone, shared)
        assert span == span2 and span[1] > span[0]


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (256, 64), (100, 30), (512, 100)])
def test_scaled_resynthesis_is_istft_of_the_scaled_stft_bit_for_bit(monkeypatch, n_fft: int, hop: int) -> None:
    """The blur's resynthesis a block of frames at a time gives istft(stft(x) * gain) to the bit,
    for any length, hop that does or does not divide the window, and block size."""
    rng = np.random.default_rng(8)
    win = dsp.window("hann", n_fft, np.float64)
    for frames_per_block in (64, 128):
        monkeypatch.setattr(dsp, "_BLOCK_BYTES", frames_per_block * n_fft * 16)
        for n in (1, 99, 64 * hop * 2 + 17, 40000):
            x = rng.standard_normal(n)
            spec = dsp.stft(x, n_fft, hop, win)
            gain = np.exp(rng.normal(0, 1, spec.shape))
            for length in (None, n, n + 50):
                want = dsp.istft(spec * gain, n_fft, hop, win, length)
                got = dsp.scaled_resynthesis(x, n_fft, hop, win, gain, length)
                assert got.shape == want.shape and np.array_equal(got, want)
    with pytest.raises(ValueError, match="gain of shape"):
        dsp.scaled_resynthesis(np.zeros(1000), n_fft, hop, win, np.ones((3, 3)))


def test_the_magnitude_in_blocks_is_abs_of_the_stft_bit_for_bit(monkeypatch) -> None:
    """stft_magnitude takes |FFT| a block of frames at a time: np.abs(stft(x)) to the bit."""
    rng = np.random.default_rng(9)
    n_fft, hop = 256, 64
    win = dsp.window("hann", n_fft, np.float32)
    for frames_per_block in (64, 128):
        monkeypatch.setattr(dsp, "_BLOCK_BYTES", frames_per_block * n_fft * 4)
        for n in (10, 64 * hop * 3 + 17):
            for lead in ((), (2,)):
                x = rng.standard_normal((*lead, n)).astype(np.float32)
                want = np.abs(dsp.stft(x, n_fft, hop, win))
                got = dsp.stft_magnitude(x, n_fft, hop, win)
                assert got.dtype == want.dtype and np.array_equal(got, want)
