"""The result of `pipectl status`: the facts of each stage (dataclasses, one set per environment
where the environments observe different things), a verdict per stage, and the overall verdict
with its exit code. The JSON shape is documented in docs/status.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar

from pipectl.errors import EXIT_DEGRADED, EXIT_UNHEALTHY
from pipectl.flink.job_state import CheckpointSummary

Verdict = Literal["healthy", "degraded", "down", "unknown"]
HEALTHY: Final = "healthy"
DEGRADED: Final = "degraded"
DOWN: Final = "down"
UNKNOWN: Final = "unknown"
VERDICTS = (HEALTHY, UNKNOWN, DEGRADED, DOWN)
# unknown: the stage cannot be observed from here; it does not make the overall verdict worse
RANK = {HEALTHY: 0, UNKNOWN: 0, DEGRADED: 1, DOWN: 2}
EXIT_CODES = {HEALTHY: 0, DEGRADED: EXIT_DEGRADED, DOWN: EXIT_UNHEALTHY}

STALE_INTERVALS = 3  # a checkpoint or commit older than this many checkpoint intervals is stale
RECENT_RESTART_S = 300  # a restart within this many seconds makes Flink degraded
HISTORY = 60  # samples kept for the sparklines in --watch
HISTORY_KEYS = ("produce_rate_per_s", "lag", "records_in_per_s")


class Facts:
    """Facts become the stage's JSON: every field, except the ones named in OMIT_NONE while
    they are None (keys the document holds only when there is something to say)."""

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, f.name)
            if value is None and f.name in self.OMIT_NONE:
                continue
            out[f.name] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------- Kafka
@dataclass
class Lag(Facts):
    OMIT_NONE = frozenset({"committed"})

    total: int | None = None
    per_partition: dict[str, int] = field(default_factory=dict)
    committed: bool | None = None  # the group has committed offsets (known locally)


@dataclass
class KafkaFacts(Facts):
    bootstrap: str | None
    topic: str
    consumer_group: str
    reachable: bool | None = None
    topic_exists: bool | None = None
    partitions: int | None = None
    partitions_without_leader: list[int] = field(default_factory=list)
    end_offsets: dict[str, int] = field(default_factory=dict)
    records: int | None = None
    produce_rate_per_s: float | None = None
    lag: Lag = field(default_factory=Lag)
    oldest_waiting_s: float | None = None
    error: str | None = None


@dataclass
class LocalKafkaFacts(KafkaFacts):
    """The local broker, read with kafka-python."""


@dataclass
class MskFacts(KafkaFacts):
    """Amazon MSK: the cluster's state and CloudWatch's consumer lag (pipectl does not connect
    to its brokers)."""

    OMIT_NONE = frozenset({"note", "error"})

    observable: bool = True
    cluster_state: str | None = None
    note: str | None = None


# ------------------------------------------------------------------------------- Flink
@dataclass
class JobFacts(Facts):
    name: str | None = None
    id: str | None = None
    state: str | None = None
    uptime_s: float | None = None
    restarts: int | None = None
    last_checkpoint: CheckpointSummary | None = None
    records_in_per_s: float | None = None
    records_out_per_s: float | None = None
    backpressure: str | None = None  # ok | low | high
    backpressured_vertices: list[str] = field(default_factory=list)


@dataclass
class LocalJobFacts(JobFacts):
    """The job as Flink's REST API describes it."""

    OMIT_NONE = frozenset({"root_exception"})

    last_restart_age_s: float | None = None
    tasks_running: int | None = None
    tasks_total: int | None = None
    checkpoints_failed: int | None = None
    root_exception: str | None = None  # the newest failure, when the job is not RUNNING


@dataclass
class ManagedJobFacts(JobFacts):
    """The job inside a Managed Flink application, from its CloudWatch metrics."""

    downtime_ms: float | None = None
    restarts_in_window: int = 0
    failed_checkpoints_in_window: int = 0
    window_s: float = 0
    metrics_found: list[str] = field(default_factory=list)


@dataclass
class TaskManagerProcess(Facts):
    pid: int
    alive: bool


