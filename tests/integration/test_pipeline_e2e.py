"""The spine, end to end on the real native stack: Kafka broker, Flink cluster, Iceberg files
read back by pyiceberg. No mock anywhere."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
from pyiceberg.table import StaticTable

from tests.conftest import run_json, run_pipectl

pytestmark = pytest.mark.e2e

EVENTS = 2000


def test_local_pipeline_end_to_end(native_stack):
    env = native_stack
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

    # the spine test needs the session's fresh stack: nothing on the topic before it produces
    from pipectl import kafka_admin

    begin, end = kafka_admin.topic_offsets("127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"], "orders.created.v1")
    assert sum(end.values()) == 0, "orders.created.v1 is not empty: run this test on a fresh stack"

    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    assert started["state"] == "RUNNING" and len(started["job_id"]) == 32

    # starting again is a no-op
    code, second = run_json(env, "job", "start")
    assert code == 0 and second["job_id"] == started["job_id"]
    assert second["message"] == "already running, nothing to do"

    code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "7")
    assert code == 0, produced
    assert produced["acked"] == EVENTS and produced["failed"] == 0

    code, report = run_json(env, "verify", "--expect-rows", str(EVENTS), "--timeout", "180")
    assert code == 0, report
    assert report["rows"] == EVENTS
    assert report["distinct_event_ids"] == EVENTS
    assert report["duplicates"] == 0
    assert len(report["partitions"]) >= 1
    assert all(p["partition"].startswith("event_time_day=") for p in report["partitions"])
    assert sum(p["rows"] for p in report["partitions"]) == EVENTS
    assert report["snapshots"] >= 1

    # an independent look at the files: Parquet under data/event_time_day=YYYY-MM-DD/
    table_dir = warehouse / "analytics" / "orders"
    parquet = list((table_dir / "data").glob("event_time_day=*/*.parquet"))
    assert parquet, "no Parquet data files"
    table = StaticTable.from_metadata(str(table_dir))
    arrow = table.scan().to_arrow()
    assert arrow.num_rows == EVENTS
    assert pc.count_distinct(arrow["event_id"]).as_py() == EVENTS
    assert pc.min(arrow["total_amount"]).as_py() > 0

    code, job = run_json(env, "job", "status")
    assert code == 0 and job["state"] == "RUNNING"
    assert job["last_checkpoint"] is not None

    code, stopped = run_json(env, "job", "stop")
    assert code == 0, stopped
    assert stopped["state"] == "STOPPED" and stopped["savepoint"].startswith("file:")

    code, after = run_json(env, "job", "status")
    assert code == 4 and after["state"] != "RUNNING"

    # a fresh start on a non-empty table says what it risks
    code, fresh = run_json(env, "job", "start", "--fresh")
    assert code == 0, fresh
    assert fresh["warnings"] == [
        f"starting fresh while analytics.orders holds {EVENTS} rows: the job reads on from the consumer "
        "group's committed offsets, not from a checkpoint; records after the last offset commit can be written twice"
    ]
    code, stopped = run_json(env, "job", "stop", "--no-savepoint")
    assert code == 0 and stopped["state"] == "CANCELED", stopped
