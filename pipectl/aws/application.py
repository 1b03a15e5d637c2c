"""The Managed Flink application we want, as the kinesisanalyticsv2 API spells it, and the
difference between that and what AWS describes.

Pure functions over dicts (no boto3), so the request shapes are easy to read and test.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipectl.aws.target import Target

RUNTIME = "FLINK-1_20"
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
JOB_GROUP = "PipelineConfig"
ENTRY_POINT = "streaming_job.py"
DEPENDENCY_JAR = "lib/pyflink-dependencies.jar"

# Statuses (ApplicationStatus) ------------------------------------------------------------
RUNNING = "RUNNING"
READY = "READY"
SETTLING = {"STARTING", "UPDATING", "STOPPING", "FORCE_STOPPING", "AUTOSCALING", "ROLLING_BACK", "MAINTENANCE"}


@dataclass(frozen=True)
class Desired:
    """Everything deploy sets on the application."""

    role_arn: str
    bucket_arn: str
    file_key: str
    property_groups: dict[str, dict[str, str]]
    checkpoint_interval_ms: int
    parallelism: int
    parallelism_per_kpu: int
    log_stream_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    object_version: str = ""  # the code object's S3 version, pinned when the bucket is versioned

    def code_location(self) -> dict[str, str]:
        loc = {"BucketARN": self.bucket_arn, "FileKey": self.file_key}
        if self.object_version:
            loc["ObjectVersion"] = self.object_version
        return loc


def property_groups(target: Target, bootstrap_servers: str) -> dict[str, dict[str, str]]:
    """The run options Managed Flink needs for a Python job, and the job's own settings
    (the job reads group PipelineConfig; every value is a string)."""
    aws = target.aws
    return {
        RUN_OPTIONS_GROUP: {"python": ENTRY_POINT, "jarfile": DEPENDENCY_JAR},
        JOB_GROUP: {
            "DEPLOYMENT_ENV": "aws",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "KAFKA_TOPIC": aws.topic,
            "KAFKA_GROUP_ID": target.settings.pipeline.consumer_group,
            "S3_TABLES_BUCKET_ARN": aws.table_bucket_arn,
            "ICEBERG_NAMESPACE": aws.namespace,
            "ICEBERG_TABLE": aws.table,
            "ICEBERG_REJECTED_TABLE": target.settings.pipeline.rejected_table,
            "AWS_REGION": target.region,
        },
    }


def _groups_list(groups: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [{"PropertyGroupId": gid, "PropertyMap": dict(props)} for gid, props in groups.items()]


def _flink_config(d: Desired) -> dict[str, Any]:
    return {
        "CheckpointConfiguration": {
            "ConfigurationType": "CUSTOM",
            "CheckpointingEnabled": True,
            "CheckpointInterval": d.checkpoint_interval_ms,
            "MinPauseBetweenCheckpoints": min(5000, d.checkpoint_interval_ms),
        },
        "MonitoringConfiguration": {"ConfigurationType": "CUSTOM", "MetricsLevel": "APPLICATION", "LogLevel": "INFO"},
        "ParallelismConfiguration": {
            "ConfigurationType": "CUSTOM",
            "Parallelism": d.parallelism,
            "ParallelismPerKPU": d.parallelism_per_kpu,
            "AutoScalingEnabled": False,
        },
    }


def create_request(name: str, d: Desired) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ApplicationCodeConfiguration": {
            "CodeContent": {"S3ContentLocation": d.code_location()},
            "CodeContentType": "ZIPFILE",
        },
        "EnvironmentProperties": {"PropertyGroups": _groups_list(d.property_groups)},
        "FlinkApplicationConfiguration": _flink_config(d),
        "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
    }
    if d.subnets:
        config["VpcConfigurations"] = [{"SubnetIds": list(d.subnets), "SecurityGroupIds": list(d.security_groups)}]
    return {
        "ApplicationName": name,
        "ApplicationDescription": "orders.created.v1 -> Apache Iceberg (deployed by pipectl)",
        "RuntimeEnvironment": RUNTIME,
        "ServiceExecutionRole": d.role_arn,
        "ApplicationConfiguration": config,
        "CloudWatchLoggingOptions": [{"LogStreamARN": d.log_stream_arn}],
        "ApplicationMode": "STREAMING",
    }


# Reading a DescribeApplication answer ------------------------------------------------------
def _config(detail: dict) -> dict:
    return detail.get("ApplicationConfigurationDescription") or {}


def code_location(detail: dict) -> tuple[str, str]:
    loc = (
        (_config(detail).get("ApplicationCodeConfigurationDescription") or {})
        .get("CodeContentDescription", {})
        .get("S3ApplicationCodeLocationDescription", {})
    )
    return loc.get("BucketARN", ""), loc.get("FileKey", "")


def code_version(detail: dict) -> str:
    """The pinned S3 object version of the code ("" when none is pinned)."""
    return str(
        (_config(detail).get("ApplicationCodeConfigurationDescription") or {})
        .get("CodeContentDescription", {})
        .get("S3ApplicationCodeLocationDescription", {})
        .get("ObjectVersion")
        or ""
    )


def current_groups(detail: dict) -> dict[str, dict[str, str]]:
    groups = (_config(detail).get("EnvironmentPropertyDescriptions") or {}).get("PropertyGroupDescriptions") or []
    return {g["PropertyGroupId"]: dict(g.get("PropertyMap") or {}) for g in groups}


def _flink(detail: dict) -> dict:
    return _config(detail).get("FlinkApplicationConfigurationDescription") or {}


def parallelism(detail: dict) -> int | None:
    p = _flink(detail).get("ParallelismConfigurationDescription") or {}
    return p.get("CurrentParallelism", p.get("Parallelism"))


def checkpoint_interval_ms(detail: dict) -> int | None:
    return (_flink(detail).get("CheckpointConfigurationDescription") or {}).get("CheckpointInterval")


def _vpc(detail: dict) -> list[dict]:
    return _config(detail).get("VpcConfigurationDescriptions") or []


# Set for a start without state (pipectl/aws/deploy.py, _read_on): where the job reads on in each partition.
# The job ignores it when it restores a snapshot, so its presence alone is no reason to update the application;
# the next update for another reason drops it.
START_OFFSETS = "KAFKA_START_OFFSETS"


def _without_start_offsets(groups: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {
        gid: {k: v for k, v in props.items() if not (gid == JOB_GROUP and k == START_OFFSETS)}
        for gid, props in groups.items()
    }


def with_start_offsets(d: Desired, offsets: str) -> Desired:
    """`d` with the job's start offsets (KAFKA_START_OFFSETS) in its property group."""
    groups = {gid: dict(props) for gid, props in d.property_groups.items()}
    groups[JOB_GROUP][START_OFFSETS] = offsets
    return dataclasses.replace(d, property_groups=groups)


