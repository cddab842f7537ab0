"""Code files are self-describing and checked on reading."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from specblur import codes
from specblur.errors import CodesError


def _file(**meta: object) -> codes.CodeFile:
    return codes.CodeFile(np.zeros((1, 2, 3), np.int64), np.ones((1, 4, 6), np.int64), {"model_name": "m", **meta})


def test_round_trip_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    path.write_bytes(_file(length=5).to_bytes())
    back = codes.read(path)
    assert back.meta["model_name"] == "m" and back.meta["version"] == codes.VERSION
    assert back.bottom.shape == (1, 4, 6) and back.bottom.dtype == np.int32


def test_wrong_version_and_garbage_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        top=np.zeros((1, 1, 1)),
        bottom=np.zeros((1, 1, 1)),
        meta=np.array(json.dumps({"format": codes.FORMAT, "version": 99})),
    )
    with pytest.raises(CodesError, match="version 99"):
        codes.read("x.npz", buffer.getvalue())
    with pytest.raises(CodesError, match="not a specblur code file"):
        codes.read("y.npz", b"garbage")
    buffer = io.BytesIO()
    np.savez(buffer, top=np.array([object()], dtype=object), bottom=np.zeros(1), meta=np.array("{}"))
    with pytest.raises(CodesError):
        codes.read("z.npz", buffer.getvalue())
