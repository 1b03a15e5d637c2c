"""Exactly once through every stop, start and fault a user meets, on the real native stack.

Each scenario has its own topic, tables and consumer group on the session's stack, sends events
with 1% malformed, and ends with exact counts read back from the Iceberg files (pyiceberg):
rows = valid events sent, COUNT = COUNT(DISTINCT event_id), quarantined = malformed sent, and
`verify` says complete, read only after the job consumed everything (consumer lag 0) and one more
checkpoint completed. "Recovered" means a checkpoint whose id is greater than the last one before
the fault completed, not RUNNING. Producer subprocesses are killed in `finally`.
Figures (events, rows, durations) are printed per scenario (`pytest -s` shows them).
"""

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

from tests.conftest import (
    REPO,
    scenario_env,
    completed_checkpoint_id,
    iceberg_counts,
    kill_process,
    run_json,
    run_pipectl,
    wait_checkpoint_after,
    wait_for,
    wait_settled,
)

pytestmark = pytest.mark.e2e


# ---------------------------------------------------------------------------------- helpers
def read_table(env: dict, table: str) -> tuple[int, int]:
    """(rows, distinct event ids) of a table, from its files."""
    return iceberg_counts(env["PIPECTL_LOCAL_WAREHOUSE"], table)


def rows_in(env: dict) -> int:
    table_dir = Path(env["PIPECTL_LOCAL_WAREHOUSE"]) / "analytics" / env["PIPECTL_PIPELINE_TABLE"]
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        return 0
    snap = StaticTable.from_metadata(str(table_dir)).current_snapshot()
    return int(snap.summary["total-records"]) if snap and snap.summary else 0


def produce(env: dict, count: int, seed: int, rate: str = "2000", *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipectl", "produce", "orders", "--count", str(count), "--rate", rate,
         "--malformed-ratio", "0.01", "--seed", str(seed), "--output", "json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )


def produced(proc: subprocess.Popen, count: int, timeout: float = 300) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_process(proc)  # still running only when the wait above timed out
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["acked"] == count and summary["failed"] == 0, summary
    return summary


def in_topic(env: dict) -> int:
    from pipectl import kafka_admin

    _, end = kafka_admin.topic_offsets(f"127.0.0.1:{env['PIPECTL_LOCAL_KAFKA_PORT']}", env["PIPECTL_PIPELINE_TOPIC"])
    return sum(end.values())


def pid_of(env: dict, name: str) -> int:
    return json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "run" / f"{name}.json").read_text())["pid"]


def last_checkpoint(env: dict) -> tuple[str, int | None]:
    """(job id, id of its newest completed checkpoint) of the running job, from Flink's REST API."""
    code, job = run_json(env, "job", "status")
    assert code == 0 and job["job_id"], job
    return job["job_id"], completed_checkpoint_id(env, job["job_id"])


def assert_exactly_once(env: dict, valid: int, malformed: int, figures: dict) -> None:
    code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "240")
    assert code == 0, report
    # read once the job consumed everything and one more checkpoint completed: a late duplicate shows
    settled = wait_settled(env, timeout=240)
    figures["settle_s"] = settled["waited_s"]
    code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "60")
    assert code == 0, report
    assert report["complete"] is True and report["kafka"]["missing"] == 0
    assert report["kafka"]["records"] == valid + malformed
    rows, distinct = read_table(env, env["PIPECTL_PIPELINE_TABLE"])
    rejected, _ = read_table(env, env["PIPECTL_PIPELINE_REJECTED_TABLE"])
    figures.update(sent=valid + malformed, valid=valid, malformed=malformed, rows=rows, distinct=distinct,
                   quarantined=rejected)
    assert (rows, distinct, rejected) == (valid, valid, malformed), figures


def stop_job(env: dict) -> None:
    run_pipectl(env, "job", "stop")


