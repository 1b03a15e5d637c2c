#!/usr/bin/env bash
# Start a Docker engine of the project's own for the docker tests, idempotently, and print the
# DOCKER_HOST to use (the only thing on stdout; progress goes to stderr).
#
#   export DOCKER_HOST="$(bash .ci/docker-engine.sh)"
#
# Debian's docker.io, debootstrap (for the tests' base image) and docker-compose (Compose v1, to
# test compose/docker-compose.yml on its own) are installed with apt-get when missing. The engine runs as root with the vfs storage driver and without iptables, with a data
# root, exec root, socket and pid file of its own, so it never touches a system engine:
#   dockerd --storage-driver=vfs --iptables=false --ip6tables=false --data-root ... --host unix://...
# User-defined bridge networks, container DNS and ports published on 127.0.0.1 work that way.
# The data root is kept between runs: images built before (the debootstrap base) are reused.
set -euo pipefail

NAME="${PIPECTL_DOCKER_ENGINE_NAME:-pipectl-docker}"
SOCK="/run/${NAME}.sock"
HOST="unix://${SOCK}"
DATA_ROOT="/var/lib/${NAME}"
EXEC_ROOT="/run/${NAME}"
PIDFILE="/run/${NAME}.pid"
LOG="/var/log/${NAME}.log"
TIMEOUT="${PIPECTL_DOCKER_ENGINE_TIMEOUT:-60}"

say() { echo "docker-engine: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "must run as root (it installs packages and starts dockerd)"
  exit 1
fi

answers() { docker -H "$HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  apt-get update -qq >&2
  # policy-rc.d keeps the package from starting a system engine of its own
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) >&2
fi

if answers; then
  say "engine answers at $HOST (reused)"
else
  if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    rm -f "$PIDFILE"   # a stale pid file from an engine that died
  fi
  rm -f "$SOCK"
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  say "starting dockerd ($HOST, data root $DATA_ROOT, log $LOG)"
  setsid nohup dockerd \
    --storage-driver=vfs --iptables=false --ip6tables=false \
    --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
    --host "$HOST" --pidfile "$PIDFILE" \
    >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 "$TIMEOUT"); do
    answers && break
    sleep 1
  done
  if ! answers; then
    say "dockerd did not answer within ${TIMEOUT}s; its last log lines:"
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  say "engine $(docker -H "$HOST" version --format '{{.Server.Version}}') answers at $HOST"
fi

echo "$HOST"
