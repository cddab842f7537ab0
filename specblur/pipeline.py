"""The data path composed: audio → codes (``encode``), codes → audio (``decode``), and the effect
(``blur``): encode, redraw a region's codes from the prior, resynthesise only that region.

These functions take and return in-memory objects; the CLI adds files, and scripts can call them
directly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specblur import audio
from specblur.codes import CodeFile
from specblur.dsp import resample
from specblur.edit.shape import encoder_gain, keep_shape
from specblur.errors import AudioError, CodesError, UsageError
from specblur.region import Region, band_centres, locate
from specblur.resynth_np import apply_change
from specblur.runtime import Codes, RuntimeModel

_LOADED: dict[str, RuntimeModel] = {}


def load_model(spec: Any = None) -> RuntimeModel:
    """``--model NAME|PATH`` (``None``: the default model) → a model ready to use, loaded once per
    process and file (a batch or a script pays for loading once). Edits run on the model's runtime
    form (numpy and onnxruntime, no torch). A training-side
    :class:`~specblur.checkpoint.LoadedModel` is converted to it (that needs torch, which it has)."""
    if isinstance(spec, RuntimeModel):
        return spec
    if spec is not None and not isinstance(spec, str | bytes) and hasattr(spec, "model"):
        key = f"loaded:{spec.hash}:{id(spec.prior)}"
        if key not in _LOADED:
            import tempfile

            from specblur import export, runtime

            with tempfile.TemporaryDirectory() as folder:
                target = export.write_runtime(spec, Path(folder) / f"{spec.name}.onnx.npz")
                _LOADED[key] = runtime.load(target)
        return _LOADED[key]
    from specblur import registry, runtime

    path = registry.resolve_runtime(spec)
    key = f"{path.resolve()}:{path.stat().st_mtime_ns}"
    if key not in _LOADED:
        _LOADED[key] = runtime.load(path)
    return _LOADED[key]


def encode(loaded: Any, sound: audio.Audio) -> CodeFile:
    """Each channel of ``sound`` → code maps of ``loaded``'s model (at the model's rate)."""
    loaded = load_model(loaded)
    model = loaded.model
    rate = model.config.spectrogram.sample_rate
    wave = resample(np.ascontiguousarray(sound.samples.T, dtype=np.float32), sound.sample_rate, rate)
    images = model.spectrogram.features(wave)[:, None]
    codes = model.encode(images)
    meta = {
        "model_name": loaded.name,
        "model_hash": loaded.hash,
        "sample_rate": rate,
        "length": int(wave.shape[-1]),
        "frames": int(images.shape[-1]),
        "source_sample_rate": sound.sample_rate,
        "source_channels": sound.channels,
        "source_length": sound.frames,
        "source_format": sound.format,
        "source_subtype": sound.subtype,
        "representation": model.config.spectrogram.__dict__.copy(),
    }
    return CodeFile(top=codes.top, bottom=codes.bottom, meta=meta)


def check_codes(loaded: RuntimeModel, codes: CodeFile, name: str) -> None:
    """Refuse codes made by another model, or code maps of the wrong shape or range."""
    meta = codes.meta
    if meta.get("model_hash") != loaded.hash:
        raise CodesError(
            f"{name}: made by model {meta.get('model_name')!r} ({str(meta.get('model_hash'))[:12]}), not "
            f"{loaded.name!r} ({loaded.hash[:12]}); decode with --model {meta.get('model_name')}"
        )
    shape = loaded.model.code_shape(int(meta["frames"]))
    for level in ("top", "bottom"):
        maps = getattr(codes, level)
        k = getattr(loaded.model.config.model, level).num_codes
        if tuple(maps.shape[1:]) != shape[level] or maps.min(initial=0) < 0 or maps.max(initial=0) >= k:
            raise CodesError(f"{name}: {level} code map does not fit the model; re-encode the audio")


def decode(loaded: Any, codes: CodeFile, original_rate: bool = False) -> audio.Audio:
    """Code maps → audio at the model's rate (or the source's with ``original_rate``)."""
    loaded = load_model(loaded)
    check_codes(loaded, codes, "codes")
    model = loaded.model
    meta = codes.meta
    frames, length = int(meta["frames"]), int(meta["length"])
    maps = Codes(top=codes.top.astype(np.int64), bottom=codes.bottom.astype(np.int64))
    images = model.decode(maps, frames)[:, 0]
    wave = model.spectrogram.waveform(images, length)
    rate = int(meta["sample_rate"])
    if original_rate and int(meta["source_sample_rate"]) != rate:
        wave = resample(wave, rate, int(meta["source_sample_rate"]))
        rate = int(meta["source_sample_rate"])
    samples = np.asarray(wave).T.astype(np.float32)
    return audio.Audio(np.clip(samples, -1.0, 1.0), rate, "WAV", "PCM_16")


# -- the effect ----------------------------------------------------------------------------------

SCALES = {"micro": ("bottom",), "macro": ("top",), "both": ("top", "bottom")}


# Context kept around the brush, in top-level code cells, when only part of a file is encoded.
# Measured on the default model: codes three top cells (24 frames) or more from a crop's edge equal
# those of the whole file; the decoder reaches about as far again, so the brush's pixels see the same
# codes, and so the same change, as when the whole file is processed.
CONTEXT_TOP_CELLS = 6
DECODER_CONTEXT_TOP_CELLS = 3
"""Of those, what the decoder needs around the brush (measured: decoding with 3 top cells on each side
matches decoding everything to within 0.07 dB, 4 to within 0.004 dB, before the two decodes cancel)."""


@dataclass
class Plan:
    """Where an edit happens, worked out from the file's length before any audio is read.

    ``regions`` are on the whole file's model grid. Only input samples ``[start, stop)`` are encoded,
    edited and decoded: the region, the brush's soft edge and :data:`CONTEXT_TOP_CELLS` of context,
    starting on a top-cell boundary (model frame ``frame0``) so the crop's code grid is the file's.
    """

    regions: list[Region]
    start: int
    stop: int
    frame0: int
    sigma: tuple[float, float]
    """The brush's Gaussian shoulders (bins, frames) on the model's image grid."""


@dataclass
class BlurResult:
    """The edited samples and what was done."""

    samples: np.ndarray
    """Same shape and dtype as the samples given."""
    regions: list[Region]
    """The region actually edited, per level (snapped outward to whole code cells)."""
    changed_codes: float
    """Fraction of the region's codes (all channels, all levels) that were redrawn to another code."""
    span: tuple[int, int]
    """Half-open range of the file's samples that may differ from the input; every other sample is
    identical. Empty (0, 0) when nothing changed."""
    views: list[dict[str, Any]] = field(default_factory=list)
    """Per channel: images and code maps before and after, of the part encoded (for ``--plot``)."""


