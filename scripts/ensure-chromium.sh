#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/e2e), which drive it with
# Playwright through its executable path: Playwright never downloads a browser of its own here.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
  echo "Chromium is not installed: installing it with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
# Check that it starts (Debian's launcher script prints harmless noise on stderr).
version=$("$CHROMIUM" --version 2>/dev/null) || {
  echo "error: $CHROMIUM does not run" >&2
  exit 1
}
echo "$version at $CHROMIUM"
