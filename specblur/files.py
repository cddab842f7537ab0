"""Writing files safely, for everything specblur writes (audio, checkpoints, runtime models, the
registry's copies, the energy ledger): a temporary file beside the target, synced, then renamed into
place, so a reader sees the old file or the new one, never half of either, and an error, Ctrl-C or
SIGTERM leaves the target as it was; and a lock file beside a target that several processes may
write at once."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from specblur import _testhooks
from specblur.errors import SpecblurError


class WriteError(SpecblurError):
    """A file could not be written (no such folder, no permission, disk full, exists)."""

    exit_code = 2


def reason(exc: BaseException) -> str:
    """The last line of an exception's message (libsndfile's and the OS's are long)."""
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def atomic_write(path: Path, produce: Callable[[Path], None], overwrite: bool = True) -> None:
    """``produce(tmp)`` writes a temporary file beside ``path``, which is synced and renamed into
    place; on any error or Ctrl-C the temporary file is removed and ``path`` is untouched."""
    folder = path.parent
    if not folder.is_dir():
        raise WriteError(f"{path}: folder {folder} does not exist; create it first")
    if not overwrite and path.exists():
        raise WriteError(f"{path}: exists; use --force to replace it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write in {folder} ({reason(exc)})") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.close(fd)
        produce(Path(tmp))
        _testhooks.pause_point("renaming")  # tests: a signal after the write, before the rename
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError | RuntimeError):  # libsndfile's errors are RuntimeErrors
            raise WriteError(f"{path}: cannot write ({reason(exc)})") from exc
        raise


def atomic_write_bytes(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""

    def produce(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, produce, overwrite)


@contextlib.contextmanager
def locked(path: Path, timeout: float = 60) -> Iterator[None]:
    """Hold the lock file ``PATH.lock`` (beside ``path``) while the block runs: one process at a time."""
    from filelock import FileLock

    with FileLock(str(path) + ".lock", timeout=timeout):
        yield
