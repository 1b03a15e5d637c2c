#!/usr/bin/env bash
# Build the docker tests' base image without pulling anything: a minimal Debian bookworm with
# python3 (3.11) and a Java 17 JRE, made by debootstrap from Debian's packages and imported.
#
#   bash tests/docker/build-base-image.sh [IMAGE]        (default pipectl-test-base:bookworm-2)
#
# Skipped when the engine (DOCKER_HOST) already has the image. Needs root and debootstrap
# (.ci/docker-engine.sh installs it).
set -euo pipefail

IMAGE="${1:-pipectl-test-base:bookworm-2}"
SUITE="${PIPECTL_BASE_SUITE:-bookworm}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE exists, reused" >&2
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

DIR="$(mktemp -d /tmp/pipectl-base.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
start=$(date +%s)
echo "debootstrap $SUITE into $DIR (python3, openjdk-17-jre-headless)" >&2
debootstrap --variant=minbase --include=python3,openjdk-17-jre-headless "$SUITE" "$DIR" >"$DIR.log" 2>&1 || {
  tail -n 20 "$DIR.log" >&2; rm -f "$DIR.log"; exit 1; }
rm -f "$DIR.log"
# mktemp made the root folder 0700: the image's / must be 0755, or no user but root can run
# anything in it (the `-2` in the image's name marks images made since this was fixed)
chmod 0755 "$DIR"
# smaller image: no apt lists, docs or man pages
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/usr/share/doc/* \
       "$DIR"/usr/share/man/* "$DIR"/usr/share/locale/*
tar -C "$DIR" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "base image $IMAGE built in $(( $(date +%s) - start ))s" >&2
