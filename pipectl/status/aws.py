"""The facts on AWS: the Managed Flink application's description and its CloudWatch metrics,
MSK's cluster state and CloudWatch's consumer lag (pipectl does not connect to MSK's brokers),
and the S3 Tables table through pyiceberg."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from pipectl.aws import application as appcfg
from pipectl.aws.errors import aws_call
from pipectl.aws.app_state import describe
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import PipectlError
from pipectl.flink.job_state import JOB_NAME, CheckpointSummary
from pipectl.iceberg import load_table
from pipectl.status.model import Lag, ManagedFlinkFacts, ManagedJobFacts, Memory, MskFacts, PipelineStatus
from pipectl.status.rules import assemble
from pipectl.status.tables import iceberg_facts

CW_WINDOW_S = 600
Series = dict[str, list[float]]  # metric name -> its values, oldest first

APP_METRICS = {
    "uptime": "Maximum",
    "downtime": "Maximum",
    "fullRestarts": "Maximum",
    "lastCheckpointDuration": "Maximum",
    "lastCheckpointSize": "Maximum",
    "numberOfFailedCheckpoints": "Maximum",
    "numRecordsInPerSecond": "Average",
    "numRecordsOutPerSecond": "Average",
}
LAG_METRICS = {"SumOffsetLag": "Maximum", "EstimatedMaxTimeLag": "Maximum"}


def metric_queries(namespace: str, dims: list[dict[str, str]], metrics: dict[str, str]) -> list[dict[str, Any]]:
    """GetMetricData queries, one per metric (ids m0, m1, ... in the order of `metrics`)."""
    return [
        {
            "Id": f"m{i}",
            "Label": name,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for i, (name, stat) in enumerate(metrics.items())
    ]


def metric_series(response: dict[str, Any], metrics: dict[str, str]) -> Series:
    """A GetMetricData answer as {metric: values in time order}."""
    names = list(metrics)
    out: Series = {}
    for r in response.get("MetricDataResults", []):
        pairs = sorted(zip(r.get("Timestamps", []), r.get("Values", []), strict=True))
        out[names[int(r["Id"][1:])]] = [v for _, v in pairs]
    return out


def cloudwatch(
    target: Target, namespace: str, dims: list[dict[str, str]], metrics: dict[str, str], window_s: int = CW_WINDOW_S
) -> Series:
    end = dt.datetime.now(dt.UTC)
    with aws_call("read CloudWatch metrics"):
        resp = target.client("cloudwatch").get_metric_data(
            MetricDataQueries=metric_queries(namespace, dims, metrics),
            StartTime=end - dt.timedelta(seconds=window_s),
            EndTime=end + dt.timedelta(seconds=60),
            ScanBy="TimestampAscending",
        )
    return metric_series(resp, metrics)


def job_facts(m: Series, window_s: float = CW_WINDOW_S) -> ManagedJobFacts:
    """The job inside the application from its AWS/KinesisAnalytics metrics."""

    def last(name: str) -> float | None:
        values = m.get(name) or []
        return values[-1] if values else None

    def grew(name: str) -> int:
        values = m.get(name) or []
        return int(values[-1] - values[0]) if len(values) >= 2 and values[-1] > values[0] else 0

    downtime, uptime, restarts = last("downtime"), last("uptime"), last("fullRestarts")
    duration = last("lastCheckpointDuration")
    return ManagedJobFacts(
        name=JOB_NAME,
        id=None,
        state=None if downtime is None else ("RUNNING" if downtime == 0 else "RESTARTING"),
        uptime_s=round(uptime / 1000, 1) if uptime is not None else None,
        downtime_ms=downtime,
        restarts=int(restarts) if restarts is not None else None,
        restarts_in_window=grew("fullRestarts"),
        failed_checkpoints_in_window=grew("numberOfFailedCheckpoints"),
        window_s=window_s,
        last_checkpoint=None
        if duration is None
        else CheckpointSummary(id=None, age_s=None, duration_ms=duration, size_bytes=last("lastCheckpointSize")),
        records_in_per_s=last("numRecordsInPerSecond"),
        records_out_per_s=last("numRecordsOutPerSecond"),
        metrics_found=sorted(k for k, v in m.items() if v),
    )


def apply_lag(k: MskFacts, m: Series) -> None:
    """SumOffsetLag and EstimatedMaxTimeLag (AWS/Kafka) into the Kafka facts."""
    if m.get("SumOffsetLag"):
        k.lag.total = int(m["SumOffsetLag"][-1])
    if m.get("EstimatedMaxTimeLag"):
        k.oldest_waiting_s = float(m["EstimatedMaxTimeLag"][-1])


def kafka_facts(target: Target, settings: Settings) -> MskFacts:
    names = settings.names
    k = MskFacts(
        bootstrap=settings.aws.bootstrap_servers or None,
        topic=names.topic,
        consumer_group=names.consumer_group,
        lag=Lag(total=None, per_partition={}),
    )
    msk = target.msk
    if msk is None:
        k.observable = False
        k.note = "set aws.msk_cluster_arn to observe the MSK cluster (pipectl does not connect to the brokers)"
        return k
    try:
        with aws_call(f"describe the MSK cluster {msk.name}"):
            info = target.client("kafka").describe_cluster_v2(ClusterArn=msk.arn)["ClusterInfo"]
        k.cluster_state = info.get("State")
        k.reachable = True
    except PipectlError as exc:
        k.reachable = False
        k.error = exc.message
        return k
    try:
        apply_lag(
            k,
            cloudwatch(
                target,
                "AWS/Kafka",
                [
                    {"Name": "Cluster Name", "Value": msk.name},
                    {"Name": "Consumer Group", "Value": names.consumer_group},
                    {"Name": "Topic", "Value": names.topic},
                ],
                LAG_METRICS,
            ),
        )
    except PipectlError:
        pass
    return k


def flink_facts(target: Target, detail: dict[str, Any] | None) -> ManagedFlinkFacts:
    flink = ManagedFlinkFacts(application=target.aws.application_name, region=target.region)
    if detail is not None:
        flink.application_status = detail["ApplicationStatus"]
        flink.application_version = detail.get("ApplicationVersionId")
        if detail["ApplicationStatus"] == "RUNNING":
            dims = [{"Name": "Application", "Value": target.aws.application_name}]
            flink.job = job_facts(cloudwatch(target, "AWS/KinesisAnalytics", dims, APP_METRICS))
    return flink


def collect_aws(settings: Settings, interval_s: float, memory: Memory) -> PipelineStatus:
    started = time.time()
    target = resolve(settings, "status")
    names = settings.names
    detail = describe(target)
    cp_ms = appcfg.checkpoint_interval_ms(detail) if detail is not None else None
    checkpoint_s = cp_ms / 1000 if cp_ms else names.checkpoint_interval_s
    flink = flink_facts(target, detail)
    k = kafka_facts(target, settings)
    iceberg = iceberg_facts(names, lambda name: load_table(settings, name))
    return assemble(
        k,
        flink,
        iceberg,
        env="aws",
        interval_s=interval_s,
        checkpoint_s=checkpoint_s,
        checked_at=started,
        history=memory.history,
    )
