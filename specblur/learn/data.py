"""Training data: audio folders and the NSynth layout, a deterministic held-out split, random crops,
in memory or streamed.

A data path is either a folder searched recursively for .wav/.flac/.ogg files (any rate and channel
count), or an NSynth-style folder (``audio/*.wav`` plus ``examples.json``), which can be filtered by
instrument family and source. The held-out split follows an NSynth ``split`` field where there is
one, else hashes each item's group (its path, or for NSynth its instrument, so no instrument is on
both sides): it never depends on file order or on the machine. Audio is decoded once (in threads;
soundfile releases the GIL), mixed to mono and resampled to the model's rate; batches are random
crops taken from memory, so both cores train instead of waiting on disk.

That in-memory path holds the whole decoded corpus in every process. For a corpus larger than
:data:`MEMORY_LIMIT` (estimated from a sample of the files' headers) the crops are streamed instead:
DataLoader workers decode just each crop's span of its file (:class:`StreamedCrops`), so a process's
memory does not grow with the corpus. Both paths take the same crops: the n-th crop of a run (``n =
step x batch + row``, over all processes) is a function of the seed and ``n`` alone (:class:`Order`),
never of the number of processes, so a run resumed with another process count goes on with the same
corpus order. An NSynth ``examples.json`` is read entry by entry (:func:`json_entries`), never
whole, so its 300,000 entries index in seconds in bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specblur import audio
from specblur.errors import AudioError, DataError

MEMORY_LIMIT = 1 << 30
"""Corpora whose decoded audio is estimated above this many bytes are streamed, not held in memory."""


@dataclass(frozen=True, slots=True)
class Item:
    where: str
    """The file, as a string (a ``Path`` per item would be most of an NSynth index's memory)."""
    group: str
    """What the held-out split hashes: the relative path, or the NSynth instrument."""
    heldout: bool | None = None
    """Set when the data itself says (an NSynth ``split`` field); else the hash decides."""

    def __post_init__(self) -> None:
        if not isinstance(self.where, str):
            object.__setattr__(self, "where", str(self.where))

    @property
    def path(self) -> Path:
        return Path(self.where)


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
    """The notes of an NSynth folder, in key order, read entry by entry from ``examples.json``.

    No file is looked at here (300,000 ``stat`` calls are minutes on a network disk): a note whose
    audio is missing is an unreadable file when it is read, skipped and counted like a corrupt one."""
    folder = f"{root / 'audio'}{os.sep}"
    groups: dict[str, str] = {}  # one string per instrument, shared by its notes
    notes = []
    for key, ex in json_entries(root / "examples.json"):
        if not isinstance(ex, dict):
            raise DataError(f"{root / 'examples.json'}: entry {key!r} is not an object")
        if families and ex.get("instrument_family_str") not in families:
            continue
        if sources and ex.get("instrument_source_str") not in sources:
            continue
        split_field = ex.get("split")
        heldout = None if split_field is None else split_field != "train"
        group = str(ex.get("instrument_str", key))
        notes.append(Item(f"{folder}{key}.wav", groups.setdefault(group, group), heldout))
    if not notes:
        raise DataError(f"{root}: no notes match the family/source filter")
    notes.sort(key=lambda it: it.where)
    return notes


def json_entries(path: Path, chunk: int = 1 << 20) -> Iterator[tuple[str, Any]]:
    """The ``(key, value)`` pairs of a file holding one JSON object, read ``chunk`` characters at a
    time: memory holds one chunk and one entry, however large the file (``json.loads`` of NSynth's
    ``examples.json`` builds every entry's dict at once, over a gigabyte)."""
    decoder = json.JSONDecoder()
    try:
        f = open(path, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with f:
        buf, pos, eof = "", 0, False

        def more() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            text = f.read(chunk)
            if not text:
                eof = True
                return False
            buf, pos = buf[pos:] + text, 0
            return True

        def skip_space() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return buf[pos] if pos < len(buf) else ""

        def value() -> Any:
            nonlocal pos
            while True:
                if len(buf) - pos < 64 and more():
                    continue
                try:
                    v, end = decoder.raw_decode(buf, pos)
                except ValueError as exc:
                    if more():
                        continue
                    raise DataError(f"{path}: cannot parse ({exc})") from exc
                if len(buf) - end < 64 and more():
                    continue  # a number may go on in the next chunk ("1.5" of "1.5e-3")
                pos = end
                return v

        def expect(char: str) -> None:
            nonlocal pos
            if skip_space() != char:
                raise DataError(f"{path}: cannot parse (expected {char!r} near character {pos})")
            pos += 1

        expect("{")
        if skip_space() == "}":
            return
        while True:
            skip_space()
            key = value()
            if not isinstance(key, str):
                raise DataError(f"{path}: cannot parse (a key that is not a string)")
            expect(":")
            skip_space()
            yield key, value()
            sep = skip_space()
            pos += 1
            if sep == "}":
                return
            if sep != ",":
                raise DataError(f"{path}: cannot parse (expected ',' or '}}' after entry {key!r})")


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


def load_waves(
    items: list[Item], sample_rate: int, warn: Callable[[str], None] | None = None, strict: bool = False
) -> list[np.ndarray]:
    """Decode, mix down and resample every item; unreadable files are skipped with a warning
    (``strict``: the first one raises :class:`DataError` naming it)."""

    def one(item: Item) -> np.ndarray | None:
        try:
            return decode(item.path, sample_rate)
        except AudioError as exc:
            if strict:
                raise DataError(f"{exc} (--strict)") from None
            if warn:
                warn(f"skipped: {exc}")
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        waves = [w for w in pool.map(one, items) if w is not None and len(w)]
    return waves


def decode(path: Path, sample_rate: int) -> np.ndarray:
    """A whole file as mono float32 at ``sample_rate``; :class:`AudioError` when it cannot be read."""
    a = audio.read(path)
    mono = audio.to_mono(a.samples)
    return np.asarray(resample(mono, a.sample_rate, sample_rate), dtype=np.float32)


def decoded_bytes(items: list[Item], sample_rate: int, sample: int = 16, seed: int = 0) -> float:
    """An estimate of the corpus decoded (float32 at ``sample_rate``): the mean of ``sample`` files'
    headers, drawn with ``seed``, times the number of files. Unreadable headers count as empty."""
    if not items:
        return 0.0
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(items), size=min(sample, len(items)), replace=False)
    total = 0.0
    for i in picks:
        try:
            head = audio.info(items[int(i)].path)
        except AudioError:
            continue
        total += head.frames / max(head.sample_rate, 1) * sample_rate * 4
    return total / len(picks) * len(items)


class Order:
    """Which file, and where in it, the n-th crop of a run comes from (``n = step x batch + row``,
    rows over all processes together).

    Files are taken in a fresh permutation each pass over the corpus (pass ``n // files``, shuffled
    with the seed and the pass), so every file is used once per pass; the crop's place in its file is
    a uniform number drawn from the seed and ``n``. Nothing depends on the number of processes or on
    what was drawn before, so any process can compute any crop, and a resumed run goes on where the
    step says.
    """

    def __init__(self, files: int, seed: int) -> None:
        if files < 1:
            raise DataError("no readable audio to train on")
        self.files = files
        self.seed = seed
        self._pass = -1
        self._perm: np.ndarray | None = None

    def file(self, n: int) -> int:
        which, at = divmod(n, self.files)
        if which != self._pass:
            import torch

            g = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + which)
            self._perm = torch.randperm(self.files, generator=g).numpy().astype(np.int32)
            self._pass = which
        assert self._perm is not None
        return int(self._perm[at])

    def place(self, n: int) -> float:
        """A number in [0, 1): where in its file the crop starts (0 the start, 1 the last start)."""
        return float(np.random.default_rng([int(self.seed) & 0xFFFFFFFF, n]).random())

    @staticmethod
    def rows(step: int, batch: int, rank: int, world: int) -> list[int]:
        """This rank's crop numbers at ``step``: its contiguous share of the step's ``batch``."""
        lo, hi = rank * batch // world, (rank + 1) * batch // world
        return [step * batch + r for r in range(lo, hi)]


