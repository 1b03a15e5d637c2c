"""The producer against a real broker (fixture `kafka_bootstrap`): every event accounted for,
contents and keys as sent, rate accuracy measured on the topic, Ctrl-C flushes.

Each test that needs exact counts writes to a topic of its own (2 partitions), so tests running
next to it cannot disturb the figures.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from producer.contract import validator
from producer.options import ProduceConfig
from producer.send import produce
from tests.conftest import kill_process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PIPECTL = [sys.executable, "-m", "pipectl"]
STANDALONE = [sys.executable, "producer/cli.py"]
START = "2026-11-27T09:30:00Z"
START_MS = int(datetime.fromisoformat(START.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def topic(kafka_bootstrap):
    from kafka.admin import KafkaAdminClient, NewTopic

    name = f"test.producer.{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    yield name
    try:
        admin.delete_topics([name])
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + 10
        while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def consume(bootstrap: str, topic: str, start: dict[int, int] | None = None) -> list:
    """Every record from `start` (default: the beginning) up to the current end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    ends = end_offsets(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000)
    records = []
    try:
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        remaining = {p for p in ends if ends[p] > (start or {}).get(p, 0)}
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=5000).items():
                for record in batch:
                    if record.offset < ends[tp.partition]:
                        records.append(record)
                    if record.offset >= ends[tp.partition] - 1:
                        remaining.discard(tp.partition)
    finally:
        consumer.close()
    return records


def run(cmd, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, timeout=timeout, text=True)


def _clients():
    names = ["kafka-python"]
    try:
        import confluent_kafka  # noqa: F401

        names.append("confluent-kafka")
    except ImportError:
        pass
    return names


@pytest.mark.parametrize("client", _clients())
def test_every_event_is_on_the_topic_with_its_key(kafka_bootstrap, topic, client):
    config = ProduceConfig(
        topic=topic, bootstrap_servers=kafka_bootstrap, rate=None, count=3000, seed=42, client=client,
        start_time_ms=START_MS, late_ratio=0.2, max_lateness_s=600, malformed_ratio=0.1,
    )
    summary = produce(config)
    assert summary.sent == summary.acked == 3000 and summary.failed == 0 and summary.ok
    records = consume(kafka_bootstrap, topic)
    assert len(records) == summary.acked

    v = validator()
    malformed = late = 0
    partitions_of = defaultdict(set)
    for r in records:
        partitions_of[r.key].add(r.partition)
        try:
            event = json.loads(r.value)
        except ValueError:
            malformed += 1
            continue
        if not v.is_valid(event):
            malformed += 1
            continue
        assert r.key == event["customer"]["customer_id"].encode()
        ms = int(datetime.fromisoformat(event["event_time"].replace("Z", "+00:00")).timestamp() * 1000)
        if ms < START_MS:  # on time ones are START + i ms; late ones >= 5 min before
            late += 1
    assert malformed == summary.malformed > 0
    assert late == summary.late > 0
    assert summary.valid + summary.malformed == 3000
    # one customer's orders stay in one partition (and so keep their order)
    assert all(len(p) == 1 for p in partitions_of.values())


def test_cli_count_run_on_the_pipeline_topic(kafka_bootstrap):
    """`pipectl produce orders --count N`: the topic grows by exactly the acknowledged count."""
    before = end_offsets(kafka_bootstrap, "orders.created.v1")
    r = run(PIPECTL, "produce", "orders", "--rate", "500", "--count", "400", "--key", "order_id",
            "--bootstrap-servers", kafka_bootstrap, "--output", "json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["topic"] == "orders.created.v1"
    assert summary["sent"] == summary["acked"] == 400 and summary["failed"] == 0
    after = end_offsets(kafka_bootstrap, "orders.created.v1")
    assert sum(after.values()) - sum(before.values()) == 400
    records = consume(kafka_bootstrap, "orders.created.v1", before)
    mine = [r for r in records if r.key and r.key.startswith(b"ord-")]
    assert len(mine) >= 400
    assert all(json.loads(r.value)["order_id"].encode() == r.key for r in mine)


def test_standalone_script_sends_and_reports(kafka_bootstrap, topic):
    r = run(STANDALONE, "produce", "orders", "--rate", "50", "--count", "50", "--topic", topic,
            "--bootstrap-servers", kafka_bootstrap)
    assert r.returncode == 0, r.stderr
    assert f"50 events to {topic} at {kafka_bootstrap}" in r.stdout
    assert "acknowledged 50   failed 0" in r.stdout
    assert len(consume(kafka_bootstrap, topic)) == 50


def _rate_from_topic(records) -> float:
    stamps = sorted(r.timestamp for r in records)  # CreateTime, set by the client at send
    return (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1000)


def test_rate_accuracy_measured_on_the_topic(kafka_bootstrap):
    """10 s at 1,000/s and at 10/s (run side by side): within +-2 % by the summary and by the
    record timestamps on the topic. The 30 s figures at 1, 100 and 10,000/s are in
    bench/producer_throughput.py and docs/benchmarks.md."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    topics = {rate: f"test.producer.rate{rate}.{uuid.uuid4().hex[:8]}" for rate in (1000, 10)}
    admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in topics.values()])
    procs: dict[int, subprocess.Popen] = {}
    try:
        procs = {
            rate: subprocess.Popen(
                [*PIPECTL, "produce", "orders", "--rate", str(rate), "--duration", "10s", "--topic", t,
                 "--bootstrap-servers", kafka_bootstrap, "--output", "json"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for rate, t in topics.items()
        }
        for rate, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            summary = json.loads(out)
            assert summary["stopped_by"] == "duration"
            assert summary["sent"] == summary["acked"]
            assert summary["sent"] == pytest.approx(rate * 10, rel=0.02)
            assert summary["rate_achieved"] == pytest.approx(rate, rel=0.02)
            records = consume(kafka_bootstrap, topics[rate])
            assert len(records) == summary["acked"]
            assert _rate_from_topic(records) == pytest.approx(rate, rel=0.02)
    finally:
        for proc in procs.values():
            kill_process(proc)
        admin.delete_topics(list(topics.values()))
        admin.close()


def test_ctrl_c_flushes_in_flight_and_reports(kafka_bootstrap, topic):
    proc = subprocess.Popen(
        [*PIPECTL, "produce", "orders", "--rate", "300", "--topic", topic, "--bootstrap-servers", kafka_bootstrap],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        kill_process(proc)  # only when it did not end on Ctrl-C
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    first = out.splitlines()[0]
    assert first.startswith("stopped by Ctrl-C: ")
    sent = int(first.split(": ")[1].split(" events")[0].replace(",", ""))
    assert sent > 100
    assert f"acknowledged {sent:,}   failed 0" in out
    assert len(consume(kafka_bootstrap, topic)) == sent
