"""Training data: audio folders and the NSynth layout, a deterministic held-out split, random crops.

A data path is either a folder searched recursively for .wav/.flac/.ogg files (any rate and channel
count), or an NSynth-style folder (``audio/*.wav`` plus ``examples.json``), which can be filtered by
instrument family and source. The held-out split follows an NSynth ``split`` field where there is
one, else hashes each item's group (its path, or for NSynth its instrument, so no instrument is on
both sides): it never depends on file order or on the machine. Audio is decoded once (in threads;
soundfile releases the GIL), mixed to mono and resampled to the model's rate; batches are random
crops taken from memory, so both cores train instead of waiting on disk.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specblur import audio
from specblur.errors import AudioError, DataError


@dataclass(frozen=True)
class Item:
    path: Path
    group: str
    """What the held-out split hashes: the relative path, or the NSynth instrument."""
    heldout: bool | None = None
    """Set when the data itself says (an NSynth ``split`` field); else the hash decides."""


def collect(roots: list[Path], families: tuple[str, ...] = (), sources: tuple[str, ...] = ()) -> list[Item]:
    """All audio items under ``roots``; ``families``/``sources`` filter NSynth folders."""
    items: list[Item] = []
    for root in roots:
        if not root.exists():
            raise DataError(f"{root}: no such folder")
        if root.is_file():
            items.append(Item(root, root.name))
        elif (root / "examples.json").is_file() and (root / "audio").is_dir():
            items += _nsynth(root, families, sources)
        else:
            found = sorted(p for p in root.rglob("*") if p.suffix.lower() in audio.AUDIO_SUFFIXES and p.is_file())
            items += [Item(p, str(p.relative_to(root))) for p in found]
    if not items:
        raise DataError(f"no audio found in {', '.join(map(str, roots))} (looked for .wav, .flac, .ogg)")
    return items


def _nsynth(root: Path, families: tuple[str, ...], sources: tuple[str, ...]) -> list[Item]:
    try:
        examples = json.loads((root / "examples.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{root / 'examples.json'}: cannot parse ({exc})") from exc
    items = []
    for key, ex in sorted(examples.items()):
        if families and ex.get("instrument_family_str") not in families:
            continue
        if sources and ex.get("instrument_source_str") not in sources:
            continue
        path = root / "audio" / f"{key}.wav"
        if path.is_file():
            split_field = ex.get("split")
            heldout = None if split_field is None else split_field != "train"
            items.append(Item(path, str(ex.get("instrument_str", key)), heldout))
    if not items:
        raise DataError(f"{root}: no notes match the family/source filter")
    return items


def _unit(text: str) -> float:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") / 2**64


def split(items: list[Item], holdout_fraction: float) -> tuple[list[Item], list[Item]]:
    """(train, held-out): a group goes to held-out when the data marks it so (an NSynth ``split``
    field other than ``train``), else when its hash falls under the fraction.

    With two or more groups, at least one is held out and at least one is trained on.
    """
    groups = sorted({it.group for it in items}, key=_unit)
    marked = {it.group: it.heldout for it in items if it.heldout is not None}
    held = {g for g in groups if marked.get(g, _unit(g) < holdout_fraction)}
    if len(groups) >= 2:
        if not held:
            held = {groups[0]}
        if len(held) == len(groups):
            held.discard(groups[-1])
    train = [it for it in items if it.group not in held]
    heldout = [it for it in items if it.group in held]
    return train, heldout


def load_waves(items: list[Item], sample_rate: int, warn=None) -> list[np.ndarray]:
    """Decode, mix down and resample every item; unreadable files are skipped with a warning."""

    def one(item: Item) -> np.ndarray | None:
        try:
            a = audio.read(item.path)
        except AudioError as exc:
            if warn:
                warn(str(exc))
            return None
        mono = audio.to_mono(a.samples)
        return np.asarray(resample(mono, a.sample_rate, sample_rate), dtype=np.float32)

    with ThreadPoolExecutor(max_workers=2) as pool:
        waves = [w for w in pool.map(one, items) if w is not None and len(w)]
    return waves


class Crops:
    """Random fixed-length crops of in-memory waveforms, drawn with a seeded torch generator."""

    def __init__(self, waves: list[np.ndarray], samples: int) -> None:
        if not waves:
            raise DataError("no readable audio to train on")
        self.samples = samples
        self.waves = [w if len(w) >= samples else np.pad(w, (0, samples - len(w))) for w in waves]

    def batch(self, size: int, generator):  # -> torch.Tensor (size, samples)
        import torch

        which = torch.randint(0, len(self.waves), (size,), generator=generator).tolist()
        out = np.empty((size, self.samples), dtype=np.float32)
        for row, i in enumerate(which):
            wave = self.waves[i]
            start = int(torch.randint(0, len(wave) - self.samples + 1, (1,), generator=generator))
            out[row] = wave[start : start + self.samples]
        return torch.from_numpy(out)


def resample(wave: Any, rate_in: int, rate_out: int) -> Any:
    """Resample a float tensor or array along its last axis (torchaudio's windowed sinc)."""
    if rate_in == rate_out:
        return wave
    import torch
    import torchaudio.functional as AF

    tensor = torch.as_tensor(wave, dtype=torch.float32)
    out = AF.resample(tensor, rate_in, rate_out)
    return out if isinstance(wave, torch.Tensor) else out.numpy()
