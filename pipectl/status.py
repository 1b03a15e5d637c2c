"""One view of the whole pipeline: facts from Kafka, Flink and Iceberg, a verdict per stage and
overall (`pipectl status`).

The facts are gathered by `collect(settings)` (or, refreshed, by `watch(settings)`); the verdicts
are pure functions of the facts (`judge_kafka`, `judge_flink`, `judge_iceberg`) so that the rules
are easy to read and to test. The rules and the JSON shape are documented in docs/status.md.

Locally: Kafka through kafka-python, Flink through its REST API, Iceberg through pyiceberg.
On AWS: MSK's cluster state and CloudWatch's consumer lag, the Managed Flink application's
description and its CloudWatch metrics, the S3 Tables table through pyiceberg.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from pipectl.config import Settings
from pipectl.errors import EXIT_DEGRADED, EXIT_UNHEALTHY, NotFoundError, PipectlError

HEALTHY, DEGRADED, DOWN, UNKNOWN = "healthy", "degraded", "down", "unknown"
VERDICTS = (HEALTHY, UNKNOWN, DEGRADED, DOWN)
# unknown: the stage cannot be observed from here; it does not make the overall verdict worse
_RANK = {HEALTHY: 0, UNKNOWN: 0, DEGRADED: 1, DOWN: 2}
EXIT_CODES = {HEALTHY: 0, DEGRADED: EXIT_DEGRADED, DOWN: EXIT_UNHEALTHY}

STALE_INTERVALS = 3  # a checkpoint or commit older than this many checkpoint intervals is stale
RECENT_RESTART_S = 300  # a restart within this many seconds makes Flink degraded
JOB_NAME = "order_ingest"
HISTORY = 60  # samples kept for the sparklines in --watch


# ------------------------------------------------------------------------------- results
@dataclass
class Stage:
    name: str  # kafka | flink | iceberg
    verdict: str
    reason: str  # the first problem, or a one-line summary when healthy
    problems: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason, "problems": list(self.problems), **self.facts}


@dataclass
class PipelineStatus:
    env: str
    checked_at: float
    interval_s: float
    stages: list[Stage]
    history: dict[str, list] = field(default_factory=dict)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def verdict(self) -> str:
        worst = max(self.stages, key=lambda s: _RANK[s.verdict])
        return HEALTHY if _RANK[worst.verdict] == 0 else worst.verdict

    @property
    def reason(self) -> str:
        verdict = self.verdict
        if verdict != HEALTHY:
            first = next(s for s in self.stages if s.verdict == verdict)  # in flow order: the first at fault
            return f"{first.name}: {first.reason}"
        k, f = self.stage("kafka").facts, self.stage("flink").facts
        flowing = (k.get("produce_rate_per_s") or 0) > 0 or ((f.get("job") or {}).get("records_in_per_s") or 0) > 0
        unknown = [s.name for s in self.stages if s.verdict == UNKNOWN]
        text = f"data flows from topic {k.get('topic')} to table {self.stage('iceberg').facts.get('table')}" if flowing \
            else "every stage is healthy; no new data is arriving (idle)"
        if unknown:
            text += f" ({', '.join(unknown)} not observable from here)"
        return text

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict:
        return {
            "env": self.env,
            "checked_at": dt.datetime.fromtimestamp(self.checked_at, dt.timezone.utc).isoformat(timespec="seconds"),
            "interval_s": self.interval_s,
            "verdict": self.verdict,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "stages": {s.name: s.to_dict() for s in self.stages},
            "history": self.history,
        }


def _stage(name: str, verdict_problems: tuple[str, list[str]], summary: str, facts: dict) -> Stage:
    verdict, problems = verdict_problems
    return Stage(name, verdict, problems[0] if problems else summary, problems, facts)


# ------------------------------------------------------------------------------- formatting
def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


# ------------------------------------------------------------------------------- the rules
def judge_kafka(k: dict, *, fix: str) -> tuple[str, list[str]]:
    """down: broker unreachable, or the topic is missing. degraded: partitions without a leader.
    unknown: not observable from here (AWS without aws.msk_cluster_arn)."""
    if k.get("observable") is False:
        return UNKNOWN, [k.get("note") or "Kafka cannot be observed from here"]
    if not k.get("reachable"):
        return DOWN, [f"cannot reach Kafka at {k.get('bootstrap')}" + (f" ({k['error']})" if k.get("error") else "")
                      + f"; {fix}"]
    problems: list[str] = []
    if k.get("cluster_state") is not None and k["cluster_state"] != "ACTIVE":
        state = k["cluster_state"]
        verdict = DOWN if state in ("FAILED", "DELETING") else DEGRADED
        return verdict, [f"MSK cluster is {state}"]
    if k.get("topic_exists") is False:
        return DOWN, [f"topic {k.get('topic')} does not exist; create it with 'pipectl local up'"]
    leaderless = k.get("partitions_without_leader") or []
    if leaderless:
        problems.append(f"{len(leaderless)} of {k.get('partitions')} partitions of {k.get('topic')} have no leader "
                        f"({', '.join(map(str, leaderless))})")
    return (DEGRADED if problems else HEALTHY), problems


def judge_flink(f: dict, *, interval_s: float, env: str = "local") -> tuple[str, list[str]]:
    """down: no cluster (or application), or the job is not active (missing, FAILED, FINISHED,
    CANCELED; on AWS the application is not RUNNING). degraded: the job is RESTARTING (or any
    other not-yet-running state), tasks are not running, a TaskManager is missing, it restarted in
    the last 5 minutes, backpressure is high, or the last checkpoint is older than 3 intervals."""
    start_hint = "start it with 'pipectl job start'" if env == "local" else "start it with 'pipectl aws deploy'"
    logs_hint = "see 'pipectl local logs taskmanager'" if env == "local" else "see 'pipectl aws logs'"
    if env == "aws":
        app = f.get("application")
        status = f.get("application_status")
        if status is None:
            return DOWN, [f"application '{app}' does not exist in {f.get('region')}; deploy it with 'pipectl aws deploy'"]
        if status in ("STARTING", "UPDATING", "AUTOSCALING", "MAINTENANCE", "ROLLING_BACK"):
            return DEGRADED, [f"application '{app}' is {status}"]
        if status != "RUNNING":
            return DOWN, [f"application '{app}' is not running (status {status}); {start_hint}"]
    elif not f.get("reachable"):
        return DOWN, [f"no Flink cluster answers at {f.get('rest_url')}; start it with 'pipectl local up'"]

    job = f.get("job")
    if env == "local":
        if job is None:
            return DOWN, [f"job {JOB_NAME} is not running (never started on this cluster); {start_hint}"]
        if job["state"] in ("FINISHED", "CANCELED", "FAILED", "SUSPENDED"):
            return DOWN, [f"job {JOB_NAME} is not running (last state {job['state']}); {start_hint}"]
    job = job or {}
    problems: list[str] = []
    tm = f.get("taskmanager_process")
    if tm and not tm.get("alive"):
        problems.append(f"the TaskManager process (pid {tm.get('pid')}) is not running; restart it with 'pipectl local up'")
    if env == "local" and f.get("taskmanagers") == 0:
        problems.append("no TaskManager is registered with the JobManager; start one with 'pipectl local up'")
    state = job.get("state")
    if env == "local" and state != "RUNNING":
        problems.append(f"job {JOB_NAME} is {state} (restarts: {job.get('restarts', '?')}); {logs_hint}")
    elif env == "aws" and job.get("downtime_ms"):
        problems.append(f"the job is not running inside the application (downtime {job['downtime_ms'] / 1000:.0f}s); {logs_hint}")
    elif env == "local" and job.get("tasks_total") and job.get("tasks_running", 0) < job["tasks_total"]:
        problems.append(f"{job['tasks_total'] - job.get('tasks_running', 0)} of {job['tasks_total']} tasks of {JOB_NAME} "
                        "are not running (waiting for task slots)")
    age = job.get("last_restart_age_s")
    if age is not None and age < RECENT_RESTART_S and state == "RUNNING":
        problems.append(f"job {JOB_NAME} restarted {fmt_age(age)} ago (restarts: {job.get('restarts')}); {logs_hint}")
    elif env == "aws" and job.get("restarts_in_window"):
        problems.append(f"job {JOB_NAME} restarted {job['restarts_in_window']} times in the last "
                        f"{fmt_age(job.get('window_s'))}; {logs_hint}")
    if job.get("backpressure") == "high":
        where = ", ".join(job.get("backpressured_vertices") or []) or "the job"
        problems.append(f"backpressure is high in {where}: the job cannot keep up")
    if job.get("failed_checkpoints_in_window"):
        problems.append(f"{job['failed_checkpoints_in_window']} checkpoints failed in the last {fmt_age(job.get('window_s'))}")
    stale_after = STALE_INTERVALS * interval_s
    cp = job.get("last_checkpoint")
    if state == "RUNNING" or env == "aws":
        if cp and cp.get("age_s") is not None and cp["age_s"] > stale_after:
            problems.append(f"the last checkpoint completed {fmt_age(cp['age_s'])} ago, more than "
                            f"{STALE_INTERVALS} × the {interval_s:g}s checkpoint interval")
        elif not cp and (job.get("uptime_s") or 0) > stale_after + interval_s and env == "local":
            problems.append(f"no checkpoint completed in the {fmt_age(job.get('uptime_s'))} since the job started "
                            f"(checkpoint interval {interval_s:g}s)")
    return (DEGRADED if problems else HEALTHY), problems


def judge_iceberg(i: dict, k: dict, *, interval_s: float, env: str = "local") -> tuple[str, list[str]]:
    """down: the table is missing (or cannot be read). degraded: the last commit is older than
    3 checkpoint intervals while records have waited in Kafka longer than that. A table without
    new data is not stale: it is idle."""
    if i.get("error"):
        return DOWN, [i["error"]]
    if not i.get("exists"):
        hint = "start the job with 'pipectl job start' (it creates the table)" if env == "local" \
            else "the job creates it on its first run"
        return DOWN, [f"table {i.get('table')} does not exist; {hint}"]
    stale_after = STALE_INTERVALS * interval_s
    lag = (k.get("lag") or {}).get("total")
    waited = k.get("oldest_waiting_s")
    age = i.get("last_commit_age_s")
    if lag and (age is None or age > stale_after) and (waited is None or waited > stale_after):
        since = f"last commit {fmt_age(age)} ago" if age is not None else "no commit yet"
        oldest = f", the oldest for {fmt_age(waited)}" if waited is not None else ""
        return DEGRADED, [f"stale: {since}, more than {STALE_INTERVALS} × the {interval_s:g}s checkpoint interval, "
                          f"while {lag:,} records wait in Kafka{oldest}"]
    return HEALTHY, []


def _iceberg_summary(i: dict, k: dict, interval_s: float) -> str:
    if not i.get("exists"):
        return "-"
    age = i.get("last_commit_age_s")
    text = f"{i.get('rows') or 0:,} rows, last commit {fmt_age(age)} ago" if age is not None else "no commit yet"
    if i.get("idle"):
        text += " (idle: no new records)"
    return text


# ------------------------------------------------------------------------------- Kafka (local)
class _KafkaLocal:
    """One consumer and one admin client for the whole status call (two samples of end offsets)."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.bootstrap = settings.kafka_bootstrap
        self.topic = settings.pipeline.topic
        self.consumer = None
        self.error = ""
        self.partitions: list[int] = []

    def open(self) -> bool:
        host, _, port = self.bootstrap.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                pass
        except OSError as exc:
            self.error = exc.strerror or type(exc).__name__
            return False
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        try:
            self.consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="pipectl-status",
                                          enable_auto_commit=False, request_timeout_ms=11000)
        except KafkaError as exc:
            self.error = type(exc).__name__
            return False
        return True

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()

    def topic_info(self) -> dict:
        from pipectl import kafka_admin

        with kafka_admin.admin(self.bootstrap) as client:
            topic = client.describe_topics([self.topic])[0]
        if topic.get("error_code") != 0:
            return {"topic_exists": False}
        parts = sorted(p["partition_index"] for p in topic["partitions"])
        self.partitions = parts
        return {
            "topic_exists": True,
            "partitions": len(parts),
            "partitions_without_leader": sorted(p["partition_index"] for p in topic["partitions"] if p["leader_id"] < 0),
        }

    def committed(self) -> dict[int, int]:
        """The job's consumer group offsets (Flink commits them when a checkpoint completes)."""
        from pipectl import kafka_admin

        return kafka_admin.group_offsets(self.bootstrap, self.s.pipeline.consumer_group, self.topic)

    def _tps(self):
        from kafka import TopicPartition

        return [TopicPartition(self.topic, p) for p in self.partitions]

    def end_offsets(self) -> tuple[float, dict[int, int]]:
        offsets = self.consumer.end_offsets(self._tps())
        return time.time(), {tp.partition: off for tp, off in offsets.items()}

    def begin_offsets(self) -> dict[int, int]:
        return {tp.partition: off for tp, off in self.consumer.beginning_offsets(self._tps()).items()}

    def oldest_waiting(self, positions: dict[int, int], timeout_s: float = 2.0) -> float | None:
        """Age in seconds of the oldest record not yet consumed (committed) by the job."""
        from kafka import TopicPartition

        if not positions:
            return None
        tps = [TopicPartition(self.topic, p) for p in positions]
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, positions[tp.partition])
        first: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(first) < len(tps) and time.monotonic() < deadline:
            batch = self.consumer.poll(timeout_ms=300, max_records=50)
            for tp, records in batch.items():
                if records and tp.partition not in first:
                    first[tp.partition] = records[0].timestamp
                    self.consumer.pause(tp)
        self.consumer.unsubscribe()
        if not first:
            return None
        return round(max(0.0, time.time() - min(first.values()) / 1000), 1)


