#!/usr/bin/env bash
# Create ./.venv and install specblur with its test tools into it (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
# sox: the integrity tests read every output back with soxi as well as with soundfile
if ! command -v soxi >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq sox >/dev/null
  else
    echo "setup: sox is missing (the tests use soxi): install it, e.g. sudo apt-get install sox" >&2
  fi
fi
# chromium: the editor's browser tests drive the distribution's Chromium with Playwright (Playwright's
# own browser download is not used)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing (the editor's browser tests use it): install it, e.g. sudo apt-get install chromium" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,test]"
