#!/usr/bin/env bash
# Set up everything on a fresh Debian-like machine (what `make setup` runs):
#   1. Chromium and ChromeDriver from Debian, for the browser check of the built site (skipped if present);
#   2. a virtual environment (default .venv) holding the package (editable), the book tooling (Jupyter Book 1.x)
#      and the test tooling, with torch pinned to 2.13.0 so that it takes the CPU wheel and no CUDA packages.
set -euo pipefail
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "setup: installing chromium and chromium-driver (Debian packages) for the browser check"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: no apt-get here; install Chromium and ChromeDriver yourself for the browser check" >&2
    echo "       (set CHROMIUM and CHROMEDRIVER to their paths if they are not on PATH)" >&2
  fi
fi

echo "setup: creating $VENV and installing the package with its book and test tooling"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
"$VENV/bin/python" -c "import collapse_utils, torch; print('setup: done; collapse_utils', collapse_utils.__version__, '/ torch', torch.__version__)"
