"""What pipectl knows about the order_ingest job on any Flink: its name, the states a Flink job
can be in, and the summary of its latest completed checkpoint (one reading of Flink's
`/jobs/:id/checkpoints`, used by `job status` and `status` alike)."""

from __future__ import annotations

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
