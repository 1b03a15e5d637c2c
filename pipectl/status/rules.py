"""The verdict rules: pure functions of the facts (docs/status.md lists them), and `assemble`,
which judges the three stages and builds the PipelineStatus."""

from __future__ import annotations

from dataclasses import dataclass

from pipectl import fmt
from pipectl.flink.job_state import ENDED_STATES, JOB_NAME
from pipectl.status.model import (
    F,
    DEGRADED,
    DOWN,
    HEALTHY,
    RECENT_RESTART_S,
    STALE_INTERVALS,
    UNKNOWN,
    FlinkFacts,
    History,
    IcebergFacts,
    KafkaFacts,
    LocalFlinkFacts,
    ManagedFlinkFacts,
    MskFacts,
    PipelineStatus,
    Stage,
    Verdict,
)

Judged = tuple[Verdict, list[str]]  # (verdict, problems)

APP_SETTLING = ("STARTING", "UPDATING", "AUTOSCALING", "MAINTENANCE", "ROLLING_BACK")


@dataclass(frozen=True)
class Hints:
    """What to tell the operator to do, per environment."""

    kafka_fix: str
    start_job: str
    job_logs: str
    create_table: str


LOCAL = Hints(
    kafka_fix="start it with 'pipectl local up'",
    start_job="start it with 'pipectl job start'",
    job_logs="see 'pipectl local logs taskmanager'",
    create_table="start the job with 'pipectl job start' (it creates the table)",
)
AWS = Hints(
    kafka_fix="check aws.bootstrap_servers and the network",
    start_job="start it with 'pipectl aws deploy'",
    job_logs="see 'pipectl aws logs'",
    create_table="the job creates it on its first run",
)
HINTS = {"local": LOCAL, "aws": AWS}


# ------------------------------------------------------------------------------- Kafka
def judge_kafka(k: KafkaFacts, *, fix: str) -> Judged:
    """down: broker unreachable, or the topic is missing. degraded: partitions without a leader.
    unknown: not observable from here (AWS without aws.msk_cluster_arn)."""
    if isinstance(k, MskFacts) and not k.observable:
        return UNKNOWN, [k.note or "Kafka cannot be observed from here"]
    if not k.reachable:
        return DOWN, [f"cannot reach Kafka at {k.bootstrap}" + (f" ({k.error})" if k.error else "") + f"; {fix}"]
    if isinstance(k, MskFacts) and k.cluster_state is not None and k.cluster_state != "ACTIVE":
        state = k.cluster_state
        return (DOWN if state in ("FAILED", "DELETING") else DEGRADED), [f"MSK cluster is {state}"]
    if k.topic_exists is False:
        return DOWN, [f"topic {k.topic} does not exist; create it with 'pipectl local up'"]
    problems: list[str] = []
    if k.partitions_without_leader:
        problems.append(
            f"{len(k.partitions_without_leader)} of {k.partitions} partitions of {k.topic} have no "
            f"leader ({', '.join(map(str, k.partitions_without_leader))})"
        )
    return (DEGRADED if problems else HEALTHY), problems


# ------------------------------------------------------------------------------- Flink
def judge_flink(f: FlinkFacts, *, interval_s: float) -> Judged:
    """down: no cluster (or application), or the job is not active. degraded: see the two below."""
    if isinstance(f, ManagedFlinkFacts):
        return judge_managed_flink(f, interval_s=interval_s)
    return judge_local_flink(f, interval_s=interval_s)


