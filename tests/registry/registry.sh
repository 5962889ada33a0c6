#!/usr/bin/env bash
# A real Schema Registry for integration tests: Apicurio Registry (its
# Confluent-compatible API is under /apis/ccompat/v7), the complete Quarkus
# app from Maven Central, cached, run with a Java 21+ JDK.
#
#   registry.sh fetch | start | stop | status | url | reset
#
# Environment:
#   STREAMPLUG_CACHE                 cache root           (~/.cache/streamplug)
#   STREAMPLUG_REGISTRY_DIR          state dir            (/tmp/streamplug-registry)
#   STREAMPLUG_REGISTRY_PORT         HTTP port            (18081); management
#                                    (health) is on PORT+1
#   STREAMPLUG_REGISTRY_START_TIMEOUT seconds to wait for readiness (90)
#   STREAMPLUG_REGISTRY_JAVA         java of a JDK 21+    (Temurin 25)
#
# Schemas live in an H2 file under the state dir, so stop/start behaves like
# a registry restart (ids survive); `reset` forgets them.
set -euo pipefail

version=3.3.3
artifact=io.apicurio:apicurio-registry-app:$version:tar.gz:all
cache=${STREAMPLUG_CACHE:-$HOME/.cache/streamplug}/apicurio-registry-$version
app=$cache/app
state=${STREAMPLUG_REGISTRY_DIR:-/tmp/streamplug-registry}
port=${STREAMPLUG_REGISTRY_PORT:-18081}
mgmt_port=$((port + 1))
timeout=${STREAMPLUG_REGISTRY_START_TIMEOUT:-90}
java=${STREAMPLUG_REGISTRY_JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}
pidfile=$state/registry.pid
log=$state/registry.log

die() { echo "registry.sh: $*" >&2; exit 1; }

fetch() {
  [[ -f $app/quarkus-run.jar ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  echo "registry.sh: fetching Apicurio Registry $version into $app" >&2
  mkdir -p "$cache"
  # Maven prints errors on stdout: keep it in a log.
  mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false \
    >"$cache/fetch.log" 2>&1 || { cat "$cache/fetch.log" >&2; die "mvn failed"; }
  local tgz=${MAVEN_REPO:-$HOME/.m2/repository}/io/apicurio/apicurio-registry-app/$version/apicurio-registry-app-$version-all.tar.gz
  [[ -f $tgz ]] || die "mvn did not leave $tgz"
  # Unpack beside and swap, so an interrupted fetch never looks complete.
  rm -rf "$app.tmp"
  mkdir -p "$app.tmp"
  tar xzf "$tgz" -C "$app.tmp"
  rm -rf "$app"
  mv "$app.tmp" "$app"
}

# A zombie still answers kill -0: look at the state letter instead.
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}

running() {
  local pid
  [[ -f $pidfile ]] && pid=$(cat "$pidfile") && alive "$pid" &&
    grep -qa quarkus-run.jar "/proc/$pid/cmdline" # guards against pid reuse
}

ready() {
  # The management port answers health once storage is up.
  local body
  body=$({ exec 3<>"/dev/tcp/127.0.0.1/$mgmt_port" &&
    printf 'GET /health/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3; } 2>/dev/null) || return 1
  [[ $body == "HTTP/1.0 200"* || $body == "HTTP/1.1 200"* ]]
}

start() {
  if running; then echo "registry.sh: already running (pid $(cat "$pidfile"))"; return 0; fi
  [[ -x $java ]] || die "no Java 21+ at $java (set STREAMPLUG_REGISTRY_JAVA)"
  fetch
  mkdir -p "$state"
  [[ -f $log ]] && mv "$log" "$log.prev"
  # setsid: the registry outlives this script and does not get the caller's
  # Ctrl-C; the inner bash records its own pid, then execs java.
  # shellcheck disable=SC2016  # $$ and $1 belong to the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
    "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$mgmt_port" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.datasource.url="jdbc:h2:file:$state/db" \
    -Dquarkus.log.level=WARN -Dquarkus.log.category.io.quarkus.level=INFO \
    -jar "$app/quarkus-run.jar" </dev/null >"$log" 2>&1 &
  local deadline=$((SECONDS + timeout))
  until [[ -s $pidfile ]] && ready; do
    if ((SECONDS >= deadline)) || { [[ -s $pidfile ]] && ! running; }; then
      echo "registry.sh: registry did not become ready; last 50 lines of $log:" >&2
      tail -n 50 "$log" >&2 || true
      stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "registry.sh: Apicurio Registry $version ready at $(url) (pid $(cat "$pidfile"))"
}

stop() {
  if ! running; then rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 40); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then
    echo "registry.sh: pid $pid ignored SIGTERM for 20s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$pidfile"
  echo "registry.sh: stopped"
}

url() { echo "http://127.0.0.1:$port/apis/ccompat/v7"; }

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) running ;;
  url) url ;;
  reset) stop; [[ $state != / ]] && rm -rf "$state" ;;
  *) sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
