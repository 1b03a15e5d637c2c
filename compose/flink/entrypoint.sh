#!/bin/sh
# The Flink containers' entrypoint: `jobmanager` or `taskmanager` (in the foreground, logging to
# stdout), or any other command, run as is. The configuration is written at each start:
# the distribution's Java 17 module flags, then FLINK_PROPERTIES ("key: value" lines).
# Started as root, it makes the caller known and runs Flink as the caller (as-caller.sh).
set -eu
/opt/flink/bin/as-caller init
conf="${FLINK_CONF_DIR:-/opt/flink/conf}"
for f in "$FLINK_HOME"/conf/log4j*.properties "$FLINK_HOME"/conf/logback*.xml; do
  [ -f "$f" ] && [ ! -f "$conf/$(basename "$f")" ] && cp "$f" "$conf/"
done
java_opts="$(sed -n 's/^ *all: \(--add-.*\)$/\1/p' "$FLINK_HOME/conf/config.yaml" | head -n 1)"
{
  echo "env.java.opts.all: $java_opts -Djava.awt.headless=true"
  printf '%s\n' "${FLINK_PROPERTIES:-}"
} > "$conf/config.yaml.tmp"
mv "$conf/config.yaml.tmp" "$conf/config.yaml"

case "${1:-jobmanager}" in
  jobmanager) exec /opt/flink/bin/as-caller "$FLINK_HOME/bin/jobmanager.sh" start-foreground ;;
  taskmanager) exec /opt/flink/bin/as-caller "$FLINK_HOME/bin/taskmanager.sh" start-foreground ;;
  *) exec /opt/flink/bin/as-caller "$@" ;;
esac
