"""The spine, end to end on the real native stack: Kafka broker, Flink cluster, Iceberg files
read back by pyiceberg. No mock anywhere.

It runs on a topic, tables and consumer group of its own on the session's stack, so it does not
depend on which other test ran first (test_producer_kafka fills the default topic)."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from pathlib import Path

import pyarrow.compute as pc
import pytest
from pyiceberg.table import StaticTable

from tests.conftest import iceberg_counts, run_json, run_pipectl, wait_settled

pytestmark = pytest.mark.e2e

EVENTS = 2000
MALFORMED_RATIO = "0.05"


def test_local_pipeline_end_to_end(native_stack):
    env = dict(
        native_stack,
        PIPECTL_PIPELINE_TOPIC="orders.spine.v1",
        PIPECTL_PIPELINE_TABLE="orders_spine",
        PIPECTL_PIPELINE_REJECTED_TABLE="orders_spine_rejected",
        PIPECTL_PIPELINE_CONSUMER_GROUP="spine",
        PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3",
    )
    warehouse = Path(env["PIPECTL_LOCAL_WAREHOUSE"])

    # the stack is up and says so
    code, status = run_json(env, "local", "status")
    assert code == 0
    assert [(c["name"], c["healthy"]) for c in status["components"]] == [
        ("kafka", True), ("jobmanager", True), ("taskmanager", True)]

    # `up` twice is harmless
    again = run_pipectl(env, "local", "up")
    assert again.returncode == 0, again.stderr
    assert "kafka: found running, reusing it" in again.stdout

    # `up` created this test's own topic: nothing on it before the test produces
    from pipectl import kafka_admin

    _, end = kafka_admin.topic_offsets("127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"], "orders.spine.v1")
    assert end and sum(end.values()) == 0, f"orders.spine.v1 is missing or not empty: {end}"

    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)  # the job's start, with a clock's slack
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    assert started["state"] == "RUNNING" and len(started["job_id"]) == 32
    assert started["read_from"] is None  # the tables hold nothing: the group's offsets (a new group: the beginning)

    # starting again is a no-op
    code, second = run_json(env, "job", "start")
    assert code == 0 and second["job_id"] == started["job_id"]
    assert second["message"] == "already running, nothing to do"

    code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "7",
                              "--malformed-ratio", MALFORMED_RATIO)
    assert code == 0, produced
    assert produced["acked"] == EVENTS and produced["failed"] == 0
    valid, malformed = produced["valid"], produced["malformed"]
    assert valid + malformed == EVENTS and malformed > 0, produced

    code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "180")
    assert code == 0, report
    # read after the job consumed everything (lag 0) and one more checkpoint completed: a duplicate
    # committed late would be in the table by now
    wait_settled(env, timeout=240)
    code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "60")
    assert code == 0, report
    assert report["rows"] == valid
    assert report["distinct_event_ids"] == valid
    assert report["duplicates"] == 0
    assert report["rejected_rows"] == malformed
    assert len(report["partitions"]) >= 1
    assert all(p["partition"].startswith("event_time_day=") for p in report["partitions"])
    assert sum(p["rows"] for p in report["partitions"]) == valid
    assert report["snapshots"] >= 1

    # an independent look at the files: Parquet under data/event_time_day=YYYY-MM-DD/
    table_dir = warehouse / "analytics" / "orders_spine"
    parquet = list((table_dir / "data").glob("event_time_day=*/*.parquet"))
    assert parquet, "no Parquet data files"
    table = StaticTable.from_metadata(str(table_dir))
    arrow = table.scan().to_arrow()
    assert arrow.num_rows == valid
    assert pc.count_distinct(arrow["event_id"]).as_py() == valid
    assert pc.min(arrow["total_amount"]).as_py() > 0
    assert iceberg_counts(warehouse, "orders_spine_rejected")[0] == malformed
    # ingest_time: when the job wrote the row (LOCALTIMESTAMP, the session's zone is UTC), so between the
    # job's start and now; a rejected row's ingest_day is the day of its ingest_time
    now = datetime.now(UTC).replace(tzinfo=None)
    assert arrow["ingest_time"].null_count == 0
    assert since <= pc.min(arrow["ingest_time"]).as_py() <= pc.max(arrow["ingest_time"]).as_py() <= now
    rejected = StaticTable.from_metadata(str(warehouse / "analytics" / "orders_spine_rejected")).scan().to_arrow()
    assert rejected.num_rows == malformed
    times = rejected["ingest_time"].to_pylist()
    assert all(since <= t <= now for t in times), (since, now, min(times), max(times))
    assert rejected["ingest_day"].to_pylist() == [t.date() for t in times]

    code, job = run_json(env, "job", "status")
    assert code == 0 and job["state"] == "RUNNING"
    assert job["last_checkpoint"] is not None

    code, stopped = run_json(env, "job", "stop")
    assert code == 0, stopped
    assert stopped["state"] == "STOPPED" and stopped["savepoint"].startswith("file:")

    code, after = run_json(env, "job", "status")
    assert code == 4 and after["state"] != "RUNNING"

    # a fresh start on non-empty tables reads on after the last records they hold: here the topic's end
    code, fresh = run_json(env, "job", "start", "--fresh")
    assert code == 0, fresh
    assert fresh["warnings"] == []
    _, end = kafka_admin.topic_offsets("127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"], "orders.spine.v1")
    assert sum(end.values()) == EVENTS
    assert fresh["read_from"] == {str(p): n for p, n in sorted(end.items()) if n > 0}, (fresh, end)
    code, stopped = run_json(env, "job", "stop", "--no-savepoint")
    assert code == 0 and stopped["state"] == "CANCELED", stopped
