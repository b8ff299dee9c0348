#!/usr/bin/env bash
# Make sure a headless browser is here for the report's screenshot test: Debian's Chromium and an emoji font
# (push titles carry emoji). Installed with apt-get when running as root; otherwise says what to install.
set -euo pipefail
LOG_DIR="${NUDGE_LOCAL_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.local}/logs"
have() { command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "color emoji"; }
have && exit 0
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  mkdir -p "$LOG_DIR"
  echo "[browser] installing chromium and fonts-noto-color-emoji (once, for the report screenshot test)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji) \
    >"$LOG_DIR/apt-browser.log" 2>&1 || { tail -20 "$LOG_DIR/apt-browser.log" >&2; echo "[browser] ERROR: apt-get failed" >&2; exit 1; }
  exit 0
fi
echo "[browser] ERROR: chromium (and an emoji font) are needed for the report screenshot test:" \
     "apt-get install chromium fonts-noto-color-emoji, or set NUDGE_TEST_CHROMIUM to a Chromium binary" >&2
exit 1
