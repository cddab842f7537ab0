"""Cut real recordings from Debian packages into an NSynth-like corpus of clips (a developer tool).

The full-band model's training material beside the rendered notes (issue 14). Every source is a
Debian package with a free licence, installed by ``tools/build_fullband_corpus.sh``; nothing is
fetched here. Each source file is mixed to mono, resampled to ``--rate`` (44.1 kHz), trimmed of the
silence around it (frames more than 60 dB under the file's loudest frame, or under -70 dBFS) and cut
into clips of at most ``--clip`` seconds (4 s; a shorter last piece is kept from 0.5 s on, a shorter
file whole); a clip whose loudest 2048-sample frame is under -50 dBFS is skipped as near-silence;
at most ``--max-per-file`` clips (6) come from one file, so a long loop does not outweigh a kit.

Sources (the licence of each part is read from the package's ``/usr/share/doc/PKG/copyright``):

* ``hydrogen-drumkits``: 14 drum kits, one *instrument* per kit (licence per kit: GPL-2, GPL-2+,
  CC-BY-3.0, CC-BY-SA-3.0, CC0; where the copyright file gives none, the kit's ``drumkit.xml``).
* ``avldrums.lv2-soundfont``: the AVL Black Pearl and Red Zeppelin kits (CC-BY-SA-3.0, Glen
  MacArthur), two SoundFonts of recorded drums, played key by key (35-81, velocities 32/64/96/127,
  held 2 s, released 1 s) with FluidSynth, reverb and chorus off. The Black Pearl is the same kit as
  hydrogen's "The Black Pearl 1.0", so both are one instrument (one side of the split).
* ``grandorgue-demo``: the demo organ's pipe recordings (GPL-2+ or CC-BY-SA-2.5; WavPack inside
  the ``.orgue`` zip, decoded with ``wvunpack`` from the ``wavpack`` package), one instrument per stop.
* ``sonic-pi-samples``: 165 recordings (130 from freesound.org, CC0; 35 Sonic Pi's own, MIT, as the
  copyright file's per-file stanzas say), one instrument per name prefix
  (``ambi``, ``bass``, ``drum``, ...). **Held out whole** (every clip ``split: valid``): it is the
  real-recording evaluation set of the 16 kHz model (3.05 dB mel LSD on active frames), so the
  full-band model is measured on a source it never heard, comparably.

In the other sources a seeded ~15% of instruments (at least one per source) are held out whole.
Written: ``audio/KEY.wav`` (16-bit mono), ``examples.json`` (NSynth fields that ``specblur train``
reads: ``instrument_str``, ``instrument_family_str``, ``instrument_source_str`` = ``recorded``,
``split``; plus package, version, licence and the original file), ``sources.json`` (each source:
package, version, licences, files, clips, seconds, split) and ``splits.json``.

With ``--notes DIR`` (the notes of ``tools/render_corpus.py``), ``sources.json`` lists their three
soundfonts too (package, version, licence as the packages' copyright files state it: FluidR3_GM MIT,
MuseScore_General_Lite MIT with parts PD or CC0, TimGM6mb GPL-2; notes, seconds, split).

Run: ``python tools/real_corpus.py OUT [--rate 44100] [--clip 4] [--seed 0] [--notes DIR]``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specblur.learn.data import resample as resample_torch

HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
AVL = {
    "black-pearl": "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
    "red-zeppelin": "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",
}
ORGUE = Path("/usr/share/GrandOrgue/packages")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
SAME_KIT = {"The Black Pearl 1.0": "black-pearl"}
"""Kits that two packages ship: one instrument name, so they land on one side of the split."""
FRAME = 2048
TRIM_DB, ABS_FLOOR_DB, SILENT_DB = -60.0, -70.0, -50.0


@dataclass
class Recording:
    package: str
    instrument: str
    family: str
    licence: str
    origin: str
    """The file inside the package (or SoundFont key and velocity)."""
    wave: np.ndarray
    rate: int


def package_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"real_corpus: package {package} is not installed; run tools/build_fullband_corpus.sh")
    return out.stdout.strip()


def copyright_licences(package: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence) of each stanza of a DEP-5 copyright file that names both."""
    text = Path(f"/usr/share/doc/{package}/copyright").read_text(errors="replace")
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif key and line.startswith(" "):
                fields[key] += "\n" + line.strip()
        if "Files" in fields:
            patterns = fields["Files"].split()
            licence = fields.get("License", "").split("\n")[0].strip()
            stanzas.append((patterns, licence))
    return stanzas


