"""The facts of the local stack: Kafka through kafka-python, Flink through its REST API, the
TaskManager's process through the chosen runtime."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pipectl import kafka_admin
from pipectl.config import Settings
from pipectl.errors import PipectlError
from pipectl.flink.job_state import ACTIVE_STATES, JOB_NAME, LIVE_STATES, latest_checkpoint, root_exception
from pipectl.flink.rest import FlinkRest
from pipectl.stack import get_stack
from pipectl.iceberg import load_table
from pipectl.status.model import (
    Lag,
    LocalFlinkFacts,
    LocalJobFacts,
    LocalKafkaFacts,
    Memory,
    PipelineStatus,
    TaskManagerProcess,
)
from pipectl.status.rules import assemble
from pipectl.status.tables import iceberg_facts

if TYPE_CHECKING:  # kafka-python is heavy (see pipectl.kafka_admin): imported where a broker is read
    from kafka import KafkaConsumer, TopicPartition

Sample = tuple[float, dict[int, int]]  # (when, end offset per partition)


# ------------------------------------------------------------------------------- Kafka
class KafkaReader:
    """One consumer for the whole status call (two samples of the end offsets)."""

    def __init__(self, settings: Settings):
        self.bootstrap = settings.kafka_bootstrap
        self.topic = settings.pipeline.topic
        self.group = settings.pipeline.consumer_group
        self.consumer: KafkaConsumer | None = None
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
        from kafka import KafkaConsumer  # kafka-python is heavy (see pipectl.kafka_admin): only when status runs
        from kafka.errors import KafkaError

        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id="pipectl-status",
                enable_auto_commit=False,
                request_timeout_ms=11000,
            )
        except KafkaError as exc:
            self.error = type(exc).__name__
            return False
        return True

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()

    def describe_topic(self) -> dict[str, Any]:
        """{partition_index, leader_id} per partition, as the admin client reports them; {} when
        the topic does not exist."""
        with kafka_admin.admin(self.bootstrap) as client:
            topic: dict[str, Any] = client.describe_topics([self.topic])[0]
        if topic.get("error_code") != 0:
            return {}
        self.partitions = sorted(p["partition_index"] for p in topic["partitions"])
        return topic

    def committed(self) -> dict[int, int]:
        """The job's consumer group offsets (Flink commits them when a checkpoint completes)."""
        return kafka_admin.group_offsets(self.bootstrap, self.group, self.topic)

    def _tps(self) -> list[TopicPartition]:
        from kafka import TopicPartition  # kafka-python: see open()

        return [TopicPartition(self.topic, p) for p in self.partitions]

    def _consumer(self) -> KafkaConsumer:
        if self.consumer is None:
            raise PipectlError(f"not connected to Kafka at {self.bootstrap}")
        return self.consumer

    def end_offsets(self) -> Sample:
        offsets = self._consumer().end_offsets(self._tps())
        return time.time(), {tp.partition: off for tp, off in offsets.items()}

    def begin_offsets(self) -> dict[int, int]:
        return {tp.partition: off for tp, off in self._consumer().beginning_offsets(self._tps()).items()}

    def oldest_waiting(self, positions: dict[int, int], timeout_s: float = 2.0) -> float | None:
        """Age in seconds of the oldest record not yet consumed (committed) by the job."""
        from kafka import TopicPartition  # kafka-python: see open()

        if not positions:
            return None
        consumer = self._consumer()
        tps = [TopicPartition(self.topic, p) for p in positions]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, positions[tp.partition])
        first: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(first) < len(tps) and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300, max_records=50)
            for tp, records in batch.items():
                if records and tp.partition not in first:
                    first[tp.partition] = records[0].timestamp
                    consumer.pause(tp)
        consumer.unsubscribe()
        if not first:
            return None
        return round(max(0.0, time.time() - min(first.values()) / 1000), 1)


@dataclass
class KafkaReading:
    """What one status call read from the broker, before it becomes facts."""

    reachable: bool
    error: str = ""
    topic: dict[str, Any] | None = None  # describe_topics' entry; None when not read or missing
    first: Sample = (0.0, {})
    second: Sample = (0.0, {})
    begin: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)


