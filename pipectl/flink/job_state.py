"""What pipectl knows about the order_ingest job on any Flink: its name, the states a Flink job
can be in, and the summary of its latest completed checkpoint (one reading of Flink's
`/jobs/:id/checkpoints`, used by `job status` and `status` alike)."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from pipectl.errors import EXIT_UNHEALTHY, Exit

JOB_NAME = "order_ingest"

# States of a Flink job (org.apache.flink.api.common.JobStatus).
ACTIVE_STATES = frozenset({"INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING"})
# The job is gone: a new `job start` is needed.
ENDED_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
# On the cluster and alive (RUNNING, or on its way there): restarts and checkpoints are read in these.
LIVE_STATES = frozenset({"RUNNING", "RESTARTING", "CREATED", "INITIALIZING", "FAILING", "RECONCILING"})


def status_outcome(state: str) -> Exit:
    """`job status`: exit 4 unless the job is RUNNING."""
    if state == "RUNNING":
        return Exit()
    return Exit(EXIT_UNHEALTHY, f"job {JOB_NAME} is not running ({state})")


@dataclass
class CheckpointSummary:
    id: int | None
    age_s: float | None
    duration_ms: float | None
    size_bytes: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def latest_checkpoint(checkpoints: dict[str, Any], now: float | None = None) -> CheckpointSummary | None:
    """The latest completed checkpoint of a `/jobs/:id/checkpoints` answer, or None.

    Its size is what the checkpoint wrote (`checkpointed_size`; with incremental checkpoints less
    than the whole state), falling back to `state_size` on Flinks that do not report it."""
    latest = (checkpoints.get("latest") or {}).get("completed")
    if not latest:
        return None
    now = time.time() if now is None else now
    return CheckpointSummary(
        id=latest.get("id"),
        age_s=round(max(0.0, now - latest.get("latest_ack_timestamp", 0) / 1000), 1),
        duration_ms=latest.get("end_to_end_duration"),
        size_bytes=latest.get("checkpointed_size", latest.get("state_size")),
    )


# Java exception lines: "java.io.FileNotFoundException: File ... does not exist", or a bare class name.
_EXCEPTION_LINE = re.compile(
    r"^(?:Caused by: )?([a-zA-Z_$][\w$]*(?:\.[\w$]+)*(?:Exception|Error|Throwable))(?::\s*(.*))?$"
)
FAILING_STATES = frozenset({"FAILING", "RESTARTING", "FAILED"})


def innermost_exception(trace: str, width: int = 400) -> str:
    """The innermost cause of a Java stack trace as one line (`Class: message`), its first line
    when no line looks like an exception."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    found = None
    for line in lines:
        m = _EXCEPTION_LINE.match(line)
        if m and not line.startswith("at "):
            found = m.group(1) + (f": {m.group(2)}" if m.group(2) else "")
    text = " ".join((found or (lines[0] if lines else "")).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def root_exception(exceptions: dict[str, Any]) -> str | None:
    """The root exception of a `/jobs/:id/exceptions` answer (Flink 1.20) in one line: the innermost
    cause of the newest `exceptionHistory` entry (else of the deprecated `root-exception`); None
    when the job never failed."""
    entries = [e for e in (exceptions.get("exceptionHistory") or {}).get("entries") or [] if isinstance(e, dict)]
    if entries:
        newest = max(entries, key=lambda e: e.get("timestamp") or 0)
        trace = newest.get("stacktrace") or newest.get("exceptionName") or ""
    else:
        trace = exceptions.get("root-exception") or exceptions.get("rootException") or ""
    return innermost_exception(trace) or None