def _log_options(detail: dict) -> list[dict]:
    return detail.get("CloudWatchLoggingOptionDescriptions") or []


def diff(detail: dict, d: Desired) -> list[str]:
    """Names of the parts of the application that differ from `d` (empty: nothing to do)."""
    changes: list[str] = []
    if detail.get("RuntimeEnvironment") != RUNTIME:
        changes.append("runtime")
    if detail.get("ServiceExecutionRole") != d.role_arn:
        changes.append("role")
    if code_location(detail) != (d.bucket_arn, d.file_key) or code_version(detail) != d.object_version:
        changes.append("code")
    current = current_groups(detail)
    if START_OFFSETS not in d.property_groups.get(JOB_GROUP, {}):  # start offsets left there are no change
        current = _without_start_offsets(current)
    if current != d.property_groups:
        changes.append("properties")
    flink = _flink(detail)
    want = _flink_config(d)
    cp = flink.get("CheckpointConfigurationDescription") or {}
    if any(cp.get(k) != v for k, v in want["CheckpointConfiguration"].items()):
        changes.append("checkpointing")
    par = flink.get("ParallelismConfigurationDescription") or {}
    if any(par.get(k) != v for k, v in want["ParallelismConfiguration"].items()):
        changes.append("parallelism")
    mon = flink.get("MonitoringConfigurationDescription") or {}
    if any(mon.get(k) != v for k, v in want["MonitoringConfiguration"].items()):
        changes.append("monitoring")
    snap = _config(detail).get("ApplicationSnapshotConfigurationDescription") or {}
    if snap.get("SnapshotsEnabled") is not True:
        changes.append("snapshots")
    vpcs = _vpc(detail)
    have_vpc = (
        (tuple(sorted(vpcs[0].get("SubnetIds", []))), tuple(sorted(vpcs[0].get("SecurityGroupIds", []))))
        if vpcs
        else ((), ())
    )
    if have_vpc != (tuple(sorted(d.subnets)), tuple(sorted(d.security_groups))):
        changes.append("vpc")
    if [o.get("LogStreamARN") for o in _log_options(detail)] != [d.log_stream_arn]:
        changes.append("logging")
    return changes


