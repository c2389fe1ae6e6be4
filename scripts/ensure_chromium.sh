#!/usr/bin/env bash
# Browser tests use Debian's Chromium (never a downloaded browser build).
# Install it when missing and we are root; otherwise say loudly that the
# browser tests will be skipped.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
fi
echo "##########################################################################" >&2
echo "# WARNING: chromium is not installed and could not be installed here.    #" >&2
echo "# The browser tests will be SKIPPED. Install Debian's 'chromium' package. #" >&2
echo "##########################################################################" >&2
exit 0
