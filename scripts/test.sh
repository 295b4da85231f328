#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what the tests need, then run them.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k linreg`).
set -euo pipefail
cd "$(dirname "$0")/.."

# From Debian: Chromium for the browser tests (driven by Playwright for Python; never `playwright install`),
# redis-server for the scale-out tests (they start their own on 127.0.0.1 and a free port), and
# docker-compose, whose `config` validates the compose files without a Docker engine.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build.
python3 -m pip install --quiet --disable-pip-version-check torch==2.13.0
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check app tests bench
ruff format --check app tests bench
python3 -m pytest "$@"
