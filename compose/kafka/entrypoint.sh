#!/bin/sh
# The Kafka container's entrypoint: one KRaft node (broker and controller) with two listeners,
#   PLAINTEXT  0.0.0.0:29092, advertised as $KAFKA_INTERNAL_HOST (kafka:29092, for the containers)
#   HOST       0.0.0.0:9092,  advertised as $KAFKA_ADVERTISED_HOST (127.0.0.1:<published port>)
# The data folder is formatted on first start. KAFKA_CREATE_TOPICS ("name:partitions,...") are
# created once the broker answers.
set -eu
: "${KAFKA_ADVERTISED_HOST:=127.0.0.1:9092}"
: "${KAFKA_INTERNAL_HOST:=kafka:29092}"
: "${KAFKA_CLUSTER_ID:=cGlwZWN0bC1sb2NhbC0wMQ}"
: "${KAFKA_HEAP:=512m}"
: "${KAFKA_NUM_PARTITIONS:=2}"
: "${KAFKA_CREATE_TOPICS:=}"
data=/var/lib/kafka/data
conf="$(mktemp -d /tmp/kafka.XXXXXX)"
cp_="/opt/kafka/libs/*"

cat > "$conf/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:29092,HOST://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_INTERNAL_HOST},HOST://${KAFKA_ADVERTISED_HOST}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${data}
num.partitions=${KAFKA_NUM_PARTITIONS}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
PROPS
cat > "$conf/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
log4j="-Dlog4j.configuration=file:$conf/log4j.properties"

if [ ! -f "$data/meta.properties" ]; then
  java "$log4j" -cp "$cp_" kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$conf/server.properties"
fi

java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true "$log4j" \
  -cp "$cp_" kafka.Kafka "$conf/server.properties" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null' TERM INT

if [ -n "$KAFKA_CREATE_TOPICS" ]; then
  (
    for spec in $(echo "$KAFKA_CREATE_TOPICS" | tr ',' ' '); do
      topic="${spec%%:*}"; partitions="${spec#*:}"
      for _ in $(seq 1 30); do
        if java "$log4j" -cp "$cp_" org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:29092 \
             --create --if-not-exists --topic "$topic" --partitions "$partitions" --replication-factor 1 >/dev/null 2>&1; then
          echo "created topic $topic ($partitions partitions) if it did not exist"; break
        fi
        sleep 2
      done
    done
  ) &
fi

# PID 1 waits for the broker; `docker stop` (TERM) is passed on and the broker shuts down cleanly
status=0
wait "$broker" || status=$?
if kill -0 "$broker" 2>/dev/null; then wait "$broker" || status=$?; fi
exit "$status"