def licence_of(stanzas: list[tuple[list[str], str]], name: str) -> str:
    """The licence of the last stanza whose patterns match ``name`` (DEP-5: the last match wins)."""
    found = ""
    for patterns, licence in stanzas:
        if licence and any(fnmatch.fnmatchcase(name, p) for p in patterns):
            found = licence
    return found


def _mono(path: Path | str, data: bytes | None = None) -> tuple[np.ndarray, int]:
    import io

    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data) if data is not None else str(path), dtype="float32", always_2d=True)
    return samples.mean(axis=1), int(rate)


def _wavpack(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a WavPack file (GrandOrgue stores its ``.wav`` samples so) with ``wvunpack``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wv", Path(tmp) / "out.wav"
        src.write_bytes(data)
        subprocess.run(["wvunpack", "-q", "-y", str(src), "-o", str(dst)], check=True, capture_output=True)
        return _mono(dst)


def hydrogen() -> Iterator[Recording]:
    stanzas = copyright_licences("hydrogen-drumkits")
    for kit in sorted(p for p in HYDROGEN.iterdir() if p.is_dir()):
        licence = licence_of(stanzas, f"drumkits/{kit.name}.h2drumkit")
        if not licence:  # the copyright file points at the kit's own drumkit.xml
            m = re.search(r"<license>([^<]*)</license>", (kit / "drumkit.xml").read_text(errors="replace"))
            licence = m.group(1).strip() if m else "unknown"
        instrument = SAME_KIT.get(kit.name, re.sub(r"[^a-z0-9]+", "-", kit.name.lower()).strip("-"))
        for f in sorted(kit.iterdir()):
            if f.suffix.lower() in (".wav", ".flac", ".aiff", ".aif"):
                wave, rate = _mono(f)
                yield Recording("hydrogen-drumkits", instrument, "drums", licence, f"{kit.name}/{f.name}", wave, rate)


def avldrums(rate: int) -> Iterator[Recording]:
    import fluidsynth

    licence = licence_of(copyright_licences("avldrums.lv2-soundfont"), "sf2/x.sf2")
    for instrument, font in AVL.items():
        synth = fluidsynth.Synth(gain=1.0, samplerate=float(rate))
        synth.setting("synth.reverb.active", 0)
        synth.setting("synth.chorus.active", 0)
        sfid = synth.sfload(font)
        for key in range(35, 82):
            for velocity in (32, 64, 96, 127):
                synth.system_reset()
                synth.program_select(0, sfid, 0, 0)
                synth.noteon(0, key, velocity)
                held = synth.get_samples(2 * rate)
                synth.noteoff(0, key)
                tail = synth.get_samples(rate)
                wave = np.concatenate([held, tail]).astype(np.float32).reshape(-1, 2).mean(axis=1) / 32768.0
                origin = f"{Path(font).name} key {key} velocity {velocity}"
                yield Recording("avldrums.lv2-soundfont", instrument, "drums", licence, origin, wave, rate)
        synth.delete()


def grandorgue() -> Iterator[Recording]:
    stanzas = copyright_licences("grandorgue-demo")
    for package in sorted(ORGUE.glob("*.orgue")):
        licence = licence_of(stanzas, f"packages/{package.name}")
        with zipfile.ZipFile(package) as z:
            for name in sorted(z.namelist()):
                stop = name.split("/")[0]
                if name.lower().endswith(".wav") and "/" in name and stop not in ("Sounds", "Images"):
                    wave, rate = _wavpack(z.read(name))
                    yield Recording("grandorgue-demo", stop.lower(), "organ", licence, name, wave, rate)


def sonic_pi() -> Iterator[Recording]:
    stanzas = copyright_licences("sonic-pi-samples")
    for f in sorted(SONIC_PI.glob("*.flac")):
        licence = licence_of(stanzas, f"etc/samples/{f.name}") or "unknown"
        wave, rate = _mono(f)
        yield Recording("sonic-pi-samples", f.name.split("_")[0], "mixed", licence, f.name, wave, rate)


HELD_WHOLE = {"sonic-pi-samples"}
NOTE_LICENCES = {
    "FluidR3_GM.sf2": ("fluid-soundfont-gm", "MIT"),
    "MuseScore_General_Lite.sf3": ("musescore-general-soundfont-small", "MIT (parts PD or CC0)"),
    "TimGM6mb.sf2": ("timgm6mb-soundfont", "GPL-2"),
}
"""The rendered notes' soundfonts: package and licence (from ``/usr/share/doc/PKG/copyright``; two of
the three are not machine-readable)."""


def note_sources(notes: Path) -> dict[str, dict]:
    """``sources.json`` entries for the rendered notes of ``tools/render_corpus.py``, per soundfont."""
    import soundfile as sf

    out: dict[str, dict] = {}
    for key, ex in json.loads((notes / "examples.json").read_text()).items():
        package, licence = NOTE_LICENCES[ex["soundfont"]]
        s = out.setdefault(
            package,
            {
                "package": package,
                "version": package_version(package),
                "copyright": f"/usr/share/doc/{package}/copyright",
                "licences": {licence: 0},
                "kind": "rendered notes (tools/render_corpus.py)",
                "files": 0,
                "clips": 0,
                "seconds": 0.0,
                "split": {"train": {"clips": 0, "seconds": 0.0}, "valid": {"clips": 0, "seconds": 0.0}},
                "held_out_instruments": [],
                "held_out_whole": False,
            },
        )
        seconds = sf.info(str(notes / "audio" / f"{key}.wav")).duration
        s["licences"][licence] += 1
        for bucket in (s, s["split"][ex["split"]]):
            bucket["clips"] += 1
            bucket["seconds"] += seconds
        s["files"] += 1
        if ex["split"] != "train" and ex["instrument_str"] not in s["held_out_instruments"]:
            s["held_out_instruments"].append(ex["instrument_str"])
    return out


def frame_db(wave: np.ndarray) -> np.ndarray:
    """Mean-square level (dB) of each ``FRAME``-sample frame; the last one zero-padded."""
    n = max(1, -(-len(wave) // FRAME))
    frames = np.pad(wave, (0, n * FRAME - len(wave))).reshape(n, FRAME)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)


def clips(wave: np.ndarray, rate: int, clip_s: float, max_clips: int) -> list[tuple[float, np.ndarray]]:
    """(start in s, samples) of the non-silent clips of one recording."""
    levels = frame_db(wave)
    loud = np.nonzero((levels > levels.max() + TRIM_DB) & (levels > ABS_FLOOR_DB))[0]
    if len(loud) == 0:
        return []
    lo, hi = int(loud[0]) * FRAME, min(len(wave), (int(loud[-1]) + 1) * FRAME)
    size, least = int(round(clip_s * rate)), int(0.5 * rate)
    out = []
    for start in range(lo, hi, size):
        piece = wave[start : min(start + size, hi)]
        if len(piece) < least and out:
            break
        if frame_db(piece).max() < SILENT_DB:
            continue
        out.append((start / rate, piece))
        if len(out) == max_clips:
            break
    return out


def _unit(text: str) -> float:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") / 2**64


def held_instruments(by_source: dict[str, set[str]], fraction: float, seed: int) -> set[str]:
    """A seeded ~``fraction`` of each source's instruments (at least one where it has two or more);
    all of a source held out whole."""
    held: set[str] = set()
    for source, instruments in sorted(by_source.items()):
        if source in HELD_WHOLE:
            held |= instruments
            continue
        ranked = sorted(instruments, key=lambda i: _unit(f"{seed}:{i}"))
        if len(ranked) >= 2:
            held |= set(ranked[: max(1, round(fraction * len(ranked)))])
    return held


def _names(names: list[str]) -> str:
    return ", ".join(names) if 0 < len(names) <= 5 else f"{len(names)} instruments"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cut real recordings from Debian packages into clips.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--clip", type=float, default=4.0, help="seconds per clip at most")
    parser.add_argument("--max-per-file", type=int, default=6)
    parser.add_argument("--holdout", type=float, default=0.15, help="fraction of each source's instruments held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    parser.add_argument("--notes", type=Path, help="list the rendered notes in this folder in sources.json too")
    args = parser.parse_args(argv)
    import soundfile as sf

    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            sys.exit(f"real_corpus: {args.out} is not empty; use --force to replace it")
        shutil.rmtree(args.out)
    (args.out / "audio").mkdir(parents=True)
    started = time.perf_counter()
    versions = {
        p: package_version(p)
        for p in ("hydrogen-drumkits", "avldrums.lv2-soundfont", "grandorgue-demo", "sonic-pi-samples")
    }

    pending: list[tuple[Recording, list[tuple[float, np.ndarray]]]] = []
    for rec in itertools.chain(hydrogen(), avldrums(args.rate), grandorgue(), sonic_pi()):
        wave = np.asarray(resample_torch(rec.wave, rec.rate, args.rate), dtype=np.float32)
        pending.append((rec, clips(wave, args.rate, args.clip, args.max_per_file)))
        rec.wave = np.empty(0, dtype=np.float32)  # the clips hold what is kept

    by_source: dict[str, set[str]] = {}
    for rec, _ in pending:
        by_source.setdefault(rec.package, set()).add(rec.instrument)
    held = held_instruments(by_source, args.holdout, args.seed)

    examples: dict[str, dict] = {}
    sources: dict[str, dict] = {}
    for rec, cut in pending:
        s = sources.setdefault(
            rec.package,
            {
                "package": rec.package,
                "version": versions[rec.package],
                "copyright": f"/usr/share/doc/{rec.package}/copyright",
                "licences": {},
                "instruments": {},
                "files": 0,
                "files_without_clips": 0,
                "clips": 0,
                "seconds": 0.0,
                "split": {"train": {"clips": 0, "seconds": 0.0}, "valid": {"clips": 0, "seconds": 0.0}},
            },
        )
        split = "valid" if rec.instrument in held else "train"
        s["files"] += 1
        s["files_without_clips"] += not cut
        s["licences"][rec.licence] = s["licences"].get(rec.licence, 0) + 1
        inst = s["instruments"].setdefault(rec.instrument, {"split": split, "licences": [], "clips": 0, "seconds": 0.0})
        if rec.licence not in inst["licences"]:
            inst["licences"].append(rec.licence)
        for start, piece in cut:
            key = f"{rec.package.split('.')[0].split('-')[0]}-{rec.instrument}-{len(examples):05d}"
            sf.write(
                args.out / "audio" / f"{key}.wav", np.clip(piece, -1.0, 32767 / 32768), args.rate, subtype="PCM_16"
            )
            seconds = len(piece) / args.rate
            examples[key] = {
                "note_str": key,
                "instrument_str": rec.instrument,
                "instrument_family_str": rec.family,
                "instrument_source_str": "recorded",
                "sample_rate": args.rate,
                "split": split,
                "package": rec.package,
                "package_version": versions[rec.package],
                "license": rec.licence,
                "origin": rec.origin,
                "start_s": round(start, 3),
                "seconds": round(seconds, 3),
            }
            for bucket in (s, inst, s["split"][split]):
                bucket["clips"] += 1
                bucket["seconds"] += seconds
    for s in sources.values():
        s["kind"] = "recordings (tools/real_corpus.py)"
        s["held_out_instruments"] = sorted(i for i, v in s["instruments"].items() if v["split"] == "valid")
        s["held_out_whole"] = s["package"] in HELD_WHOLE
    if args.notes:
        sources = note_sources(args.notes) | sources
    (args.out / "examples.json").write_text(json.dumps(examples, indent=1, sort_keys=True))
    (args.out / "sources.json").write_text(json.dumps(sources, indent=1, sort_keys=True))
    splits = {
        k: sorted({e["instrument_str"] for e in examples.values() if e["split"] == k}) for k in ("train", "valid")
    }
    (args.out / "splits.json").write_text(json.dumps(splits, indent=1))
    took = time.perf_counter() - started
    for s in sources.values():
        print(
            f"{s['package']} {s['version']}: {s['files']} files -> {s['clips']} clips, {s['seconds'] / 60:.1f} min "
            f"(train {s['split']['train']['clips']}, held out {s['split']['valid']['clips']}: "
            f"{'the whole source' if s['held_out_whole'] else _names(s['held_out_instruments'])})"
        )
    real = sum(s["seconds"] for s in sources.values() if s["kind"].startswith("recordings"))
    line = f"{len(examples)} clips, {real / 3600:.2f} h of audio at {args.rate} Hz in {args.out}, in {took:.0f} s"
    if args.notes:
        notes = sum(s["clips"] for s in sources.values() if not s["kind"].startswith("recordings"))
        total = sum(s["seconds"] for s in sources.values())
        line += f"; with the {notes} notes of {args.notes}: {total / 3600:.2f} h"
    print(line)


if __name__ == "__main__":
    main()
