#!/usr/bin/env bash
# Rebuild the default model's training corpus on a fresh Debian machine, in one command:
#   bash tools/build_corpus.sh OUT [--count 10000] [--seed 0] [--rate 16000]
# Installs FluidSynth and the three General MIDI soundfonts (apt) and pyfluidsynth (into .venv), then
# renders the NSynth-like corpus with tools/render_corpus.py (about 5 minutes on 2 cores at 16 kHz;
# --rate 44100 renders the same notes at 44.1 kHz for the full-band model).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: build_corpus.sh OUT [render_corpus.py options]}
shift
if ! dpkg -s fluidsynth fluid-soundfont-gm musescore-general-soundfont-small timgm6mb-soundfont >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth libfluidsynth3 fluid-soundfont-gm \
    musescore-general-soundfont-small timgm6mb-soundfont
fi
[ -x .venv/bin/python ] || bash tools/setup.sh
.venv/bin/python -m pip install -q pyfluidsynth
.venv/bin/python tools/render_corpus.py "$out" "$@"
