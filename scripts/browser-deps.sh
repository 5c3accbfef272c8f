#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/test_browser.py drives it with Playwright;
# Playwright's own browser downloads are never used). Idempotent: does nothing when
# /usr/bin/chromium exists. Installing needs root (or sudo) and apt.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "browser-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) is installed at /usr/bin/chromium"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null; then
  SUDO="sudo"
else
  echo "browser-deps: /usr/bin/chromium is missing and installing it needs root: run" >&2
  echo "  apt-get update && apt-get install -y chromium chromium-driver" >&2
  exit 1
fi

echo "browser-deps: /usr/bin/chromium is missing; installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium chromium-driver
echo "browser-deps: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
