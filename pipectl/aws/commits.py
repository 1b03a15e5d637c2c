"""Does the job commit? RUNNING with no restarts is not enough: a Flink job can run, read records
and commit nothing to its Iceberg table (apache/iceberg #8916, #9089).

The Iceberg Flink sink commits once per completed checkpoint, and each of its snapshots carries
`flink.job-id` and `flink.max-committed-checkpoint-id` in its summary. This module reads the
table's newest snapshot through S3 Tables (GetTableMetadataLocation, then the metadata file) and
the application's `numRecordsIn` metric (CloudWatch, AWS/KinesisAnalytics, dimension Application:
"the total number of records this application has received",
https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html):

- committing: a snapshot committed since the window began (by a job id this application's log
  names, when the log names any);
- not committing: records arrived during the window and no such snapshot: deploy fails (exit 4)
  and `aws status` says "running, not committing";
- idle: no records arrived, so no commit is expected;
- unknown: the table or the metric could not be read (said, never guessed).
"""

from __future__ import annotations

from typing import Literal

import datetime as dt
from dataclasses import asdict, dataclass, field

from pipectl.aws.health import metrics, read_log_facts
from pipectl.aws.target import Target
from pipectl.errors import NotFoundError, PipectlError

RECORDS_METRIC = {"numRecordsIn": "Maximum"}


@dataclass
class Commit:
    snapshot_id: int
    committed_at: str  # ISO 8601, UTC
    committed_ms: int
    job_id: str | None  # flink.job-id (None: not written by Flink's Iceberg sink)
    checkpoint_id: str | None  # flink.max-committed-checkpoint-id
    operation: str

    def line(self) -> str:
        who = f"job {self.job_id}, checkpoint {self.checkpoint_id}" if self.job_id else "not by a Flink job"
        return f"snapshot {self.snapshot_id} at {self.committed_at} ({who})"


@dataclass
class CommitCheck:
    state: Literal["committing", "not_committing", "idle", "unknown"]
    reason: str
    newest: Commit | None = None
    records_in_window: float | None = None
    window_s: float = 0.0
    job_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def newest_commit(target: Target) -> Commit | None:
    """The table's newest snapshot (None: the table has none, or does not exist yet)."""
    from pipectl.aws.tables import load_table

    aws = target.aws
    try:
        table = load_table(target.settings, aws.namespace, aws.table)
    except NotFoundError:
        return None
    snapshots = list(table.metadata.snapshots)
    if not snapshots:
        return None
    snap = max(snapshots, key=lambda s: s.timestamp_ms)
    summary = snap.summary
    get = summary.get if summary is not None else (lambda _k, _d=None: None)
    when = dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, tz=dt.UTC)
    operation = summary.operation.value if summary is not None else "?"
    return Commit(
        snapshot_id=snap.snapshot_id,
        committed_at=when.isoformat(timespec="seconds"),
        committed_ms=snap.timestamp_ms,
        job_id=get("flink.job-id"),
        checkpoint_id=get("flink.max-committed-checkpoint-id"),
        operation=str(operation),
    )


def records_in(target: Target, since_ms: int) -> float | None:
    """How many records the application received since `since_ms` (None: no data points).
    numRecordsIn counts up, so the growth between its oldest and newest points is the answer."""
    import time

    now = time.time()
    since = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)
    if now - since_ms / 1000 >= 180:  # a long look-back: per-minute points first
        values = metrics(target, since, RECORDS_METRIC, period=60)["numRecordsIn"]
        if len(values) >= 2:
            return max(values) - min(values)
        since = dt.datetime.fromtimestamp(max(since_ms / 1000, now - 120), tz=dt.UTC)
    values = metrics(target, since, RECORDS_METRIC, period=1)["numRecordsIn"]
    if not values:
        return None
    return max(values) - min(values)


def check(target: Target, since_ms: int, jobs_since_ms: int | None = None) -> CommitCheck:
    """Commits and records since `since_ms` (the settle window, or status's look-back); the job
    ids are read from the log since `jobs_since_ms` (deploy: since it started the job)."""
    import time

    window = max(0.0, time.time() - since_ms / 1000)
    table = f"{target.aws.namespace}.{target.aws.table}"
    try:
        records = records_in(target, since_ms)
        newest = newest_commit(target)
        job_ids = sorted(set(read_log_facts(target, min(since_ms, jobs_since_ms or since_ms)).job_ids))
    except PipectlError as exc:
        return CommitCheck("unknown", f"cannot tell whether the job commits ({exc.message})", window_s=window)
    return verdict(table, since_ms, window, newest, records, job_ids)


def verdict(
    table: str, since_ms: int, window: float, newest: Commit | None, records: float | None, job_ids: list[str]
) -> CommitCheck:
    """The rule, on facts read elsewhere (CloudWatch and the logs on the service; Flink's REST
    API in `pipectl aws rehearse`): a Flink commit newer than the window's start, by one of
    `job_ids` when any are known, is committing; records without one is not committing."""
    ours = (
        newest is not None
        and newest.committed_ms >= since_ms
        and newest.job_id is not None
        and (not job_ids or newest.job_id in job_ids)
    )
    result = CommitCheck("unknown", "", newest, records, window, job_ids)
    if ours and newest is not None:
        result.state, result.reason = "committing", f"committed to {table}: {newest.line()}"
    elif records:
        last = f"newest commit: {newest.line()}" if newest else f"{table} has no snapshot"
        result.state = "not_committing"
        result.reason = (
            f"running, not committing: {records:.0f} records read in {window:.0f}s, no commit to {table} ({last})"
        )
    elif records is None:
        result.reason = "no numRecordsIn metric from the application yet"
    else:
        result.state, result.reason = "idle", "no records arrived, so no commit was expected"
    return result


__all__ = ["Commit", "CommitCheck", "check", "newest_commit", "records_in", "verdict"]
