"""`pipectl status` on the real native stack, in three states: all healthy; the job stopped; the
TaskManager killed (and then restored). Each verdict, reason and exit code is asserted, and
every JSON document is validated against the schema in docs/status.md."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import REPO, run_json, run_pipectl
from tests.unit.test_status_schema import schema

pytestmark = pytest.mark.e2e

EVENTS = 300


def status(env, *args) -> tuple[int, dict]:
    code, doc = run_json(env, "status", "--interval", "1", *args, timeout=120)
    jsonschema.validate(doc, schema("status"))
    assert code == doc["exit_code"], doc
    return code, doc


def verdicts(doc) -> dict:
    return {name: s["verdict"] for name, s in doc["stages"].items()}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def env(native_stack):
    env = dict(
        native_stack,
        PIPECTL_PIPELINE_TOPIC="orders.status.v1",
        PIPECTL_PIPELINE_TABLE="orders_status",
        PIPECTL_PIPELINE_REJECTED_TABLE="orders_status_rejected",
        PIPECTL_PIPELINE_CONSUMER_GROUP="status-test",
        PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3",
        NO_COLOR="1",
        COLUMNS="250",
    )
    up = run_pipectl(env, "local", "up")  # creates this test's topic
    assert up.returncode == 0, up.stderr
    yield env
    run_pipectl(env, "job", "stop", "--no-savepoint")


def test_status_through_healthy_stopped_and_taskmanager_killed(env):
    # -- 1. healthy: the job runs and every produced event is committed -----------------------
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    produced = run_pipectl(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS))
    assert produced.returncode == 0, produced.stderr
    code, report = run_json(env, "verify", "--expect-rows", str(EVENTS), "--timeout", "120")
    assert code == 0, report

    def caught_up():
        _code, doc = status(env)
        return doc if doc["stages"]["kafka"]["lag"]["total"] == 0 else None

    doc = wait_for(caught_up, 60, "the consumer group to commit every offset")
    assert doc["verdict"] == "healthy" and doc["exit_code"] == 0, doc
    assert verdicts(doc) == {"kafka": "healthy", "flink": "healthy", "iceberg": "healthy"}
    k, f, i = doc["stages"]["kafka"], doc["stages"]["flink"], doc["stages"]["iceberg"]
    assert k["topic"] == "orders.status.v1" and k["partitions"] == 2 and k["records"] == EVENTS
    assert sum(k["end_offsets"].values()) == EVENTS
    assert k["lag"] == {"total": 0, "per_partition": {"0": 0, "1": 0}, "committed": True}
    assert f["job"]["state"] == "RUNNING" and f["job"]["id"] == started["job_id"]
    assert f["job"]["restarts"] == 0 and f["job"]["tasks_running"] == f["job"]["tasks_total"]
    assert f["job"]["last_checkpoint"]["age_s"] < 9
    assert f["taskmanagers"] == 1 and f["taskmanager_process"]["alive"] is True
    assert i["table"] == "analytics.orders_status" and i["rows"] == EVENTS and i["quarantined_rows"] == 0
    assert i["data_files"] >= 1 and i["avg_file_bytes"] > 0

    text = run_pipectl(env, "status", "--interval", "1")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("healthy  ")
    assert lines[1].endswith("· exit code 0")
    assert [line.split()[:2] for line in lines[3:6]] == [["kafka", "healthy"], ["flink", "healthy"], ["iceberg", "healthy"]]
    assert "table analytics.orders_status: 300 rows" in text.stdout

    # --watch refreshes until Ctrl-C and draws sparklines
    watch = subprocess.Popen([sys.executable, "-m", "pipectl", "status", "--watch", "--interval", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    time.sleep(6)  # Ctrl-C during the first refresh still lets it finish and show (pipectl/cli/status.py)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert "produced" in out and "Ctrl-C to stop" in out and "▁" in out

    # -- 2. the job stopped: Flink is down, and so is the pipeline ----------------------------
    code, stopped = run_json(env, "job", "stop")
    assert code == 0 and stopped["state"] == "STOPPED", stopped
    code, doc = status(env)
    assert code == 4 and doc["verdict"] == "down"
    assert verdicts(doc) == {"kafka": "healthy", "flink": "down", "iceberg": "healthy"}
    reason = "job order_ingest is not running (last state FINISHED); start it with 'pipectl job start'"
    assert doc["stages"]["flink"]["problems"] == [reason]
    assert doc["reason"] == f"flink: {reason}"
    text = run_pipectl(env, "status", "--interval", "1")
    assert text.returncode == 4
    assert text.stdout.splitlines()[0] == f"DOWN  flink: {reason}"

    # -- 3. the TaskManager killed: degraded at once, and while the job restarts --------------
    code, resumed = run_json(env, "job", "start")
    assert code == 0 and resumed["restored_from"] == stopped["savepoint"].removeprefix("file:"), resumed
    state_dir = Path(env["PIPECTL_LOCAL_STATE_DIR"])
    # the TaskManager and its supervisor (which would start it again by itself) both die
    os.kill(json.loads((state_dir / "run" / "tm-supervisor.json").read_text())["pid"], signal.SIGKILL)
    pid = json.loads((state_dir / "run" / "taskmanager.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    code, doc = status(env)
    tm_reason = f"the TaskManager process (pid {pid}) is not running; restart it with 'pipectl local up'"
    assert code == 6 and doc["verdict"] == "degraded", doc
    assert verdicts(doc) == {"kafka": "healthy", "flink": "degraded", "iceberg": "healthy"}
    assert doc["stages"]["flink"]["problems"][0] == tm_reason
    assert doc["reason"] == f"flink: {tm_reason}"

    def noticed():  # the JobManager notices after the heartbeat timeout (20 s) or the lost connection
        code, doc = status(env)
        return (code, doc) if doc["stages"]["flink"]["taskmanagers"] == 0 else None

    code, doc = wait_for(noticed, 60, "the JobManager to notice the lost TaskManager")
    assert code == 6 and doc["verdict"] == "degraded"
    problems = doc["stages"]["flink"]["problems"]
    assert problems[:2] == [tm_reason, "no TaskManager is registered with the JobManager; start one with 'pipectl local up'"]
    assert doc["stages"]["flink"]["job"]["state"] in ("RESTARTING", "RUNNING", "CREATED")
    if doc["stages"]["flink"]["job"]["state"] == "RESTARTING":
        assert problems[2].startswith("job order_ingest is RESTARTING (restarts: ")

    # -- restored: `local up` starts the TaskManager again; a recent restart keeps it degraded --
    up = run_pipectl(env, "local", "up")
    assert up.returncode == 0 and "taskmanager: started" in up.stdout, up.stderr

    def recovered():
        code, doc = status(env)
        job = doc["stages"]["flink"]["job"]
        ok = job["state"] == "RUNNING" and job["tasks_running"] == job["tasks_total"] and job["last_checkpoint"]
        return (code, doc) if ok and job["last_checkpoint"]["age_s"] < 9 else None

    code, doc = wait_for(recovered, 120, "the job to run again")
    assert code == 6 and verdicts(doc) == {"kafka": "healthy", "flink": "degraded", "iceberg": "healthy"}
    job = doc["stages"]["flink"]["job"]
    assert job["restarts"] >= 1 and job["last_restart_age_s"] < 300
    [problem] = doc["stages"]["flink"]["problems"]
    assert re.fullmatch(rf"job order_ingest restarted \d+s ago \(restarts: {job['restarts']}\); "
                        r"see 'pipectl local logs taskmanager'", problem), problem

    code, stopped = run_json(env, "job", "stop")
    assert code == 0, stopped
