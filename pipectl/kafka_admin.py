"""Small Kafka admin operations over kafka-python: health, topics, offsets, group lag.

kafka-python is imported inside the functions: it takes about 0.3 s to import, and most commands
(and `pipectl --help`) never talk to a broker."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

from pipectl.errors import PipectlError, UnhealthyError


@contextmanager
def admin(bootstrap: str, timeout_s: float = 5.0) -> Iterator[Any]:  # kafka-python's KafkaAdminClient (untyped)
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="pipectl",
            request_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaError as exc:
        raise UnhealthyError(
            f"cannot reach Kafka at {bootstrap} ({type(exc).__name__})",
            hint="start the stack with 'pipectl local up'",
        ) from None
    try:
        yield client
    finally:
        client.close()


def ping(bootstrap: str, timeout_s: float = 3.0) -> bool:
    with admin(bootstrap, timeout_s) as client:
        client.list_topics()
    return True


def ensure_topic(bootstrap: str, topic: str, partitions: int) -> bool:
    """Create the topic when missing. True when it was created."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    with admin(bootstrap) as client:
        if topic in client.list_topics():
            return False
        try:
            client.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            return False
    return True


def topic_offsets(bootstrap: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(beginning, end) offset per partition of `topic`."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return {}, {}
        begin = {tp.partition: off for tp, off in consumer.beginning_offsets(tps).items()}
        end = {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
        return begin, end
    finally:
        consumer.close()


def group_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    with admin(bootstrap) as client:
        offsets = client.list_group_offsets(group).get(group, {})
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def commit_group_offsets(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> str:
    """Set the group's committed offsets of `topic`'s partitions; "" when every one was taken, else
    what the broker said of those that were not. The group must have no active member."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    request = {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
    with admin(bootstrap) as client:
        result = client.alter_group_offsets(group, request)
    refused = {tp.partition: err for tp, err in result.items() if getattr(err, "errno", 0)}
    return ", ".join(f"partition {p}: {getattr(e, '__name__', e)}" for p, e in sorted(refused.items()))


def lag_per_partition(begin: dict[int, int], end: dict[int, int], committed: dict[int, int]) -> dict[int, int]:
    """The consumer group's lag per partition of the topic: records after its committed offset
    (from the beginning where it never committed), never below zero. The one definition of lag
    that `status` and `verify` share."""
    return {p: max(0, end[p] - committed.get(p, begin.get(p, 0))) for p in sorted(end)}


def errors() -> tuple[type[BaseException], ...]:
    """What talking to a broker may raise when it does not answer: our UnhealthyError,
    kafka-python's errors (NoBrokersAvailable, timeouts) and the socket's."""
    from kafka.errors import KafkaError  # kafka-python: imported where a broker is used

    return (PipectlError, KafkaError, OSError)


def describe_error(exc: BaseException) -> str:
    """A short name for what went wrong, without the broker's internals."""
    return exc.message if isinstance(exc, PipectlError) else type(exc).__name__
