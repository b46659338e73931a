#!/usr/bin/env bash
# Local MinIO (S3-compatible object store) on 127.0.0.1:19000 (console :19001).
# Overrides for a second, private instance: ZSB_INFRA_VAR, MINIO_PORT, MINIO_CONSOLE_PORT.
# Usage: deploy/local/minio.sh fetch|start|stop|status|env
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# ZSB_INFRA_VAR: another directory for data, logs, pid files and secrets (a private set,
# e.g. for fault tests); fetched jars and binaries stay in $ROOT/var.
VAR="${ZSB_INFRA_VAR:-$ROOT/var}"
NAME=minio
PID_MATCH="minio server"
# shellcheck source=_lib.sh disable=SC2034  # _lib.sh uses NAME, VAR, PID_MATCH
source "$ROOT/deploy/local/_lib.sh"

# MinIO publishes no semver tags (its RELEASE.* tags are not served by the Go
# module proxy), so we pin the pseudo-version of a master commit; `go install`
# from source is MinIO's documented install for Go users. Newest available:
#   go list -m github.com/minio/minio@latest
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
API="127.0.0.1:${MINIO_PORT:-19000}"
CONSOLE="127.0.0.1:${MINIO_CONSOLE_PORT:-19001}"
GOBIN_DIR="$ROOT/var/go/bin"
SECRETS="$DIR/secrets.env"
PATH="$PATH:/usr/local/go/bin"  # the Go toolchain's usual place, if not on PATH

# Does binary $1 come from the pinned module version? (reads embedded build info)
is_pinned() { [[ -x "$1" ]] && go version -m "$1" 2>/dev/null | grep -q "mod[[:space:]]*github.com/minio/minio[[:space:]]*$MINIO_VERSION"; }

do_fetch() {
  # Reuse a pinned binary from ~/go/bin (a developer's own install) if present.
  if is_pinned "$GOBIN_DIR/minio"; then return 0; fi
  if is_pinned "$HOME/go/bin/minio"; then
    mkdir -p "$GOBIN_DIR"; ln -sf "$HOME/go/bin/minio" "$GOBIN_DIR/minio"; return 0
  fi
  command -v go >/dev/null || die "go toolchain not found (needed to build MinIO)"
  log "building github.com/minio/minio@$MINIO_VERSION (takes a few minutes the first time)"
  # Default GOCACHE/GOMODCACHE are kept so a rebuild after `rm -rf var` is fast.
  mkdir -p "$GOBIN_DIR"
  # -s -w: no symbol/debug tables (smaller binary, faster link); the module
  # build info that is_pinned reads is kept.
  GOBIN="$GOBIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
    go install -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION"
}

load_secrets() {
  if [[ ! -f "$SECRETS" ]]; then
    # Generated once per checkout; kept in the git-ignored var/ only.
    (umask 077; printf 'MINIO_ROOT_USER=%s\nMINIO_ROOT_PASSWORD=%s\n' \
      "zsb$(gen_secret 12)" "$(gen_secret 32)" >"$SECRETS")
  fi
  chmod 600 "$SECRETS"
  # shellcheck disable=SC1090
  source "$SECRETS"
}

ready() { curl -fsS -o /dev/null --max-time 2 "http://$API/minio/health/ready"; }

do_start() {
  do_fetch
  load_secrets
  if our_pid >/dev/null; then
    wait_ready 60 ready; log "already running"; return 0
  fi
  mkdir -p "$DIR/data"
  # MINIO_BROWSER stays on (console on loopback only); no update checks, no
  # phoning home: MINIO_UPDATE=off.
  MINIO_ROOT_USER="$MINIO_ROOT_USER" MINIO_ROOT_PASSWORD="$MINIO_ROOT_PASSWORD" \
  MINIO_UPDATE=off \
    nohup "$GOBIN_DIR/minio" server "$DIR/data" --address "$API" \
      --console-address "$CONSOLE" --quiet >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready 60 ready
  log "ready on http://$API (console http://$CONSOLE)"
}

do_stop() { stop_ours 30; }

do_env() {
  load_secrets
  echo "export MINIO_ENDPOINT=$API"
  echo "export MINIO_ACCESS_KEY=$MINIO_ROOT_USER"
  echo "export MINIO_SECRET_KEY=$MINIO_ROOT_PASSWORD"
  echo "export OBJECT_STORE_URL_MINIO=minio://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@$API"
}

main "$@"