class Crops:
    """Random fixed-length crops of in-memory waveforms: by an :class:`Order` (:meth:`take`), or
    drawn with a seeded torch generator (:meth:`batch`)."""

    def __init__(self, waves: list[np.ndarray], samples: int) -> None:
        if not waves:
            raise DataError("no readable audio to train on")
        self.samples = samples
        self.waves = [w if len(w) >= samples else np.pad(w, (0, samples - len(w))) for w in waves]

    def take(self, numbers: list[int], order: Order) -> Any:  # -> torch.Tensor (len(numbers), samples)
        import torch

        out = np.empty((len(numbers), self.samples), dtype=np.float32)
        for row, n in enumerate(numbers):
            wave = self.waves[order.file(n)]
            start = int(order.place(n) * (len(wave) - self.samples + 1))
            out[row] = wave[start : start + self.samples]
        return torch.from_numpy(out)

    def batch(self, size: int, generator):  # -> torch.Tensor (size, samples)
        import torch

        which = torch.randint(0, len(self.waves), (size,), generator=generator).tolist()
        out = np.empty((size, self.samples), dtype=np.float32)
        for row, i in enumerate(which):
            wave = self.waves[i]
            start = int(torch.randint(0, len(wave) - self.samples + 1, (1,), generator=generator))
            out[row] = wave[start : start + self.samples]
        return torch.from_numpy(out)


