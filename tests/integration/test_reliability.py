"""Exactly once through crashes, on the real stack: 100,000 events with 1% malformed; during
ingest the TaskManager is killed twice (and started again) and the job is stopped with a
savepoint and resumed. Every valid event is stored once, every malformed one quarantined."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyiceberg.table import StaticTable

from tests.conftest import REPO, run_json, run_pipectl

pytestmark = pytest.mark.e2e

EVENTS = 100_000


def rows_in(warehouse: Path, table: str) -> int:
    table_dir = warehouse / "analytics" / table
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        return 0
    t = StaticTable.from_metadata(str(table_dir))
    if t.current_snapshot() is None:
        return 0
    return sum(task.file.record_count for task in t.scan().plan_files())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def kill_taskmanager(env: dict) -> int:
    pid = json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "run" / "taskmanager.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    return pid


def job_running(env: dict) -> bool:
    code, job = run_json(env, "job", "status")
    return code == 0 and job["state"] == "RUNNING" and job["last_checkpoint"] is not None


def test_exactly_once_through_crashes_and_a_savepoint(native_stack):
    env = dict(
        native_stack,
        PIPECTL_PIPELINE_TOPIC="orders.reliability.v1",
        PIPECTL_PIPELINE_TABLE="orders_reliability",
        PIPECTL_PIPELINE_REJECTED_TABLE="orders_reliability_rejected",
        PIPECTL_PIPELINE_CONSUMER_GROUP="reliability",
        PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3",
    )
    warehouse = Path(env["PIPECTL_LOCAL_WAREHOUSE"])
    up = run_pipectl(env, "local", "up")  # creates this test's topic
    assert up.returncode == 0, up.stderr
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started

    producer = subprocess.Popen(
        [sys.executable, "-m", "pipectl", "produce", "orders", "--count", str(EVENTS), "--rate", "2000",
         "--malformed-ratio", "0.01", "--seed", "11", "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        for threshold in (5_000, 25_000):
            wait_for(lambda: rows_in(warehouse, "orders_reliability") >= threshold, 180, f"{threshold} rows")
            kill_taskmanager(env)
            time.sleep(2)
            restarted = run_pipectl(env, "local", "up")
            assert restarted.returncode == 0, restarted.stderr
            assert "taskmanager: started" in restarted.stdout
            wait_for(lambda: job_running(env), 180, "the job to run again after the TaskManager crash")

        wait_for(lambda: rows_in(warehouse, "orders_reliability") >= 45_000, 180, "45,000 rows")
        code, stopped = run_json(env, "job", "stop")
        assert code == 0 and stopped["state"] == "STOPPED", stopped
        code, resumed = run_json(env, "job", "start")
        assert code == 0, resumed
        assert resumed["restored_from"] == stopped["savepoint"]

        out, err = producer.communicate(timeout=300)
    finally:
        if producer.poll() is None:
            producer.kill()
    assert producer.returncode == 0, err
    summary = json.loads(out)
    assert summary["acked"] == EVENTS and summary["failed"] == 0
    valid, malformed = summary["valid"], summary["malformed"]
    assert valid + malformed == EVENTS and 500 <= malformed <= 1500

    code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "240")
    assert code == 0, report
    assert report["rows"] == valid
    assert report["distinct_event_ids"] == valid
    assert report["rejected_rows"] == malformed
    assert report["kafka"]["records"] == EVENTS
    assert report["kafka"]["missing"] == 0
    assert report["complete"] is True

    code, stopped = run_json(env, "job", "stop")
    assert code == 0, stopped

    # small files: many checkpoints made many files; maintenance compacts them and expires snapshots
    code, maintained = run_json(env, "maintain", "--older-than", "0", "--retain-last", "1", timeout=300)
    assert code == 0, maintained
    before, after = maintained["before"], maintained["after"]
    assert before["data_files"] > after["data_files"] >= 1
    assert before["snapshots"] > after["snapshots"] == 1
    assert after["rows"] == before["rows"] == valid
    code, report = run_json(env, "verify")
    assert code == 0 and report["rows"] == valid and report["distinct_event_ids"] == valid
    assert report["data_files"] == after["data_files"]
