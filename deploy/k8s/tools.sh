#!/usr/bin/env bash
# Tools the deployment checks need, pinned and installed into var/go/bin from the Go module proxy.
#   bash deploy/k8s/tools.sh kustomize   -> prints the path of kustomize (installs it if needed)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/var/go/bin"
KUSTOMIZE_VERSION="v5.7.1"

die() { echo "tools.sh: $*" >&2; exit 1; }

kustomize() {
  local exe="$BIN/kustomize"
  if [[ -x "$exe" ]] && "$exe" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
    echo "$exe"; return
  fi
  command -v go >/dev/null || die "Go is needed to install kustomize $KUSTOMIZE_VERSION (or put it at $exe)"
  mkdir -p "$BIN"
  echo "tools.sh: installing kustomize $KUSTOMIZE_VERSION into $BIN" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2 \
    || die "go install of kustomize failed"
  "$exe" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION" || die "$exe is not $KUSTOMIZE_VERSION"
  echo "$exe"
}

case "${1:-}" in
  kustomize) kustomize ;;
  *) die "usage: $0 kustomize" ;;
esac
