#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with mnemoplug and every extra, for
# development (tests, examples, benchmarks).
#
#   bash scripts/setup.sh            # then: .venv/bin/mnemoplug demo ; .venv/bin/pytest
#
# torch is installed first, pinned to the CPU build 2.13.0: installing sentence-transformers
# first would pull torch's CUDA build (gigabytes). Set PYTHON to choose the interpreter and
# VENV to choose the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${VENV:-.venv}"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
# the dashboard's browser test drives Debian's Chromium through Playwright (no browser download):
# install it when it is missing and apt-get can be used (as root)
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
"$VENV/bin/python" -c "import mnemoplug, torch, sentence_transformers; print('mnemoplug', mnemoplug.__version__, 'ready in $VENV (torch', torch.__version__ + ')')"