# ---------------------------------------------------------------------------------- scenarios
def test_stop_start_then_down_while_running_then_up_start(native_stack):
    """The issue's end-of-day routine: job stop + job start; `local down` while the job runs; the
    next morning `local up` + `job start`. Then a stale savepoint is refused, and maintenance."""
    env = scenario_env(native_stack, "routine", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3")
    figures: dict = {}
    t0 = time.monotonic()
    assert run_pipectl(env, "local", "up").returncode == 0  # creates this scenario's topic
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    try:
        first = produced(produce(env, 8000, 21), 8000)
        wait_for(lambda: rows_in(env) >= 1000, 180, "the first rows")
        code, stopped = run_json(env, "job", "stop")
        assert code == 0 and stopped["state"] == "STOPPED", stopped
        code, resumed = run_json(env, "job", "start")
        assert code == 0, resumed
        assert resumed["restored_from"] == stopped["savepoint"].removeprefix("file:")

        second = produced(produce(env, 8000, 22, "max"), 8000)
        # the job runs (and may still be ingesting) when the stack goes down
        t_down = time.monotonic()
        down = run_pipectl(env, "local", "down")
        figures["down_s"] = round(time.monotonic() - t_down, 1)
        assert down.returncode == 0, down.stderr
        assert f"job {resumed['job_id']}: stopped with savepoint file:" in down.stdout, down.stdout
        assert "taskmanager: stopped" in down.stdout and "kafka: stopped" in down.stdout

        t_up = time.monotonic()
        up = run_pipectl(env, "local", "up")
        assert up.returncode == 0, up.stderr
        figures["up_s"] = round(time.monotonic() - t_up, 1)
        code, morning = run_json(env, "job", "start")
        assert code == 0, morning
        savepoint = json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "job.json").read_text())["savepoint"]
        assert morning["restored_from"] == savepoint.removeprefix("file:")
        third = produced(produce(env, 8000, 23), 8000)

        valid = first["valid"] + second["valid"] + third["valid"]
        malformed = first["malformed"] + second["malformed"] + third["malformed"]
        assert_exactly_once(env, valid, malformed, figures)

        # the first savepoint is older than what the tables hold: refused, one line, nothing started
        code, stopped = run_json(env, "job", "stop")
        assert code == 0, stopped
        stale = run_pipectl(env, "job", "start", "--from-savepoint", resumed["restored_from"])
        assert stale.returncode == 1
        assert stale.stderr.startswith("error: savepoint ") and "already holds" in stale.stderr, stale.stderr
        assert stale.stderr.rstrip().endswith(
            "-- run 'pipectl job start' to resume from the newest checkpoint or savepoint"), stale.stderr
        assert len(stale.stderr.strip().splitlines()) == 1
        code, status = run_json(env, "job", "status")
        assert code == 4 and status["state"] != "RUNNING"

        # small files: maintenance compacts them and expires snapshots
        code, maintained = run_json(env, "maintain", "--older-than", "0", "--retain-last", "1", timeout=300)
        assert code == 0, maintained
        before, after = maintained["before"], maintained["after"]
        assert before["data_files"] > after["data_files"] >= 1
        assert before["snapshots"] > after["snapshots"] == max(1, maintained["kept_for_restore"])
        assert after["rows"] == before["rows"] == valid
    finally:
        stop_job(env)
    figures["total_s"] = round(time.monotonic() - t0, 1)
    print(f"\n[routine] {json.dumps(figures)}")


