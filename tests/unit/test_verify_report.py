"""The verdict logic of the verify report (pure data; the real reads are in the e2e tests)."""

from pipectl.verify import PartitionCount, VerifyReport


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
