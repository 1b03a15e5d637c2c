"""Is the Flink job inside the Managed Flink application actually running?

An application can be RUNNING while Flink fails and restarts its job forever. AWS's
troubleshooting guide ("Application is restarting",
https://docs.aws.amazon.com/managed-flink/latest/java/troubleshooting-rt-restarts.html) reads
three CloudWatch metrics (namespace AWS/KinesisAnalytics, dimension Application): `fullRestarts`
(restarts since the job was submitted), `downtime` (ms in FAILING/RESTARTING) and `uptime` (ms
running without interruption), and the job's state changes in the application's log
("Job NAME (ID) switched from state RUNNING to RESTARTING."). This module reads both and
names the root exception with its fix.

`assess` is one look (for `aws status` and `pipectl status`); `watch` is deploy's settle
window: it fails as soon as the job restarts in a loop and passes only when uptime grew.
"""

from __future__ import annotations

import itertools

import datetime as dt
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipectl.aws.app_state import describe
from pipectl.aws.causes import GENERIC_FIX, Cause, explain, root_exception
from pipectl.aws.errors import aws_call
from pipectl.aws.logs import DRIVER_LOGGER, ERROR_MARKERS, ERROR_TYPES
from pipectl.aws.reporting import waiting
from pipectl.aws.target import Target
from pipectl.errors import NotFoundError, PipectlError, UnhealthyError
from pipectl.progress import Reporter
from pipectl.wait import wait_until

NAMESPACE = "AWS/KinesisAnalytics"
JOB_NAME = "order_ingest"
RESTART_LIMIT = 2  # this many full restarts inside the window is a loop
WINDOW_S = 600  # how far `assess` looks back
STATE_RE = re.compile(
    r"Job (?P<job>\S+) \((?P<id>[0-9a-f]+)\) switched from state (?P<old>[A-Z_]+) to (?P<new>[A-Z_]+)"
)


# "not_committing": running and reading, but no commit (commits.py); "left": the application left
# RUNNING during deploy's settle window; "driver": the Python driver logged errors in it; "error": the
# facts could not be read
Verdict = Literal["running", "restarting", "failed", "unknown", "not_committing", "left", "driver", "error"]


@dataclass
class Health:
    """The job's health from metrics and logs. verdict: running | restarting | failed | unknown."""

    verdict: Verdict
    uptime_s: float | None = None
    downtime_ms: float | None = None
    restarts: int | None = None  # fullRestarts (since the job was submitted)
    restarts_in_window: int = 0
    window_s: float = WINDOW_S
    state_changes: list[str] = field(default_factory=list)
    cause: Cause | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Metrics ---------------------------------------------------------------------------------
def metrics(target: Target, since: dt.datetime, names: dict[str, str], period: int = 60) -> dict[str, list[float]]:
    """{metric: values oldest..newest} of the application's metrics since `since`."""
    dims = [{"Name": "Application", "Value": target.aws.application_name}]
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    queries = [
        {
            "Id": f"m{i}",
            "Label": name,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for i, (name, stat) in enumerate(names.items())
    ]
    with aws_call("read the application's CloudWatch metrics"):
        resp = target.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries, StartTime=since, EndTime=end, ScanBy="TimestampAscending"
        )
    keys = list(names)
    out: dict[str, list[float]] = {name: [] for name in keys}
    for result in resp.get("MetricDataResults", []):
        pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        out[keys[int(result["Id"][1:])]] = [float(v) for _, v in pairs]
    return out


def _last(values: list[float]) -> float | None:
    return values[-1] if values else None


# Logs -------------------------------------------------------------------------------------
def _throwable(doc: dict) -> str:
    info = doc.get("throwableInformation")
    if isinstance(info, list):
        return "\n".join(str(x) for x in info)
    return str(info or "")


def _events(target: Target, since_ms: int, limit: int = 2000) -> list[dict]:
    """The application's log documents since `since_ms`, oldest first (plain text kept as message)."""
    logs = target.client("logs")
    kwargs: dict[str, Any] = {"logGroupName": target.log_group, "startTime": since_ms, "limit": 1000}
    raw: list[dict] = []
    with aws_call(
        f"read the log group {target.log_group}",
        not_found=NotFoundError(f"log group {target.log_group} does not exist"),
    ):
        while len(raw) < limit:
            page = logs.filter_log_events(**kwargs)
            raw.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
    raw.sort(key=lambda e: e.get("timestamp", 0))
    out = []
    for event in raw:
        text = str(event.get("message", ""))
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            doc = {"message": text}
        doc["_ts"] = event.get("timestamp", 0)
        out.append(doc)
    return out


