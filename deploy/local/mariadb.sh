#!/usr/bin/env bash
# Local MariaDB on 127.0.0.1:13306 + socket var/mariadb/mysqld.sock, with its
# own datadir under var/ (never the system service or its /var/lib/mysql).
# Overrides for a second, private instance: ZSB_INFRA_VAR, MARIADB_PORT.
# Usage: deploy/local/mariadb.sh fetch|start|stop|status|env
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# ZSB_INFRA_VAR: another directory for data, logs, pid files and secrets (a private set,
# e.g. for fault tests); fetched jars and binaries stay in $ROOT/var.
VAR="${ZSB_INFRA_VAR:-$ROOT/var}"
NAME=mariadb
# shellcheck source=_lib.sh disable=SC2034  # _lib.sh uses NAME, VAR, PID_MATCH
source "$ROOT/deploy/local/_lib.sh"

CNF="$DIR/my.cnf"
SOCK="$DIR/mysqld.sock"
PORT="${MARIADB_PORT:-13306}"
SECRETS="$DIR/secrets.env"
# Matches only the mariadbd this checkout started, not a system one on 3306.
PID_MATCH="mariadbd --defaults-file=$CNF"
SERVICES=(auth registration identity payment preferences results)
PATH="$PATH:/usr/sbin"  # mariadbd lives there; not on a non-root user's PATH

do_fetch() {
  command -v mariadbd >/dev/null || apt_install mariadb-server mariadb-client
}

write_config() {
  # mariadbd refuses to run as root unless told to.
  local as_root=""; [[ $EUID -eq 0 ]] && as_root="user=root"
  cat >"$CNF" <<EOF
[mysqld]
datadir=$DIR/data
socket=$SOCK
pid-file=$DIR/mysqld.pid
log-error=$LOG
port=$PORT
bind-address=127.0.0.1
# Accounts are host-matched by IP (127.0.0.1) or socket (localhost): no DNS.
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=256M
# Dev/test server: flush the redo log once a second instead of per commit
# (survives a mariadbd crash, not an OS crash) - much faster test suites.
innodb_flush_log_at_trx_commit=2
$as_root

[client]
socket=$SOCK
default-character-set=utf8mb4
EOF
}

load_secrets() {
  touch "$SECRETS"; chmod 600 "$SECRETS"
  # Generate any missing password once (also covers services added later).
  local key
  for key in ADMIN "${SERVICES[@]^^}"; do
    key="ZSB_${key}_PW"
    grep -q "^$key=" "$SECRETS" || echo "$key=$(gen_secret 24)" >>"$SECRETS"
  done
  # shellcheck disable=SC1090
  source "$SECRETS"
}

# Local admin over the socket: the OS user that ran mariadb-install-db gets a
# passwordless unix_socket account (root@localhost when run as root).
sql() { mariadb --defaults-file="$CNF" -u "$(id -un)"; }
ready() { mariadb-admin --defaults-file="$CNF" -u "$(id -un)" --connect-timeout=2 ping; }

create_accounts() {
  local svc pw u
  {
    for svc in "${SERVICES[@]}"; do
      u="zsb_$svc"; pw="ZSB_${svc^^}_PW"; pw="${!pw}"
      echo "CREATE DATABASE IF NOT EXISTS \`$u\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
      for host in 127.0.0.1 localhost; do
        # CREATE IF NOT EXISTS + ALTER keeps grants and re-syncs the password.
        echo "CREATE USER IF NOT EXISTS '$u'@'$host' IDENTIFIED BY '$pw';"
        echo "ALTER USER '$u'@'$host' IDENTIFIED BY '$pw';"
        echo "GRANT ALL PRIVILEGES ON \`$u\`.* TO '$u'@'$host';"
      done
    done
    # Tests use the admin account to create scratch databases.
    for host in 127.0.0.1 localhost; do
      echo "CREATE USER IF NOT EXISTS 'zsb_admin'@'$host' IDENTIFIED BY '$ZSB_ADMIN_PW';"
      echo "ALTER USER 'zsb_admin'@'$host' IDENTIFIED BY '$ZSB_ADMIN_PW';"
      echo "GRANT ALL PRIVILEGES ON *.* TO 'zsb_admin'@'$host' WITH GRANT OPTION;"
    done
  } | sql
}

do_start() {
  do_fetch
  load_secrets
  if our_pid >/dev/null; then
    wait_ready 60 ready; create_accounts; log "already running"; return 0
  fi
  port_open $PORT && die "port $PORT is taken by another process"
  write_config
  if [[ ! -d "$DIR/data/mysql" ]]; then
    log "initialising datadir $DIR/data"
    rm -rf "$DIR/data"
    mariadb-install-db --defaults-file="$CNF" --auth-root-authentication-method=socket \
      --skip-test-db >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "mariadb-install-db failed"; }
  fi
  rm -f "$SOCK"  # stale socket from a killed server would block startup
  nohup mariadbd --defaults-file="$CNF" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready 60 ready
  create_accounts
  log "ready on 127.0.0.1:$PORT (socket $SOCK)"
}

do_stop() { stop_ours 60; }

do_env() {
  load_secrets
  local base="127.0.0.1:$PORT" svc u pw
  echo "export MARIADB_SOCKET=$SOCK"
  echo "export MARIADB_ADMIN_URL=mysql+pymysql://zsb_admin:$ZSB_ADMIN_PW@$base/"
  for svc in "${SERVICES[@]}"; do
    u="zsb_$svc"; pw="ZSB_${svc^^}_PW"
    echo "export ZSB_${svc^^}_MARIADB_URL=mysql+pymysql://$u:${!pw}@$base/$u?charset=utf8mb4"
  done
}

main "$@"
