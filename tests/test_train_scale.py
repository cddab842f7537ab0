"""Training beyond one process (issue 21), on the CPU: the crop order that follows the step, the
streamed data path, the NSynth index read entry by entry, and ``torchrun`` jobs of the tiny preset
(2 processes, gloo): one checkpoint and one ledger row per stage, a loss curve that follows one
process's, resuming on another process count, a failing rank, memory flat as the corpus grows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from specblur.learn import data
from tests.conftest import run_cli, tone

TOLERANCE = 0.05
"""How far (relative) a 2-process run's per-step training loss may stray from the 1-process run's
over the first steps (see test_two_processes_follow_one)."""


# -- the order, the streamed path and the index (no processes started) -------------------------------
def test_order_is_the_same_whatever_the_process_count() -> None:
    order = data.Order(7, seed=3)
    for step in range(5):
        one = data.Order.rows(step, 8, 0, 1)
        two = data.Order.rows(step, 8, 0, 2) + data.Order.rows(step, 8, 1, 2)
        four = [n for r in range(4) for n in data.Order.rows(step, 8, r, 4)]
        assert one == two == four
    files = [order.file(n) for n in range(14)]
    assert sorted(files[:7]) == list(range(7)) and sorted(files[7:]) == list(range(7))  # each file once a pass
    assert files[:7] != files[7:]  # a new shuffle each pass
    assert [data.Order(7, seed=3).file(n) for n in range(14)] == files  # nothing depends on what was drawn before
    assert [data.Order(7, seed=4).file(n) for n in range(7)] != files[:7]


def test_streamed_crops_are_the_in_memory_crops(tmp_path: Path) -> None:
    paths = []
    for i in range(5):
        path = tmp_path / f"n{i}.wav"
        sf.write(path, tone(0.3 + 0.1 * i, 16000, (220.0 * (i + 1),), seed=i), 16000, subtype="FLOAT")
        paths.append(str(path))
    order = data.Order(len(paths), seed=1)
    waves = data.load_waves([data.Item(Path(p), p) for p in paths], 16000)
    in_memory = data.Crops(waves, 4000).take(list(range(12)), order)
    stream = data.StreamedCrops(paths, order, 16000, 4000)
    streamed = torch.from_numpy(np.stack([stream[n][0] for n in range(12)]))
    assert torch.equal(in_memory, streamed)


def test_streamed_crops_skip_or_stop_at_an_unreadable_file(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(good, tone(0.5, 22050, (330.0,)), 22050)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    order = data.Order(2, seed=0)
    n = next(n for n in range(10) if order.file(n) == 1)  # a crop of bad.wav
    crop, skipped, error = data.StreamedCrops([str(good), str(bad)], order, 16000, 3000)[n]
    assert error is None and crop.shape == (3000,) and np.abs(crop).max() > 0.01  # resampled from good.wav
    assert len(skipped) == 1 and "bad.wav" in skipped[0]
    crop, skipped, error = data.StreamedCrops([str(good), str(bad)], order, 16000, 3000, strict=True)[n]
    assert crop is None and "bad.wav" in error and "--strict" in error


def test_json_entries_reads_what_json_loads_reads(tmp_path: Path) -> None:
    value = {f'k{i} "q" ü': {"pitch": i, "x": [1.5e-3, None, True], "s": "a,}b" * (i % 3)} for i in range(300)}
    path = tmp_path / "examples.json"
    path.write_text(json.dumps(value, indent=2 if True else None))
    assert dict(data.json_entries(path, chunk=7)) == value  # entries cut across every kind of boundary
    path.write_text("{}")
    assert list(data.json_entries(path)) == []
    path.write_text('{"a": {"b": 1}, "c" 2}')
    with pytest.raises(data.DataError, match="cannot parse"):
        list(data.json_entries(path))
