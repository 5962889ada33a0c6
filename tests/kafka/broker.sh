#!/usr/bin/env bash
# A real single-node Kafka broker (KRaft, broker+controller in one JVM) for
# integration tests and benchmarks, assembled from Maven Central jars.
#
#   broker.sh fetch | start | stop | status | bootstrap | reset | exec CLASS ARGS...
#
# Environment:
#   STREAMPLUG_CACHE                 jar cache root   (~/.cache/streamplug)
#   STREAMPLUG_KAFKA_DIR             state dir        (/tmp/streamplug-kafka)
#   STREAMPLUG_KAFKA_PORT            PLAINTEXT port   (39092)
#   STREAMPLUG_KAFKA_CONTROLLER_PORT controller port  (39093)
#   STREAMPLUG_KAFKA_START_TIMEOUT   seconds to wait for readiness (60)
#   STREAMPLUG_KAFKA_TOOL_OPTS       JVM options for `exec` (-Xmx512m)
#   STREAMPLUG_KAFKA_SECURITY        1: also SSL (PORT+2), SASL_SSL with
#                                    SCRAM-SHA-512, PLAIN and OAUTHBEARER
#                                    (unsecured JWT) (PORT+3) and mTLS
#                                    (PORT+4) listeners, a test CA and
#                                    certificates, users and ACLs;
#                                    `security-dir` prints where they are
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
# The pom is the single source of truth for the version.
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
[[ -n $version ]] || { echo "broker.sh: no kafka.version in $pom" >&2; exit 1; }

cache=${STREAMPLUG_CACHE:-$HOME/.cache/streamplug}/kafka-$version
libs=$cache/libs
marker=$cache/fetched
state=${STREAMPLUG_KAFKA_DIR:-/tmp/streamplug-kafka}
port=${STREAMPLUG_KAFKA_PORT:-39092}
ctrl_port=${STREAMPLUG_KAFKA_CONTROLLER_PORT:-39093}
timeout=${STREAMPLUG_KAFKA_START_TIMEOUT:-60}
security=${STREAMPLUG_KAFKA_SECURITY:-0}
sec=$state/security
pidfile=$state/kafka.pid
log=$state/kafka.log

die() { echo "broker.sh: $*" >&2; exit 1; }

fetch() {
  # The marker holds the pom's hash, so editing the pom (not just the
  # version) invalidates the cache.
  local want; want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $marker && $(cat "$marker") == "$want" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  echo "broker.sh: fetching Kafka $version jars into $libs" >&2
  mkdir -p "$cache"
  # Copy into a temp dir and swap, so an interrupted fetch never looks complete.
  rm -rf "$libs.tmp"
  # Maven prints errors (and stray colour codes) on stdout: keep it in a log.
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" \
    >"$cache/fetch.log" 2>&1 || { cat "$cache/fetch.log" >&2; die "mvn failed"; }
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  # Tools log to stderr at WARN so their stdout (e.g. consumed records) stays clean.
  cat >"$cache/tools-log4j2.properties" <<'EOF'
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
  echo "$want" >"$marker"
}

# kill -0 alone would count a zombie (a broker that died while `start` still
# waits on it) as alive; its state letter in /proc/PID/stat is Z.
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}

running() {
  local pid
  [[ -f $pidfile ]] && pid=$(cat "$pidfile") && alive "$pid" &&
    grep -qa kafka.Kafka "/proc/$pid/cmdline"  # guards against pid reuse
}

java_cp() { java -cp "$libs/*" "$@"; }

