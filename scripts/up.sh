#!/usr/bin/env bash
# The one run command: set up, then start Redis (if needed), gateway and analyzers and
# print the patient and therapist links.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export GLOG_minloglevel=2 TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/telerehab up "$@"
