#!/usr/bin/env bash
# Front-end libraries, pinned in frontend/package-lock.json and installed with `npm ci`:
#   uPlot (the therapist's live charts) is vendored, with its licence, in
#   gateway/static/vendor/uplot/ so the pages work without npm; this script checks that
#   the vendored copy is the locked version and refreshes it when it is not.
#   axe-core (accessibility checks in tests/test_browser.py) stays in frontend/node_modules.
# Idempotent: runs npm only when the lockfile changed since the last install. Without npm
# it warns and carries on (the pages still work; the browser tests then fail clearly).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "frontend: npm is missing; the accessibility tests need it (install Node.js 20 and npm)" >&2
  exit 0
fi
stamp=frontend/node_modules/.telerehab-installed
if [ ! -f "$stamp" ] || [ frontend/package-lock.json -nt "$stamp" ]; then
  echo "frontend: npm ci (uPlot, axe-core)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
vendor=gateway/static/vendor/uplot
mkdir -p "$vendor"
for f in dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE; do
  src="frontend/node_modules/uplot/$f"
  if ! cmp -s "$src" "$vendor/$(basename "$f")"; then
    echo "frontend: refreshing $vendor/$(basename "$f") from the locked uPlot"
    cp "$src" "$vendor/"
  fi
done