def kafka_facts(settings: Settings, r: KafkaReading) -> LocalKafkaFacts:
    """The Kafka facts from what was read: records, produce rate (the two end-offset samples),
    lag per partition (end offsets against the group's committed offsets)."""
    p = settings.pipeline
    facts = LocalKafkaFacts(
        bootstrap=settings.kafka_bootstrap,
        topic=p.topic,
        consumer_group=p.consumer_group,
        reachable=r.reachable,
        error=r.error or None,
    )
    if not r.reachable:
        return facts
    facts.topic_exists = r.topic is not None
    if r.topic is None:
        return facts
    partitions = r.topic["partitions"]
    facts.partitions = len(partitions)
    facts.partitions_without_leader = sorted(q["partition_index"] for q in partitions if q["leader_id"] < 0)
    (t1, end1), (t2, end2) = r.first, r.second
    facts.end_offsets = {str(q): v for q, v in sorted(end2.items())}
    facts.records = sum(end2[q] - r.begin.get(q, 0) for q in end2)
    if t2 > t1:
        produced = max(0, sum(end2.values()) - sum(end1.get(q, 0) for q in end2))
        facts.produce_rate_per_s = round(produced / (t2 - t1), 1)
    lag = kafka_admin.lag_per_partition(r.begin, end2, r.committed)
    facts.lag = Lag(
        total=sum(lag.values()), per_partition={str(q): v for q, v in lag.items()}, committed=bool(r.committed)
    )
    return facts


# ------------------------------------------------------------------------------- Flink
def rest_client(settings: Settings) -> FlinkRest:
    return FlinkRest(settings.flink_rest_url, timeout=5)


def prime_flink_metrics(rest: FlinkRest) -> None:
    """Flink's JobManager answers metric requests from a cache and refreshes it in the background
    when asked: ask once early so that the values read later are current."""
    try:
        for j in rest.jobs():
            if j.get("name") == JOB_NAME and j.get("state") == "RUNNING":
                rest.get(f"/jobs/{j['jid']}/metrics?get=numRestarts")
    except PipectlError:
        pass


def flink_facts(settings: Settings, rest: FlinkRest) -> LocalFlinkFacts:
    facts = LocalFlinkFacts(rest_url=settings.flink_rest_url)
    tm = get_stack(settings).process_state("taskmanager")
    if tm is not None:
        facts.taskmanager_process = TaskManagerProcess(*tm)
    try:
        overview = rest.overview()
    except PipectlError:
        return facts
    facts.reachable = True
    facts.taskmanagers = overview.get("taskmanagers")
    facts.slots_total = overview.get("slots-total")
    facts.slots_available = overview.get("slots-available")
    facts.flink_version = overview.get("flink-version")
    try:
        jobs = [j for j in rest.jobs() if j.get("name") == JOB_NAME]
    except PipectlError:
        return facts
    if jobs:
        jobs.sort(key=lambda j: (j.get("state") in ACTIVE_STATES, j.get("start-time", 0)), reverse=True)
        facts.job = job_facts(rest, jobs[0]["jid"])
    return facts


