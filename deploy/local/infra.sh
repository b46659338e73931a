#!/usr/bin/env bash
# Run the local infrastructure scripts together.
# Usage: deploy/local/infra.sh fetch|up|down|status|env [names...]
#   names default to: kafka mariadb minio consul (a missing script is skipped)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# ZSB_INFRA_VAR: another directory for data, logs, pid files and secrets (a private set,
# e.g. for fault tests); fetched jars and binaries stay in $ROOT/var.
VAR="${ZSB_INFRA_VAR:-$ROOT/var}"
HERE="$ROOT/deploy/local"

verb="${1:-}"; shift || true
names=("$@"); [[ ${#names[@]} -gt 0 ]] || names=(kafka mariadb minio consul)
scripts=()
for n in "${names[@]}"; do
  if [[ -f "$HERE/$n.sh" ]]; then scripts+=("$n"); else echo "infra: no $n.sh, skipping $n" >&2; fi
done
mkdir -p "$VAR"

# Fetch in parallel: on a fresh machine the slow parts (MinIO's Go build is
# CPU-bound, apt and Maven are mostly network) overlap instead of adding up.
fetch_all() {
  local n pids=() failed=0
  for n in "${scripts[@]}"; do
    mkdir -p "$VAR/$n"
    bash "$HERE/$n.sh" fetch >"$VAR/$n/fetch.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      n="${scripts[$i]}"; failed=1
      echo "infra: fetch $n failed; output ($VAR/$n/fetch.log):" >&2
      tail -n 30 "$VAR/$n/fetch.log" >&2
    fi
  done
  return $failed
}

case "$verb" in
  fetch) fetch_all ;;
  up)
    fetch_all
    for n in "${scripts[@]}"; do bash "$HERE/$n.sh" start; done ;;
  down)
    # Reverse order: services that others depend on go last.
    for ((i=${#scripts[@]}-1; i>=0; i--)); do bash "$HERE/${scripts[$i]}.sh" stop; done ;;
  status)
    rc=0
    for n in "${scripts[@]}"; do bash "$HERE/$n.sh" status || rc=1; done
    exit $rc ;;
  env)
    # Contains passwords: written owner-only, atomically.
    tmp="$(mktemp "$VAR/infra.env.XXXXXX")"
    for n in "${scripts[@]}"; do bash "$HERE/$n.sh" env; done >"$tmp" || { rm -f "$tmp"; exit 1; }
    chmod 600 "$tmp"; mv "$tmp" "$VAR/infra.env"
    cat "$VAR/infra.env" ;;
  *) echo "usage: $0 fetch|up|down|status|env [names...]" >&2; exit 2 ;;
esac