@dataclass
class _LogFacts:
    changes: list[str] = field(default_factory=list)
    restarts: int = 0
    failed: bool = False
    cause: Cause | None = None
    driver_errors: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)  # Flink job ids the state changes name


def read_log_facts(target: Target, since_ms: int, driver_since_ms: int | None = None) -> _LogFacts:
    """Job state changes and the root exception in the application's log since `since_ms`
    (Python driver errors since `driver_since_ms`, default the same)."""
    facts = _LogFacts()
    driver_since_ms = since_ms if driver_since_ms is None else driver_since_ms
    try:
        docs = _events(target, min(since_ms, driver_since_ms))
    except NotFoundError:
        return facts
    trace = ""
    for doc in docs:
        message = str(doc.get("message", ""))
        throwable = _throwable(doc)
        if DRIVER_LOGGER in str(doc.get("logger", "")) and (
            doc.get("messageType") in ERROR_TYPES or any(marker in message for marker in ERROR_MARKERS)
        ):
            facts.driver_errors.append(f"{doc.get('messageType', '-')} PythonDriver: {message}")
        if doc["_ts"] < since_ms:
            continue
        m = STATE_RE.search(message)
        if m:
            when = dt.datetime.fromtimestamp(doc["_ts"] / 1000, tz=dt.UTC).strftime("%H:%M:%S")
            facts.changes.append(f"{when} {m.group('job')}: {m.group('old')} -> {m.group('new')}")
            if m.group("id") not in facts.job_ids:
                facts.job_ids.append(m.group("id"))
            if m.group("new") == "RESTARTING":
                facts.restarts += 1
            if m.group("new") == "FAILED":
                facts.failed = True
        if throwable or (doc.get("messageType") in ("ERROR", "FATAL") and root_exception(message)):
            trace = throwable or message
    if trace:
        exc = root_exception(trace)
        if exc:
            facts.cause = explain(exc, trace)
    return facts


# One look ----------------------------------------------------------------------------------
JOB_METRICS = {"uptime": "Maximum", "downtime": "Maximum", "fullRestarts": "Maximum"}


