#!/usr/bin/env bash
# Local Consul agent in dev mode (single in-memory server) on 127.0.0.1:18500.
# Usage: deploy/local/consul.sh fetch|start|stop|status|env
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VAR="$ROOT/var"
NAME=consul
PID_MATCH="bin/consul agent -dev"
source "$ROOT/deploy/local/_lib.sh"

# HashiCorp ships Consul binaries only outside the package registries, so we
# build it from the Go module proxy through the launcher module in
# deploy/local/consul/ (go.mod pins the version, go.sum makes it reproducible;
# see the comments in go.mod for why `go install github.com/hashicorp/consul@v`
# does not work on its own). The first build takes several CPU-minutes.
SRC="$ROOT/deploy/local/consul"
BIN="$DIR/bin/consul"
CONSUL_VERSION="$(awk '$1 == "github.com/hashicorp/consul" { print $2; exit }' "$SRC/go.mod")"
[[ -n "$CONSUL_VERSION" ]] || die "no github.com/hashicorp/consul requirement in $SRC/go.mod"

HTTP_PORT=18500
ADDR="127.0.0.1:$HTTP_PORT"

# Was binary $1 built from the pinned Consul version? (reads embedded build info)
is_pinned() {
  [[ -x "$1" ]] && go version -m "$1" 2>/dev/null \
    | grep -q "dep[[:space:]]*github.com/hashicorp/consul[[:space:]]*${CONSUL_VERSION}[[:space:]]"
}

do_fetch() {
  command -v go >/dev/null || die "go toolchain not found (needed to build Consul)"
  if is_pinned "$BIN"; then return 0; fi
  log "building Consul $CONSUL_VERSION from the Go module proxy (several minutes the first time)"
  mkdir -p "$DIR/bin"
  # Default GOCACHE/GOMODCACHE are kept so a rebuild after `rm -rf var` is fast.
  # -mod=readonly: build exactly what go.mod/go.sum pin, never rewrite them.
  (cd "$SRC" && GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" .)
  mv -f "$BIN.tmp" "$BIN"
  log "built $("$BIN" version | head -n 1) at $BIN"
}

# Ready = the agent answers over HTTP and has elected itself raft leader
# (the body is a quoted address such as "127.0.0.1:18300", or "" before that).
ready() {
  curl -fsS --max-time 2 "http://$ADDR/v1/status/leader" | grep -Eq '^"[^"]+"$'
}

do_start() {
  do_fetch
  if our_pid >/dev/null; then
    wait_ready 60 ready; log "already running"; return 0
  fi
  if port_open "$HTTP_PORT"; then
    die "port $HTTP_PORT is already in use by a process this script did not start"
  fi
  # Dev mode keeps the catalog in memory; start each run from an empty data dir
  # so service registrations from an earlier run are not restored.
  rm -rf "$DIR/data"; mkdir -p "$DIR/data"
  # Every listener on loopback and off Consul's default ports, so this can run
  # next to a developer's own agent. gRPC-TLS (default 8503 for servers) is off.
  # Dev mode never runs the update check, so nothing phones home.
  nohup "$BIN" agent -dev \
    -node local-dev \
    -bind 127.0.0.1 -client 127.0.0.1 \
    -http-port "$HTTP_PORT" -grpc-port 18502 -grpc-tls-port=-1 -dns-port 18600 \
    -serf-lan-port 18301 -serf-wan-port 18302 -server-port 18300 \
    -data-dir "$DIR/data" -log-level info \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready 60 ready
  log "ready on http://$ADDR (UI http://$ADDR/ui)"
}

do_stop() { stop_ours 30; }

do_env() { echo "export CONSUL_HTTP_ADDR=$ADDR"; }

main "$@"
