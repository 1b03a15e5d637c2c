"""The status collectors over canned payloads: Flink REST answers served by a stub HTTP server (the
real FlinkRest client reads them), Kafka offsets as the broker reports them, CloudWatch
GetMetricData answers, and Iceberg snapshots. Table-driven: each row is one situation."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from pipectl.config import LocalSettings, Settings
from pipectl.errors import NotFoundError, PipectlError
from pipectl.flink.job_state import CheckpointSummary, latest_checkpoint
from pipectl.flink.rest import FlinkRest
from pipectl.status import aws as aws_collect
from pipectl.status import local as local_collect
from pipectl.status.local import KafkaReading
from pipectl.status.model import Lag, MskFacts
from pipectl.status.tables import iceberg_facts

NOW_MS = 1_800_000_000_000


# ---------------------------------------------------------------------------- Flink REST (stub server)
class _Canned(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = self.answers.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(json.dumps({"errors": ["Not found: " + self.path]}).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flink_rest():
    """A FlinkRest client of a stub server answering from `answers` (path -> JSON)."""
    answers: ClassVar[dict[str, Any]] = {}
    handler = type("Handler", (_Canned,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FlinkRest(f"http://127.0.0.1:{server.server_address[1]}", timeout=5), answers
    server.shutdown()
    server.server_close()


JID = "a" * 32
OVERVIEW = {"taskmanagers": 1, "slots-total": 2, "slots-available": 1, "flink-version": "1.20.3"}
VERTICES = [{"id": "v1", "name": "Source: kafka_orders -> Calc", "parallelism": 1, "tasks": {"RUNNING": 1}},
            {"id": "v2", "name": "IcebergStreamWriter", "parallelism": 1, "tasks": {"RUNNING": 1}}]
SOURCE_METRIC = "Source__kafka_orders.numRecordsOutPerSecond"


def job_answers(state: str = "RUNNING", *, restarts: str = "0", restarting_ms: int | None = None,
                checkpoint: dict | None = None, backpressure: tuple[str, str] = ("ok", "ok"),
                tasks_running: int = 1) -> dict[str, Any]:
    timestamps = {"RUNNING": NOW_MS - 100_000}
    if restarting_ms is not None:
        timestamps["RESTARTING"] = restarting_ms
    vertices = [dict(v, tasks={"RUNNING": tasks_running}) for v in VERTICES]
    return {
        "/overview": OVERVIEW,
        "/jobs/overview": {"jobs": [{"jid": "old", "name": "order_ingest", "state": "FINISHED", "start-time": 1},
                                    {"jid": JID, "name": "order_ingest", "state": state, "start-time": 2},
                                    {"jid": "x", "name": "other_job", "state": "RUNNING", "start-time": 3}]},
        f"/jobs/{JID}": {"jid": JID, "name": "order_ingest", "state": state, "now": NOW_MS,
                         "start-time": NOW_MS - 200_000, "timestamps": timestamps, "vertices": vertices},
        f"/jobs/{JID}/metrics?get=numRestarts": [{"id": "numRestarts", "value": restarts}],
        f"/jobs/{JID}/checkpoints": {"counts": {"completed": 7, "failed": 1},
                                     "latest": {"completed": checkpoint}},
        f"/jobs/{JID}/vertices/v1/subtasks/metrics": [{"id": SOURCE_METRIC}, {"id": "0.busyTimeMsPerSecond"}],
        f"/jobs/{JID}/vertices/v1/subtasks/metrics?agg=sum&get={SOURCE_METRIC}": [{"id": SOURCE_METRIC, "sum": 12.5}],
        f"/jobs/{JID}/vertices/v2/subtasks/metrics": [{"id": "0.numRecordsOutPerSecond"}],
        f"/jobs/{JID}/vertices/v1/backpressure": {"status": "ok", "backpressureLevel": backpressure[0]},
        f"/jobs/{JID}/vertices/v2/backpressure": {"status": "ok", "backpressureLevel": backpressure[1]},
    }


CP = {"id": 7, "latest_ack_timestamp": 0, "end_to_end_duration": 40, "checkpointed_size": 4000, "state_size": 9000}


@pytest.mark.parametrize("answers, expect", [
    pytest.param({}, {"reachable": False, "job": None}, id="no cluster answers"),
    pytest.param({"/overview": OVERVIEW, "/jobs/overview": {"jobs": []}},
                 {"reachable": True, "taskmanagers": 1, "slots_available": 1, "job": None}, id="no job"),
    pytest.param(job_answers(checkpoint=CP),
                 {"reachable": True, "job.state": "RUNNING", "job.id": JID, "job.restarts": 0,
                  "job.uptime_s": 100.0, "job.records_in_per_s": 12.5, "job.backpressure": "ok",
                  "job.tasks_running": 2, "job.tasks_total": 2, "job.checkpoints_failed": 1,
                  "job.last_checkpoint.id": 7, "job.last_checkpoint.size_bytes": 4000,
                  "job.last_checkpoint.duration_ms": 40}, id="running, checkpointed"),
    pytest.param(job_answers(backpressure=("high", "low")),
                 {"job.backpressure": "high", "job.backpressured_vertices": ["Source: kafka_orders -> Calc"],
                  "job.last_checkpoint": None}, id="backpressure high in the source"),
    pytest.param(job_answers("RESTARTING", restarts="3", restarting_ms=NOW_MS - 4_000, tasks_running=0),
                 {"job.state": "RESTARTING", "job.restarts": 3, "job.last_restart_age_s": 4.0,
                  "job.uptime_s": None, "job.records_in_per_s": None, "job.tasks_running": 0}, id="restarting"),
    pytest.param(job_answers("FINISHED", restarting_ms=NOW_MS - 4_000),
                 {"job.state": "FINISHED", "job.restarts": None, "job.last_restart_age_s": None,
                  "job.last_checkpoint": None}, id="ended: nothing else is read"),
])
def test_local_flink_facts(flink_rest, tmp_path, answers, expect):
    rest, served = flink_rest
    served.update(answers)
    settings = Settings(project_dir=tmp_path, local=LocalSettings(flink_port=int(rest.base.rsplit(":", 1)[1])))
    if not answers:
        rest = FlinkRest("http://127.0.0.1:9", timeout=1)  # nothing listens on the discard port
    facts = local_collect.flink_facts(settings, rest)
    for path, want in expect.items():
        value: Any = facts
        for part in path.split("."):
            value = getattr(value, part)
        assert value == want, path
    assert facts.taskmanager_process is None  # nothing started by pipectl in this state folder


def test_the_checkpoint_summary_is_one_reading_for_job_status_and_status():
    cps = {"latest": {"completed": {**CP, "latest_ack_timestamp": 1_000_000}}}
    assert latest_checkpoint(cps, now=1_010.5) == CheckpointSummary(7, 10.5, 40, 4000)
    old_flink = {"latest": {"completed": {"id": 1, "latest_ack_timestamp": 2_000_000, "state_size": 9}}}
    assert latest_checkpoint(old_flink, now=1_000.0) == CheckpointSummary(1, 0.0, None, 9)
    assert latest_checkpoint({"latest": {"completed": None}}) is None


# ---------------------------------------------------------------------------- Kafka (canned offsets)
def topic(*leaders: int) -> dict:
    return {"error_code": 0, "partitions": [{"partition_index": i, "leader_id": leader} for i, leader in enumerate(leaders)]}


@pytest.mark.parametrize("reading, expect", [
    pytest.param(KafkaReading(reachable=False, error="Connection refused"),
                 {"reachable": False, "error": "Connection refused", "topic_exists": None, "lag": Lag()},
                 id="broker down"),
    pytest.param(KafkaReading(reachable=True), {"topic_exists": False, "partitions": None}, id="topic missing"),
    pytest.param(KafkaReading(reachable=True, topic=topic(1, -1), first=(100.0, {0: 10, 1: 0}),
                              second=(102.0, {0: 14, 1: 0}), begin={0: 0, 1: 0}, committed={0: 14}),
                 {"partitions": 2, "partitions_without_leader": [1], "records": 14, "produce_rate_per_s": 2.0,
                  "end_offsets": {"0": 14, "1": 0},
                  "lag": Lag(total=0, per_partition={"0": 0, "1": 0}, committed=True)},
                 id="a partition without a leader"),
    pytest.param(KafkaReading(reachable=True, topic=topic(1, 1), first=(100.0, {0: 10, 1: 10}),
                              second=(104.0, {0: 30, 1: 10}), begin={0: 5, 1: 0}, committed={}),
                 {"records": 35, "produce_rate_per_s": 5.0,
                  "lag": Lag(total=35, per_partition={"0": 25, "1": 10}, committed=False)},
                 id="nothing committed yet: lag from the beginning offsets"),
    pytest.param(KafkaReading(reachable=True, topic=topic(1), first=(100.0, {0: 10}), second=(100.0, {0: 10}),
                              committed={0: 12}),
                 {"produce_rate_per_s": None, "lag": Lag(total=0, per_partition={"0": 0}, committed=True)},
                 id="one sample: no rate; committed past the end: lag 0"),
])
def test_local_kafka_facts(tmp_path, reading, expect):
    facts = local_collect.kafka_facts(Settings(project_dir=tmp_path), reading)
    assert facts.topic == "orders.created.v1" and facts.consumer_group == "pipectl-order-ingest"
    for key, want in expect.items():
        assert getattr(facts, key) == want, key


# ---------------------------------------------------------------------------- CloudWatch (canned answers)
def metric_data(metrics: dict[str, str], values: dict[str, list[float]]) -> dict:
    """A GetMetricData answer: ids m0.. in the order of `metrics`, newest first (as CloudWatch may)."""
    results = []
    for i, name in enumerate(metrics):
        series = values.get(name, [])
        stamps = [f"2026-11-30T10:{m:02d}:00Z" for m in range(len(series))]
        results.append({"Id": f"m{i}", "Label": name, "Timestamps": stamps[::-1], "Values": series[::-1]})
    return {"MetricDataResults": results}


@pytest.mark.parametrize("values, expect", [
    pytest.param({}, {"state": None, "uptime_s": None, "restarts": None, "last_checkpoint": None,
                      "restarts_in_window": 0, "metrics_found": []}, id="no metrics yet"),
    pytest.param({"uptime": [60_000, 120_000], "downtime": [0, 0], "fullRestarts": [2, 2],
                  "lastCheckpointDuration": [300], "lastCheckpointSize": [5000],
                  "numRecordsInPerSecond": [9.5], "numRecordsOutPerSecond": [9.0]},
                 {"state": "RUNNING", "uptime_s": 120.0, "restarts": 2, "restarts_in_window": 0,
                  "last_checkpoint": CheckpointSummary(None, None, 300, 5000), "records_in_per_s": 9.5,
                  "records_out_per_s": 9.0}, id="running"),
    pytest.param({"downtime": [0, 4000], "fullRestarts": [1, 3], "numberOfFailedCheckpoints": [0, 2]},
                 {"state": "RESTARTING", "downtime_ms": 4000, "restarts": 3, "restarts_in_window": 2,
                  "failed_checkpoints_in_window": 2}, id="restarting, checkpoints failing"),
])
def test_managed_job_facts_from_cloudwatch(values, expect):
    series = aws_collect.metric_series(metric_data(aws_collect.APP_METRICS, values), aws_collect.APP_METRICS)
    job = aws_collect.job_facts(series)
    assert job.name == "order_ingest" and job.window_s == aws_collect.CW_WINDOW_S
    for key, want in expect.items():
        assert getattr(job, key) == want, key


@pytest.mark.parametrize("values, total, oldest", [
    ({}, None, None),
    ({"SumOffsetLag": [10, 40]}, 40, None),
    ({"SumOffsetLag": [0], "EstimatedMaxTimeLag": [3.0, 12.0]}, 0, 12.0),
])
def test_msk_lag_from_cloudwatch(values, total, oldest):
    k = MskFacts(bootstrap=None, topic="orders.created.v1", consumer_group="g")
    aws_collect.apply_lag(k, aws_collect.metric_series(metric_data(aws_collect.LAG_METRICS, values),
                                                       aws_collect.LAG_METRICS))
    assert (k.lag.total, k.oldest_waiting_s) == (total, oldest)
    assert "committed" not in k.to_dict()["lag"] and "note" not in k.to_dict()


def test_metric_queries_ask_each_metric_once_with_its_statistic():
    queries = aws_collect.metric_queries("AWS/Kafka", [{"Name": "Topic", "Value": "t"}], aws_collect.LAG_METRICS)
    assert [(q["Id"], q["Label"], q["MetricStat"]["Stat"]) for q in queries] == [
        ("m0", "SumOffsetLag", "Maximum"), ("m1", "EstimatedMaxTimeLag", "Maximum")]


# ---------------------------------------------------------------------------- Iceberg (canned snapshots)
class snapshot:
    """A snapshot committed `age_s` before it is read (the rows are built when the tests are collected)."""

    snapshot_id = 1

    def __init__(self, age_s: float, summary: dict | None):
        self.age_s, self.summary = age_s, summary

    @property
    def timestamp_ms(self) -> float:
        return (time.time() - self.age_s) * 1000


def table(*snapshots: snapshot, files: list[tuple[int, int]] = ()) -> SimpleNamespace:
    tasks = [SimpleNamespace(file=SimpleNamespace(record_count=r, file_size_in_bytes=b)) for r, b in files]
    return SimpleNamespace(
        metadata=SimpleNamespace(location="file:///w/analytics/orders", snapshots=list(snapshots)),
        current_snapshot=lambda: snapshots[-1] if snapshots else None,
        scan=lambda **_kw: SimpleNamespace(plan_files=lambda: tasks),
    )


def totals_summary(rows: int, files: int, size: int, added: int) -> dict:
    return {"total-records": str(rows), "total-data-files": str(files), "total-files-size": str(size),
            "added-records": str(added)}


class Loader:
    """Tables by name (None: the orders table); an exception instead of a table is raised."""

    def __init__(self, orders: Any, rejected: Any = None):
        self.tables = {None: orders, "orders_rejected": rejected}
        self.calls = 0

    def __call__(self, name: str | None) -> Any:
        self.calls += 1
        found = self.tables[name]
        if isinstance(found, list):  # raise the first, then answer the rest
            found = found.pop(0) if len(found) > 1 else found[0]
        if isinstance(found, BaseException):
            raise found
        if found is None:
            raise NotFoundError("no such table")
        return found


NAMES = Settings(project_dir=Path(".")).names


@pytest.mark.parametrize("loader, expect", [
    pytest.param(Loader(None), {"exists": False, "error": None, "rows": None}, id="missing"),
    pytest.param(Loader(PipectlError("access denied to the table bucket")),
                 {"exists": False, "error": "cannot read table analytics.orders: access denied to the table bucket"},
                 id="unreadable"),
    pytest.param(Loader([OSError("metadata replaced"), table(snapshot(5, totals_summary(10, 2, 2048, 10)))]),
                 {"exists": True, "rows": 10, "data_files": 2, "avg_file_bytes": 1024, "quarantined_rows": None},
                 id="a commit replaced the metadata: read again"),
    pytest.param(Loader(OSError("gone")), {"exists": False, "error": "cannot read table analytics.orders (OSError)"},
                 id="fails twice"),
    pytest.param(Loader(table()), {"exists": True, "rows": 0, "data_files": 0, "last_commit_age_s": None,
                                   "rows_per_s": 0.0}, id="no snapshot yet"),
    pytest.param(Loader(table(snapshot(600, totals_summary(100, 4, 4000, 100)), snapshot(30, totals_summary(160, 5, 5000, 60))),
                        table(snapshot(20, totals_summary(6, 1, 100, 6)))),
                 {"rows": 160, "data_files": 5, "data_bytes": 5000, "snapshots": 2, "quarantined_rows": 6,
                  "rows_per_s": 1.1, "last_commit_age_s": pytest.approx(30, abs=2)},
                 id="rows committed in the last minute, both tables"),
    pytest.param(Loader(table(snapshot(5, {"added-records": "3"}), files=[(2, 100), (1, 50)])),
                 {"rows": 3, "data_files": 2, "data_bytes": 150, "avg_file_bytes": 75},
                 id="no totals in the summary: counted from the manifests"),
])
def test_iceberg_facts(loader, expect):
    facts = iceberg_facts(NAMES, loader)
    assert facts.table == "analytics.orders"
    for key, want in expect.items():
        assert getattr(facts, key) == want, key