# The test CA, the broker's certificate (for 127.0.0.1 only, so that
# `localhost` is a hostname mismatch), a client certificate for mTLS, one
# signed by another CA and one that has expired. PEM throughout: both Kafka
# and librdkafka read it.
make_certs() {
  [[ -f $sec/expired.pem ]] && return 0
  if ! command -v openssl >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; } ||
      die "openssl not found and could not be installed"
  fi
  mkdir -p "$sec"
  (
    cd "$sec"
    # Quiet unless it fails; a failure ends the subshell, and `start`.
    ossl() { openssl "$@" >>certs.log 2>&1 || { cat certs.log >&2; exit 1; }; }
    ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=streamplug test CA"
    ossl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 3650 -subj "/CN=some other CA"
    request() { # name subject
      ossl req -new -newkey rsa:2048 -nodes -keyout "$1.key.tmp" -out "$1.csr" -subj "$2"
      ossl pkcs8 -topk8 -nocrypt -in "$1.key.tmp" -out "$1.key"
      rm -f "$1.key.tmp"
    }
    sign() { # name ca extra-args...
      local name=$1 ca=$2; shift 2
      ossl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -out "$name.pem" "$@"
    }
    request broker "/CN=streamplug test broker"
    printf 'subjectAltName=IP:127.0.0.1\n' >broker.ext
    sign broker ca -days 3650 -extfile broker.ext
    cat broker.key broker.pem >broker-keystore.pem
    request client "/CN=streamplug-mtls"
    sign client ca -days 3650
    request stranger "/CN=streamplug-mtls"
    sign stranger other-ca -days 3650
    # Expired: valid for one day, years ago (`openssl ca` takes dates).
    request expired "/CN=streamplug-mtls"
    mkdir -p ca-db
    : >ca-db/index.txt
    echo 1000 >ca-db/serial
    cat >ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
dir = ca-db
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
default_md = sha256
policy = any
[any]
commonName = supplied
CNF
    ossl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
      -startdate 20150101000000Z -enddate 20150102000000Z -notext
  ) || die "making test certificates failed"
}

# SCRAM users are added when the storage is formatted, ACLs once the broker
# runs.
sasl_password=scram-secret-7f3a

security_config() {
  cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl_port,SSL://127.0.0.1:$((port + 2)),SASL_SSL://127.0.0.1:$((port + 3)),MTLS://127.0.0.1:$((port + 4))
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$((port + 2)),SASL_SSL://127.0.0.1:$((port + 3)),MTLS://127.0.0.1:$((port + 4))
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$sec/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$sec/ca.pem
listener.name.mtls.ssl.client.auth=required
# The mTLS principal is the certificate's CN: User:streamplug-mtls.
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN,OAUTHBEARER
# Unsecured JWTs (alg none), validated by Kafka's default handler: the
# principal is the token's sub claim.
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_streamplug="plain-$sasl_password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The plaintext and controller listeners (the tests' own clients, the broker
# itself) and the SSL listener without client certificates are ANONYMOUS.
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
}

write_security_info() {
  cat >"$sec/info" <<EOF
ssl=127.0.0.1:$((port + 2))
sasl_ssl=127.0.0.1:$((port + 3))
mtls=127.0.0.1:$((port + 4))
user=streamplug
password=$sasl_password
plain_password=plain-$sasl_password
denied_topic=sec.denied
EOF
}

# User `streamplug` (SCRAM and PLAIN) and `streamplug-mtls` may do anything
# with topics `sec.*` and the checkpoint topics and with transactional ids
# `streamplug:*`, but may not write topic `sec.denied`.
add_acls() {
  local p both=(--allow-principal User:streamplug --allow-principal User:streamplug-mtls)
  for p in "--topic sec. --resource-pattern-type prefixed" \
    "--topic streamplug-checkpoints --resource-pattern-type prefixed" \
    "--transactional-id streamplug: --resource-pattern-type prefixed" \
    "--group streamplug --resource-pattern-type prefixed" \
    "--cluster"; do
    # shellcheck disable=SC2086  # $p is several options
    acl --add "${both[@]}" --operation All $p
  done
  acl --add --deny-principal User:streamplug --deny-principal User:streamplug-mtls \
    --operation Write --topic sec.denied
}

