#!/usr/bin/env bash
# Local Apache Kafka: one KRaft node (broker+controller) on 127.0.0.1:19092,
# controller on 127.0.0.1:19093, jars from Maven Central, run on the system JDK.
# Overrides for a second, private instance: ZSB_INFRA_VAR, KAFKA_PORT, KAFKA_CONTROLLER_PORT.
# Usage: deploy/local/kafka.sh fetch|start|stop|status|env
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# ZSB_INFRA_VAR: another directory for data, logs, pid files and secrets (a private set,
# e.g. for fault tests); fetched jars and binaries stay in $ROOT/var.
VAR="${ZSB_INFRA_VAR:-$ROOT/var}"
NAME=kafka
PID_MATCH="kafka.Kafka"
# shellcheck source=_lib.sh disable=SC2034  # _lib.sh uses NAME, VAR, PID_MATCH
source "$ROOT/deploy/local/_lib.sh"

POM="$ROOT/deploy/local/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
LIBS="$ROOT/var/kafka/libs"
KAFKA_PORT="${KAFKA_PORT:-19092}"
BROKER="127.0.0.1:$KAFKA_PORT"
CONTROLLER="127.0.0.1:${KAFKA_CONTROLLER_PORT:-19093}"
CONF="$DIR/server.properties"
# Stamp = hash of the pom: editing it (e.g. a version bump) triggers a re-fetch.
STAMP="$LIBS/.pom-$(sha1sum "$POM" | cut -c1-12)"

# CLI tools (StorageTool): log warnings to stderr only, keep stdout for output.
java_tool() { java -Xmx256m -cp "$LIBS/*" -Dlog4j.configuration="file:$DIR/tools-log4j.properties" "$@"; }

do_fetch() {
  [[ -f "$STAMP" ]] && return 0
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    apt_install openjdk-17-jdk-headless maven
  fi
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$LIBS"
  # Output kept in a file, shown only on failure (mvn -q still prints ANSI noise).
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIBS" >"$DIR/mvn.log" 2>&1 || { cat "$DIR/mvn.log" >&2; die "mvn failed"; }
  [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
  touch "$STAMP"
}

write_config() {
  # Regenerated each start (cheap, keeps paths right if the checkout moves);
  # the data and the cluster id persist in $DIR/data.
  cat >"$CONF" <<EOF
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@$CONTROLLER
listeners=PLAINTEXT://$BROKER,CONTROLLER://$CONTROLLER
advertised.listeners=PLAINTEXT://$BROKER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DIR/data
num.partitions=3
auto.create.topics.enable=true
# Single node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Tests want consumer groups to settle immediately.
group.initial.rebalance.delay.ms=0
EOF
  cat >"$DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
  cat >"$DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Ready = the broker answers a Metadata request listing itself. Raw Kafka
# protocol (Metadata v1) in python3, so no client library and no JVM start-up.
ready() {
  port_open "$KAFKA_PORT" || return 1
  python3 - "$BROKER" <<'EOF'
import socket, struct, sys
host, port = sys.argv[1].split(":")
cid = b"zsb-ready"
req = struct.pack(">hhih", 3, 1, 7, len(cid)) + cid + struct.pack(">i", -1)  # all topics
s = socket.create_connection((host, int(port)), timeout=3)
s.sendall(struct.pack(">i", len(req)) + req)
size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
body = s.recv(size, socket.MSG_WAITALL)
corr, nbrokers = struct.unpack(">ii", body[:8])
sys.exit(0 if corr == 7 and nbrokers >= 1 else 1)
EOF
}

do_start() {
  do_fetch
  if our_pid >/dev/null; then
    wait_ready 120 ready; log "already running"; return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process"
  write_config
  # Format the KRaft metadata log once, with a cluster id generated once.
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    [[ -s "$DIR/cluster.id" ]] || java_tool kafka.tools.StorageTool random-uuid >"$DIR/cluster.id"
    java_tool kafka.tools.StorageTool format -t "$(cat "$DIR/cluster.id")" -c "$CONF" >>"$LOG" 2>&1 \
      || { tail -n 20 "$LOG" >&2; die "storage format failed"; }
  fi
  # Class-data sharing: the first run dumps the loaded classes at exit, later
  # runs map them (JVM start-up is most of a restart on 2 cores). The archive
  # lives in libs/, so a re-fetch drops it; a stale one is ignored by the JVM.
  local cds="-XX:SharedArchiveFile=$LIBS/kafka.jsa"
  [[ -f "$LIBS/kafka.jsa" ]] || cds="-XX:ArchiveClassesAtExit=$LIBS/kafka.jsa"
  nohup java -Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "$cds" \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$DIR/log4j.properties" \
    -cp "$LIBS/*" kafka.Kafka "$CONF" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_ready 120 ready
  log "ready on $BROKER"
}

# Graceful SIGTERM: controlled shutdown flushes logs, so the next start skips
# log recovery and keeps all data.
do_stop() { stop_ours 60; }

do_env() {
  echo "export KAFKA_BOOTSTRAP_SERVERS=$BROKER"
}

main "$@"