def _kafka_facts_local(settings: Settings, kafka: _KafkaLocal, reachable: bool, sample1, sample2, begin, info) -> dict:
    p = settings.pipeline
    facts: dict[str, Any] = {
        "bootstrap": settings.kafka_bootstrap, "topic": p.topic, "reachable": reachable,
        "error": kafka.error or None, "topic_exists": None, "partitions": None, "partitions_without_leader": [],
        "end_offsets": {}, "records": None, "produce_rate_per_s": None, "consumer_group": p.consumer_group,
        "lag": {"total": None, "per_partition": {}}, "oldest_waiting_s": None,
    }
    if not reachable:
        return facts
    facts.update({k: v for k, v in info.items() if k != "committed"})
    if not info.get("topic_exists"):
        return facts
    (t1, end1), (t2, end2) = sample1, sample2
    facts["end_offsets"] = {str(k): v for k, v in sorted(end2.items())}
    facts["records"] = sum(end2[q] - begin.get(q, 0) for q in end2)
    if t2 > t1:
        facts["produce_rate_per_s"] = round(max(0, sum(end2.values()) - sum(end1.get(q, 0) for q in end2)) / (t2 - t1), 1)
    committed = info.get("committed", {})
    lag = {q: max(0, end2[q] - committed.get(q, begin.get(q, 0))) for q in sorted(end2)}
    facts["lag"] = {"total": sum(lag.values()), "per_partition": {str(q): v for q, v in lag.items()},
                    "committed": bool(committed)}
    return facts


