# Shared helpers for deploy/local/<name>.sh. Sourced, not executed.
# The caller sets NAME, ROOT, VAR before sourcing; we derive the per-component
# directory, pid file and log file so every script handles them the same way.

DIR="$VAR/$NAME"
PIDFILE="$DIR/$NAME.pid"
LOG="$DIR/$NAME.log"
mkdir -p "$DIR"
# Logs are appended across restarts; keep one previous generation past 50 MB.
if [[ -f "$LOG" ]] && (( $(stat -c %s "$LOG") > 50000000 )); then mv -f "$LOG" "$LOG.1"; fi

die() { echo "$NAME: $*" >&2; exit 1; }
log() { echo "$NAME: $*" >&2; }

# Pid recorded by our own `start`, if that process is still alive. The cmdline
# check guards against a recycled pid after a reboot or a crash.
our_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PID_MATCH" || return 1
  echo "$pid"
}

# Poll `$@` until it succeeds; on timeout (or if our process died) show the
# log tail so the failure is diagnosable from CI output alone.
wait_ready() {
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! our_pid >/dev/null; then
      log "process exited during startup; last log lines ($LOG):"
      tail -n 40 "$LOG" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "not ready after ${timeout}s; last log lines ($LOG):"
      tail -n 40 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

# SIGTERM our process (graceful shutdown flushes data), wait for it to exit,
# SIGKILL only as a last resort.
stop_ours() {
  local timeout="${1:-60}" pid
  if ! pid="$(our_pid)"; then
    rm -f "$PIDFILE"; log "not running"; return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"; log "stopped (pid $pid)"
}

# apt-get install as root (or via sudo). Refresh the package lists only when
# they are missing or stale (an install that fails is retried after update).
apt_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q
    -o DPkg::Lock::Timeout=600)  # `infra.sh fetch` may run two installs at once
  [[ $EUID -eq 0 ]] || apt=(sudo "${apt[@]}")
  log "apt-get install $*"
  if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null \
     || ! "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null; then
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null
  fi
}

# Random alphanumeric secret (no shell/URL-special characters to escape).
gen_secret() { head -c 1024 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "${1:-24}"; }

# Is a TCP port on 127.0.0.1 accepting connections? (bash /dev/tcp, no nc needed)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# `status`: exit 0 only if our process is alive and answers its readiness check.
do_status() {
  local pid
  pid="$(our_pid)" || { log "stopped"; return 1; }
  ready >/dev/null 2>&1 || { log "running (pid $pid) but not ready"; return 1; }
  log "running (pid $pid), ready"
}

# Dispatch the standard verbs to functions do_fetch/do_start/... in the caller.
main() {
  case "${1:-}" in
    fetch|start|stop|status|env) "do_$1" ;;
    *) echo "usage: $0 fetch|start|stop|status|env" >&2; exit 2 ;;
  esac
}