def brush(
    n_rows: int, n_cols: int, rows: tuple[int, int], cols: tuple[int, int], sigma: tuple[float, float]
) -> np.ndarray:
    """A rectangle of ones with Gaussian shoulders of ``sigma`` (rows, cols), cut to 0 at 3 sigma."""

    def profile(n: int, span: tuple[int, int], s: float) -> np.ndarray:
        x = np.arange(n) + 0.5
        d = np.maximum(span[0] - x, 0) + np.maximum(x - span[1], 0)
        if s <= 0:
            return (d == 0).astype(np.float64)
        out = np.exp(-0.5 * (d / s) ** 2)
        out[d > 3 * s] = 0.0
        return out

    return profile(n_rows, rows, sigma[0])[:, None] * profile(n_cols, cols, sigma[1])[None, :]


def plan(
    loaded: Any,
    frames: int,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    feather: float = 1.0,
    scale: str = "micro",
) -> Plan:
    """Locate the region on the model's grid and choose the samples to work on.

    Raises :class:`UsageError` for a region outside the file, empty, or above what the model covers.
    """
    if scale not in SCALES:
        raise UsageError(f"--scale {scale!r}: use micro, macro or both")
    if not (np.isfinite(feather) and 0 <= feather <= 100):
        raise UsageError(f"feather {feather!r}: use a width in code cells, 0 or more")
    if frames == 0:
        raise AudioError("has no audio frames; nothing to blur")
    model = load_model(loaded).model
    spec_cfg = model.config.spectrogram
    n_model = int(round(frames * spec_cfg.sample_rate / rate))
    n_frames = model.spectrogram.frames(n_model)
    regions = [
        locate(spec_cfg, model.cell[level], level, frames / rate, n_frames, time, freq, rate) for level in SCALES[scale]
    ]
    fine = model.cell[regions[-1].level]
    sigma = (feather * fine[0], feather * fine[1])
    top_t = model.cell["top"][1]
    reach = int(np.ceil(3 * sigma[1])) + CONTEXT_TOP_CELLS * top_t
    lo = min(r.frames[0] for r in regions) - reach
    hi = max(r.frames[1] for r in regions) + reach
    frame0 = max(0, lo // top_t * top_t)
    frame1 = -(-hi // top_t) * top_t
    samples_per_frame = spec_cfg.hop_length * rate / spec_cfg.sample_rate
    start = int(round(frame0 * samples_per_frame))
    stop = frames if frame1 >= n_frames else min(frames, int(round(frame1 * samples_per_frame)) + 1)
    return Plan(regions, start, stop, frame0, sigma)


def _shift(region: Region, frame0: int, cell: tuple[int, int]) -> Region:
    """The region on the grid of a crop that starts at model frame ``frame0`` (a top-cell boundary)."""
    cols = frame0 // cell[1]
    return dataclasses.replace(
        region,
        cols=(region.cols[0] - cols, region.cols[1] - cols),
        frames=(region.frames[0] - frame0, region.frames[1] - frame0),
    )


def _decoded(model: Any, maps: list[Codes], pixel: np.ndarray) -> tuple[np.ndarray, slice] | None:
    """The images of several code maps, decoded in one batch over the brush's columns and their
    context only: ``(len(maps), bins, width)`` and the columns they cover (``None``: no brush)."""
    top_t = model.cell["top"][1]
    per_top = model.config.model.top_down[1]
    n_frames = pixel.shape[1]
    used = np.nonzero(pixel.max(axis=0) > 0)[0]
    if not len(used):
        return None
    cols = maps[0].top.shape[-1]
    c0 = max(0, used[0] // top_t - DECODER_CONTEXT_TOP_CELLS)
    c1 = min(cols, used[-1] // top_t + 1 + DECODER_CONTEXT_TOP_CELLS)
    batch = Codes(
        top=np.concatenate([m.top for m in maps])[..., c0:c1],
        bottom=np.concatenate([m.bottom for m in maps])[..., c0 * per_top : c1 * per_top],
    )
    width = min(n_frames, c1 * top_t) - c0 * top_t
    return model.decode(batch, width)[:, 0], slice(c0 * top_t, c0 * top_t + width)


def _decoded_change(model: Any, before: Codes, after: Codes, pixel: np.ndarray) -> np.ndarray:
    """``decode(after) - decode(before)`` (normalised image units) under the brush ``pixel``, zero
    elsewhere."""
    change = np.zeros_like(pixel)
    decoded = _decoded(model, [before, after], pixel)
    if decoded is not None:
        images, window = decoded
        change[:, window] = (images[1] - images[0]) * pixel[:, window]
    return change


def _replacement(model: Any, after: Codes, pixel: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``decode(after) - image`` (normalised units) under the brush: the gain per model band that
    brings the input's own spectrum (``image``, not its decoding) to the decoder's image of the new
    codes, so the region's level follows the fill and not what was there."""
    change = np.zeros_like(pixel)
    decoded = _decoded(model, [after], pixel)
    if decoded is not None:
        images, window = decoded
        change[:, window] = (images[0] - image[:, window]) * pixel[:, window]
    return change


PRIORS = ("naive-bayes", "transformer")


class _EditPriors:
    """The prior per level that an edit uses, each looked up when the edit first needs it (a neural
    prior's session is built on that first use: an edit of one level never builds the other's)."""

    def __init__(self, neural: Any, fallback: dict[str, Any]) -> None:
        self._neural, self._fallback = neural, fallback

    def __getitem__(self, level: str) -> Any:
        return self._neural[level] if level in self._neural else self._fallback[level]


def _priors(loaded: RuntimeModel, name: str | None) -> Any:
    """The prior per level that an edit uses: ``name`` or the model's default."""
    name = name or loaded.default_prior
    if name not in PRIORS:
        raise UsageError(f"--prior {name!r}: use {' or '.join(PRIORS)}")
    if name == "naive-bayes":
        return loaded.prior
    if not loaded.prior_nn:
        raise UsageError(
            f"model {loaded.name!r} has no transformer prior; use --prior naive-bayes, or fit one with "
            "'specblur fit-prior DATA --prior transformer'"
        )
    return _EditPriors(loaded.prior_nn, loaded.prior)


def _level_window(model: Any, regions: list[Region], sigma: tuple[float, float], rate: int) -> slice:
    """The samples of the part worked on that set :func:`encoder_gain`: the regions, the brush's
    shoulders and :data:`CONTEXT_TOP_CELLS` of context, as :func:`plan` crops them, so that working
    on the region only and on the whole file see the same samples (``regions`` on the part's grid)."""
    spec_cfg = model.config.spectrogram
    top_t = model.cell["top"][1]
    reach = int(np.ceil(3 * sigma[1])) + CONTEXT_TOP_CELLS * top_t
    lo = max(0, min(r.frames[0] for r in regions) - reach)
    hi = max(r.frames[1] for r in regions) + reach
    per_frame = spec_cfg.hop_length * rate / spec_cfg.sample_rate
    return slice(int(round(lo * per_frame)), int(round(hi * per_frame)))


def blur_segment(
    loaded: Any,
    segment: np.ndarray,
    rate: int,
    where: Plan,
    temperature: float = 1.0,
    sweeps: int = 3,
    seed: int = 0,
    keep_views: bool = False,
    phase_iters: int = 0,
    strength: float = 1.0,
    linked: bool = True,
    mode: str = "blur",
    steps: int = 8,
    prior: str | None = None,
    phase_start: str | None = None,
) -> BlurResult:
    """Edit ``segment`` = the file's samples ``[where.start, where.stop)``, ``(frames, channels)``.

    ``prior``: ``"naive-bayes"`` or ``"transformer"`` (the neural prior, where the model has one);
    ``None``: the model's default (the one that measured better for it).

    ``mode="blur"`` redraws the region's codes by Gibbs sweeps from the prior given their
    neighbours (the originals included), and applies ``decode(new) - decode(old)``. ``mode="repair"``
    throws the region's codes away and fills them from the context only (:meth:`LevelPrior.fill`,
    ``steps`` rounds of unmasking), then brings each model band of the region to the decoder's image
    of the fill (``decode(new)`` against the input's own image, not its decoding), so the level of
    what was there does not come back; the fine structure within a band stays the input's.

    Returns the edited segment; its ``span`` is in the file's samples. ``phase_iters``: see
    :func:`specblur.resynth_np.apply_change` (0, keeping the input's phase, is what we ship).
    ``strength`` (0 to 1) scales the change in dB: 0 leaves the sound as it is, 1 applies all of it.
    ``linked``: the channels are edited together, one draw of codes from their mean magnitude and
    one change applied to every channel (the stereo image holds); else each channel on its own.
    """
    loaded = load_model(loaded)
    if mode not in ("blur", "repair"):
        raise UsageError(f"mode {mode!r}: use blur or repair")
    if int(steps) != steps or not 1 <= steps <= 64:
        raise UsageError(f"steps {steps!r}: use a whole number from 1 to 64")
    priors = _priors(loaded, prior)
    if not loaded.prior:
        raise CodesError(f"model {loaded.name!r} has no prior over codes; fit one with 'specblur fit-prior DATA'")
    if not (np.isfinite(temperature) and 0 < temperature <= 100):
        raise UsageError(f"temperature {temperature!r}: use a number above 0 (1 is the prior as fitted)")
    if int(sweeps) != sweeps or not 1 <= sweeps <= 1000:
        raise UsageError(f"sweeps {sweeps!r}: use a whole number from 1 to 1000")
    if int(phase_iters) != phase_iters or not 0 <= phase_iters <= 1000:
        raise UsageError(f"phase iterations {phase_iters!r}: use a whole number from 0 to 1000")
    if not (np.isfinite(strength) and 0 <= strength <= 1):
        raise UsageError(f"strength {strength!r}: use a fraction from 0 to 1 (0%-100% on the command line)")
    bad = ~np.isfinite(segment)
    if bad.any():
        first = where.start + int(np.argwhere(bad)[0][0])
        raise AudioError(
            f"has NaN or infinite samples (the first at {first / rate:.6g} s) in the part to edit; "
            "repair the file (e.g. with sox) first"
        )
    model = loaded.model
    spec_cfg = model.config.spectrogram
    regions = [_shift(r, where.frame0, model.cell[r.level]) for r in where.regions]
    fine = regions[-1]
    n_bins = spec_cfg.n_bins
    centres = band_centres(spec_cfg)
    top_hz = min(spec_cfg.f_max, rate / 2)
    out = np.array(segment, copy=True)
    changed = total = 0
    span = (len(segment), 0)
    views = []
    channels = segment.shape[1]
    groups = [list(range(channels))] if linked and channels > 1 else [[c] for c in range(channels)]
    for ch, members in enumerate(groups):
        # one image per group: the mean of its channels' STFT magnitudes (for one channel, its own)
        magnitude = np.mean(
            [
                np.abs(
                    model.spectrogram.stft(
                        resample(np.ascontiguousarray(segment[:, c], dtype=np.float32), rate, spec_cfg.sample_rate)
                    )
                )
                for c in members
            ],
            axis=0,
        )
        if mode == "blur":  # issue 18: the encoder sees the part at one level, whatever the input's gain
            magnitude = magnitude * encoder_gain(segment[_level_window(model, regions, where.sigma, rate), members])
        image = model.spectrogram.features_from_magnitude(magnitude)[None, None]
        n_frames = image.shape[-1]
        pixel = brush(n_bins, n_frames, fine.bins, fine.frames, where.sigma)
        codes = model.encode(image)
        new = Codes(top=codes.top.copy(), bottom=codes.bottom.copy())
        rng = np.random.default_rng([seed, ch])
        for region in regions:
            level = region.level
            maps = getattr(new, level)[0]
            fb, tb = model.cell[level]
            rows, cols = maps.shape
            # the brush seen by cells: the pixel brush averaged over each cell
            padded = np.zeros((rows * fb, cols * tb))
            padded[: min(n_bins, rows * fb), : min(n_frames, cols * tb)] = pixel[: rows * fb, : cols * tb]
            weight = padded.reshape(rows, fb, cols, tb).mean(axis=(1, 3))
            weight[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = 1.0
            level_prior = priors[level]
            inside = np.zeros_like(maps, dtype=bool)
            inside[region.rows[0] : region.rows[1], region.cols[0] : region.cols[1]] = True
            t = level_prior.temperature * temperature
            # the neural prior's bottom level also sees the top codes (as they are now: filled first)
            context = {"top": new.top[0]} if level == "bottom" and getattr(level_prior, "has_top", False) else {}
            if mode == "repair":
                if context and any(r.level == "top" for r in regions):
                    context["top_hole"] = np.zeros_like(new.top[0], dtype=bool)  # the top is filled already
                redrawn = level_prior.fill(maps, inside, rng, steps=steps, temperature=t, **context)
            else:
                redrawn = level_prior.resample(maps, weight, rng, sweeps=sweeps, temperature=t, **context)
            changed += int((redrawn != maps)[inside].sum())
            total += int(inside.sum())
            getattr(new, level)[0] = redrawn
        if mode == "repair":
            change = _replacement(model, new, pixel, image[0, 0])
        else:
            change = _decoded_change(model, codes, new, pixel)
        change_db = change * spec_cfg.norm_std_db * strength
        if mode == "blur":  # issue 18: keep the region's level and coarse envelope, change the detail
            frame_s = spec_cfg.hop_length / spec_cfg.sample_rate
            level_db = model.spectrogram.to_db(image[0, 0])
            change_db = keep_shape(change_db, pixel, centres, frame_s, level_db, floor_db=spec_cfg.floor_db)
        frame_times = np.arange(n_frames) * spec_cfg.hop_length / spec_cfg.sample_rate
        for c in members:
            edited, s = apply_change(
                np.asarray(segment[:, c], dtype=np.float64),
                rate,
                change_db,
                frame_times,
                centres,
                top_hz,
                spec_cfg.sample_rate,
                spec_cfg.n_fft,
                phase_iters,
                phase_start or "input",
            )
            out[:, c] = edited.astype(out.dtype)
            if s[1] > s[0]:
                span = (min(span[0], s[0]), max(span[1], s[1]))
        if keep_views:
            heard = np.mean(
                [
                    np.abs(model.spectrogram.stft(resample(out[:, c].astype(np.float32), rate, spec_cfg.sample_rate)))
                    for c in members
                ],
                axis=0,
            )
            after = model.spectrogram.to_db(model.spectrogram.features_from_magnitude(heard))
            views.append(
                {
                    "t0": where.frame0 * spec_cfg.hop_length / spec_cfg.sample_rate,
                    "before": image[0, 0],
                    "after_db": after[:, :n_frames],  # the output's own spectrogram, not the request
                    "requested_db": model.spectrogram.to_db(image[0, 0]) + change_db,
                    "codes_before": codes,
                    "codes_after": new,
                    "change_db": change_db,
                }
            )
    span = (where.start + span[0], where.start + span[1]) if span[0] < span[1] else (0, 0)
    return BlurResult(out, where.regions, changed / max(total, 1), span, views)


def blur(
    loaded: Any,
    samples: np.ndarray,
    rate: int,
    time: tuple[float | None, float | None] = (None, None),
    freq: tuple[float | None, float | None] = (None, None),
    temperature: float = 1.0,
    sweeps: int = 3,
    seed: int = 0,
    feather: float = 1.0,
    scale: str = "micro",
    keep_views: bool = False,
    phase_iters: int = 0,
    strength: float = 1.0,
    linked: bool = True,
    mode: str = "blur",
    steps: int = 8,
    prior: str | None = None,
    phase_start: str | None = None,
) -> BlurResult:
    """Redraw the codes of a time-frequency region from the prior and resynthesise that region
    (``mode="repair"``: fill them from the context only; see :func:`blur_segment`).

    ``samples`` is ``(frames,)`` or ``(frames, channels)``; each channel is edited on its own, and
    only the region and its context are encoded and decoded. ``temperature`` multiplies the prior's
    fitted temperature (1: the prior as calibrated; higher strays further from the original).
    ``feather`` is the Gaussian brush's width in code cells. ``phase_iters``: Griffin-Lim iterations
    on the changed frames (0 keeps the input's phase; see :func:`specblur.resynth_np.apply_change`).
    ``strength`` (0 to 1) scales the applied change in dB (0: no change). ``linked`` (default) edits
    all channels with one draw and one change, so the stereo image holds; ``False``: each on its own.
    """
    loaded = load_model(loaded)
    mono = samples.ndim == 1
    data = samples[:, None] if mono else samples
    where = plan(loaded, data.shape[0], rate, time, freq, feather, scale)
    part = blur_segment(
        loaded,
        data[where.start : where.stop],
        rate,
        where,
        temperature,
        sweeps,
        seed,
        keep_views,
        phase_iters,
        strength,
        linked,
        mode,
        steps,
        prior,
        phase_start,
    )
    out = np.array(data, copy=True)
    out[where.start : where.stop] = part.samples
    part.samples = out[:, 0] if mono else out
    return part


@dataclass
class FileEdit:
    """What :func:`blur_file_regions` (and :func:`blur_file`) did to one file."""

    result: BlurResult
    """The edits together: their regions, views, mean share of codes redrawn and the span around all
    changed samples (``samples`` left empty: the output is on disk)."""
    seconds: float
    """Length of the input."""
    warnings: list[str] = field(default_factory=list)
    """Things the user should know (each names the file); the CLI prints them unless ``-q``."""
    parts: list[BlurResult] = field(default_factory=list)
    """Each region's own edit, in order (``samples`` left empty)."""


def blur_file(loaded: Any, src: str, dst: str, keep_views: bool = False, **options: Any) -> FileEdit:
    """Blur file (or ``-``) ``src`` into ``dst`` (or ``-``) with :func:`blur`'s ``options``: the one
    region case of :func:`blur_file_regions`.

    Only the samples the edit needs are read, and the output is the input with the changed span
    patched in (see :func:`specblur.audio.write_patched`): memory and time follow the region, not
    the file, and every byte outside the changed samples is the input's. stdin is read whole into
    memory first (a pipe cannot seek). Errors name the file.
    """
    region = {k: options.pop(k) for k in ("time", "freq") if k in options}
    return blur_file_regions(loaded, src, dst, [region], keep_views=keep_views, **options)


# -- several regions in one call -----------------------------------------------------------------

_REGION_KEYS = ("time", "freq", "feather", "scale")


def edit_in_place(
    loaded: Any,
    buffer: np.ndarray,
    rate: int,
    frames: int,
    offset: int = 0,
    keep_views: bool = False,
    **options: Any,
) -> BlurResult:
    """Edit, in place, a file of ``frames`` frames held (in part) in ``buffer``: its frames
    ``[offset, offset + len(buffer))``, ``(frames, channels)`` float64, which must hold the edit's
    :class:`Plan` span. ``options`` are :func:`blur`'s (``time``, ``freq``, ``feather``, ``scale``
    and the rest). Only the samples of the returned ``span`` are rewritten; the returned result's
    ``samples`` is the edited part ``[plan.start, plan.stop)``. This is one step of
    :func:`blur_file_regions`, and what ``specblur edit`` runs on each Apply.
    """
    region_opts = {k: options.pop(k) for k in _REGION_KEYS if k in options}
    where = plan(loaded, frames, rate, **region_opts)
    a, b = where.start - offset, where.stop - offset
    if a < 0 or b > len(buffer):
        held = f"{offset}-{offset + len(buffer)}"
        raise ValueError(f"the buffer holds frames {held}; the edit needs {where.start}-{where.stop}")
    result = blur_segment(loaded, buffer[a:b], rate, where, keep_views=keep_views, **options)
    s0, s1 = result.span
    if s1 > s0:
        buffer[s0 - offset : s1 - offset] = result.samples[s0 - where.start : s1 - where.start]
    return result


def _clusters(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open ``spans`` as disjoint, sorted spans."""
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def blur_file_regions(
    loaded: Any, src: str, dst: str, regions: list[dict[str, Any]], keep_views: bool = False, **options: Any
) -> FileEdit:
    """Edit file (or ``-``) ``src`` into ``dst`` (or ``-``) at several regions, one after another,
    and write once.

    Each item of ``regions`` holds a region's ``time`` and ``freq`` (and may override any of
    ``options``, which are :func:`blur`'s); ``name`` (optional) is put before its error messages,
    e.g. the label file and line it came from. A region sees the edits of the ones before it where
    they overlap. Every region is located before any audio is read, so one that does not fit the file
    fails the call with nothing written. Only the regions' parts of the file are read (overlapping
    parts once), and the output is the input with each changed span patched in
    (:func:`specblur.audio.write_patches`): every byte outside them is the input's.
    """
    name = "stdin" if src == "-" else src
    if not regions:
        raise UsageError(f"{name}: no regions to edit")
    warnings: list[str] = []
    try:
        source = audio.Source(src)
        head = source.info()
        if head.truncated:
            warnings.append(
                f"{name}: file cut short: its header promises {head.promised_frames / head.sample_rate:.3f} s, "
                f"it holds {head.frames / head.sample_rate:.3f} s; processing what is there"
            )
        jobs = []
        for item in regions:
            job = {**options, **{k: v for k, v in item.items() if k != "name"}}
            region_opts = {k: job[k] for k in _REGION_KEYS if k in job}
            try:
                where = plan(loaded, head.frames, head.sample_rate, **region_opts)
            except UsageError as exc:
                if item.get("name"):
                    raise UsageError(f"{item['name']}: {exc}") from None
                raise
            jobs.append((item.get("name"), job, where))
        clusters = _clusters([(where.start, where.stop) for _, _, where in jobs])
        buffers = [source.read_span(lo, hi) for lo, hi in clusters]
        changed: list[tuple[int, int] | None] = [None] * len(clusters)
        parts = []
        for label, job, where in jobs:
            k = next(i for i, (lo, hi) in enumerate(clusters) if lo <= where.start and where.stop <= hi)
            try:
                result = edit_in_place(
                    loaded, buffers[k], head.sample_rate, head.frames, clusters[k][0], keep_views=keep_views, **job
                )
            except UsageError as exc:
                if label:
                    raise UsageError(f"{label}: {exc}") from None
                raise
            s0, s1 = result.span
            if s1 > s0:
                old = changed[k]
                changed[k] = (s0, s1) if old is None else (min(old[0], s0), max(old[1], s1))
            result.samples = result.samples[:0]
            parts.append((label, result))
        patches = []
        clipped = 0
        for k, span in enumerate(changed):
            if span is None:
                continue
            lo = clusters[k][0]
            patch = buffers[k][span[0] - lo : span[1] - lo]
            fitted = audio.fit_subtype(patch, head.subtype)
            clipped += int(np.sum(fitted != patch))
            patches.append((span[0], fitted))
        warnings += audio.write_patches(source, dst, patches)
        seconds = head.frames / head.sample_rate
    except (UsageError, AudioError) as exc:
        message = str(exc)
        if not message.startswith(f"{name}:"):
            raise type(exc)(f"{name}: {message}") from None
        raise
    for label, result in parts:
        if result.changed_codes == 0:
            where = f"{label}: " if label else ""
            warnings.append(f"{name}: {where}the prior kept every code of the region; raise --temperature to change it")
    if clipped:
        warnings.append(f"{name}: {clipped} edited samples clipped at full scale")
    spans = [r.span for _, r in parts if r.span[1] > r.span[0]]
    total = BlurResult(
        samples=np.zeros((0, head.channels)),
        regions=[region for _, r in parts for region in r.regions],
        changed_codes=float(np.mean([r.changed_codes for _, r in parts])),
        span=(min(a for a, _ in spans), max(b for _, b in spans)) if spans else (0, 0),
        views=[view for _, r in parts for view in r.views],
    )
    return FileEdit(total, seconds, warnings, [r for _, r in parts])