# ------------------------------------------------------------------------------- Flink (local)
def _rest(settings: Settings):
    from pipectl.flink.rest import FlinkRest

    class StatusRest(FlinkRest):
        def get(self, path: str) -> Any:
            return self._call("GET", path)

    return StatusRest(settings.flink_rest_url, timeout=5)


def _flink_facts_local(settings: Settings) -> dict:
    from pipectl import procs
    from pipectl.stack.native import NativeStack

    facts: dict[str, Any] = {"rest_url": settings.flink_rest_url, "reachable": False, "taskmanagers": None,
                             "slots_total": None, "slots_available": None, "taskmanager_process": None, "job": None}
    tm = NativeStack(settings).proc("taskmanager")
    if tm is not None:
        facts["taskmanager_process"] = {"pid": tm.pid, "alive": procs.is_alive(tm)}
    rest = _rest(settings)
    try:
        overview = rest.overview()
    except PipectlError:
        return facts
    facts.update(reachable=True, taskmanagers=overview.get("taskmanagers"), slots_total=overview.get("slots-total"),
                 slots_available=overview.get("slots-available"), flink_version=overview.get("flink-version"))
    try:
        jobs = [j for j in rest.jobs() if j.get("name") == JOB_NAME]
    except PipectlError:
        return facts
    if not jobs:
        return facts
    from pipectl.flink.jobs import ACTIVE_STATES

    jobs.sort(key=lambda j: (j.get("state") in ACTIVE_STATES, j.get("start-time", 0)), reverse=True)
    facts["job"] = _job_facts(rest, jobs[0]["jid"])
    return facts


