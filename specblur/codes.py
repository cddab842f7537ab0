"""Self-describing code files (``.npz``, read with ``allow_pickle=False``).

Arrays ``top`` and ``bottom`` hold the code maps, ``(channels, rows, columns)`` each; ``meta`` holds
one JSON string: format and version, the model's name and hash, the model's sample rate, the source's
rate, channel count and length, the number of STFT frames and the full representation config.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specblur.errors import CodesError

FORMAT = "specblur-codes"
VERSION = 1


@dataclass
class CodeFile:
    top: np.ndarray
    bottom: np.ndarray
    meta: dict[str, Any]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        meta = dict(self.meta, format=FORMAT, version=VERSION)
        np.savez_compressed(
            buffer,
            top=self.top.astype(np.int32),
            bottom=self.bottom.astype(np.int32),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )
        return buffer.getvalue()


def read(path: Path | str, data: bytes | None = None) -> CodeFile:
    """Read and check a code file (``data`` instead of the file's bytes for stdin)."""
    name = str(path)
    try:
        source: Any = io.BytesIO(data) if data is not None else name
        with np.load(source, allow_pickle=False) as npz:
            top, bottom = npz["top"], npz["bottom"]
            meta = json.loads(str(npz["meta"]))
    except FileNotFoundError as exc:
        raise CodesError(f"{name}: no such code file") from exc
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CodesError(f"{name}: not a specblur code file ({exc}); make one with 'specblur encode'") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CodesError(f"{name}: not a specblur code file; make one with 'specblur encode'")
    if meta.get("version") != VERSION:
        raise CodesError(
            f"{name}: code file version {meta.get('version')}, this specblur reads {VERSION}; re-encode it"
        )
    if top.ndim != 3 or bottom.ndim != 3 or top.shape[0] != bottom.shape[0] or top.dtype.kind not in "iu":
        raise CodesError(f"{name}: malformed code maps {top.shape}/{bottom.shape}; re-encode it")
    return CodeFile(top=top, bottom=bottom, meta=meta)