acl() {
  # shellcheck disable=SC2086  # options are meant to word-split
  java ${STREAMPLUG_KAFKA_TOOL_OPTS:--Xmx512m} \
    -Dlog4j2.configurationFile="$cache/tools-log4j2.properties" \
    -cp "$libs/*" org.apache.kafka.tools.AclCommand --bootstrap-server "127.0.0.1:$port" "$@" \
    >>"$sec/acl.log" 2>&1 || { cat "$sec/acl.log" >&2; die "adding ACLs failed"; }
}

write_config() {
  cat >"$state/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$ctrl_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$state/data
offsets.topic.replication.factor=1
# 50 partitions (the default) makes the first consumer group slow on 2 cores.
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=false
EOF
  # Later keys win in a properties file.
  if [[ $security == 1 ]]; then security_config >>"$state/server.properties"; fi
  # Without a config log4j2 only prints errors, and readiness is detected from
  # the INFO line "Kafka Server started".
  cat >"$state/log4j2.properties" <<'EOF'
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
# Full config dumps are ~2000 lines per start; server.properties is beside the log.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
}

start() {
  if running; then echo "broker.sh: already running (pid $(cat "$pidfile"))"; return 0; fi
  fetch
  mkdir -p "$state"
  if [[ $security == 1 ]]; then make_certs; write_security_info; fi
  write_config
  # Keep existing storage so stop/start behaves like a broker restart.
  if [[ ! -f $state/data/meta.properties ]]; then
    local id
    # A Kafka Uuid is 16 random bytes in url-safe base64; a leading '-' is
    # avoided, as Kafka's own generator does, since it looks like a flag.
    until [[ ${id:-} && $id != -* ]]; do
      id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    local scram=()
    [[ $security == 1 ]] && scram=(--add-scram "SCRAM-SHA-512=[name=streamplug,password=$sasl_password]")
    java_cp kafka.tools.StorageTool format --standalone -t "$id" "${scram[@]}" \
      -c "$state/server.properties" >"$state/format.log" 2>&1 ||
      { cat "$state/format.log" >&2; die "storage format failed"; }
  fi
  [[ -f $log ]] && mv "$log" "$log.prev"
  # setsid: the broker must outlive this script and not get the caller's
  # Ctrl-C. The inner bash records its own pid and then execs java, so the pid
  # file is right whether or not setsid had to fork.
  # shellcheck disable=SC2016  # $$ and $1 belong to the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
    java -Xmx1g -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" \
    </dev/null >"$log" 2>&1 &
  local deadline=$((SECONDS + timeout))
  until [[ -s $pidfile ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
    grep -q "Kafka Server started" "$log"; do
    if ((SECONDS >= deadline)) || { [[ -s $pidfile ]] && ! running; }; then
      echo "broker.sh: broker did not become ready; last 50 lines of $log:" >&2
      tail -n 50 "$log" >&2 || true
      stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.5
  done
  if [[ $security == 1 && ! -f $sec/acls-added ]]; then add_acls; touch "$sec/acls-added"; fi
  echo "broker.sh: Kafka $version ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

stop() {
  if ! running; then rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  # Controlled shutdown flushes logs; give it time before forcing.
  for _ in $(seq 60); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then
    echo "broker.sh: pid $pid ignored SIGTERM for 30s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$pidfile"
  echo "broker.sh: stopped"
}

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) running ;;
  bootstrap) echo "127.0.0.1:$port" ;;
  reset) stop; [[ $state != / ]] && rm -rf "$state" ;;
  exec)
    shift; [[ $# -ge 1 ]] || die "usage: broker.sh exec CLASS ARGS..."
    fetch
    # shellcheck disable=SC2086  # options are meant to word-split
    exec java ${STREAMPLUG_KAFKA_TOOL_OPTS:--Xmx512m} \
      -Dlog4j2.configurationFile="$cache/tools-log4j2.properties" \
      -cp "$libs/*" "$@" ;;
  security-dir) [[ -f $sec/info ]] || die "no security set-up (start with STREAMPLUG_KAFKA_SECURITY=1)"; echo "$sec" ;;
  *) sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
