"""`pipectl status`: the verdict rules over facts, the sparklines, and the command on a machine
where nothing runs (every stage down, exit 4, the documented JSON shape)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipectl import fmt
from pipectl import status as st
from pipectl.flink.job_state import CheckpointSummary
from pipectl.status.model import (
    IcebergFacts,
    Lag,
    LocalFlinkFacts,
    LocalJobFacts,
    LocalKafkaFacts,
    ManagedFlinkFacts,
    ManagedJobFacts,
    MskFacts,
    TaskManagerProcess,
)
from pipectl.cli.sparkline import sparkline
from tests.unit.test_status_schema import schema

REPO = Path(__file__).resolve().parents[2]


def kafka_facts(**over):
    k = dict(bootstrap="127.0.0.1:9092", topic="orders.created.v1", reachable=True, topic_exists=True,
             partitions=2, partitions_without_leader=[], end_offsets={"0": 10, "1": 10}, records=20,
             produce_rate_per_s=0.0, consumer_group="g", lag=Lag(total=0, per_partition={"0": 0, "1": 0}),
             oldest_waiting_s=None)
    k.update(over)
    if isinstance(k["lag"], dict):
        k["lag"] = Lag(**k["lag"])
    return LocalKafkaFacts(**k)


def job_facts(**over):
    j = dict(name="order_ingest", id="abc", state="RUNNING", uptime_s=100.0, restarts=0,
             last_restart_age_s=None, tasks_running=3, tasks_total=3,
             last_checkpoint={"id": 7, "age_s": 2.0, "duration_ms": 40, "size_bytes": 4000},
             checkpoints_failed=0, records_in_per_s=5.0, records_out_per_s=5.0, backpressure="ok",
             backpressured_vertices=[])
    j.update(over)
    if j["last_checkpoint"] is not None:
        j["last_checkpoint"] = CheckpointSummary(**j["last_checkpoint"])
    return LocalJobFacts(**j)


def flink_facts(job=None, **over):
    f = dict(rest_url="http://127.0.0.1:8081", reachable=True, taskmanagers=1, slots_total=2,
             slots_available=1, taskmanager_process={"pid": 42, "alive": True},
             job=job_facts() if job is None else job)
    f.update(over)
    if f["taskmanager_process"] is not None:
        f["taskmanager_process"] = TaskManagerProcess(**f["taskmanager_process"])
    return LocalFlinkFacts(**f)


def iceberg_facts(**over):
    i = dict(table="analytics.orders", exists=True, location="file:///w", rows=20, snapshots=3,
             last_commit_age_s=2.0, data_files=2, data_bytes=2000, avg_file_bytes=1000,
             quarantined_rows=0, rows_per_s=1.0, idle=False)
    i.update(over)
    return IcebergFacts(**i)


FIX = "start it with 'pipectl local up'"


# ---------------------------------------------------------------------------- kafka rules
def test_kafka_healthy():
    assert st.judge_kafka(kafka_facts(), fix=FIX) == ("healthy", [])


def test_kafka_down_when_the_broker_does_not_answer():
    verdict, problems = st.judge_kafka(kafka_facts(reachable=False, error="Connection refused"), fix=FIX)
    assert verdict == "down"
    assert problems == ["cannot reach Kafka at 127.0.0.1:9092 (Connection refused); start it with 'pipectl local up'"]


def test_kafka_down_when_the_topic_is_missing():
    assert st.judge_kafka(kafka_facts(topic_exists=False), fix=FIX) == (
        "down", ["topic orders.created.v1 does not exist; create it with 'pipectl local up'"])


def test_kafka_degraded_when_a_partition_has_no_leader():
    assert st.judge_kafka(kafka_facts(partitions_without_leader=[1]), fix=FIX) == (
        "degraded", ["1 of 2 partitions of orders.created.v1 have no leader (1)"])


def test_kafka_unknown_when_not_observable():
    unobservable = MskFacts(bootstrap=None, topic="t", consumer_group="g", observable=False,
                            note="set aws.msk_cluster_arn")
    assert st.judge_kafka(unobservable, fix=FIX) == (
        "unknown", ["set aws.msk_cluster_arn"])


# ---------------------------------------------------------------------------- flink rules
def test_flink_healthy():
    assert st.judge_flink(flink_facts(), interval_s=10) == ("healthy", [])


def test_flink_down_without_a_cluster():
    assert st.judge_flink(flink_facts(reachable=False), interval_s=10) == (
        "down", ["no Flink cluster answers at http://127.0.0.1:8081; start it with 'pipectl local up'"])


def test_flink_down_without_a_job():
    f = flink_facts()
    f.job = None
    assert st.judge_flink(f, interval_s=10) == (
        "down", ["job order_ingest is not running (never started on this cluster); start it with 'pipectl job start'"])


@pytest.mark.parametrize("state", ["FINISHED", "CANCELED", "FAILED"])
def test_flink_down_when_the_job_ended(state):
    assert st.judge_flink(flink_facts(job=job_facts(state=state)), interval_s=10) == (
        "down", [f"job order_ingest is not running (last state {state}); start it with 'pipectl job start'"])


def test_flink_degraded_when_the_taskmanager_died():
    f = flink_facts(taskmanager_process={"pid": 42, "alive": False})
    assert st.judge_flink(f, interval_s=10) == (
        "degraded", ["the TaskManager process (pid 42) is not running; restart it with 'pipectl local up'"])


def test_flink_degraded_while_restarting_without_taskmanager():
    f = flink_facts(job=job_facts(state="RESTARTING", restarts=2, last_restart_age_s=3, tasks_running=0),
                    taskmanagers=0, taskmanager_process={"pid": 42, "alive": False})
    verdict, problems = st.judge_flink(f, interval_s=10)
    assert verdict == "degraded"
    assert problems == [
        "the TaskManager process (pid 42) is not running; restart it with 'pipectl local up'",
        "no TaskManager is registered with the JobManager; start one with 'pipectl local up'",
        "job order_ingest is RESTARTING (restarts: 2); see 'pipectl local logs taskmanager'",
    ]


def test_flink_degraded_for_tasks_waiting_for_slots():
    assert st.judge_flink(flink_facts(job=job_facts(tasks_running=1)), interval_s=10) == (
        "degraded", ["2 of 3 tasks of order_ingest are not running (waiting for task slots)"])


def test_flink_degraded_after_a_recent_restart_but_not_an_old_one():
    recent = flink_facts(job=job_facts(restarts=1, last_restart_age_s=42))
    assert st.judge_flink(recent, interval_s=10) == (
        "degraded", ["job order_ingest restarted 42s ago (restarts: 1); see 'pipectl local logs taskmanager'"])
    old = flink_facts(job=job_facts(restarts=1, last_restart_age_s=301))
    assert st.judge_flink(old, interval_s=10) == ("healthy", [])


def test_flink_degraded_for_high_backpressure():
    f = flink_facts(job=job_facts(backpressure="high", backpressured_vertices=["Source: kafka_orders"]))
    assert st.judge_flink(f, interval_s=10) == (
        "degraded", ["backpressure is high in Source: kafka_orders: the job cannot keep up"])


def test_flink_degraded_for_a_stale_checkpoint():
    f = flink_facts(job=job_facts(last_checkpoint={"id": 1, "age_s": 31, "duration_ms": 5, "size_bytes": 1}))
    assert st.judge_flink(f, interval_s=10) == (
        "degraded", ["the last checkpoint completed 31s ago, more than 3 × the 10s checkpoint interval"])
    f = flink_facts(job=job_facts(last_checkpoint={"id": 1, "age_s": 29, "duration_ms": 5, "size_bytes": 1}))
    assert st.judge_flink(f, interval_s=10) == ("healthy", [])


def test_flink_no_checkpoint_is_fine_only_at_first():
    assert st.judge_flink(flink_facts(job=job_facts(last_checkpoint=None, uptime_s=20)), interval_s=10)[0] == "healthy"
    assert st.judge_flink(flink_facts(job=job_facts(last_checkpoint=None, uptime_s=41)), interval_s=10) == (
        "degraded", ["no checkpoint completed in the 41s since the job started (checkpoint interval 10s)"])


def test_flink_on_aws():
    def app(status="RUNNING", job=None):
        return ManagedFlinkFacts(application="order-ingest", region="us-east-1", application_status=status,
                                 application_version=2, job=job)

    assert st.judge_flink(app(), interval_s=60) == ("healthy", [])
    assert st.judge_flink(app(None), interval_s=60) == (
        "down", ["application 'order-ingest' does not exist in us-east-1; deploy it with 'pipectl aws deploy'"])
    assert st.judge_flink(app("READY"), interval_s=60) == (
        "down", ["application 'order-ingest' is not running (status READY); start it with 'pipectl aws deploy'"])
    assert st.judge_flink(app("UPDATING"), interval_s=60) == (
        "degraded", ["application 'order-ingest' is UPDATING"])
    job = ManagedJobFacts(state="RESTARTING", downtime_ms=12000, restarts_in_window=2, window_s=600,
                          failed_checkpoints_in_window=0, last_checkpoint=None)
    verdict, problems = st.judge_flink(app(job=job), interval_s=60)
    assert verdict == "degraded"
    assert problems == ["the job is not running inside the application (downtime 12s); see 'pipectl aws logs'",
                        "job order_ingest restarted 2 times in the last 10m; see 'pipectl aws logs'"]


# ---------------------------------------------------------------------------- iceberg rules
def test_iceberg_down_when_the_table_is_missing():
    assert st.judge_iceberg(iceberg_facts(exists=False), kafka_facts(), interval_s=10) == (
        "down", ["table analytics.orders does not exist; start the job with 'pipectl job start' (it creates the table)"])


def test_iceberg_old_commit_without_lag_is_idle_not_stale():
    assert st.judge_iceberg(iceberg_facts(last_commit_age_s=600), kafka_facts(), interval_s=10) == ("healthy", [])


def test_iceberg_stale_when_records_wait_longer_than_three_intervals():
    k = kafka_facts(lag={"total": 120, "per_partition": {"0": 60, "1": 60}}, oldest_waiting_s=45)
    assert st.judge_iceberg(iceberg_facts(last_commit_age_s=600), k, interval_s=10) == (
        "degraded", ["stale: last commit 10m ago, more than 3 × the 10s checkpoint interval, "
                     "while 120 records wait in Kafka, the oldest for 45s"])


def test_iceberg_fresh_records_after_a_quiet_time_are_not_stale_yet():
    k = kafka_facts(lag={"total": 120, "per_partition": {"0": 60, "1": 60}}, oldest_waiting_s=4)
    assert st.judge_iceberg(iceberg_facts(last_commit_age_s=600), k, interval_s=10) == ("healthy", [])


# ---------------------------------------------------------------------------- overall
def make_status(k=None, f=None, i=None, env="local"):
    k, f, i = k or kafka_facts(), f or flink_facts(), i or iceberg_facts()
    return st.assemble(k, f, i, env=env, interval_s=2.0, checkpoint_s=10, checked_at=1_700_000_000.0)


def test_overall_is_the_worst_stage_and_names_it():
    status = make_status(f=flink_facts(job=job_facts(state="FINISHED")),
                         k=kafka_facts(lag={"total": 5, "per_partition": {"0": 5, "1": 0}}, oldest_waiting_s=100),
                         i=iceberg_facts(last_commit_age_s=100))
    assert [s.verdict for s in status.stages] == ["healthy", "down", "degraded"]
    assert status.verdict == "down" and status.exit_code == 4
    assert status.reason == "flink: job order_ingest is not running (last state FINISHED); start it with 'pipectl job start'"


def test_overall_degraded_exits_6_and_healthy_0():
    degraded = make_status(f=flink_facts(taskmanager_process={"pid": 9, "alive": False}))
    assert (degraded.verdict, degraded.exit_code) == ("degraded", 6)
    healthy = make_status(k=kafka_facts(produce_rate_per_s=3.0))
    assert (healthy.verdict, healthy.exit_code) == ("healthy", 0)
    assert healthy.reason == "data flows from topic orders.created.v1 to table analytics.orders"
    idle = make_status(f=flink_facts(job=job_facts(records_in_per_s=0.0)), i=iceberg_facts(last_commit_age_s=500))
    assert idle.reason == "every stage is healthy; no new data is arriving (idle)"
    assert idle.stage("iceberg").facts.idle is True
    assert idle.stage("iceberg").reason == "20 rows, last commit 8m ago (idle: no new records)"


def test_unknown_stage_does_not_make_the_overall_worse():
    status = make_status(k=MskFacts(bootstrap=None, topic="t", consumer_group="g", observable=False,
                                    note="no MSK ARN", lag=Lag(total=None)))
    assert status.stage("kafka").verdict == "unknown"
    assert status.verdict == "healthy" and status.exit_code == 0
    assert status.reason.endswith("(kafka not observable from here)")


def test_status_document_matches_the_documented_schema():
    import jsonschema

    doc = json.loads(json.dumps(make_status().to_dict()))
    jsonschema.validate(doc, schema("status"))


# ---------------------------------------------------------------------------- helpers
def test_sparkline():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "███"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([None, 0, 10]) == " ▁█"
    assert sparkline([None]) == " "
    assert sparkline([100, 0, 3, 6, 9], width=4) == "▁▃▆█"


def test_fmt_age():
    assert [fmt.age(s) for s in (None, 3.4, 119, 180, 7300, 200000)] == ["-", "3s", "119s", "3m", "2.0h", "2.3d"]


# ---------------------------------------------------------------------------- the command, nothing running
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def idle_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_") and k != "DEPLOYMENT_ENV"}
    env.update(PIPECTL_PROJECT_DIR=str(REPO), PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"), PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
               PIPECTL_LOCAL_WAREHOUSE=str(tmp_path / "warehouse"), NO_COLOR="1", COLUMNS="200",
               PIPECTL_LOCAL_KAFKA_PORT=str(free_port()), PIPECTL_LOCAL_FLINK_PORT=str(free_port()))
    return env


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "pipectl", *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)


def test_status_with_nothing_running_is_down_everywhere(idle_env, tmp_path):
    import jsonschema

    result = run(idle_env, "status", "--output", "json", "--interval", "0.2")
    assert result.returncode == 4, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema("status"))
    kafka_port, flink_port = idle_env["PIPECTL_LOCAL_KAFKA_PORT"], idle_env["PIPECTL_LOCAL_FLINK_PORT"]
    assert doc["verdict"] == "down" and doc["exit_code"] == 4
    assert doc["reason"] == (f"kafka: cannot reach Kafka at 127.0.0.1:{kafka_port} (Connection refused); "
                             "start it with 'pipectl local up'")
    assert {n: s["verdict"] for n, s in doc["stages"].items()} == {"kafka": "down", "flink": "down", "iceberg": "down"}
    assert doc["stages"]["flink"]["reason"] == (f"no Flink cluster answers at http://127.0.0.1:{flink_port}; "
                                                "start it with 'pipectl local up'")
    assert doc["stages"]["iceberg"]["reason"] == ("table analytics.orders does not exist; "
                                                  "start the job with 'pipectl job start' (it creates the table)")
    assert doc["history"] == {"produce_rate_per_s": [None], "lag": [None], "records_in_per_s": [None]}


def test_status_text_with_nothing_running(idle_env):
    result = run(idle_env, "status", "--interval", "0.2")
    assert result.returncode == 4
    lines = result.stdout.splitlines()
    kafka_port = idle_env["PIPECTL_LOCAL_KAFKA_PORT"]
    assert lines[0] == (f"DOWN  kafka: cannot reach Kafka at 127.0.0.1:{kafka_port} (Connection refused); "
                        "start it with 'pipectl local up'")
    assert lines[1].startswith("local · checked ") and lines[1].endswith(" · exit code 4")
    assert lines[3].split() == ["kafka", "DOWN", f"127.0.0.1:{kafka_port}:", "not", "reachable"]
    assert any(line.strip().startswith("↳ no Flink cluster answers") for line in lines)
    assert result.stderr == ""


def test_watch_refuses_json(idle_env):
    result = run(idle_env, "status", "--watch", "--output", "json")
    assert result.returncode == 2
    assert result.stderr == ("error: --watch draws on a terminal; it cannot be combined with --output json "
                             "-- drop --watch to get one JSON document\n")
    assert json.loads(result.stdout)["exit_code"] == 2