def assess(target: Target, window_s: float = WINDOW_S) -> Health:
    """The job's health over the last `window_s` seconds (the application must be RUNNING)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window_s)
    m = metrics(target, since, JOB_METRICS)
    logs = read_log_facts(target, int(since.timestamp() * 1000))
    restarts = _last(m["fullRestarts"])
    grew = int(m["fullRestarts"][-1] - m["fullRestarts"][0]) if len(m["fullRestarts"]) >= 2 else 0
    health = Health(
        verdict="unknown",
        uptime_s=round(m["uptime"][-1] / 1000, 1) if m["uptime"] else None,
        downtime_ms=_last(m["downtime"]),
        restarts=int(restarts) if restarts is not None else None,
        restarts_in_window=max(grew, logs.restarts),
        window_s=window_s,
        state_changes=logs.changes[-10:],
        cause=logs.cause,
    )
    if logs.failed:
        health.verdict, health.reason = "failed", "the job FAILED"
    elif health.downtime_ms:
        health.verdict = "restarting"
        health.reason = f"the job is down inside the application (downtime {health.downtime_ms / 1000:.0f}s)"
    elif health.restarts_in_window >= RESTART_LIMIT:
        health.verdict = "restarting"
        health.reason = f"the job restarted {health.restarts_in_window} times in the last {window_s:.0f}s"
    elif health.uptime_s:
        health.verdict, health.reason = "running", f"up {health.uptime_s:.0f}s without a restart"
    else:
        health.reason = "no uptime metric from the job yet (CloudWatch publishes it every minute)"
    return health


# The settle window ---------------------------------------------------------------------------
def driver_failed(name: str, lines: list[str]) -> UnhealthyError:
    return UnhealthyError(
        f"application '{name}' is RUNNING but its Python driver failed",
        hint="fix the job and deploy again; `pipectl aws logs` shows the rest, `pipectl aws stop` stops the app",
        log_tail=lines[:15],
    )


def watch(target: Target, since_ms: int, settle_s: float, reporter: Reporter, *, fresh_job: bool) -> Health:
    """Deploy's settle window: watch uptime, downtime, fullRestarts and the log for `settle_s`.

    Raises UnhealthyError (exit 4) naming the root exception and its fix as soon as the job
    restarts RESTART_LIMIT times or FAILS, or when the window ends without the job's uptime
    growing. `fresh_job`: the deploy (re)submitted the job, so fullRestarts counts from 0."""
    name = target.aws.application_name
    driver_since = since_ms
    # Data points from before the application was seen RUNNING belong to the job it replaced.
    since_ms = max(since_ms, int(time.time() * 1000) - 1000)
    since = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)
    began = time.monotonic()
    uptimes: list[float] = []
    baseline: list[float] = [0.0] if fresh_job else []

    def check() -> Health | None:
        try:
            detail = describe(target)
            status = detail["ApplicationStatus"] if detail else "GONE"
            if status != "RUNNING":
                return Health(
                    "left", reason=f"application '{name}' left RUNNING during the settle window (now {status})"
                )
            m = metrics(target, since, JOB_METRICS, period=1)  # one value per data point, newest last
            logs = read_log_facts(target, since_ms, driver_since)
            driver = logs.driver_errors
        except PipectlError as exc:
            return Health("error", reason=exc.message, cause=Cause(exc.message, exc.hint or ""))
        counter = _last(m["fullRestarts"])
        if not baseline and counter is not None:
            baseline.append(counter)
        restarts = max(int((counter or 0) - (baseline[0] if baseline else 0)), logs.restarts)
        elapsed = time.monotonic() - began
        uptime = _last(m["uptime"])
        if uptime is not None:
            uptimes.append(uptime)
        downtime = _last(m["downtime"])
        health = Health(
            "running",
            uptime_s=(uptimes[-1] / 1000) if uptimes else None,
            downtime_ms=downtime,
            restarts=int(counter) if counter is not None else None,
            restarts_in_window=restarts,
            window_s=elapsed,
            state_changes=logs.changes[-10:],
            cause=logs.cause,
        )
        if driver:
            health.verdict, health.state_changes = "driver", driver
            return health
        if logs.failed:
            health.verdict, health.reason = "failed", f"job {JOB_NAME} FAILED"
            return health
        if restarts >= RESTART_LIMIT:
            health.verdict = "restarting"
            health.reason = f"job {JOB_NAME} is restarting in a loop ({restarts} full restarts in {elapsed:.0f}s)"
            return health
        if elapsed < settle_s:
            return None
        if not uptimes:
            health.verdict = "unknown"
            health.reason = f"no uptime metric from job {JOB_NAME} within the {settle_s:.0f}s settle window"
        elif downtime or not uptimes[-1] or not any(b > a for a, b in itertools.pairwise(uptimes)):
            health.verdict = "restarting"
            health.reason = f"job {JOB_NAME} did not stay up during the {settle_s:.0f}s settle window"
        else:
            health.reason = f"job {JOB_NAME} up {uptimes[-1] / 1000:.0f}s, {restarts} restarts"
        return health

    with waiting(reporter, f"watching job {JOB_NAME} for {settle_s:.0f}s (uptime, restarts, logs)"):
        health = wait_until(
            check,
            what=f"job {JOB_NAME} in '{name}'",
            timeout=settle_s + max(30.0, settle_s),
            interval=target.aws.poll_interval_ms / 1000,
            hint="see `pipectl aws status` and `pipectl aws logs`",
        )
    if health.verdict == "driver":
        raise driver_failed(name, health.state_changes)
    if health.verdict in ("left", "error"):
        raise UnhealthyError(
            health.reason,
            hint=(health.cause.fix if health.cause else "") or "see `pipectl aws status` and `pipectl aws logs`",
        )
    if health.verdict == "unknown":
        raise UnhealthyError(
            f"application '{name}' is RUNNING but {health.reason}: cannot tell whether data flows",
            hint="raise the settle window (--settle, aws.settle_s; CloudWatch publishes every minute) "
            "or check `pipectl aws status` in a few minutes",
        )
    if health.verdict != "running":
        cause = health.cause
        raise UnhealthyError(
            f"application '{name}' is RUNNING but {health.reason}: "
            + (cause.exception if cause else "no exception in the log yet"),
            hint=cause.fix if cause else GENERIC_FIX,
            log_tail=health.state_changes[-6:],
        )
    if health.restarts_in_window:
        reporter.warn(
            f"job {JOB_NAME} restarted {health.restarts_in_window} time(s) during the settle window"
            + (f" ({health.cause.exception})" if health.cause else "")
        )
    return health


__all__ = ["GENERIC_FIX", "Cause", "Health", "assess", "driver_failed", "explain", "root_exception", "watch"]
