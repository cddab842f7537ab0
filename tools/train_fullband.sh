#!/usr/bin/env bash
# Train, measure and bundle the full-band model (issue 14), resumably, from the corpus of
# tools/build_fullband_corpus.sh:
#   bash tools/train_fullband.sh CORPUS [--name fullband] [--steps N] [--cooldown 0.2] [--bundle NAME] [--half]
# 1. specblur train CORPUS/notes CORPUS/real --preset fullband --cooldown F: the VQ-VAE-2 (a run stopped by
#    Ctrl-C, SIGTERM or a crash after an evaluation is continued: run the same command again, it adds --resume
#    when the data dir holds a saved run of NAME); then both priors fitted on its codes (Naive Bayes, then the
#    transformer, whose runs are resumable too).
# 2. tools/evaluate.py recon on the held-out notes (whole instruments), the held-out clips of real recordings
#    (whole kits and organ stops, and the whole of sonic-pi-samples) and on /usr/share/sonic-pi/samples as the
#    16 kHz model card measured it (first 4 s of each file): JSON in CORPUS/eval/NAME.*.json.
# 3. with --bundle NAME: tools/bundle_model.py writes models/NAME.pt, models/NAME.onnx.npz and models/MANIFEST.
# Set SPECBLUR_DATA_DIR to keep the run out of the default data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:?usage: train_fullband.sh CORPUS [--name fullband] [--steps N] [--cooldown 0.2] [--bundle NAME] [--half]}
shift
name=fullband
cooldown=0.2
steps=()
bundle=
half=()
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --steps) steps=(--steps "$2"); shift 2 ;;
    --cooldown) cooldown=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    --half) half=(--half); shift ;;
    *) echo "train_fullband.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for part in notes real; do
  [ -f "$corpus/$part/examples.json" ] || { echo "train_fullband.sh: no $corpus/$part/examples.json; run tools/build_fullband_corpus.sh $corpus" >&2; exit 2; }
done
py=.venv/bin/python
data_dir=$($py -c "from specblur import registry; print(registry.data_dir())")
resume=()
if [ -f "$data_dir/runs/$name.pt" ]; then
  resume=(--resume)
  echo "continuing the saved run $data_dir/runs/$name.pt"
fi
.venv/bin/specblur train "$corpus/notes" "$corpus/real" --preset fullband --name "$name" --cooldown "$cooldown" \
  "${steps[@]}" "${resume[@]}"
model="$data_dir/models/$name.pt"
mkdir -p "$corpus/eval"
$py tools/evaluate.py recon "$corpus/notes" --heldout --max-files 2000 --model "$model" --json "$corpus/eval/$name.notes.json"
$py tools/evaluate.py recon "$corpus/real" --heldout --max-files 2000 --model "$model" --json "$corpus/eval/$name.real.json"
$py tools/evaluate.py recon /usr/share/sonic-pi/samples --max-files 2000 --model "$model" \
  --json "$corpus/eval/$name.sonic-pi.json"
if [ -n "$bundle" ]; then
  $py tools/bundle_model.py "$model" "$bundle" "${half[@]}"
fi
echo "model $model; evaluations in $corpus/eval/$name.*.json"