def judge_local_flink(f: LocalFlinkFacts, *, interval_s: float, hints: Hints = LOCAL) -> Judged:
    """down: no cluster, or the job is missing, FAILED, FINISHED, CANCELED or SUSPENDED.
    degraded: the job is RESTARTING (or any other not-yet-running state), tasks are not running,
    a TaskManager is missing, it restarted in the last 5 minutes, backpressure is high, or the
    last checkpoint is older than 3 intervals (none at all after 4 intervals)."""
    if not f.reachable:
        return DOWN, [f"no Flink cluster answers at {f.rest_url}; start it with 'pipectl local up'"]
    job = f.job
    if job is None:
        return DOWN, [f"job {JOB_NAME} is not running (never started on this cluster); {hints.start_job}"]
    failure = getattr(job, "root_exception", None)
    failed = f", failed with {failure}" if failure else ""
    if job.state in ENDED_STATES:
        return DOWN, [f"job {JOB_NAME} is not running (last state {job.state}{failed}); {hints.start_job}"]
    problems: list[str] = []
    tm = f.taskmanager_process
    if tm and not tm.alive:
        problems.append(f"the TaskManager process (pid {tm.pid}) is not running; restart it with 'pipectl local up'")
    if f.taskmanagers == 0:
        problems.append("no TaskManager is registered with the JobManager; start one with 'pipectl local up'")
    running = job.state == "RUNNING"
    if not running:
        restarts = "?" if job.restarts is None else job.restarts
        problems.append(f"job {JOB_NAME} is {job.state} (restarts: {restarts}{failed}); {hints.job_logs}")
    elif job.tasks_total and (job.tasks_running or 0) < job.tasks_total:
        problems.append(
            f"{job.tasks_total - (job.tasks_running or 0)} of {job.tasks_total} tasks of {JOB_NAME} "
            "are not running (waiting for task slots)"
        )
    age = job.last_restart_age_s
    if age is not None and age < RECENT_RESTART_S and running:
        problems.append(f"job {JOB_NAME} restarted {fmt.age(age)} ago (restarts: {job.restarts}); {hints.job_logs}")
    problems += _backpressure(job.backpressure, job.backpressured_vertices)
    if running:
        stale_after = STALE_INTERVALS * interval_s
        cp = job.last_checkpoint
        problems += _stale_checkpoint(cp.age_s if cp else None, interval_s)
        if not cp and (job.uptime_s or 0) > stale_after + interval_s:
            problems.append(
                f"no checkpoint completed in the {fmt.age(job.uptime_s)} since the job started "
                f"(checkpoint interval {interval_s:g}s)"
            )
    return (DEGRADED if problems else HEALTHY), problems


def judge_managed_flink(f: ManagedFlinkFacts, *, interval_s: float, hints: Hints = AWS) -> Judged:
    """down: the application does not exist or is not RUNNING. degraded: it is settling
    (STARTING, UPDATING, ...), the job inside has downtime, restarted or failed checkpoints in the
    metrics window, or its last checkpoint is older than 3 intervals."""
    app, status = f.application, f.application_status
    if status is None:
        return DOWN, [f"application '{app}' does not exist in {f.region}; deploy it with 'pipectl aws deploy'"]
    if status in APP_SETTLING:
        return DEGRADED, [f"application '{app}' is {status}"]
    if status != "RUNNING":
        return DOWN, [f"application '{app}' is not running (status {status}); {hints.start_job}"]
    job = f.job
    if job is None:
        return HEALTHY, []
    problems: list[str] = []
    if job.downtime_ms:
        problems.append(
            f"the job is not running inside the application (downtime {job.downtime_ms / 1000:.0f}s); {hints.job_logs}"
        )
    if job.restarts_in_window:
        problems.append(
            f"job {JOB_NAME} restarted {job.restarts_in_window} times in the last "
            f"{fmt.age(job.window_s)}; {hints.job_logs}"
        )
    problems += _backpressure(job.backpressure, job.backpressured_vertices)
    if job.failed_checkpoints_in_window:
        problems.append(f"{job.failed_checkpoints_in_window} checkpoints failed in the last {fmt.age(job.window_s)}")
    cp = job.last_checkpoint
    problems += _stale_checkpoint(cp.age_s if cp else None, interval_s)
    return (DEGRADED if problems else HEALTHY), problems


def _backpressure(level: str | None, vertices: list[str]) -> list[str]:
    if level != "high":
        return []
    return [f"backpressure is high in {', '.join(vertices) or 'the job'}: the job cannot keep up"]


def _stale_checkpoint(age_s: float | None, interval_s: float) -> list[str]:
    if age_s is None or age_s <= STALE_INTERVALS * interval_s:
        return []
    return [
        f"the last checkpoint completed {fmt.age(age_s)} ago, more than "
        f"{STALE_INTERVALS} × the {interval_s:g}s checkpoint interval"
    ]