def update_request(name: str, detail: dict, d: Desired, changes: list[str]) -> dict[str, Any]:
    """UpdateApplication for exactly the changed parts, guarded by the conditional token.
    Adding or removing a VPC or a logging option needs other calls (see deploy._update)."""
    update: dict[str, Any] = {}
    req: dict[str, Any] = {"ApplicationName": name}
    if detail.get("ConditionalToken"):
        req["ConditionalToken"] = detail["ConditionalToken"]
    else:
        req["CurrentApplicationVersionId"] = detail["ApplicationVersionId"]
    if "runtime" in changes:
        req["RuntimeEnvironmentUpdate"] = RUNTIME
    if "role" in changes:
        req["ServiceExecutionRoleUpdate"] = d.role_arn
    if "code" in changes:
        location = {"BucketARNUpdate": d.bucket_arn, "FileKeyUpdate": d.file_key}
        if d.object_version:
            location["ObjectVersionUpdate"] = d.object_version
        update["ApplicationCodeConfigurationUpdate"] = {
            "CodeContentTypeUpdate": "ZIPFILE",
            "CodeContentUpdate": {"S3ContentLocationUpdate": location},
        }
    if "properties" in changes:
        update["EnvironmentPropertyUpdates"] = {"PropertyGroups": _groups_list(d.property_groups)}
    want = _flink_config(d)
    flink: dict[str, Any] = {}
    if "checkpointing" in changes:
        c = want["CheckpointConfiguration"]
        flink["CheckpointConfigurationUpdate"] = {
            "ConfigurationTypeUpdate": c["ConfigurationType"],
            "CheckpointingEnabledUpdate": c["CheckpointingEnabled"],
            "CheckpointIntervalUpdate": c["CheckpointInterval"],
            "MinPauseBetweenCheckpointsUpdate": c["MinPauseBetweenCheckpoints"],
        }
    if "monitoring" in changes:
        m = want["MonitoringConfiguration"]
        flink["MonitoringConfigurationUpdate"] = {
            "ConfigurationTypeUpdate": m["ConfigurationType"],
            "MetricsLevelUpdate": m["MetricsLevel"],
            "LogLevelUpdate": m["LogLevel"],
        }
    if "parallelism" in changes:
        p = want["ParallelismConfiguration"]
        flink["ParallelismConfigurationUpdate"] = {
            "ConfigurationTypeUpdate": p["ConfigurationType"],
            "ParallelismUpdate": p["Parallelism"],
            "ParallelismPerKPUUpdate": p["ParallelismPerKPU"],
            "AutoScalingEnabledUpdate": p["AutoScalingEnabled"],
        }
    if flink:
        update["FlinkApplicationConfigurationUpdate"] = flink
    if "snapshots" in changes:
        update["ApplicationSnapshotConfigurationUpdate"] = {"SnapshotsEnabledUpdate": True}
    vpcs = _vpc(detail)
    if "vpc" in changes and vpcs and d.subnets:
        update["VpcConfigurationUpdates"] = [
            {
                "VpcConfigurationId": vpcs[0]["VpcConfigurationId"],
                "SubnetIdUpdates": list(d.subnets),
                "SecurityGroupIdUpdates": list(d.security_groups),
            }
        ]
    logs = _log_options(detail)
    if "logging" in changes and logs:
        req["CloudWatchLoggingOptionUpdates"] = [
            {"CloudWatchLoggingOptionId": logs[0]["CloudWatchLoggingOptionId"], "LogStreamARNUpdate": d.log_stream_arn}
        ]
    if update:
        req["ApplicationConfigurationUpdate"] = update
    return req


def vpc_configurations(detail: dict) -> list[dict]:
    return _vpc(detail)


def attaches_or_detaches_vpc(detail: dict, d: Desired, changes: list[str]) -> bool:
    """True when the change adds or removes the VPC: UpdateApplication cannot, the
    Add/DeleteApplicationVpcConfiguration calls can (in place, snapshots kept)."""
    return "vpc" in changes and bool(_vpc(detail)) != bool(d.subnets)


def needs_log_option(detail: dict, changes: list[str]) -> bool:
    return "logging" in changes and not _log_options(detail)
