"""Where models live: an explicit path, the user data dir, or the bundled ``models/`` folder.

The data dir is ``$SPECBLUR_DATA_DIR`` or platformdirs' ``user_data_dir("specblur")``; trained
models are ``<data dir>/models/<name>.pt``. Bundled models are listed in ``models/MANIFEST`` (one
``name file sha256`` a line); on first use one is verified and copied into the data dir under a file
lock, so several processes starting at once make one verified copy. The copy's name carries the
hash prefix, so a newer specblur's bundled model never meets a stale copy.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from specblur.errors import ChecksumError, ModelNotFoundError, UsageError
from specblur.files import atomic_write_bytes, locked

DEFAULT_MODEL = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def data_dir() -> Path:
    """The user data dir (not created here)."""
    override = os.environ.get("SPECBLUR_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("specblur"))


def models_dir() -> Path:
    return data_dir() / "models"


def check_name(name: str) -> str:
    """A model name is a file stem: letters, digits, ``.``, ``_`` and ``-``."""
    if not _NAME.match(name) or name.endswith(".pt"):
        raise UsageError(f"bad model name {name!r}: use letters, digits, '.', '_' and '-' (no '.pt')")
    return name


def model_path(name: str) -> Path:
    """Where a trained model of this name is saved."""
    return models_dir() / f"{check_name(name)}.pt"


@dataclass(frozen=True)
class BundledModel:
    name: str
    file: str
    sha256: str


def bundled_folder() -> Path:
    """The installed ``models/`` folder (the package ``specblur._models``), or the checkout's."""
    try:
        return Path(str(resources.files("specblur._models")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "models"


RUNTIME_SUFFIX = ".onnx.npz"


def bundled(kind: str = "checkpoint") -> dict[str, BundledModel]:
    """The models listed in ``models/MANIFEST``: training checkpoints (``.pt``) or, with
    ``kind="runtime"``, runtime forms (``.onnx.npz``)."""
    manifest = bundled_folder() / "MANIFEST"
    out: dict[str, BundledModel] = {}
    if not manifest.is_file():
        return out
    for line in manifest.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, file, digest = line.split()
            if file.endswith(RUNTIME_SUFFIX) == (kind == "runtime"):
                out[name] = BundledModel(name, file, digest.lower())
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve(spec: str | None) -> Path:
    """``--model NAME|PATH`` → a checkpoint file: explicit path, data dir, then bundled model."""
    spec = spec or DEFAULT_MODEL
    as_path = Path(spec).expanduser()
    if as_path.suffix == ".pt" or os.sep in spec or as_path.is_file():
        if not as_path.is_file():
            raise ModelNotFoundError(f"{spec}: no such model file")
        return as_path
    local = model_path(spec)
    if local.is_file():
        return local
    entry = bundled().get(spec)
    if entry is not None:
        return _install_bundled(entry, data_dir() / "bundled" / f"{entry.name}-{entry.sha256[:16]}.pt")
    known = sorted({p.stem for p in models_dir().glob("*.pt")} | set(bundled()))
    hint = (
        f"known models: {', '.join(known)}"
        if known
        else "no models yet: train one with 'specblur train DATA --name NAME'"
    )
    raise ModelNotFoundError(f"model {spec!r} not found ({hint})")


def resolve_runtime(spec: str | None, convert: Any = None) -> Path:
    """``--model NAME|PATH`` → a runtime model file (what edits load; no torch needed): an explicit
    ``.onnx.npz``, a model trained into the data dir, then a bundled one. A training checkpoint
    (``.pt``, given by path or found in the data dir without its runtime form) is converted once,
    beside it, by ``convert(checkpoint, target)`` (the training side's
    :func:`specblur.learn.convert.write_runtime_file`; ``None`` where torch is missing)."""
    spec = spec or DEFAULT_MODEL
    as_path = Path(spec).expanduser()
    if spec.endswith(RUNTIME_SUFFIX):
        if not as_path.is_file():
            raise ModelNotFoundError(f"{spec}: no such model file")
        return as_path
    if as_path.suffix == ".pt" or os.sep in spec or as_path.is_file():
        if not as_path.is_file():
            raise ModelNotFoundError(f"{spec}: no such model file")
        return _converted(as_path, convert)
    local = models_dir() / f"{check_name(spec)}{RUNTIME_SUFFIX}"
    trained = model_path(spec)
    if trained.is_file() and (not local.is_file() or local.stat().st_mtime < trained.stat().st_mtime):
        return _converted(trained, convert)
    if local.is_file():
        return local
    entry = bundled("runtime").get(spec)
    if entry is not None:
        return _install_bundled(entry, data_dir() / "bundled" / f"{entry.name}-{entry.sha256[:16]}{RUNTIME_SUFFIX}")
    known = sorted(
        {p.name.removesuffix(RUNTIME_SUFFIX) for p in models_dir().glob(f"*{RUNTIME_SUFFIX}")}
        | {p.stem for p in models_dir().glob("*.pt")}
        | set(bundled("runtime"))
    )
    hint = (
        f"known models: {', '.join(known)}"
        if known
        else "no models yet: train one with 'specblur train DATA --name NAME'"
    )
    raise ModelNotFoundError(f"model {spec!r} not found ({hint})")


def _converted(checkpoint: Path, convert: Any) -> Path:
    """The runtime form of a training checkpoint, written beside it when missing or older."""
    target = checkpoint.with_name(checkpoint.name.removesuffix(".pt") + RUNTIME_SUFFIX)
    if target.is_file() and target.stat().st_mtime >= checkpoint.stat().st_mtime:
        return target
    missing = ModelNotFoundError(
        f"{checkpoint}: a training checkpoint without its runtime form {target.name}; converting it needs "
        "torch: pip install 'specblur[train]', or give the .onnx.npz file"
    )
    if convert is None:
        raise missing
    with locked(target, timeout=300):
        if not (target.is_file() and target.stat().st_mtime >= checkpoint.stat().st_mtime):
            try:
                convert(checkpoint, target)
            except ImportError:
                raise missing from None
    return target


def _install_bundled(entry: BundledModel, target: Path) -> Path:
    """Verify a bundled model and copy it into the data dir, once, under a lock."""
    source = bundled_folder() / entry.file
    if not source.is_file():
        raise ModelNotFoundError(f"bundled model {entry.name!r}: file {source} is missing; reinstall specblur")
    target.parent.mkdir(parents=True, exist_ok=True)
    with locked(target, timeout=120):
        if target.is_file():
            return target
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise ChecksumError(
                f"bundled model {entry.name!r}: {source} has sha256 {digest[:12]}…, MANIFEST says "
                f"{entry.sha256[:12]}…; reinstall specblur"
            )
        atomic_write_bytes(target, data)
    return target
