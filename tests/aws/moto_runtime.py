"""What the Managed Flink service emits while an application runs, and the MSK cluster lifecycle,
added to moto (which has neither).

Metrics: while an application is RUNNING the service publishes, per application, the job's
`uptime` (ms running without interruption), `downtime` (ms in FAILING/RESTARTING) and
`fullRestarts` (restarts since the job was submitted) in namespace AWS/KinesisAnalytics with the
dimension Application (https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html).
The service publishes every minute; the emulator every EMIT_EVERY_S seconds, into moto's CloudWatch.

Logs: the service writes Flink's log as JSON documents (`logger`, `messageType`, `message`,
`throwableInformation`, ...) to the application's CloudWatch log stream. A failing job shows as
"Job NAME (ID) switched from state RUNNING to RESTARTING." with the exception, then RUNNING
again, for ever: the application stays RUNNING
(https://docs.aws.amazon.com/managed-flink/latest/java/troubleshooting-rt-restarts.html).

Tests choose what the job does per application name: `JOBS[name] = JobScript(exception=TRACE)`
makes it fail with TRACE `fail_after_s` after every (re)start; the default job stays up. Or per
release: `CODE_JOBS[file_key]` is what the job does when the application runs that code object
(a release that fails, while the one before it runs well).

MSK: a new cluster is CREATING, then ACTIVE (after TRANSITION_S here, minutes on AWS); tests pin
another state with `set_cluster_state`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

EMIT_EVERY_S = 0.1
TRANSITION_S = 0.3
JOB_NAME = "order_ingest"
EXECUTION_GRAPH = "org.apache.flink.runtime.executiongraph.ExecutionGraph"


@dataclass
class JobScript:
    exception: str | None = None  # a Java stack trace: the job fails with it after every (re)start
    fail_after_s: float = 0.2
    restart_after_s: float = 0.2
    metrics: bool = True  # False: publish none (a test puts its own data points)
    records_per_s: float = 0.0  # records the job reads from the topic while up (metric numRecordsIn)


JOBS: dict[str, JobScript] = {}
CODE_JOBS: dict[str, JobScript] = {}
PINNED_CLUSTER_STATES: dict[str, str] = {}


def reset() -> None:
    JOBS.clear()
    CODE_JOBS.clear()
    PINNED_CLUSTER_STATES.clear()


class JobRun:
    """The Flink job inside one RUNNING application: its state over time, published as it goes."""

    def __init__(self, app: Any, started: float):
        self.app = app
        self.script = JOBS.get(app.name) or CODE_JOBS.get(app.code_location()[1]) or JobScript()
        self.job_id = uuid.uuid4().hex
        self.up_since: float | None = started
        self.down_since: float | None = None
        self.restarts = 0
        self.records = 0.0
        self.emitted_until = started
        self._log(started, "INFO", self._change("CREATED", "RUNNING"))

    def _change(self, old: str, new: str) -> str:
        return f"Job {JOB_NAME} ({self.job_id}) switched from state {old} to {new}."

    def tick(self, now: float) -> None:
        t = self.emitted_until
        while t + EMIT_EVERY_S <= now:
            t += EMIT_EVERY_S
            self._step(t)
            if self.script.metrics:
                self._publish(t)
        self.emitted_until = t

    def _step(self, t: float) -> None:
        s = self.script
        if s.exception is None:
            return
        if self.up_since is not None and t - self.up_since >= s.fail_after_s:
            self.up_since, self.down_since = None, t
            self.restarts += 1
            self._log(t, "INFO", self._change("RUNNING", "RESTARTING"), s.exception)
        elif self.down_since is not None and t - self.down_since >= s.restart_after_s:
            self.up_since, self.down_since = t, None
            self._log(t, "INFO", self._change("RESTARTING", "RUNNING"))

    def _publish(self, t: float) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        when = dt.datetime.fromtimestamp(t, tz=dt.UTC).replace(tzinfo=None)  # moto keeps naive UTC
        dims = [{"Name": "Application", "Value": self.app.name}]
        uptime = (t - self.up_since) * 1000 if self.up_since is not None else 0.0
        downtime = (t - self.down_since) * 1000 if self.down_since is not None else 0.0
        data = [
            {"MetricName": name, "Value": value, "Dimensions": dims, "Timestamp": when, "Unit": "Milliseconds"}
            for name, value in (("uptime", uptime), ("downtime", downtime))
        ] + [{"MetricName": "fullRestarts", "Value": float(self.restarts), "Dimensions": dims, "Timestamp": when,
              "Unit": "Count"}]
        if self.script.records_per_s:
            if self.up_since is not None:
                self.records += self.script.records_per_s * EMIT_EVERY_S
            data.append({"MetricName": "numRecordsIn", "Value": self.records, "Dimensions": dims, "Timestamp": when,
                         "Unit": "Count"})
        cloudwatch_backends[self.app.account][self.app.region].put_metric_data("AWS/KinesisAnalytics", data)

    def _log(self, t: float, level: str, message: str, throwable: str | None = None) -> None:
        from moto.logs.models import logs_backends

        for option in self.app.logging:
            arn = option["LogStreamARN"]  # arn:aws:logs:REGION:ACCOUNT:log-group:NAME:log-stream:STREAM
            group = arn.split(":log-group:", 1)[1].split(":log-stream:", 1)[0]
            stream = arn.rsplit(":log-stream:", 1)[1]
            doc: dict[str, Any] = {
                "locationInformation": f"{EXECUTION_GRAPH}.transitionState(DefaultExecutionGraph.java:1180)",
                "logger": EXECUTION_GRAPH,
                "message": message,
                "threadName": "flink-pekko.actor.default-dispatcher-5",
                "applicationARN": self.app.arn,
                "applicationVersionId": str(self.app.version),
                "messageSchemaVersion": "1",
                "messageType": level,
            }
            if throwable:
                doc["throwableInformation"] = throwable
            try:
                logs_backends[self.app.account][self.app.region].put_log_events(
                    group, stream, [{"timestamp": int(t * 1000), "message": json.dumps(doc)}]
                )
            except Exception:  # noqa: BLE001 - no such group/stream: the service drops the line too
                pass


# MSK --------------------------------------------------------------------------------------
def set_cluster_state(arn: str, state: str) -> None:
    PINNED_CLUSTER_STATES[arn] = state


def _cluster_state(cluster: Any) -> str:
    if cluster.arn in PINNED_CLUSTER_STATES:
        return PINNED_CLUSTER_STATES[cluster.arn]
    created = getattr(cluster, "pipectl_created", 0.0)
    return "ACTIVE" if cluster.state == "CREATING" and time.time() - created >= TRANSITION_S else cluster.state


def install_kafka() -> None:
    from moto.kafka.models import FakeKafkaCluster, KafkaBackend

    original_init = FakeKafkaCluster.__init__
    original_v2 = KafkaBackend.describe_cluster_v2

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.pipectl_created = time.time()

    def describe_cluster_v2(self: Any, cluster_arn: str) -> dict[str, Any]:
        from moto.kafka.exceptions import NotFoundException

        cluster = self.clusters.get(cluster_arn)
        if cluster is None:
            raise NotFoundException(f"Cluster {cluster_arn} not found")
        cluster.state = _cluster_state(cluster)
        return original_v2(self, cluster_arn)

    FakeKafkaCluster.__init__ = init
    KafkaBackend.describe_cluster_v2 = describe_cluster_v2
