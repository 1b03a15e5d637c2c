"""CloudWatch Logs for the application: the log stream deploy attaches, and reading it back.

Managed Flink writes one JSON document per event (`logger`, `messageType`, `message`, ...). A
Python job's driver output appears under the logger org.apache.flink.client.python.PythonDriver;
when the driver fails the application can still show RUNNING, so its errors are shown first.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC

from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import NotFoundError

DRIVER_LOGGER = "PythonDriver"
ERROR_TYPES = {"ERROR", "FATAL"}
ERROR_MARKERS = ("Traceback (most recent call last)", "Error:", "Exception:")


@dataclass(frozen=True)
class LogEvent:
    timestamp: str
    level: str
    logger: str
    message: str
    driver_error: bool

    def line(self) -> str:
        logger = self.logger.rsplit(".", 1)[-1]
        return f"{self.timestamp} {self.level or '-'} {logger}: {self.message}".replace("  ", " ")


@dataclass
class LogsResult:
    application: str
    log_group: str
    log_stream: str
    since_minutes: int
    driver_errors: list[LogEvent] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def stream_arn(group_arn: str, stream: str) -> str:
    # DescribeLogGroups gives "arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*"
    base = group_arn[:-2] if group_arn.endswith(":*") else group_arn
    return f"{base}:log-stream:{stream}"


def ensure_log_stream(target: Target) -> tuple[str, bool]:
    """Create the log group and stream when missing; return (stream ARN, created?)."""
    logs = target.client("logs")
    group, stream = target.log_group, target.log_stream
    created = False
    with aws_call(f"create the log group {group}"):
        try:
            logs.create_log_group(logGroupName=group)
            created = True
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            created = True
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
    with aws_call(f"describe the log group {group}"):
        found = logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
    arn = next((g["arn"] for g in found if g.get("logGroupName") == group), None)
    if arn is None:
        account = target.account or "*"
        arn = f"arn:{target.partition}:logs:{target.region}:{account}:log-group:{group}:*"
    return stream_arn(arn, stream), created


def parse_event(raw: dict) -> LogEvent:
    ts = datetime.fromtimestamp(raw.get("timestamp", 0) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(raw.get("message", "")).rstrip()
    level, logger, message = "", "", text
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            level = str(doc.get("messageType", ""))
            logger = str(doc.get("logger", ""))
            message = str(doc.get("message", "")).rstrip()
    except ValueError:
        pass
    in_driver = DRIVER_LOGGER in logger or (not logger and DRIVER_LOGGER in text)
    failed = level in ERROR_TYPES or any(marker in message for marker in ERROR_MARKERS)
    return LogEvent(ts, level, logger, message, in_driver and failed)


def _filter(target: Target, start_ms: int, pattern: str | None, limit: int) -> list[LogEvent]:
    logs = target.client("logs")
    kwargs = {"logGroupName": target.log_group, "startTime": start_ms, "limit": min(limit, 10000)}
    if pattern:
        kwargs["filterPattern"] = pattern
    events: list[dict] = []
    not_found = NotFoundError(
        f"log group {target.log_group} does not exist in {target.region}",
        hint="`pipectl aws deploy` creates it; or set aws.log_group to the application's log group",
    )
    with aws_call(f"read the log group {target.log_group}", not_found=not_found):
        while True:
            page = logs.filter_log_events(**kwargs)
            events.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token or len(events) >= limit or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
    events.sort(key=lambda e: e.get("timestamp", 0))
    return [parse_event(e) for e in events[-limit:]]


def driver_errors(target: Target, since_ms: int, limit: int = 50) -> list[LogEvent]:
    return [e for e in _filter(target, since_ms, DRIVER_LOGGER, limit) if e.driver_error]


def tail_lines(target: Target, since_ms: int, limit: int = 20) -> list[str]:
    """Last log lines for an error report; never raises (the log may not exist yet)."""
    try:
        return [e.line() for e in _filter(target, since_ms, None, limit)]
    except Exception:  # noqa: BLE001 - best effort: the caller is already reporting a failure
        return []


def recent_logs(settings: Settings, since_minutes: int = 60, limit: int = 100) -> LogsResult:
    """Recent events of the application's log group; Python driver errors listed first."""
    target = resolve(settings, "status")
    start = int((time.time() - since_minutes * 60) * 1000)
    events = _filter(target, start, None, limit)
    errors = [e for e in events if e.driver_error]
    try:
        # Driver errors may be older than the last `limit` events.
        older = driver_errors(target, start, limit)
        seen = {(e.timestamp, e.message) for e in errors}
        errors = [e for e in older if (e.timestamp, e.message) not in seen] + errors
    except NotFoundError:
        pass
    return LogsResult(target.aws.application_name, target.log_group, target.log_stream, since_minutes, errors, events)
