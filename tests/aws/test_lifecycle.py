"""`pipectl aws status | stop | logs | destroy` against the emulator."""

from __future__ import annotations

import json
import re
import time

from tests.aws.conftest import REGION, client

APP = "order-ingest"
NOT_FOUND = (
    f"error: application '{APP}' does not exist in {REGION} -- deploy it with `pipectl aws deploy` "
    "(or check aws.application_name and aws.region)"
)


def test_status_of_a_running_app(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    status = world.json("aws", "status")
    assert status["status"] == "RUNNING"
    assert status["version"] == 1
    assert status["runtime"] == "FLINK-1_20"
    assert status["parallelism"] == 1
    assert status["checkpoint_interval_ms"] == 60000
    assert status["last_snapshot"] is None
    assert status["code"].startswith("s3://pipectl-code/pipectl/data-pipeline-aws-")
    assert status["health"]["verdict"] == "running"
    assert status["health"]["restarts_in_window"] == 0
    assert status["health"]["uptime_s"] > 0
    proc = world.run("aws", "status")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"job            running: up \d+s without a restart", lines[2]), lines[2]
    assert lines[:2] + lines[3:8] == [
        f"application    {APP}",
        "status         RUNNING",
        "version        1",
        "runtime        FLINK-1_20",
        "parallelism    1",
        "checkpoints    every 60s",
        "last snapshot  none",
    ]


def test_status_of_a_missing_app(world):
    proc = world.run("aws", "status")
    assert proc.returncode == 3
    assert proc.stderr.strip() == NOT_FOUND
    proc = world.run("aws", "status", "--output", "json")
    assert json.loads(proc.stdout) == {"error": NOT_FOUND[7:].split(" -- ")[0], "hint": NOT_FOUND.split(" -- ")[1], "exit_code": 3}


def test_stop_takes_a_snapshot_and_is_idempotent(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    proc = world.run("aws", "stop")
    assert proc.returncode == 0, proc.stderr
    snaps = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    assert len(snaps) == 1
    name = snaps[0]["SnapshotName"]
    assert proc.stdout == f"application '{APP}' stopped; snapshot: {name}\n"
    assert proc.stderr.splitlines() == [
        f"… stopping '{APP}' (taking a snapshot)",
        f"… waiting for '{APP}' to stop",
        f"✓ application '{APP}' stopped",
    ]
    status = world.json("aws", "status")
    assert (status["status"], status["last_snapshot"]) == ("READY", name)

    again = world.run("aws", "stop")
    assert again.returncode == 0
    assert again.stdout == f"application '{APP}' was not running (status READY)\n"


def test_force_stop_takes_no_snapshot(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    result = world.json("aws", "stop", "--force")
    assert result == {
        "application": APP,
        "region": REGION,
        "stopped": True,
        "forced": True,
        "snapshot": None,
        "status": "READY",
    }
    assert client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"] == []


def test_stop_of_a_missing_app(world):
    proc = world.run("aws", "stop")
    assert (proc.returncode, proc.stderr.strip()) == (3, NOT_FOUND)


def test_destroy_asks_and_is_idempotent(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    refused = world.run("aws", "destroy")  # stdin is not a terminal: never delete without --yes
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: refusing to delete without confirmation -- pass --yes"
    assert client("kinesisanalyticsv2").list_applications()["ApplicationSummaries"][0]["ApplicationName"] == APP

    proc = world.run("aws", "destroy", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"application '{APP}' deleted from {REGION}",
        "kept: code in s3://pipectl-code/pipectl/",
        f"kept: log group /aws/kinesis-analytics/{APP}",
    ]
    assert client("kinesisanalyticsv2").list_applications()["ApplicationSummaries"] == []

    again = world.run("aws", "destroy", "--yes")
    assert again.returncode == 0
    assert again.stdout == f"application '{APP}' does not exist in {REGION}; nothing deleted\n"


def test_logs_show_driver_errors_first(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    now = int(time.time() * 1000)
    events = [
        {"logger": "org.apache.flink.runtime.taskmanager.Task", "messageType": "INFO", "message": "Source: orders switched to RUNNING"},
        {"logger": "org.apache.flink.client.python.PythonDriver", "messageType": "ERROR", "message": "KeyError: 'KAFKA_TOPIC'"},
        {"logger": "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "messageType": "INFO", "message": "Completed checkpoint 1"},
    ]
    client("logs").put_log_events(
        logGroupName=f"/aws/kinesis-analytics/{APP}",
        logStreamName="kinesis-analytics-log-stream",
        logEvents=[{"timestamp": now + i, "message": json.dumps(e)} for i, e in enumerate(events)],
    )
    doc = world.json("aws", "logs")
    assert [e["message"] for e in doc["driver_errors"]] == ["KeyError: 'KAFKA_TOPIC'"]
    # The emulated service logs the job's own state change first (CREATED -> RUNNING).
    assert [e["message"] for e in doc["events"]][-3:] == [e["message"] for e in events]
    assert doc["events"][0]["message"].endswith("switched from state CREATED to RUNNING.")
    text = world.run("aws", "logs").stdout.splitlines()
    assert text[0] == "Python driver errors (1):"
    assert text[1].endswith(" ERROR PythonDriver: KeyError: 'KAFKA_TOPIC'")
    assert text[2] == f"recent events in /aws/kinesis-analytics/{APP} (last 60 min, {len(doc['events'])}):"
    assert text[-3].endswith(" INFO Task: Source: orders switched to RUNNING")


def test_logs_without_a_log_group(world):
    proc = world.run("aws", "logs")
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        f"error: log group /aws/kinesis-analytics/{APP} does not exist in {REGION} -- `pipectl aws deploy` "
        "creates it; or set aws.log_group to the application's log group"
    )
