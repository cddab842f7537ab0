#!/usr/bin/env bash
# Build the full-band model's corpus (issue 14) on a fresh Debian machine, offline but for apt, in one command:
#   bash tools/build_fullband_corpus.sh OUT [--count 5000] [--seed 0]
# OUT/notes: General MIDI notes rendered at 44.1 kHz by tools/render_corpus.py (--count notes, seed)
# OUT/real:  real recordings from Debian packages with free licences, cut into clips of at most 4 s at 44.1 kHz
#            by tools/real_corpus.py: hydrogen-drumkits, avldrums.lv2-soundfont, grandorgue-demo, and
#            sonic-pi-samples (held out whole: never trained on); OUT/real/sources.json lists every source
#            (the soundfonts of OUT/notes too) with package, version, licence, files, clips, seconds and split.
# Both are NSynth-like folders (audio/*.wav + examples.json with a per-example split): train with
#   specblur train OUT/notes OUT/real --preset fullband ...   (tools/train_fullband.sh)
# An OUT/notes that is already complete (its examples.json exists) is kept; OUT/real is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: build_fullband_corpus.sh OUT [--count 5000] [--seed 0]}
shift
count=5000
seed=0
while [ $# -gt 0 ]; do
  case $1 in
    --count) count=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "build_fullband_corpus.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
packages=(hydrogen-drumkits avldrums.lv2-soundfont grandorgue-demo sonic-pi-samples wavpack)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
started=$(date +%s)
mkdir -p "$out"
if [ -f "$out/notes/examples.json" ]; then
  echo "keeping the notes already rendered in $out/notes"
else
  bash tools/build_corpus.sh "$out/notes" --count "$count" --seed "$seed" --rate 44100 --force
fi
.venv/bin/python tools/real_corpus.py "$out/real" --rate 44100 --seed "$seed" --notes "$out/notes" --force
echo "corpus in $out: $(du -sh "$out" | cut -f1) on disk, $(( $(date +%s) - started )) s"
