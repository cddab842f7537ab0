"""specblur: blur a time-frequency region of a sound through a VQ-VAE and a prior over its codes.

Importing this package is cheap: numpy and onnxruntime load only when a function that needs them
runs, and no edit ever imports torch.

>>> import numpy as np, specblur
>>> rate = 16000
>>> audio = np.random.default_rng(0).standard_normal(4 * rate) * 0.1
>>> out = specblur.blur(audio, rate, time=(1, 2), freq=(200, 2000), seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import os as _os
from typing import Any

from specblur.version import __version__

# numpy's OpenBLAS threads spin for a while after each product before they sleep, taking a core
# from onnxruntime's threads and, in a batch, from the other worker processes; told to sleep at once
# (before numpy loads: OpenBLAS reads it when it starts; a value set by the user is kept), a batch
# of 40 four-second files took 16.9 s instead of 18.7 s with --jobs 1 and 13.1 instead of 14.4-15.8 s
# with --jobs 2, the same bytes (benchmarks/whole_file.py)
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__all__ = ["__version__", "blur", "blur_file", "load_model", "repair", "repair_file"]


def load_model(model: Any = None) -> Any:
    """A model ready to edit with (:class:`specblur.runtime.model.RuntimeModel`), loaded once per
    process: ``model`` is a name, a path (``.onnx.npz``, or a training checkpoint ``.pt``, converted
    once beside it where torch is installed), ``None`` for the bundled default, a loaded model, or a
    trained model held in memory (:class:`specblur.learn.checkpoint.LoadedModel`)."""
    from specblur.runtime import loader
    from specblur.runtime.model import RuntimeModel

    if model is not None and not isinstance(model, str | bytes | RuntimeModel) and hasattr(model, "model"):
        from specblur.learn import convert

        return convert.runtime_of(model)
    return loader.load_model(model, _converter())


def _converter() -> Any:
    """The training side's checkpoint converter (it imports torch only when a checkpoint needs
    converting; without torch installed, the registry says what to install)."""

    def convert(source: Any, target: Any) -> Any:
        from specblur.learn.convert import write_runtime_file

        return write_runtime_file(source, target)

    return convert


def blur(
    audio: Any,
    sample_rate: int,
    time: tuple[float | None, float | None] | str | None = None,
    freq: tuple[float | None, float | None] | str | None = None,
    *,
    model: Any = None,
    temperature: float = 1.0,
    sweeps: int = 3,
    seed: int = 0,
    feather: float = 1.0,
    scale: str = "micro",
    phase_iters: int = 0,
    amount: float = 1.0,
    linked: bool = True,
    prior: str | None = None,
    wash: float = 0.0,
) -> Any:
    """Blur a time-frequency region of ``audio`` (a numpy array ``(frames,)`` or ``(frames, channels)``).

    ``time`` is (start, end) in seconds and ``freq`` (low, high) in Hz, ``None`` for an open end, or
    the same specs as the command line (``"1.0-2.0"``, ``"200-2k"``); each defaults to everything.
    ``model`` is a name, a checkpoint path or a loaded model (default: the bundled ``default``;
    loaded once per process). Returns a new float64 array of the same shape: the samples outside
    the region's span are the input's, unchanged. ``amount`` (0 to 1) scales the change (0: none);
    ``linked`` edits all channels with one draw, so the stereo image holds; ``wash`` (0 to 1) lets the
    region's level and envelope follow the redrawn codes (0: they are kept). The other settings and
    their ranges are :class:`specblur.edit.EditOptions`' (``sweeps`` is its ``rounds``). This is the
    function ``specblur blur`` runs.
    """
    from specblur.edit.options import EditOptions

    settings = EditOptions(
        "blur", temperature, amount, sweeps, seed, feather, scale, phase_iters, linked, prior, wash=wash
    )
    return _edit(audio, sample_rate, time, freq, model, settings)


def repair(
    audio: Any,
    sample_rate: int,
    time: tuple[float | None, float | None] | str | None = None,
    freq: tuple[float | None, float | None] | str | None = None,
    *,
    model: Any = None,
    temperature: float = 1.0,
    steps: int = 8,
    seed: int = 0,
    feather: float = 1.0,
    scale: str = "both",
    phase_iters: int = 0,
    amount: float = 1.0,
    linked: bool = True,
    prior: str | None = None,
    method: str = "auto",
) -> Any:
    """Repair a time-frequency region of ``audio``: fill it from the context around it. ``method``
    (:data:`specblur.edit.limits.REPAIR_METHODS`): ``envelope`` synthesises the region from the
    context's spectrum, ``interpolate`` draws each bin's level straight across, ``ar`` predicts the
    samples from both sides (short gaps), ``hybrid`` gives each cell of the region the louder of the
    ``ar`` and ``interpolate`` fills, ``declick`` mends only the samples of the clicks it finds in
    the region (in the channels they are in; ``time=None``: the whole of ``audio``), ``match``
    copies in the stretch elsewhere (up to 8 s either side) whose surroundings best resemble the
    region's (a loop, a repeated bar), ``texture`` puts the model's fill on the
    context's envelope, ``model`` is the model's fill alone (``steps`` rounds of unmasking, the
    region brought to the decoder's image of it), ``auto`` takes ``declick`` where it finds clicks
    in a whole-band region of up to 50 ms, else ``ar`` for holes up to 20 ms and, for longer ones,
    ``match`` where one stretch fits far better than the rest (holes over 20 ms), else ``hybrid`` up
    to 100 ms and ``envelope`` beyond (docs/REPAIR.md). Other arguments as for
    :func:`blur`; this is the function ``specblur repair`` runs.
    """
    from specblur.edit.options import EditOptions

    settings = EditOptions(
        "repair", temperature, amount, steps, seed, feather, scale, phase_iters, linked, prior, method=method
    )
    return _edit(audio, sample_rate, time, freq, model, settings)


def blur_file(
    src: str,
    dst: str,
    time: tuple[float | None, float | None] | str | None = None,
    freq: tuple[float | None, float | None] | str | None = None,
    *,
    model: Any = None,
    progress: Any = None,
    **settings: Any,
) -> Any:
    """Blur a region of file ``src`` into ``dst`` (``-``: stdin, stdout): what ``specblur blur IN OUT``
    does, and the form to use for long material. Only the region's part of the file is read and every
    byte outside the changed span is the input's; a long region (the whole of an hour-long recording)
    streams a tile at a time, so memory stays flat whatever the length. ``progress(done, total)``
    (optional) is called as tiles are done. ``settings`` are :func:`blur`'s keywords. Returns what was
    done (:class:`specblur.edit.on_file.FileEdit`: the region, its warnings)."""
    return _edit_file("blur", src, dst, time, freq, model, progress, settings)


def repair_file(
    src: str,
    dst: str,
    time: tuple[float | None, float | None] | str | None = None,
    freq: tuple[float | None, float | None] | str | None = None,
    *,
    model: Any = None,
    progress: Any = None,
    **settings: Any,
) -> Any:
    """Repair a region of file ``src`` into ``dst``: :func:`blur_file` for :func:`repair` (its
    keywords)."""
    return _edit_file("repair", src, dst, time, freq, model, progress, settings)


def _edit_file(
    effect: str, src: str, dst: str, time: Any, freq: Any, model: Any, progress: Any, settings: dict[str, Any]
) -> Any:
    from specblur.edit import on_file, region
    from specblur.edit.options import EditOptions
    from specblur.errors import UsageError

    names = {"sweeps": "rounds", "steps": "rounds"}
    own = "sweeps" if effect == "blur" else "steps"
    fields = {}
    for key, value in settings.items():
        if key in names and key != own:
            raise UsageError(f"{effect}_file: no setting {key!r} (use {own!r})")
        fields[names.get(key, key)] = value
    try:
        options = EditOptions(effect, **fields)
    except TypeError:
        known = ", ".join(sorted(f for f in EditOptions.__dataclass_fields__ if f not in ("effect", "rounds")))
        raise UsageError(f"{effect}_file: unknown setting among {sorted(settings)} (known: {own}, {known})") from None
    return on_file.blur_file(
        load_model(model),
        str(src),
        str(dst),
        _span(time, region.parse_time, "time"),
        _span(freq, region.parse_freq, "freq"),
        options,
        progress=progress,
    )


def _span(value: Any, parse: Any, what: str) -> tuple[float | None, float | None]:
    from specblur.errors import UsageError

    if value is None:
        return (None, None)
    if isinstance(value, str):
        return parse(value)
    try:
        low, high = value
    except (TypeError, ValueError):
        raise UsageError(f"{what}: give (low, high), None for an open end, or a string such as '1-2'") from None
    return (None if low is None else float(low), None if high is None else float(high))


def _edit(audio: Any, sample_rate: int, time: Any, freq: Any, model: Any, settings: Any) -> Any:
    import numpy as np

    from specblur.edit import on_file, region
    from specblur.errors import UsageError

    samples = np.asarray(audio, dtype=np.float64)
    if samples.ndim not in (1, 2):
        raise UsageError(f"audio: expected (frames,) or (frames, channels), got shape {samples.shape}")
    return on_file.edit_samples(
        load_model(model),
        samples,
        int(sample_rate),
        _span(time, region.parse_time, "time"),
        _span(freq, region.parse_freq, "freq"),
        settings,
    )
