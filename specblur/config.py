"""Configuration: frozen dataclasses for the representation, the model and training.

Every number that shapes a model lives here and is saved whole in each checkpoint, so a model is
always rebuilt from its own file, never from defaults in code. ``from_dict`` is strict: an unknown or
missing key is an error, so a checkpoint written by another version fails loudly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class SpectrogramConfig:
    """How audio becomes the model's input image, and back.

    ``scale`` is ``"mel"`` (``n_mels`` triangular bands from ``f_min`` to ``f_max``) or ``"linear"``
    (all ``n_fft // 2 + 1`` STFT bins). Magnitudes are divided by the window's sum (a full-scale
    sine reads 0.5), taken in dB, floored at ``floor_db`` and normalised as
    ``(dB - norm_mean_db) / norm_std_db``.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    window: str = "hann"
    scale: str = "mel"
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float = 8000.0
    floor_db: float = -100.0
    norm_mean_db: float = -50.0
    norm_std_db: float = 25.0
    griffin_lim_iters: int = 32

    @property
    def n_bins(self) -> int:
        """Rows of the model's input image."""
        return self.n_mels if self.scale == "mel" else self.n_fft // 2 + 1


@dataclass(frozen=True)
class QuantizerConfig:
    """One codebook of ``num_codes`` codewords of dimension ``dim``.

    ``beta`` weighs the commitment loss. With ``ema`` the codewords follow exponential moving averages
    of their assigned encoder outputs (``decay``) instead of a codebook loss. ``restart_dead`` moves
    codewords whose moving-average use per batch falls under ``dead_threshold`` onto random encoder
    outputs of the current batch (as Jukebox does). ``kmeans_init`` sets the codebook by
    ``kmeans_iters`` rounds of k-means on the first training batch.
    """

    num_codes: int = 256
    dim: int = 64
    beta: float = 0.25
    ema: bool = True
    decay: float = 0.99
    restart_dead: bool = True
    dead_threshold: float = 1.0
    kmeans_init: bool = True
    kmeans_iters: int = 10


@dataclass(frozen=True)
class ModelConfig:
    """The two-level VQ-VAE.

    ``bottom_down`` is the down-sampling (frequency, time) from the input image to the bottom code
    map; ``top_down`` the further down-sampling from the bottom to the top map. Each factor is a power
    of two. They set the size of a code cell and so the grain of an edit.
    """

    channels: int = 64
    res_channels: int = 32
    res_blocks: int = 2
    bottom_down: tuple[int, int] = (4, 4)
    top_down: tuple[int, int] = (2, 2)
    bottom: QuantizerConfig = field(default_factory=QuantizerConfig)
    top: QuantizerConfig = field(default_factory=QuantizerConfig)


@dataclass(frozen=True)
class TrainConfig:
    """Training: random crops of ``segment_frames`` STFT frames, Adam at ``lr``."""

    batch_size: int = 16
    lr: float = 3e-4
    segment_frames: int = 128
    steps: int = 10000
    eval_every: int = 500
    eval_files: int = 64
    holdout_fraction: float = 0.1
    grad_clip: float = 1.0


@dataclass(frozen=True)
class Config:
    """Everything a model is: its representation, architecture and how it was trained."""

    spectrogram: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of str/int/float/bool/list, safe for ``torch.load(weights_only=True)``."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Strict inverse of :meth:`to_dict`: unknown or missing keys raise ``ValueError``."""
        return _build(cls, data, "config")

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with fields of one section (``"train"``, ``"model"``, ...) changed."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **changes)})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    missing = sorted(set(fields) - set(data))
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        value = data[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            value = _build(type(default), value, f"{where}.{name}")
        elif isinstance(default, tuple):
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}.{name}: expected true/false, got {value!r}")
        elif isinstance(default, (int, float)) and not isinstance(value, (int, float)):
            raise ValueError(f"{where}.{name}: expected a number, got {value!r}")
        elif isinstance(default, float):
            value = float(value)
        kwargs[name] = value
    return cls(**kwargs)


def _tiny() -> Config:
    quant = QuantizerConfig(num_codes=32, dim=8, dead_threshold=0.5, kmeans_iters=4)
    return Config(
        spectrogram=SpectrogramConfig(n_mels=32, griffin_lim_iters=4),
        model=ModelConfig(channels=16, res_channels=8, res_blocks=1, bottom=quant, top=quant),
        train=TrainConfig(batch_size=4, lr=2e-3, segment_frames=32, steps=300, eval_every=100, eval_files=8),
    )


def _fullband() -> Config:
    # 44.1 kHz, 0-22.05 kHz (issue 14), chosen with tools/measure_representation.py: 160 bands are the
    # fewest whose mel image, mapped back, loses no more below 8 kHz than the 16 kHz model's 128 bands
    # (held-out notes 3.76 vs 3.93 dB, held-out real clips 3.40 vs 3.41, sonic-pi 2.95 vs 3.03; 128
    # bands lose more: 4.50, 3.70, 3.23); hop 512 (11.6 ms) holds as much as hop 256 at half the image.
    # 160 rows divide by the 8 of the bottom and top down-sampling. The architecture is the default's.
    spectrogram = SpectrogramConfig(
        sample_rate=44100, n_fft=2048, hop_length=512, win_length=2048, n_mels=160, f_max=22050.0
    )
    return Config(spectrogram=spectrogram, train=TrainConfig(steps=15000, eval_every=500))


PRESETS: dict[str, Config] = {
    "default": Config(),
    "tiny": _tiny(),
    "fullband": _fullband(),
}
"""Named configurations: ``default`` for real models (16 kHz, 0-8 kHz), ``fullband`` (44.1 kHz, 0-22.05
kHz), ``tiny`` for tests (trains in seconds)."""
