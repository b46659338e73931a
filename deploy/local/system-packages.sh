#!/usr/bin/env bash
# Debian packages the platform and its tests need beyond the OS image: a CJK font (PDFs and
# screenshots), Chromium for the browser tests, the MariaDB client. Idempotent and quick when present.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VAR="$ROOT/var"
NAME=system
source "$ROOT/deploy/local/_lib.sh"

PACKAGES=(chromium fonts-noto-cjk fonts-wqy-microhei poppler-utils)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi
