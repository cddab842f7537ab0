"""Render an NSynth-like corpus of instrument notes offline with FluidSynth (a developer tool).

NSynth was made by playing notes from sample libraries; this does the same with the General MIDI
soundfonts Debian ships. Each note: 4 s at 16 kHz (``--rate``: any rate, e.g. 44100 for the full-band
model) mono 16-bit (held 3 s, released to 4 s, trimmed to exactly 4 s of samples, 64,000 at 16 kHz;
FluidSynth renders stereo, which is averaged), reverb and chorus off,
synth gain 1.0 (FluidSynth's default is very quiet), pitches 24-96, velocities 25/50/75/100/127, GM
programs 0-111 of each soundfont. An *instrument* is one (soundfont, program) pair. Notes quieter
than -60 dB RMS are dropped. ``--count`` notes are drawn from the full grid with ``--seed``; the
held-out split is by instrument (a seeded ~10% of instruments), written per note as ``split`` and in
``splits.json``.

Determinism: a FluidSynth synth that has already played a note does not render the next one
bit-exactly as a fresh synth would, so each (soundfont, program) group gets a fresh synth and its
notes are played in sorted order: the corpus depends only on ``--seed`` and ``--count``.

Family and source follow NSynth's names, mapped from the GM program:
pianos keyboard (electric pianos electronic), chromatic percussion mallet, organs organ (drawbar,
percussive, rock electronic), guitars guitar (electric ones electronic), basses bass (electric
electronic, synth basses synthetic), strings/ensembles string (synth strings synthetic; harp string,
timpani mallet), choirs and voices vocal, brass brass (synth brass synthetic), reeds reed, pipes
flute, synth leads/pads/effects synth_lead (synthetic), ethnic instruments by kind.

Setup (Debian): ``apt-get install fluidsynth libfluidsynth3 fluid-soundfont-gm
musescore-general-soundfont-small timgm6mb-soundfont`` and ``pip install pyfluidsynth``.
Run: ``python tools/render_corpus.py OUT [--count 10000] [--seed 0] [--rate 16000]``. The rate changes only
how the notes are sampled: the same seed and count draw the same notes and the same held-out instruments
at every rate.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SOUNDFONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "musescore": "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "timgm6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
}
FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal"]
SOURCES = ["acoustic", "electronic", "synthetic"]
PITCHES = range(24, 97)
VELOCITIES = (25, 50, 75, 100, 127)
RATE = 16000
HOLD_S, TOTAL_S = 3, 4
SILENT_DB = -60.0


def family_source(program: int) -> tuple[str, str]:
    """NSynth family and source of a General MIDI program (0-111)."""
    p = program
    if p < 8:
        return "keyboard", "electronic" if p in (2, 4, 5, 6, 7) else "acoustic"
    if p < 16:
        return "mallet", "acoustic"
    if p < 24:
        if p == 22:
            return "reed", "acoustic"
        return "organ", "electronic" if p in (16, 17, 18) else "acoustic"
    if p < 32:
        return "guitar", "acoustic" if p in (24, 25) else "electronic"
    if p < 40:
        return "bass", "acoustic" if p == 32 else ("synthetic" if p in (38, 39) else "electronic")
    if p < 56:
        if p == 47:
            return "mallet", "acoustic"
        if p in (52, 53):
            return "vocal", "acoustic"
        if p == 54:
            return "vocal", "synthetic"
        return "string", "synthetic" if p in (50, 51, 55) else "acoustic"
    if p < 64:
        return "brass", "synthetic" if p in (62, 63) else "acoustic"
    if p < 72:
        return "reed", "acoustic"
    if p < 80:
        return "flute", "acoustic"
    if p < 104:
        return "synth_lead", "synthetic"
    ethnic = {104: "guitar", 105: "guitar", 106: "guitar", 107: "string", 108: "mallet", 109: "reed", 110: "string"}
    return ethnic.get(p, "reed"), "acoustic"


def render_group(task: tuple[str, int, list[tuple[int, int]], int]) -> list[tuple[int, int, np.ndarray | None]]:
    """Render the (pitch, velocity) notes of one (soundfont, program) at ``rate`` with a fresh synth."""
    import fluidsynth

    font, program, notes, rate = task
    synth = fluidsynth.Synth(gain=1.0, samplerate=float(rate))
    synth.setting("synth.reverb.active", 0)
    synth.setting("synth.chorus.active", 0)
    sfid = synth.sfload(SOUNDFONTS[font])
    synth.program_select(0, sfid, 0, program)
    out = []
    for pitch, velocity in sorted(notes):
        synth.system_reset()
        synth.program_select(0, sfid, 0, program)
        synth.noteon(0, pitch, velocity)
        held = synth.get_samples(HOLD_S * rate)
        synth.noteoff(0, pitch)
        tail = synth.get_samples((TOTAL_S - HOLD_S) * rate)
        stereo = np.concatenate([held, tail]).astype(np.float32).reshape(-1, 2)
        mono = stereo.mean(axis=1)[: TOTAL_S * rate] / 32768.0
        rms_db = 10 * np.log10(float(np.mean(mono**2)) + 1e-20)
        out.append((pitch, velocity, None if rms_db < SILENT_DB else np.clip(mono, -1.0, 32767 / 32768)))
    synth.delete()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render an NSynth-like corpus with FluidSynth.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction of instruments held out")
    parser.add_argument("--rate", type=int, default=RATE, help="sample rate of the notes (Hz)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    args = parser.parse_args(argv)
    import soundfile as sf

    missing = [p for p in SOUNDFONTS.values() if not Path(p).is_file()]
    if missing:
        sys.exit(f"render_corpus: missing soundfonts {missing}; install the Debian packages in the docstring")
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            sys.exit(f"render_corpus: {args.out} is not empty; use --force to replace it")
        shutil.rmtree(args.out)
    (args.out / "audio").mkdir(parents=True)

    rng = random.Random(args.seed)
    instruments = [(font, program) for font in SOUNDFONTS for program in range(112)]
    held = set(rng.sample(instruments, max(1, round(args.holdout * len(instruments)))))
    grid = [(f, p, pitch, v) for f, p in instruments for pitch in PITCHES for v in VELOCITIES]
    chosen = rng.sample(grid, min(args.count, len(grid)))
    groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for font, program, pitch, velocity in chosen:
        groups.setdefault((font, program), []).append((pitch, velocity))
    tasks = [(font, program, notes, args.rate) for (font, program), notes in sorted(groups.items())]

    started = time.perf_counter()
    examples: dict[str, dict] = {}
    dropped = 0
    index = {inst: i for i, inst in enumerate(instruments)}
    with ProcessPoolExecutor(args.workers) as pool:
        for (font, program, _, _), rendered in zip(tasks, pool.map(render_group, tasks), strict=True):
            family, source = family_source(program)
            inst = index[(font, program)]
            inst_str = f"{family}_{source}_{inst:03d}"
            for pitch, velocity, wave in rendered:
                if wave is None:
                    dropped += 1
                    continue
                key = f"{inst_str}-{pitch:03d}-{velocity:03d}"
                sf.write(args.out / "audio" / f"{key}.wav", wave, args.rate, subtype="PCM_16")
                examples[key] = {
                    "note_str": key,
                    "note": len(examples),
                    "instrument": inst,
                    "instrument_str": inst_str,
                    "instrument_family": FAMILIES.index(family),
                    "instrument_family_str": family,
                    "instrument_source": SOURCES.index(source),
                    "instrument_source_str": source,
                    "pitch": pitch,
                    "velocity": velocity,
                    "sample_rate": args.rate,
                    "qualities": [0] * 10,
                    "qualities_str": [],
                    "soundfont": Path(SOUNDFONTS[font]).name,
                    "program": program,
                    "split": "valid" if (font, program) in held else "train",
                }
    (args.out / "examples.json").write_text(json.dumps(examples, indent=1, sort_keys=True))
    splits = {
        "valid": sorted(e["instrument_str"] for e in examples.values() if e["split"] == "valid"),
        "train": sorted(e["instrument_str"] for e in examples.values() if e["split"] == "train"),
    }
    splits = {k: sorted(set(v)) for k, v in splits.items()}
    (args.out / "splits.json").write_text(json.dumps(splits, indent=1))
    took = time.perf_counter() - started
    print(
        f"rendered {len(examples)} notes ({dropped} dropped as quieter than {SILENT_DB:.0f} dB RMS) from "
        f"{len(tasks)} instruments into {args.out} in {took:.0f} s"
    )


if __name__ == "__main__":
    main()