# ------------------------------------------------------------------------------- Iceberg
def judge_iceberg(i: IcebergFacts, k: KafkaFacts, *, interval_s: float, hints: Hints = LOCAL) -> Judged:
    """down: the table is missing (or cannot be read). degraded: the last commit is older than
    3 checkpoint intervals while records have waited in Kafka longer than that. A table without
    new data is not stale: it is idle."""
    if i.error:
        return DOWN, [i.error]
    if not i.exists:
        return DOWN, [f"table {i.table} does not exist; {hints.create_table}"]
    stale_after = STALE_INTERVALS * interval_s
    lag = k.lag.total
    waited = k.oldest_waiting_s
    age = i.last_commit_age_s
    if lag and (age is None or age > stale_after) and (waited is None or waited > stale_after):
        since = f"last commit {fmt.age(age)} ago" if age is not None else "no commit yet"
        oldest = f", the oldest for {fmt.age(waited)}" if waited is not None else ""
        return DEGRADED, [
            f"stale: {since}, more than {STALE_INTERVALS} × the {interval_s:g}s checkpoint interval, "
            f"while {lag:,} records wait in Kafka{oldest}"
        ]
    return HEALTHY, []


# ------------------------------------------------------------------------------- summaries
def kafka_summary(k: KafkaFacts) -> str:
    lag = k.lag.total
    if k.topic_exists:
        return (
            f"{k.records or 0:,} records in {k.partitions} partitions, "
            f"{k.produce_rate_per_s or 0:g}/s produced, lag {lag:,}"
        )
    if isinstance(k, MskFacts):
        if k.cluster_state:
            return f"MSK cluster {k.cluster_state}, lag {'-' if lag is None else f'{lag:,}'}"
        return k.note or "-"
    return "-"


def flink_summary(f: FlinkFacts) -> str:
    job = f.job
    if job is None:
        return "-"
    return f"{job.state}, up {fmt.age(job.uptime_s)}, {job.records_in_per_s or 0:g} records/s in"


def iceberg_summary(i: IcebergFacts) -> str:
    if not i.exists:
        return "-"
    age = i.last_commit_age_s
    text = f"{i.rows or 0:,} rows, last commit {fmt.age(age)} ago" if age is not None else "no commit yet"
    if i.idle:
        text += " (idle: no new records)"
    return text


def _stage(name: str, judged: Judged, summary: str, facts: F) -> Stage[F]:
    verdict, problems = judged
    return Stage(name, verdict, problems[0] if problems else summary, problems, facts)


# ------------------------------------------------------------------------------- assemble
def assemble(
    k: KafkaFacts,
    f: FlinkFacts,
    i: IcebergFacts,
    *,
    env: str,
    interval_s: float,
    checkpoint_s: float,
    checked_at: float,
    history: History | None = None,
) -> PipelineStatus:
    """Judge the facts of the three stages (gathered `interval_s` apart, at `checked_at`) against
    the checkpoint interval `checkpoint_s`, and record the figures in `history`."""
    hints = HINTS[env]
    stale_after = STALE_INTERVALS * checkpoint_s
    i.checkpoint_interval_s = checkpoint_s
    i.stale_after_s = stale_after
    if i.exists:
        i.idle = not k.lag.total and (i.last_commit_age_s or 0) > stale_after
    f.checkpoint_interval_s = checkpoint_s
    if f.job is not None and f.job.state == "RUNNING" and f.job.records_out_per_s is None:
        # what the job wrote: rows committed to both tables over the last minute (Flink's writer
        # metrics cannot tell the two IcebergStreamWriter operators apart)
        f.job.records_out_per_s = i.rows_per_s
    return PipelineStatus(
        env=env,
        checked_at=checked_at,
        interval_s=interval_s,
        kafka=_stage("kafka", judge_kafka(k, fix=hints.kafka_fix), kafka_summary(k), k),
        flink=_stage("flink", judge_flink(f, interval_s=checkpoint_s), flink_summary(f), f),
        iceberg=_stage("iceberg", judge_iceberg(i, k, interval_s=checkpoint_s, hints=hints), iceberg_summary(i), i),
        history=(history or History()).add(k, f),
    )