def job_facts(rest: FlinkRest, jid: str) -> LocalJobFacts:
    detail = rest.job(jid)
    now_ms = detail.get("now") or time.time() * 1000
    vertices = detail.get("vertices", [])
    timestamps = detail.get("timestamps") or {}
    job = LocalJobFacts(
        name=detail.get("name"),
        id=jid,
        state=detail.get("state"),
        tasks_running=sum((v.get("tasks") or {}).get("RUNNING", 0) for v in vertices),
        tasks_total=sum(v.get("parallelism", 0) for v in vertices),
    )
    if job.state != "RUNNING":
        try:
            job.root_exception = root_exception(rest.exceptions(jid))
        except PipectlError:
            pass
    if job.state not in LIVE_STATES:
        return job
    restarting = timestamps.get("RESTARTING") or 0
    if restarting:
        job.last_restart_age_s = round((now_ms - restarting) / 1000, 1)
    try:
        metrics = {m["id"]: m.get("value") for m in rest.get(f"/jobs/{jid}/metrics?get=numRestarts")}
        job.restarts = int(float(metrics["numRestarts"])) if metrics.get("numRestarts") is not None else None
    except (PipectlError, ValueError, KeyError):
        pass
    if job.state == "RUNNING":  # uptime: since the job (re)entered RUNNING
        running_since = timestamps.get("RUNNING") or detail.get("start-time")
        if running_since:
            job.uptime_s = round(max(0, now_ms - running_since) / 1000, 1)
    try:
        cps = rest.checkpoints(jid)
        job.last_checkpoint = latest_checkpoint(cps)
        job.checkpoints_failed = (cps.get("counts") or {}).get("failed")
    except PipectlError:
        pass
    if job.state == "RUNNING":
        _vertex_figures(rest, jid, vertices, job)
    return job


def _vertex_figures(rest: FlinkRest, jid: str, vertices: list[dict[str, Any]], job: LocalJobFacts) -> None:
    """records_in_per_s (the Kafka source's numRecordsOutPerSecond, summed) and backpressure."""
    rate_in = 0.0
    seen = False
    levels = []
    for v in vertices:
        vid = v["id"]
        try:
            ids = [m["id"] for m in rest.get(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics")]
            wanted = [m for m in ids if m.startswith("Source") and m.endswith(".numRecordsOutPerSecond")]
            if wanted:
                got = rest.get(
                    f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?agg=sum&get="
                    + ",".join(quote(m, safe="._") for m in wanted)
                )
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
                    job.backpressured_vertices.append(v.get("name", vid)[:60])
        except PipectlError:
            pass
    if seen:
        job.records_in_per_s = round(rate_in, 1)
    if levels:
        job.backpressure = max(levels, key=["ok", "low", "high"].index)


# ------------------------------------------------------------------------------- collect
def collect_local(settings: Settings, interval_s: float, memory: Memory) -> PipelineStatus:
    """Kafka's end offsets are sampled `interval_s` apart (the produce rate); Flink and Iceberg
    are read meanwhile."""
    started = time.time()
    names = settings.names
    kafka = KafkaReader(settings)
    reading = KafkaReading(reachable=kafka.open(), first=(started, {}), second=(started, {}))
    rest = rest_client(settings)
    try:
        if reading.reachable:
            try:
                reading.topic = kafka.describe_topic() or None
                if reading.topic is not None:
                    reading.first = memory.sample or kafka.end_offsets()
                    reading.begin = kafka.begin_offsets()
            except kafka_admin.errors() as exc:
                reading.reachable, kafka.error = False, kafka_admin.describe_error(exc)
        prime_flink_metrics(rest)
        iceberg = iceberg_facts(names, lambda name: load_table(settings, name))
        if reading.reachable and reading.topic is not None:
            wait = interval_s - (time.time() - reading.first[0])
            if wait > 0:
                time.sleep(wait)
            try:
                reading.second = kafka.end_offsets()
                reading.committed = kafka.committed()
                memory.sample = reading.second
            except kafka_admin.errors() as exc:
                reading.reachable, kafka.error = False, kafka_admin.describe_error(exc)
        reading.error = kafka.error
        flink = flink_facts(settings, rest)
        k = kafka_facts(settings, reading)
        if k.lag.total:
            lagging = [int(q) for q, v in k.lag.per_partition.items() if v]
            positions = {q: reading.committed.get(q, reading.begin.get(q, 0)) for q in lagging}
            try:
                k.oldest_waiting_s = kafka.oldest_waiting(positions)
            except kafka_admin.errors():
                pass  # a fact we could not read: null
    finally:
        kafka.close()
    return assemble(
        k,
        flink,
        iceberg,
        env="local",
        interval_s=interval_s,
        checkpoint_s=names.checkpoint_interval_s,
        checked_at=started,
        history=memory.history,
    )
