#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what the tests need, then run them.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k linreg`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests (driven by Playwright for Python; never `playwright install`).
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

# The CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build.
python3 -m pip install --quiet --disable-pip-version-check torch==2.13.0
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check app tests bench
ruff format --check app tests bench
python3 -m pytest "$@"
