"""One-file checkpoints: format version, specblur version, config, weights, prior, training record.

The file is a plain dict of strings, numbers, lists and tensors, so it loads with
``torch.load(..., weights_only=True)``: a file that carries code (a pickle of objects) is refused,
never run. Loading is strict: a missing, unexpected or mis-shaped tensor is an error, and the
weights must match the ``model_hash`` recorded when the file was written.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from specblur.config import Config
from specblur.errors import CheckpointError, first_line
from specblur.files import atomic_write_bytes
from specblur.learn.model import VQVAE2
from specblur.priors.naive_bayes import LevelPrior
from specblur.version import __version__

FORMAT = "specblur-checkpoint"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A model ready for inference, with where it came from."""

    model: VQVAE2
    name: str
    hash: str
    path: Path | None = None
    training: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, LevelPrior] = field(default_factory=dict)
    """The fitted prior per level (``"top"``, ``"bottom"``); empty until one is fitted."""
    prior_nn: dict[str, bytes] = field(default_factory=dict)
    """The neural prior per level, as its ONNX graph (:mod:`specblur.learn.prior_transformer`); empty if none."""
    default_prior: str = "naive-bayes"
    """The prior edits use unless told otherwise (the one that measured better for this model)."""


def model_hash(model: VQVAE2) -> str:
    """sha256 over the config and every weight (as float32): what code files are tied to."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu()
        if t.is_floating_point():
            t = t.float()
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def to_bytes(
    model: VQVAE2,
    name: str,
    training: dict[str, Any],
    extra: dict[str, Any] | None = None,
    prior: dict[str, LevelPrior] | None = None,
    half: bool = False,
    prior_nn: dict[str, bytes] | None = None,
    default_prior: str = "naive-bayes",
) -> bytes:
    """Serialise a model and its record to the checkpoint format.

    ``half`` stores floating-point tensors as float16 (half the size); the model is rounded to
    float16 first, so the recorded hash is that of the weights every load will see.
    """
    if half:
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())

    def stored(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu().clone()
        return v.half() if half and v.is_floating_point() else v

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "specblur_version": __version__,
        "name": name,
        "config": model.config.to_dict(),
        "state_dict": {k: stored(v) for k, v in model.state_dict().items()},
        "model_hash": model_hash(model),
        "training": _plain(training),
        "extra": extra or {},
        "prior": {level: _prior_tensors(p) for level, p in (prior or {}).items()},
        "prior_nn": {level: torch.frombuffer(bytearray(g), dtype=torch.uint8) for level, g in (prior_nn or {}).items()},
        "prior_nn_sha256": {level: hashlib.sha256(g).hexdigest() for level, g in (prior_nn or {}).items()},
        "default_prior": default_prior,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save(
    path: Path,
    model: VQVAE2,
    name: str,
    training: dict[str, Any],
    extra: dict[str, Any] | None = None,
    prior: dict[str, LevelPrior] | None = None,
    prior_nn: dict[str, bytes] | None = None,
    default_prior: str = "naive-bayes",
) -> None:
    """Write a checkpoint atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        path, to_bytes(model, name, training, extra, prior, prior_nn=prior_nn, default_prior=default_prior)
    )


def load(path: Path | str) -> LoadedModel:
    """Load and verify a checkpoint; every failure is a :class:`CheckpointError` naming the file."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file") from exc
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused: not a plain specblur checkpoint (it may carry code); use a model saved by specblur train"
        ) from exc
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint ({first_line(exc)}); retrain or re-copy it"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a specblur checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}, this specblur ({__version__}) reads "
            f"version {FORMAT_VERSION}; retrain the model or use a matching specblur"
        )
    try:
        config = Config.from_dict(payload["config"])
        model = VQVAE2(config)
        state = payload["state_dict"]
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: does not match its config ({first_line(exc)})") from exc
    model.eval()
    digest = model_hash(model)
    if digest != payload.get("model_hash"):
        raise CheckpointError(f"{path}: weights do not match the hash recorded in the file; the file is damaged")
    try:
        prior = {level: LevelPrior.from_arrays(data, data) for level, data in (payload.get("prior") or {}).items()}
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: malformed prior ({first_line(exc)}); refit it with 'specblur fit-prior'"
        ) from exc
    for level, p in prior.items():
        expected = getattr(config.model, level).num_codes if level in ("top", "bottom") else None
        if expected != p.num_codes:
            raise CheckpointError(f"{path}: prior for level {level!r} does not match the model")
    graphs = {level: bytes(t.numpy().tobytes()) for level, t in (payload.get("prior_nn") or {}).items()}
    sums = payload.get("prior_nn_sha256") or {}
    for level, graph in graphs.items():
        if hashlib.sha256(graph).hexdigest() != sums.get(level):
            raise CheckpointError(
                f"{path}: the {level} neural prior does not match its recorded hash; the file is damaged"
            )
    return LoadedModel(
        model=model,
        name=str(payload.get("name", path.stem)),
        hash=digest,
        path=path,
        training=dict(payload.get("training") or {}),
        extra=dict(payload.get("extra") or {}),
        prior=prior,
        prior_nn=graphs,
        default_prior=str(payload.get("default_prior") or "naive-bayes"),
    )


def _plain(value: Any) -> Any:
    """Numpy scalars inside records become Python numbers (``weights_only`` refuses numpy types)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, torch.Tensor):
        return value.item()
    return value


def _prior_tensors(prior: LevelPrior) -> dict[str, Any]:
    """A Naive Bayes prior as numbers and tensors (a checkpoint that ``weights_only`` loads)."""
    scalars, tables = prior.to_arrays()
    return {**scalars, **{k: torch.from_numpy(v) for k, v in tables.items()}}