def test_power_cut_kill_9_of_the_whole_stack(native_stack):
    """kill -9 of the JobManager, the TaskManager (and its supervisor) and Kafka together while
    events flow; `local up` + `job start` resume from the newest retained checkpoint."""
    env = scenario_env(native_stack, "powercut", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3")
    figures: dict = {}
    t0 = time.monotonic()
    assert run_pipectl(env, "local", "up").returncode == 0
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    producer = None
    try:
        # a long delivery timeout: the producer rides out the outage and accounts for every event
        producer = produce(env, 30_000, 31, "2500", "--delivery-timeout", "240s")
        wait_for(lambda: rows_in(env) >= 4000, 180, "4,000 rows")
        for name in ("tm-supervisor", "taskmanager", "jobmanager", "kafka"):
            os.kill(pid_of(env, name), signal.SIGKILL)
        figures["rows_at_kill"] = rows_in(env)
        t_up = time.monotonic()
        up = run_pipectl(env, "local", "up")
        assert up.returncode == 0, up.stderr
        figures["up_s"] = round(time.monotonic() - t_up, 1)
        for name in ("kafka", "jobmanager", "taskmanager"):
            assert f"{name}: started" in up.stdout, up.stdout

        code, resumed = run_json(env, "job", "start")
        assert code == 0, resumed
        assert f"/{started['job_id']}/chk-" in resumed["restored_from"], resumed
        summary = produced(producer, 30_000)
        assert_exactly_once(env, summary["valid"], summary["malformed"], figures)
    finally:
        kill_process(producer)
        stop_job(env)
    figures["total_s"] = round(time.monotonic() - t0, 1)
    print(f"\n[powercut] {json.dumps(figures)}")


def test_taskmanager_comes_back_by_itself(native_stack):
    """kill -9 of the TaskManager: its supervisor starts it again, `local status` shows the restart,
    and the job recovers (a checkpoint completes after the fault) without any user action."""
    env = scenario_env(native_stack, "tmrestart", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3")
    figures: dict = {}
    assert run_pipectl(env, "local", "up").returncode == 0
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    producer = None
    try:
        producer = produce(env, 20_000, 41, "1000")
        wait_for(lambda: rows_in(env) >= 3000, 180, "3,000 rows")
        old_pid = pid_of(env, "taskmanager")
        job_id, before = last_checkpoint(env)
        killed_at = time.time()
        os.kill(old_pid, signal.SIGKILL)
        wait_for(lambda: pid_of(env, "taskmanager") != old_pid, 30, "the supervisor to start a new TaskManager")
        after = wait_checkpoint_after(env, job_id, before, 180)  # a checkpoint id greater than the last before
        figures["recovered_s"] = round(time.time() - killed_at, 1)
        figures["checkpoints"] = [before, after]
        code, job = run_json(env, "job", "status")
        assert code == 0 and job["state"] == "RUNNING" and job["job_id"] == job_id, job

        code, status = run_json(env, "local", "status")
        tm = next(c for c in status["components"] if c["name"] == "taskmanager")
        assert code == 0 and tm["healthy"] is True and tm["pid"] != old_pid, status
        assert "restarted 1 time by its supervisor" in tm["detail"], tm
        summary = produced(producer, 20_000)
        assert_exactly_once(env, summary["valid"], summary["malformed"], figures)
    finally:
        kill_process(producer)
        stop_job(env)
    print(f"\n[tmrestart] {json.dumps(figures)}")


def test_broker_restart_loses_nothing(native_stack):
    """Kafka killed mid-stream and brought back with `local up`: the producer accounts for every
    event through the outage (shorter than its delivery timeout), the job loses nothing; a producer
    whose delivery timeout is shorter than the outage reports its failures."""
    env = scenario_env(native_stack, "brokerrestart", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3")
    short_env = dict(env, PIPECTL_PIPELINE_TOPIC="orders.brokerrestart-short.v1")
    figures: dict = {}
    assert run_pipectl(short_env, "local", "up").returncode == 0  # creates the second topic
    assert run_pipectl(env, "local", "up").returncode == 0
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    producer = short = None
    try:
        producer = produce(env, 20_000, 51, "250", "--delivery-timeout", "180s")  # 80 s of events
        short = produce(short_env, 10_000, 52, "250", "--delivery-timeout", "3s")  # 40 s of events
        wait_for(lambda: in_topic(env) >= 2000 and in_topic(short_env) >= 500, 70, "events in both topics")
        assert producer.poll() is None and short.poll() is None, "the producers ended before the broker was killed"
        job_id, before = last_checkpoint(env)
        killed_at = time.time()
        figures["events_in_topic_at_kill"] = in_topic(env)
        os.kill(pid_of(env, "kafka"), signal.SIGKILL)
        time.sleep(8)  # longer than the short producer's delivery timeout
        up = run_pipectl(env, "local", "up")
        assert up.returncode == 0 and "kafka: started" in up.stdout, up.stdout + up.stderr
        back_at = time.time()
        figures["outage_s"] = round(back_at - killed_at, 1)
        # a checkpoint id greater than the last one before the kill (the job kept its id)
        figures["checkpoints"] = [before, wait_checkpoint_after(env, job_id, before, 180)]

        out, err = short.communicate(timeout=300)
        lost = json.loads(out)
        assert short.returncode == 1, err[-2000:]
        assert lost["failed"] > 0 and lost["acked"] + lost["failed"] == lost["sent"] == 10_000, lost
        figures["short_timeout_producer"] = {k: lost[k] for k in ("sent", "acked", "failed")}

        summary = produced(producer, 20_000)
        assert_exactly_once(env, summary["valid"], summary["malformed"], figures)
    finally:
        kill_process(producer)
        kill_process(short)
        stop_job(env)
    print(f"\n[brokerrestart] {json.dumps(figures)}")
