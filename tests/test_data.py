"""Training data: folders of any format, the NSynth layout, the held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from specblur.learn import data
from tests.conftest import tone


def test_folder_recursive_any_format_rate_and_channels(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    sf.write(tmp_path / "a" / "one.wav", tone(0.5, 44100, (220.0,), channels=2), 44100)
    sf.write(tmp_path / "a" / "b" / "two.flac", tone(0.25, 8000, (220.0,)), 8000)
    sf.write(tmp_path / "three.ogg", tone(0.3, 22050, (220.0,)), 22050)
    (tmp_path / "notes.txt").write_text("ignored")
    items = data.collect([tmp_path])
    assert sorted(it.group for it in items) == ["a/b/two.flac", "a/one.wav", "three.ogg"]
    waves = data.load_waves(items, 16000)
    assert sorted(len(w) for w in waves) == [4000, 4800, 8000]
    assert all(w.ndim == 1 and w.dtype == np.float32 for w in waves)


def _nsynth(root: Path) -> None:
    (root / "audio").mkdir(parents=True)
    examples = {}
    for inst, (family, source) in enumerate([("guitar", "acoustic"), ("bass", "electronic"), ("organ", "electronic")]):
        for pitch in (48, 60):
            key = f"{family}_{source}_{inst:03d}-{pitch:03d}-100"
            sf.write(root / "audio" / f"{key}.wav", tone(0.2, 16000, (220.0,)), 16000)
            examples[key] = {
                "instrument_str": f"{family}_{source}_{inst:03d}",
                "instrument_family_str": family,
                "instrument_source_str": source,
                "pitch": pitch,
            }
    (root / "examples.json").write_text(json.dumps(examples))


def test_nsynth_layout_filters_and_splits_by_instrument(tmp_path: Path) -> None:
    _nsynth(tmp_path)
    assert len(data.collect([tmp_path])) == 6
    assert {it.group for it in data.collect([tmp_path], families=("bass", "organ"))} == {
        "bass_electronic_001",
        "organ_electronic_002",
    }
    assert len(data.collect([tmp_path], sources=("acoustic",))) == 2
    train, held = data.split(data.collect([tmp_path]), 0.3)
    assert train and held
    assert not {it.group for it in train} & {it.group for it in held}  # no instrument on both sides
    reordered = data.split(list(reversed(data.collect([tmp_path]))), 0.3)[1]
    assert {it.path for it in reordered} == {it.path for it in held}


def test_split_is_deterministic_and_roughly_the_fraction() -> None:
    items = [data.Item(Path(f"f{i}.wav"), f"f{i}.wav") for i in range(2000)]
    train, held = data.split(items, 0.1)
    assert 150 < len(held) < 250
    assert data.split(items[::-1], 0.1)[1] == held[::-1]


def test_crops_are_seeded_and_pad_short_files() -> None:
    import torch

    crops = data.Crops([np.ones(10, np.float32), np.arange(100, dtype=np.float32)], 50)
    a = crops.batch(8, torch.Generator().manual_seed(0))
    b = crops.batch(8, torch.Generator().manual_seed(0))
    assert a.shape == (8, 50) and torch.equal(a, b)


def test_nsynth_split_field_is_honoured(tmp_path: Path) -> None:
    _nsynth(tmp_path)
    examples = json.loads((tmp_path / "examples.json").read_text())
    for ex in examples.values():
        ex["split"] = "valid" if ex["instrument_family_str"] == "guitar" else "train"
    (tmp_path / "examples.json").write_text(json.dumps(examples))
    train, held = data.split(data.collect([tmp_path]), 0.0)
    assert {it.group for it in held} == {"guitar_acoustic_000"} and len(train) == 4
