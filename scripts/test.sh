#!/usr/bin/env bash
# The one test command: set up, start the services the tests need, lint, run everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
scripts/browser-deps.sh
export GLOG_minloglevel=2 TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
