#!/bin/sh
# Run a command as the caller the container works for, so that everything it writes into the
# warehouse and state folders is the caller's, whatever uid that is.
#
#   as-caller.sh init      (the entrypoint, as root) decide who the caller is, make that uid known
#                          to the image (passwd/group entries: Hadoop's login and Python's getpwuid
#                          need a name), give the caller the warehouse and state folders, record it
#   as-caller.sh CMD ARGS  run CMD as the recorded caller when called as root (`docker exec` without
#                          --user: python, python3 and flink on PATH go through here), else as is
#
# The caller: PIPECTL_RUN_AS, either "uid:gid" (pipectl's docker runtime passes its own) or a
# path inside the container whose owner it is (the Compose file mounts the project folder: the
# caller is whoever owns the checkout). Unset, or root: everything runs as root.
set -eu
record=/etc/pipectl-caller

if [ "${1:-}" = init ]; then
  [ "$(id -u)" = 0 ] || exit 0   # started with --user: nothing to set up, nothing to drop
  ids="${PIPECTL_RUN_AS:-0:0}"
  case "$ids" in
    /*) ids="$(stat -c '%u:%g' "$ids")" ;;
  esac
  uid="${ids%%:*}"; gid="${ids#*:}"
  case "$uid:$gid" in
    *[!0-9:]*|:*|*:) echo "as-caller: PIPECTL_RUN_AS must be uid:gid or a path, got '${PIPECTL_RUN_AS:-}'" >&2; exit 2 ;;
  esac
  if ! getent group "$gid" >/dev/null; then
    echo "caller:x:$gid:" >> /etc/group
  fi
  if ! getent passwd "$uid" >/dev/null; then
    echo "caller:x:$uid:$gid:the caller of pipectl's containers:/tmp:/bin/sh" >> /etc/passwd
  fi
  for dir in ${PIPECTL_WAREHOUSE_DIR:+"$PIPECTL_WAREHOUSE_DIR"} ${PIPECTL_STATE_DIR:+"$PIPECTL_STATE_DIR"}; do
    mkdir -p "$dir"
    # a folder the engine created for the mount (root's) becomes the caller's; nothing else is touched
    if [ "$(stat -c %u "$dir")" = 0 ] && [ "$uid" != 0 ]; then chown "$uid:$gid" "$dir"; fi
  done
  echo "$uid:$gid" > "$record"
  exit 0
fi

if [ "$(id -u)" = 0 ] && [ -s "$record" ]; then
  ids="$(cat "$record")"
  if [ "$ids" != "0:0" ]; then
    HOME="$(getent passwd "${ids%%:*}" | cut -d: -f6)"
    export HOME="${HOME:-/tmp}"
    exec setpriv --reuid="${ids%%:*}" --regid="${ids#*:}" --clear-groups -- "$@"
  fi
fi
exec "$@"
