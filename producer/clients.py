"""Kafka clients behind one small interface, with acks=all and idempotence in both.

- `kafka-python` (pure Python; the design's client). With the `crc32c` package installed it does
  roughly 30k events/s here including generation; without it ~9k/s (it computes the record-batch
  CRC in Python).
- `confluent-kafka` (librdkafka, C). ~3x faster for the same events; `--client auto` picks it
  when it is installed. See docs/benchmarks.md for the figures.

Both partition keyed records the same way (murmur2, like the Java client), so one customer's
orders land in the same partition whichever client sent them.

Delivery accounting: every record handed to `send` ends up acknowledged or failed once flushed.
`counts()` gives (acked, failed) at any time; records in flight are sent - acked - failed.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from producer.errors import BrokerUnreachable, ClientMissing, ProducerError, TopicNotFound
from producer.options import ProduceConfig

# The clients log through `logging`; without a handler Python would print their warnings to
# stderr. A NullHandler keeps them quiet unless the caller configures logging (--verbose).
for _name in ("kafka", "producer.rdkafka"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


def _unreachable(config: ProduceConfig) -> BrokerUnreachable:
    if config.iam is not None:
        return BrokerUnreachable(
            f"cannot reach Kafka at {config.bootstrap_servers} with MSK IAM auth (SASL_SSL) within "
            f"{config.connect_timeout_s:g}s",
            hint="check the brokers' address, that the AWS identity may kafka-cluster:Connect, and that their "
            "TLS certificate is trusted (aws.kafka_ca_file); the broker's log names a refused authentication",
        )
    return BrokerUnreachable(
        f"cannot reach Kafka at {config.bootstrap_servers} within {config.connect_timeout_s:g}s",
        hint="start it with 'pipectl local up' or pass --bootstrap-servers",
    )


def _topic_missing(config: ProduceConfig) -> TopicNotFound:
    return TopicNotFound(
        f"topic {config.topic} does not exist on {config.bootstrap_servers}",
        hint="create it ('pipectl local up' does) or pass --topic",
    )


def available_clients() -> list[str]:
    names = []
    for module, name in (("confluent_kafka", "confluent-kafka"), ("kafka", "kafka-python")):
        try:
            __import__(module)
            names.append(name)
        except ImportError:
            pass
    return names


def open_client(config: ProduceConfig) -> Client:
    """Connect and check the topic. Raises BrokerUnreachable / TopicNotFound."""
    name = config.client
    if name == "auto":
        found = available_clients()
        if not found:
            raise ClientMissing("no Kafka client installed", hint="pip install kafka-python (or confluent-kafka)")
        name = found[0]
    if name == "confluent-kafka":
        return ConfluentClient(config)
    return KafkaPythonClient(config)


class Client:
    name = ""
    partitions = 0
    first_error: str | None = None

    def send(self, key: bytes | None, value: bytes) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Serve delivery reports; cheap, call it often."""

    def counts(self) -> tuple[int, int]:
        raise NotImplementedError

    def flush(self, timeout: float) -> bool:
        """Wait until every record is acknowledged or failed; False if the timeout ran out."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class KafkaPythonClient(Client):
    name = "kafka-python"

    def __init__(self, config: ProduceConfig):
        try:
            import kafka
            import kafka.errors as kerrors
            from kafka.partitioner.default import murmur2
        except ImportError:
            raise ClientMissing("kafka-python is not installed", hint="pip install kafka-python") from None
        self.topic = config.topic
        self._errors = kerrors
        self._murmur2 = murmur2
        timeout_ms = int(config.connect_timeout_s * 1000)
        settings: dict[str, Any] = dict(
            bootstrap_servers=config.bootstrap_servers.split(","),
            acks="all",
            enable_idempotence=True,
            linger_ms=config.linger_ms,
            batch_size=config.batch_size,
            compression_type=None if config.compression == "none" else config.compression,
            bootstrap_timeout_ms=timeout_ms,
            max_block_ms=timeout_ms,
            request_timeout_ms=10_000,
            delivery_timeout_ms=int(config.flush_timeout_s * 1000),
            allow_auto_create_topics=False,
            metrics_enabled=False,
            client_id="pipectl-producer",
        )
        if config.iam is not None:
            from producer.iam import kafka_python_settings

            settings.update(kafka_python_settings(config.iam))
        settings.update(config.extra_client_config)
        try:
            self.producer = kafka.KafkaProducer(**settings)
        except tuple(
            getattr(kerrors, name)
            for name in ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError")
            if hasattr(kerrors, name)
        ):
            raise _unreachable(config) from None
        except kerrors.KafkaConfigurationError as exc:
            raise ProducerError(f"invalid Kafka client settings: {exc}") from None
        try:
            parts = self.producer.partitions_for(self.topic)
        except kerrors.KafkaTimeoutError:
            parts = None
        if not parts:
            self.producer.close(timeout=1)
            raise _topic_missing(config)
        self.partitions = len(parts)
        self._partition_cache: dict[bytes, int] = {}
        self._cache_keys = config.key == "customer_id"  # a bounded pool: worth caching
        self._pending: deque = deque()
        self._acked = 0
        self._failed = 0

    def send(self, key: bytes | None, value: bytes) -> None:
        if key is None:
            partition = None
        elif self._cache_keys:
            partition = self._partition_cache.get(key)
            if partition is None:
                partition = self._partition_cache[key] = (self._murmur2(key) & 0x7FFFFFFF) % self.partitions
        else:
            partition = (self._murmur2(key) & 0x7FFFFFFF) % self.partitions
        try:
            future = self.producer.send(self.topic, value=value, key=key, partition=partition)
        except self._errors.KafkaError as exc:
            self._failed += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
            return
        self._pending.append(future)
        if len(self._pending) > 4096:
            self._reap()

    def _reap(self) -> None:
        pending = self._pending
        while pending and pending[0].is_done:
            future = pending.popleft()
            if future.failed():
                self._failed += 1
                if self.first_error is None:
                    exc = future.exception
                    self.first_error = f"{type(exc).__name__}: {exc}"
            else:
                self._acked += 1

    def poll(self) -> None:
        self._reap()

    def counts(self) -> tuple[int, int]:
        self._reap()
        return self._acked, self._failed

    def flush(self, timeout: float) -> bool:
        try:
            self.producer.flush(timeout=timeout)
        except self._errors.KafkaTimeoutError:
            pass
        self._reap()
        return not self._pending

    def close(self) -> None:
        try:
            self.producer.close(timeout=1)
        except Exception:  # noqa: BLE001 - closing after a failure must not mask it
            pass


class ConfluentClient(Client):
    name = "confluent-kafka"

    def __init__(self, config: ProduceConfig):
        try:
            import confluent_kafka
        except ImportError:
            raise ClientMissing("confluent-kafka is not installed", hint="pip install confluent-kafka") from None
        self._ck = confluent_kafka
        self.topic = config.topic
        self._sent = 0
        self._failed = 0
        logger = logging.getLogger("producer.rdkafka")
        settings: dict[str, Any] = {
            "bootstrap.servers": config.bootstrap_servers,
            "client.id": "pipectl-producer",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": config.linger_ms,
            "batch.size": config.batch_size,
            "compression.type": config.compression,
            "partitioner": "murmur2_random",  # the Java client's partitioning
            "allow.auto.create.topics": False,
            "message.timeout.ms": int(config.flush_timeout_s * 1000),
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 512 * 1024,
            # Successful deliveries are counted from the queue length; only failures call back.
            "delivery.report.only.error": True,
            "on_delivery": self._on_error,
            "logger": logger,
        }
        if config.iam is not None:
            from producer.iam import confluent_settings

            settings.update(confluent_settings(config.iam))
        settings.update(config.extra_client_config)
        try:
            self.producer = confluent_kafka.Producer(settings)
        except confluent_kafka.KafkaException as exc:
            raise ProducerError(f"invalid Kafka client settings: {exc}") from None
        try:
            metadata = self.producer.list_topics(self.topic, timeout=config.connect_timeout_s)
        except confluent_kafka.KafkaException:
            raise _unreachable(config) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise _topic_missing(config)
        self.partitions = len(topic.partitions)
        self._produce = self.producer.produce
        self._poll = self.producer.poll

    def _on_error(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed += 1
            if self.first_error is None:
                self.first_error = f"{err.name()}: {err.str()}"

    def send(self, key: bytes | None, value: bytes) -> None:
        self._sent += 1
        while True:
            try:
                self._produce(self.topic, value, key)
                break
            except BufferError:  # the local queue is full: let the client drain it
                self._poll(0.005)
            except self._ck.KafkaException as exc:  # refused locally (e.g. too large)
                self._failed += 1
                self.first_error = self.first_error or str(exc)
                break
        if not self._sent & 1023:
            self._poll(0)

    def poll(self) -> None:
        self._poll(0)

    def counts(self) -> tuple[int, int]:
        self._poll(0)
        in_flight = len(self.producer)
        return self._sent - in_flight - self._failed, self._failed

    def flush(self, timeout: float) -> bool:
        remaining = self.producer.flush(timeout)
        self._poll(0)
        return remaining == 0

    def close(self) -> None:
        pass
