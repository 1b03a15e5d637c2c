"""Issue 25, scenario 1, on the real native stack: maintenance with the tightest retention it
accepts, while the job runs and while it is stopped, then `job start` resumes and stays healthy.

Steps as the issue gives them: job running, events sent (1% malformed), several commits;
`maintain --retain-last 1 --older-than 0`; `job stop` (a savepoint); `maintain` again (both
tables); `job start`. Asserted: the start resumes from the savepoint and is healthy (RUNNING and a
checkpoint with a NEW id, above the savepoint's, completes after it); the events sent after are
stored; after consumer lag 0 plus one more completed checkpoint, the Iceberg files read back
with pyiceberg hold rows = distinct event ids = valid events sent and quarantine = malformed sent.
The savepoint's own files name the manifest the sink deleted after its commit: with the lineage
cut (as an expiry without pipectl's guard leaves it), `job start`'s check predicts the failure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipectl import kafka_admin
from pipectl.flink import resume
from tests.conftest import run_json, run_pipectl, scenario_env
from tests.integration.test_reliability import produce, produced, read_table, rows_in, wait_for

pytestmark = pytest.mark.e2e


def snapshots(env: dict, table: str) -> int:
    from pyiceberg.table import StaticTable

    return len(StaticTable.from_metadata(str(Path(env["PIPECTL_LOCAL_WAREHOUSE"]) / "analytics" / table)).metadata.snapshots)


def checkpoint_id(env: dict) -> int | None:
    code, job = run_json(env, "job", "status")
    cp = job.get("last_checkpoint")
    return cp["id"] if code == 0 and job["state"] == "RUNNING" and cp else None


def lag(env: dict) -> int:
    bootstrap = f"127.0.0.1:{env['PIPECTL_LOCAL_KAFKA_PORT']}"
    topic = env["PIPECTL_PIPELINE_TOPIC"]
    begin, end = kafka_admin.topic_offsets(bootstrap, topic)
    committed = kafka_admin.group_offsets(bootstrap, env["PIPECTL_PIPELINE_CONSUMER_GROUP"], topic)
    return sum(kafka_admin.lag_per_partition(begin, end, committed).values())


def maintain(env: dict, *extra: str, job_running: bool = False) -> dict:
    code, report = run_json(env, "maintain", "--retain-last", "1", "--older-than", "0", *extra, timeout=600)
    assert code == 0, report
    if job_running:
        # the job may commit during maintenance (the normal case on a live pipeline; `maintain` once
        # failed on it): rows only grow, and a commit after the expiry adds its snapshot
        assert report["after"]["rows"] >= report["before"]["rows"], report
        assert report["after"]["snapshots"] >= max(1, report["kept_for_restore"]), report
        return report
    # never below the newest Flink commit: what is kept reaches it (and no further than --retain-last 1 needs)
    assert report["after"]["snapshots"] == max(1, report["kept_for_restore"]), report
    assert report["after"]["rows"] == report["before"]["rows"]
    return report


def test_maintain_then_resume_stays_exactly_once(native_stack):
    env = scenario_env(native_stack, "maintresume", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3")
    orders, rejected = env["PIPECTL_PIPELINE_TABLE"], env["PIPECTL_PIPELINE_REJECTED_TABLE"]
    figures: dict = {}
    sent = []
    assert run_pipectl(env, "local", "up").returncode == 0  # creates this scenario's topic
    code, started = run_json(env, "job", "start", "--fresh")
    assert code == 0, started
    try:
        # 1. the job running, 16,000 events, several commits
        sent.append(produced(produce(env, 16_000, 61, "2000"), 16_000))
        wait_for(lambda: rows_in(env) >= 8000 and snapshots(env, orders) >= 3, 240, "several commits")
        # 2. maintenance while the job runs
        first = maintain(env, job_running=True)
        figures["maintain_running"] = {k: first[k] for k in ("rewritten_files", "added_files", "expired_snapshots")}
        assert first["rewritten_files"] >= 2 and first["expired_snapshots"] >= 1, first
        # 3. job stop while events flow: the savepoint's checkpoint carries data files to commit
        producer = produce(env, 3000, 62, "300")
        wait_for(lambda: rows_in(env) > first["after"]["rows"], 120, "rows of the second burst")
        code, stopped = run_json(env, "job", "stop")
        assert code == 0 and stopped["state"] == "STOPPED", stopped
        sent.append(produced(producer, 3000))
        savepoint = resume.point_at(stopped["savepoint"])
        assert savepoint is not None
        # 4. maintenance while it is stopped, both tables
        second = maintain(env)
        maintain(env, "--table", rejected)
        figures["maintain_stopped"] = {k: second[k] for k in ("rewritten_files", "expired_snapshots", "kept_for_restore")}
        assert second["expired_snapshots"] >= 1 and second["kept_for_restore"] >= 1, second

        # what the sink will read on restore: the savepoint names the manifest it committed and deleted
        metadata_dir = str((Path(env["PIPECTL_LOCAL_WAREHOUSE"]) / "analytics" / orders / "metadata").resolve())
        named = [m for m in resume.manifests_in(Path(savepoint.path)) if m.folder == metadata_dir]
        assert named and named[-1].checkpoint_id == savepoint.checkpoint_id, named
        assert not Path(resume.plain_path(named[-1].path)).exists()
        cut = resume.Chain(f"analytics.{orders}", metadata_dir, [{"operation": "replace"}], truncated=True)
        problems = resume.committer_problems(savepoint, [cut], named, lambda p: Path(p).exists())
        assert len(problems) == 1 and "from a manifest that is gone" in problems[0], problems

        # 5. job start resumes from the savepoint and is healthy: a NEW checkpoint completes
        t_start = time.monotonic()
        code, resumed = run_json(env, "job", "start")
        assert code == 0, resumed
        assert resumed["restored_from"] == savepoint.path
        new_id = wait_for(lambda: (c := checkpoint_id(env)) is not None and c > savepoint.checkpoint_id and c, 120,
                          "a checkpoint after the start")
        figures["first_checkpoint_after_start_s"] = round(time.monotonic() - t_start, 1)
        figures["savepoint_id"], figures["new_checkpoint_id"] = savepoint.checkpoint_id, new_id

        # more events after the start are stored
        sent.append(produced(produce(env, 4000, 63, "2000"), 4000))
        wait_for(lambda: lag(env) == 0, 240, "consumer lag 0")
        at_lag_zero = checkpoint_id(env)
        assert at_lag_zero is not None
        wait_for(lambda: (c := checkpoint_id(env)) is not None and c > at_lag_zero, 120, "one more checkpoint")

        valid = sum(s["valid"] for s in sent)
        malformed = sum(s["malformed"] for s in sent)
        rows, distinct = read_table(env, orders)
        quarantined, _ = read_table(env, rejected)
        figures.update(valid=valid, malformed=malformed, rows=rows, distinct=distinct, quarantined=quarantined)
        assert malformed > 0
        assert (rows, distinct, quarantined) == (valid, valid, malformed), figures
        code, status = run_json(env, "job", "status")
        assert code == 0 and status["state"] == "RUNNING" and status["job_id"] == resumed["job_id"], status
    finally:
        run_pipectl(env, "job", "stop")
    print(f"\n[maintresume] {json.dumps(figures)}")


def test_a_start_that_fails_names_the_root_exception_and_does_not_spin(native_stack):
    """A job that cannot run (its topic does not exist: the broker creates none by itself) fails
    in Flink's restart loop: `job start` names the root exception in one line, cancels the job and
    exits 4; `job status` and `status` name it too."""
    env = dict(scenario_env(native_stack, "nosuchtopic", PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3"), NO_COLOR="1", COLUMNS="400")
    started = run_pipectl(env, "job", "start", "--fresh", timeout=300)
    assert started.returncode == 4, started.stdout + started.stderr
    lines = started.stderr.strip().splitlines()
    assert lines[-1].startswith("error: job order_ingest failed while starting: "), started.stderr
    assert "orders.nosuchtopic.v1" in lines[-1] or "UnknownTopicOrPartition" in lines[-1], lines[-1]
    assert lines[-1].endswith(
        "-- cancelled to end its restart loop, checkpoints and savepoints kept; "
        "the whole trace is in 'pipectl local logs jobmanager'"), lines[-1]
    root = lines[-1].removeprefix("error: job order_ingest failed while starting: ").split(" -- ")[0]
    print(f"\n[failing start] {lines[-1]}")

    # the restart loop is over: no job of this name is active any more
    code, status = run_json(env, "job", "status")
    assert code == 4 and status["state"] == "CANCELED", status
    assert status["root_exception"] == root
    assert status["message"].startswith(f"canceled: {root}"), status

    code, overall = run_json(env, "status", "--interval", "1", timeout=120)
    flink = overall["stages"]["flink"]
    assert flink["verdict"] == "down", flink
    assert any(f"(last state CANCELED, failed with {root})" in p for p in flink["problems"]), flink