@dataclass
class LocalFlinkFacts(Facts):
    OMIT_NONE = frozenset({"flink_version"})

    rest_url: str
    reachable: bool = False
    taskmanagers: int | None = None
    slots_total: int | None = None
    slots_available: int | None = None
    taskmanager_process: TaskManagerProcess | None = None
    job: LocalJobFacts | None = None
    flink_version: str | None = None
    checkpoint_interval_s: float = 0


@dataclass
class ManagedFlinkFacts(Facts):
    application: str
    region: str
    application_status: str | None = None
    application_version: int | None = None
    job: ManagedJobFacts | None = None
    metrics_source: str = "cloudwatch"
    checkpoint_interval_s: float = 0


FlinkFacts = LocalFlinkFacts | ManagedFlinkFacts


# ------------------------------------------------------------------------------- Iceberg
@dataclass
class IcebergFacts(Facts):
    OMIT_NONE = frozenset({"error"})

    table: str
    exists: bool = False
    location: str | None = None
    rows: int | None = None
    snapshots: int | None = None
    last_commit_age_s: float | None = None
    data_files: int | None = None
    data_bytes: int | None = None
    avg_file_bytes: int | None = None
    quarantined_rows: int | None = None
    rows_per_s: float | None = None
    idle: bool | None = None
    error: str | None = None
    checkpoint_interval_s: float = 0
    stale_after_s: float = 0


# ------------------------------------------------------------------------------- results
F = TypeVar("F", bound=Facts)


@dataclass
class Stage(Generic[F]):
    name: str  # kafka | flink | iceberg
    verdict: Verdict
    reason: str  # the first problem, or a one-line summary when healthy
    problems: list[str]
    facts: F

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "problems": list(self.problems), **self.facts.to_dict()}


@dataclass
class History:
    """What a watch remembers of the figures it drew, for the sparklines."""

    series: dict[str, deque[float | None]] = field(
        default_factory=lambda: {k: deque(maxlen=HISTORY) for k in HISTORY_KEYS}
    )

    def add(self, kafka: KafkaFacts, flink: FlinkFacts) -> dict[str, list[float | None]]:
        self.series["produce_rate_per_s"].append(kafka.produce_rate_per_s)
        self.series["lag"].append(kafka.lag.total)
        self.series["records_in_per_s"].append(flink.job.records_in_per_s if flink.job else None)
        return {key: list(v) for key, v in self.series.items()}


@dataclass
class Memory:
    """What a watch remembers between refreshes: the last end-offset sample and the history."""

    sample: tuple[float, dict[int, int]] | None = None
    history: History = field(default_factory=History)


@dataclass
class PipelineStatus:
    env: str
    checked_at: float
    interval_s: float
    kafka: Stage[KafkaFacts]
    flink: Stage[FlinkFacts]
    iceberg: Stage[IcebergFacts]
    history: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def stages(self) -> list[Stage[Any]]:
        return [self.kafka, self.flink, self.iceberg]  # in flow order

    def stage(self, name: str) -> Stage[Any]:
        return next(s for s in self.stages if s.name == name)

    @property
    def verdict(self) -> str:
        worst = max(self.stages, key=lambda s: RANK[s.verdict])
        return HEALTHY if RANK[worst.verdict] == 0 else worst.verdict

    @property
    def reason(self) -> str:
        verdict = self.verdict
        if verdict != HEALTHY:
            first = next(s for s in self.stages if s.verdict == verdict)  # in flow order: the first at fault
            return f"{first.name}: {first.reason}"
        k, job = self.kafka.facts, self.flink.facts.job
        flowing = (k.produce_rate_per_s or 0) > 0 or ((job.records_in_per_s if job else 0) or 0) > 0
        unknown = [s.name for s in self.stages if s.verdict == UNKNOWN]
        text = (
            f"data flows from topic {k.topic} to table {self.iceberg.facts.table}"
            if flowing
            else "every stage is healthy; no new data is arriving (idle)"
        )
        if unknown:
            text += f" ({', '.join(unknown)} not observable from here)"
        return text

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def exit_reason(self) -> str:
        return self.reason if self.exit_code else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "checked_at": dt.datetime.fromtimestamp(self.checked_at, dt.UTC).isoformat(timespec="seconds"),
            "interval_s": self.interval_s,
            "verdict": self.verdict,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "stages": {s.name: s.to_dict() for s in self.stages},
            "history": self.history,
        }