class StreamedCrops:
    """The crops of an :class:`Order`, each decoded from its file when asked for (a map-style
    dataset for ``torch.utils.data.DataLoader``, whose workers call it): only the crop's span is
    read (plus a margin for the resampler), so memory holds one crop per request, whatever the
    corpus.

    An unreadable file gives the next readable one in the pass instead and is reported with the crop
    (the caller warns and counts); with ``strict`` it gives an error message instead of a crop, and
    the caller stops the job. Nothing is raised inside a worker, so the message stays one line.
    """

    MARGIN = 64
    """Samples read on each side of a span that is resampled (the sinc filter's reach), then cut."""

    def __init__(self, paths: list[str], order: Order, sample_rate: int, samples: int, strict: bool = False) -> None:
        self.paths = paths
        self.order = order
        self.rate = sample_rate
        self.samples = samples
        self.strict = strict

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, n: int) -> tuple[np.ndarray | None, tuple[str, ...], str | None]:
        """(crop, unreadable files met, error): the error is set, and the crop ``None``, only when
        ``strict`` and the file is unreadable, or when no file is readable."""
        first = self.order.file(n)
        skipped: list[str] = []
        for k in range(min(len(self.paths), 32)):
            path = self.paths[(first + k) % len(self.paths)]
            try:
                return self.crop(path, self.order.place(n)), tuple(skipped), None
            except AudioError as exc:
                if self.strict:
                    return None, (), f"{exc} (--strict)"
                skipped.append(str(exc))
        return None, tuple(skipped), f"no readable file near crop {n} ({len(skipped)} unreadable in a row)"

    def crop(self, path: str, place: float) -> np.ndarray:
        head = audio.info(path)
        if head.frames <= 0:
            raise AudioError(f"{path}: no audio in the file")
        rate_in = head.sample_rate
        length = math.ceil(head.frames * self.rate / rate_in)  # the file's length at the model's rate
        start = int(place * max(length - self.samples + 1, 1))
        if rate_in == self.rate:
            lo, hi = start, min(start + self.samples, head.frames)
            wave = audio.to_mono(audio.read_span(path, lo, hi)).astype(np.float32)
        else:
            lo_in = int(start * rate_in / self.rate)
            hi_in = math.ceil((start + self.samples) * rate_in / self.rate)
            pad_lo = min(self.MARGIN, lo_in)
            raw = audio.to_mono(audio.read_span(path, lo_in - pad_lo, min(hi_in + self.MARGIN, head.frames)))
            wave = np.asarray(resample(raw.astype(np.float32), rate_in, self.rate), dtype=np.float32)
            skip = round(pad_lo * self.rate / rate_in)
            wave = wave[skip : skip + self.samples]
        if len(wave) < self.samples:
            wave = np.pad(wave, (0, self.samples - len(wave)))
        return wave


def collate(batch: list[tuple[np.ndarray | None, tuple[str, ...], str | None]]) -> tuple[Any, list[str], str | None]:
    """A DataLoader batch of :class:`StreamedCrops` items: (crops tensor or ``None``, skipped, error)."""
    import torch

    skipped = [s for _, sk, _ in batch for s in sk]
    error = next((e for _, _, e in batch if e is not None), None)
    if error is not None:
        return None, skipped, error
    return torch.from_numpy(np.stack([w for w, _, _ in batch])), skipped, None


class StepBatches:
    """The DataLoader's batch sampler: this rank's crop numbers for each step from ``start`` to
    ``total`` (see :meth:`Order.rows`)."""

    def __init__(self, start: int, total: int, batch: int, rank: int, world: int) -> None:
        self.start, self.total, self.batch, self.rank, self.world = start, total, batch, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.total):
            yield Order.rows(step, self.batch, self.rank, self.world)

    def __len__(self) -> int:
        return max(self.total - self.start, 0)


def resample(wave: Any, rate_in: int, rate_out: int) -> Any:
    """Resample a float tensor or array along its last axis (torchaudio's windowed sinc)."""
    if rate_in == rate_out:
        return wave
    import torch
    import torchaudio.functional as AF

    tensor = torch.as_tensor(wave, dtype=torch.float32)
    out = AF.resample(tensor, rate_in, rate_out)
    return out if isinstance(wave, torch.Tensor) else out.numpy()
