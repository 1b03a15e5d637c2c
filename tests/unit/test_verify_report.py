"""The verdict logic of the verify report (pure data; the real reads are in the e2e tests)."""

import pytest
from kafka.errors import KafkaTimeoutError

from pipectl import kafka_admin
from pipectl.config import Settings
from pipectl.errors import UnhealthyError
from pipectl.verify import PartitionCount, VerifyReport, compare_with_topic, topic_comparison


def report(rows=10, distinct=10, rejected=2, kafka_records=12, lag=0):
    r = VerifyReport("analytics.orders", "file:///w", rows, distinct, rows - distinct,
                     [PartitionCount("event_time_day=2026-11-27", rows)], 3, 1.0, 2, 2048, rejected_rows=rejected)
    if kafka_records is not None:
        stored = rows + rejected
        r.kafka = {"topic": "t", "records": kafka_records, "stored_plus_quarantined": stored,
                   "missing": kafka_records - stored, "consumer_group": "g", "lag": lag, "lag_per_partition": {}}
    return r


def test_complete_when_topic_equals_stored_plus_quarantined():
    r = report()
    assert r.complete is True and r.problems == []
    d = r.to_dict()
    assert d["complete"] is True and d["avg_file_bytes"] == 1024 and d["problems"] == []


def test_missing_records_are_named_with_the_lag():
    r = report(kafka_records=20, lag=8)
    assert r.complete is False
    assert r.problems == ["8 of 20 Kafka records are neither stored nor quarantined (consumer lag 8)"]


def test_duplicates_make_it_incomplete():
    r = report(rows=12, distinct=10, kafka_records=14)
    assert r.complete is False
    assert r.problems == ["2 duplicated event ids"]


def test_more_rows_than_records():
    r = report(kafka_records=10)
    assert r.problems == ["2 more rows stored and quarantined than records in the topic"]


def test_without_kafka_there_is_no_verdict():
    r = report(kafka_records=None)
    assert r.complete is None and r.problems == []


# ---------------------------------------------------------------------------- exit code and reason
@pytest.mark.parametrize("rows, expected, kafka_records, code, reason", [
    (10, None, 12, 0, ""),
    (10, 10, 12, 0, ""),
    (0, None, None, 3, "table analytics.orders is empty: produce events and wait for a checkpoint"),
    (10, 12, 12, 5, "expected 12 rows, found 10"),
    (10, None, 20, 5, "incomplete: 8 of 20 Kafka records are neither stored nor quarantined (consumer lag 0)"),
    (10, None, None, 0, ""),  # not compared: nothing says it is incomplete
])
def test_the_report_carries_its_exit_code_and_reason_in_json_too(rows, expected, kafka_records, code, reason):
    r = report(rows=rows, distinct=rows, kafka_records=kafka_records)
    r.expected_rows = expected
    assert (r.exit_code, r.exit_reason) == (code, reason)
    d = r.to_dict()
    assert (d["exit_code"], d["exit_reason"]) == (code, reason)


# ---------------------------------------------------------------------------- the topic side
@pytest.mark.parametrize("rows, rejected, begin, end, committed, want", [
    # every record stored or quarantined, the group caught up
    (8, 2, {0: 0, 1: 0}, {0: 6, 1: 4}, {0: 6, 1: 4},
     {"records": 10, "stored_plus_quarantined": 10, "missing": 0, "lag": 0, "lag_per_partition": {"0": 0, "1": 0}}),
    # records not yet committed: missing and lag agree
    (5, 0, {0: 0, 1: 0}, {0: 6, 1: 4}, {0: 3, 1: 2},
     {"records": 10, "stored_plus_quarantined": 5, "missing": 5, "lag": 5, "lag_per_partition": {"0": 3, "1": 2}}),
    # retention removed the oldest records: counted from the beginning offsets, lag too
    (4, 0, {0: 4, 1: 2}, {0: 6, 1: 4}, {},
     {"records": 4, "stored_plus_quarantined": 4, "missing": 0, "lag": 4, "lag_per_partition": {"0": 2, "1": 2}}),
    # a group that never committed on a partition: lag from its beginning
    (3, 1, {0: 0, 1: 0}, {0: 3, 1: 1}, {0: 3},
     {"records": 4, "stored_plus_quarantined": 4, "missing": 0, "lag": 1, "lag_per_partition": {"0": 0, "1": 1}}),
    # committed past the end (a recreated topic): lag clamped at zero; more stored than records
    (7, 0, {0: 0}, {0: 5}, {0: 9},
     {"records": 5, "stored_plus_quarantined": 7, "missing": -2, "lag": 0, "lag_per_partition": {"0": 0}}),
    # an empty topic
    (0, None, {}, {}, {}, {"records": 0, "stored_plus_quarantined": 0, "missing": 0, "lag": 0, "lag_per_partition": {}}),
])
def test_topic_comparison(rows, rejected, begin, end, committed, want):
    r = report(rows=rows, distinct=rows, rejected=rejected, kafka_records=None)
    got = topic_comparison(r, "orders.created.v1", "g", begin, end, committed)
    assert got == {"topic": "orders.created.v1", "consumer_group": "g", **want}


def test_compare_with_topic_fills_the_report(monkeypatch, tmp_path):
    monkeypatch.setattr(kafka_admin, "topic_offsets", lambda bootstrap, topic: ({0: 0}, {0: 12}))
    monkeypatch.setattr(kafka_admin, "group_offsets", lambda bootstrap, group, topic: {0: 12})
    r = report(kafka_records=None)
    compare_with_topic(Settings(project_dir=tmp_path), r)
    assert r.kafka["missing"] == 0 and r.kafka_error is None and r.complete is True


@pytest.mark.parametrize("exc, said", [
    (KafkaTimeoutError(), "KafkaTimeoutError"),
    (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError"),
    (UnhealthyError("cannot reach Kafka at 127.0.0.1:9092 (NoBrokersAvailable)"),
     "cannot reach Kafka at 127.0.0.1:9092 (NoBrokersAvailable)"),
])
def test_compare_with_topic_says_why_kafka_was_not_compared(monkeypatch, tmp_path, exc, said):
    def fail(*_args):
        raise exc

    monkeypatch.setattr(kafka_admin, "topic_offsets", fail)
    r = report(kafka_records=None)
    compare_with_topic(Settings(project_dir=tmp_path), r)
    assert r.kafka is None and r.complete is None
    assert r.kafka_error == f"Kafka at 127.0.0.1:9092 did not answer ({said})"
    assert r.to_dict()["kafka_error"] == r.kafka_error


def test_compare_with_topic_does_not_hide_a_bug_as_an_unreachable_broker(monkeypatch, tmp_path):
    def bug(*_args):
        raise KeyError("partition")

    monkeypatch.setattr(kafka_admin, "topic_offsets", bug)
    with pytest.raises(KeyError):
        compare_with_topic(Settings(project_dir=tmp_path), report(kafka_records=None))