def _job_facts(rest, jid: str) -> dict:
    detail = rest.job(jid)
    now_ms = detail.get("now") or time.time() * 1000
    vertices = detail.get("vertices", [])
    job: dict[str, Any] = {
        "name": detail.get("name"), "id": jid, "state": detail.get("state"),
        "uptime_s": None, "restarts": None, "last_restart_age_s": None,
        "tasks_running": sum((v.get("tasks") or {}).get("RUNNING", 0) for v in vertices),
        "tasks_total": sum(v.get("parallelism", 0) for v in vertices),
        "last_checkpoint": None, "checkpoints_failed": None,
        "records_in_per_s": None, "records_out_per_s": None,
        "backpressure": None, "backpressured_vertices": [],
    }
    restarting = (detail.get("timestamps") or {}).get("RESTARTING") or 0
    if restarting:
        job["last_restart_age_s"] = round((now_ms - restarting) / 1000, 1)
    if job["state"] not in ("RUNNING", "RESTARTING", "CREATED", "INITIALIZING", "FAILING", "RECONCILING"):
        job["last_restart_age_s"] = None
        return job
    try:
        metrics = {m["id"]: m.get("value") for m in rest.get(f"/jobs/{jid}/metrics?get=numRestarts")}
        job["restarts"] = int(float(metrics["numRestarts"])) if metrics.get("numRestarts") is not None else None
    except (PipectlError, ValueError, KeyError):
        pass
    if job["state"] == "RUNNING":  # uptime: since the job (re)entered RUNNING
        running_since = (detail.get("timestamps") or {}).get("RUNNING") or detail.get("start-time")
        if running_since:
            job["uptime_s"] = round(max(0, now_ms - running_since) / 1000, 1)
    try:
        cps = rest.checkpoints(jid)
        latest = (cps.get("latest") or {}).get("completed")
        if latest:
            job["last_checkpoint"] = {
                "id": latest.get("id"),
                "age_s": round(max(0.0, time.time() - latest.get("latest_ack_timestamp", 0) / 1000), 1),
                "duration_ms": latest.get("end_to_end_duration"),
                "size_bytes": latest.get("checkpointed_size", latest.get("state_size")),
            }
        job["checkpoints_failed"] = (cps.get("counts") or {}).get("failed")
    except PipectlError:
        pass
    if job["state"] != "RUNNING":
        return job
    rate_in = 0.0
    seen = False
    levels = []
    for v in vertices:
        vid = v["id"]
        try:
            ids = [m["id"] for m in rest.get(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics")]
            wanted = [m for m in ids if m.startswith("Source") and m.endswith(".numRecordsOutPerSecond")]
            if wanted:
                from urllib.parse import quote

                got = rest.get(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?agg=sum&get="
                               + ",".join(quote(m, safe="._") for m in wanted))
                for m in got:
                    seen = True
                    rate_in += float(m.get("sum") or 0)
        except (PipectlError, ValueError, KeyError):
            pass
        try:
            bp = rest.get(f"/jobs/{jid}/vertices/{vid}/backpressure")
            level = bp.get("backpressureLevel") or bp.get("backpressure-level")
            if bp.get("status") == "ok" and level:
                levels.append(level)
                if level == "high":
                    job["backpressured_vertices"].append(v.get("name", vid)[:60])
        except PipectlError:
            pass
    if seen:
        job["records_in_per_s"] = round(rate_in, 1)
    if levels:
        job["backpressure"] = max(levels, key=["ok", "low", "high"].index)
    return job


# ------------------------------------------------------------------------------- Iceberg
def _iceberg_facts(settings: Settings, table_name: str, rejected_name: str, load: Callable[[str], Any]) -> dict:
    facts: dict[str, Any] = {
        "table": table_name, "exists": False, "location": None, "rows": None, "snapshots": None,
        "last_commit_age_s": None, "data_files": None, "data_bytes": None, "avg_file_bytes": None,
        "quarantined_rows": None, "rows_per_s": None, "idle": None,
    }
    table = None
    for attempt in (1, 2):  # a commit may replace the metadata while we read it: try once more
        try:
            table = load(None)
            break
        except NotFoundError:
            return facts
        except PipectlError as exc:
            facts["error"] = f"cannot read table {table_name}: {exc.message}"
            return facts
        except (OSError, ValueError) as exc:
            if attempt == 2:
                facts["error"] = f"cannot read table {table_name} ({type(exc).__name__})"
                return facts
            time.sleep(0.3)
    facts.update(exists=True, location=table.metadata.location, snapshots=len(table.metadata.snapshots))
    snap = table.current_snapshot()
    if snap is None:
        facts.update(rows=0, data_files=0, data_bytes=0, avg_file_bytes=0)
    else:
        facts["last_commit_age_s"] = round(max(0.0, time.time() - snap.timestamp_ms / 1000), 1)
        rows, files, size = _totals(table, snap)
        facts.update(rows=rows, data_files=files, data_bytes=size, avg_file_bytes=size // files if files else 0)
    added = _added_recently(table)
    try:
        rejected = load(rejected_name)
        rsnap = rejected.current_snapshot()
        facts["quarantined_rows"] = 0 if rsnap is None else _totals(rejected, rsnap)[0]
        added += _added_recently(rejected)
    except (PipectlError, OSError, ValueError):
        pass
    facts["rows_per_s"] = round(added / RATE_WINDOW_S, 1)
    return facts


RATE_WINDOW_S = 60


def _added_recently(table) -> int:
    """Rows added by the snapshots of the last RATE_WINDOW_S seconds."""
    since = (time.time() - RATE_WINDOW_S) * 1000
    total = 0
    for snap in table.metadata.snapshots:
        if snap.timestamp_ms >= since and snap.summary is not None:
            try:
                total += int(snap.summary.get("added-records") or 0)
            except (TypeError, ValueError):
                pass
    return total


def _totals(table, snap) -> tuple[int, int, int]:
    """(rows, data files, bytes) from the snapshot summary, or from the manifests."""
    summary = snap.summary
    try:
        return (int(summary["total-records"]), int(summary["total-data-files"]), int(summary["total-files-size"]))
    except (KeyError, TypeError, ValueError):
        rows = files = size = 0
        for task in table.scan().plan_files():
            files += 1
            rows += task.file.record_count
            size += task.file.file_size_in_bytes
        return rows, files, size


# ------------------------------------------------------------------------------- collect
@dataclass
class _Memory:
    """What a watch remembers between refreshes: the previous end-offset sample and the history."""

    sample: tuple[float, dict[int, int]] | None = None
    history: dict[str, deque] = field(default_factory=lambda: {
        k: deque(maxlen=HISTORY) for k in ("produce_rate_per_s", "lag", "records_in_per_s")})


def _prime_flink_metrics(settings: Settings) -> None:
    """Flink's JobManager answers metric requests from a cache and refreshes it in the background
    when asked: ask once early so that the values read later are current."""
    rest = _rest(settings)
    try:
        for j in rest.jobs():
            if j.get("name") == JOB_NAME and j.get("state") == "RUNNING":
                rest.get(f"/jobs/{j['jid']}/metrics?get=numRestarts")
    except PipectlError:
        pass


def _collect_local(settings: Settings, interval_s: float, memory: _Memory) -> PipelineStatus:
    started = time.time()
    p = settings.pipeline
    kafka = _KafkaLocal(settings)
    reachable = kafka.open()
    info: dict = {}
    sample1 = sample2 = (started, {})
    begin: dict[int, int] = {}
    try:
        if reachable:
            try:
                info = kafka.topic_info()
                if info.get("topic_exists"):
                    sample1 = memory.sample or kafka.end_offsets()
                    begin = kafka.begin_offsets()
            except _kafka_errors() as exc:
                reachable, kafka.error = False, _kafka_message(exc)
        _prime_flink_metrics(settings)
        iceberg = _iceberg_facts(
            settings, f"{p.namespace}.{p.table}", p.rejected_table,
            lambda name: _load_local(settings, name))
        if reachable and info.get("topic_exists"):
            wait = interval_s - (time.time() - sample1[0])
            if wait > 0:
                time.sleep(wait)
            try:
                sample2 = kafka.end_offsets()
                info["committed"] = kafka.committed()
                memory.sample = sample2
            except _kafka_errors() as exc:
                reachable, kafka.error = False, _kafka_message(exc)
        flink = _flink_facts_local(settings)
        k = _kafka_facts_local(settings, kafka, reachable, sample1, sample2, begin, info)
        if k["lag"]["total"]:
            committed = info.get("committed", {})
            lagging = [int(q) for q, v in k["lag"]["per_partition"].items() if v]
            try:
                k["oldest_waiting_s"] = kafka.oldest_waiting({q: committed.get(q, begin.get(q, 0)) for q in lagging})
            except _kafka_errors():
                pass  # a fact we could not read: null
    finally:
        kafka.close()
    return _assemble(settings, "local", interval_s, p.checkpoint_interval_s, k, flink, iceberg, memory, started)


def _kafka_errors() -> tuple[type[BaseException], ...]:
    from kafka.errors import KafkaError

    return (PipectlError, KafkaError, OSError)


def _kafka_message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, PipectlError) else type(exc).__name__


def _load_local(settings: Settings, name: str | None):
    from pipectl.verify import load_local_table

    return load_local_table(settings, name)


def _assemble(settings, env, interval_s, checkpoint_s, k, flink, iceberg, memory: _Memory, started) -> PipelineStatus:
    stale_after = STALE_INTERVALS * checkpoint_s
    iceberg["checkpoint_interval_s"] = checkpoint_s
    iceberg["stale_after_s"] = stale_after
    if iceberg.get("exists"):
        lag = (k.get("lag") or {}).get("total")
        iceberg["idle"] = not lag and (iceberg.get("last_commit_age_s") or 0) > stale_after
    flink["checkpoint_interval_s"] = checkpoint_s
    if (flink.get("job") or {}).get("state") == "RUNNING" and flink["job"].get("records_out_per_s") is None:
        # what the job wrote: rows committed to both tables over the last minute (Flink's writer
        # metrics cannot tell the two IcebergStreamWriter operators apart)
        flink["job"]["records_out_per_s"] = iceberg.get("rows_per_s")
    fix = "start it with 'pipectl local up'" if env == "local" else "check aws.bootstrap_servers and the network"
    job = flink.get("job") or {}
    lag_total = (k.get("lag") or {}).get("total")
    if k.get("topic_exists"):
        kafka_summary = (f"{k.get('records') or 0:,} records in {k.get('partitions')} partitions, "
                         f"{k.get('produce_rate_per_s') or 0:g}/s produced, lag {lag_total:,}")
    elif k.get("cluster_state"):
        kafka_summary = f"MSK cluster {k['cluster_state']}, lag {'-' if lag_total is None else f'{lag_total:,}'}"
    else:
        kafka_summary = k.get("note") or "-"
    flink_summary = (f"{job.get('state')}, up {fmt_age(job.get('uptime_s'))}, "
                     f"{job.get('records_in_per_s') or 0:g} records/s in") if job else "-"
    stages = [
        _stage("kafka", judge_kafka(k, fix=fix), kafka_summary, k),
        _stage("flink", judge_flink(flink, interval_s=checkpoint_s, env=env), flink_summary, flink),
        _stage("iceberg", judge_iceberg(iceberg, k, interval_s=checkpoint_s, env=env),
               _iceberg_summary(iceberg, k, checkpoint_s), iceberg),
    ]
    memory.history["produce_rate_per_s"].append(k.get("produce_rate_per_s"))
    memory.history["lag"].append((k.get("lag") or {}).get("total"))
    memory.history["records_in_per_s"].append(job.get("records_in_per_s"))
    return PipelineStatus(env=env, checked_at=started, interval_s=interval_s, stages=stages,
                          history={key: list(v) for key, v in memory.history.items()})


def collect(settings: Settings, interval_s: float = 2.0, _memory: _Memory | None = None) -> PipelineStatus:
    """Gather the facts of every stage and judge them. `interval_s` is how long the end offsets
    are sampled for the produce rate (the other facts are gathered meanwhile)."""
    memory = _memory or _Memory()
    if settings.env == "aws":
        return _collect_aws(settings, interval_s, memory)
    return _collect_local(settings, interval_s, memory)


def watch(settings: Settings, every_s: float = 2.0, count: int | None = None) -> Iterator[PipelineStatus]:
    """collect() again and again, `every_s` apart; each status carries the history of the
    produce rate, the lag and the records read by the job (for sparklines)."""
    memory = _Memory()
    n = 0
    while count is None or n < count:
        began = time.monotonic()
        yield collect(settings, every_s, memory)
        n += 1
        rest = every_s - (time.monotonic() - began)
        if rest > 0 and (count is None or n < count):
            time.sleep(rest)


# ------------------------------------------------------------------------------- AWS
CW_WINDOW_S = 600


def _cw_latest(target, namespace: str, dims: list[dict], metrics: dict[str, str], window_s: int = CW_WINDOW_S) -> dict:
    """{metric: [values oldest..newest]} over the window from CloudWatch GetMetricData."""
    from pipectl.aws.errors import aws_call

    end = dt.datetime.now(dt.timezone.utc)
    queries = [
        {"Id": f"m{i}", "Label": name,
         "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                        "Period": 60, "Stat": stat}, "ReturnData": True}
        for i, (name, stat) in enumerate(metrics.items())
    ]
    cw = target.client("cloudwatch")
    with aws_call("read CloudWatch metrics"):
        resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=end - dt.timedelta(seconds=window_s), EndTime=end + dt.timedelta(seconds=60),
                                  ScanBy="TimestampAscending")
    out: dict[str, list] = {}
    names = list(metrics)
    for r in resp.get("MetricDataResults", []):
        name = names[int(r["Id"][1:])]
        pairs = sorted(zip(r.get("Timestamps", []), r.get("Values", [])))
        out[name] = [v for _, v in pairs]
    return out


def _collect_aws(settings: Settings, interval_s: float, memory: _Memory) -> PipelineStatus:
    from pipectl.aws import application as appcfg
    from pipectl.aws.manage import describe
    from pipectl.aws.target import resolve

    started = time.time()
    target = resolve(settings, "status")
    aws = settings.aws
    # Flink: the application and its CloudWatch metrics
    detail = describe(target)
    flink: dict[str, Any] = {"application": aws.application_name, "region": target.region,
                             "application_status": None, "application_version": None, "job": None,
                             "metrics_source": "cloudwatch"}
    checkpoint_s = aws.checkpoint_interval_s
    if detail is not None:
        flink["application_status"] = detail["ApplicationStatus"]
        flink["application_version"] = detail.get("ApplicationVersionId")
        cp_ms = appcfg.checkpoint_interval_ms(detail)
        checkpoint_s = cp_ms / 1000 if cp_ms else checkpoint_s
        if detail["ApplicationStatus"] == "RUNNING":
            flink["job"] = _aws_job_facts(target)
    # Kafka: MSK cluster state and the consumer group's lag from CloudWatch
    k = _aws_kafka_facts(target, settings)
    # Iceberg: S3 Tables through pyiceberg
    from pipectl.aws.tables import load_table

    iceberg = _iceberg_facts(settings, f"{aws.namespace}.{aws.table}", settings.pipeline.rejected_table,
                             lambda name: load_table(settings, aws.namespace, name or aws.table))
    return _assemble(settings, "aws", interval_s, checkpoint_s, k, flink, iceberg, memory, started)


def _aws_job_facts(target) -> dict:
    from pipectl.aws.health import job_facts  # the job's health on AWS lives in pipectl.aws.health

    return job_facts(target, CW_WINDOW_S)


def _aws_kafka_facts(target, settings: Settings) -> dict:
    from pipectl.aws.errors import aws_call

    aws = settings.aws
    k: dict[str, Any] = {
        "bootstrap": aws.bootstrap_servers or None, "topic": aws.topic, "reachable": None, "observable": True,
        "cluster_state": None, "topic_exists": None, "partitions": None, "partitions_without_leader": [],
        "end_offsets": {}, "records": None, "produce_rate_per_s": None,
        "consumer_group": settings.pipeline.consumer_group, "lag": {"total": None, "per_partition": {}},
        "oldest_waiting_s": None,
    }
    msk = target.msk
    if msk is None:
        k["observable"] = False
        k["note"] = "set aws.msk_cluster_arn to observe the MSK cluster (pipectl does not connect to the brokers)"
        return k
    try:
        with aws_call(f"describe the MSK cluster {msk.name}"):
            info = target.client("kafka").describe_cluster_v2(ClusterArn=msk.arn)["ClusterInfo"]
        k["cluster_state"] = info.get("State")
        k["reachable"] = True
    except PipectlError as exc:
        k["reachable"] = False
        k["error"] = exc.message
        return k
    try:
        m = _cw_latest(target, "AWS/Kafka", [
            {"Name": "Cluster Name", "Value": msk.name},
            {"Name": "Consumer Group", "Value": settings.pipeline.consumer_group},
            {"Name": "Topic", "Value": aws.topic}], {"SumOffsetLag": "Maximum", "EstimatedMaxTimeLag": "Maximum"})
        if m.get("SumOffsetLag"):
            k["lag"]["total"] = int(m["SumOffsetLag"][-1])
        if m.get("EstimatedMaxTimeLag"):
            k["oldest_waiting_s"] = float(m["EstimatedMaxTimeLag"][-1])
    except PipectlError:
        pass
    return k
