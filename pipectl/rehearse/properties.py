"""application_properties.json for the rehearsal, taken from the CreateApplication request that
`pipectl aws deploy` sends (pipectl/aws/application.py), so the two cannot drift.

On the service the job reads /etc/flink/application_properties.json: the request's property
groups as a list of {"PropertyGroupId", "PropertyMap"}. The rehearsal renders the same request
for its own broker and table bucket and adds exactly one setting, S3_TABLES_ENDPOINT (the
emulator), which deploy never sends.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipectl.aws import application as appcfg
from pipectl.aws.target import Target
from pipectl.config import Settings

ENDPOINT_KEY = "S3_TABLES_ENDPOINT"
# Placeholders for what only the service uses (the request needs them; the job never reads them).
_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Rendered:
    """What the rehearsal takes from the request."""

    groups: list[dict[str, Any]]  # the file's content
    python: str  # run options: the entry point, relative to the zip root
    jarfile: str  # run options: the jar the service puts on the classpath
    checkpoint_interval_ms: int
    min_pause_ms: int
    parallelism: int
    parallelism_per_kpu: int


def rehearsal_settings(settings: Settings, region: str, bootstrap: str, table_bucket_arn: str) -> Settings:
    """The user's aws settings, aimed at the rehearsal's broker and table bucket."""
    aws = dataclasses.replace(
        settings.aws, region=region, bootstrap_servers=bootstrap, table_bucket_arn=table_bucket_arn, msk_cluster_arn=""
    )
    return dataclasses.replace(settings, env="aws", aws=aws)


def create_request(settings: Settings) -> dict[str, Any]:
    """The CreateApplication request deploy would send for these settings."""
    target = Target(settings=settings, region=settings.aws.region)
    aws = settings.aws
    desired = appcfg.Desired(
        role_arn=f"arn:aws:iam::{_ACCOUNT}:role/pipectl-rehearsal",
        bucket_arn="arn:aws:s3:::pipectl-rehearsal-code",
        file_key="rehearsal/data-pipeline-aws.zip",
        property_groups=appcfg.property_groups(target, aws.bootstrap_servers),
        checkpoint_interval_ms=aws.checkpoint_interval_s * 1000,
        parallelism=aws.parallelism,
        parallelism_per_kpu=aws.parallelism_per_kpu,
        log_stream_arn=f"arn:aws:logs:{aws.region}:{_ACCOUNT}:log-group:rehearsal:log-stream:rehearsal",
        subnets=(),
        security_groups=(),
    )
    return appcfg.create_request(aws.application_name, desired)


def render(settings: Settings, endpoint_url: str) -> Rendered:
    request = create_request(settings)
    config = request["ApplicationConfiguration"]
    groups = [
        {"PropertyGroupId": g["PropertyGroupId"], "PropertyMap": dict(g["PropertyMap"])}
        for g in config["EnvironmentProperties"]["PropertyGroups"]
    ]
    by_id = {g["PropertyGroupId"]: g["PropertyMap"] for g in groups}
    by_id[appcfg.JOB_GROUP][ENDPOINT_KEY] = endpoint_url
    run = by_id[appcfg.RUN_OPTIONS_GROUP]
    flink = config["FlinkApplicationConfiguration"]
    checkpoints, parallelism = flink["CheckpointConfiguration"], flink["ParallelismConfiguration"]
    return Rendered(
        groups=groups,
        python=run["python"],
        jarfile=run["jarfile"],
        checkpoint_interval_ms=int(checkpoints["CheckpointInterval"]),
        min_pause_ms=int(checkpoints["MinPauseBetweenCheckpoints"]),
        parallelism=int(parallelism["Parallelism"]),
        parallelism_per_kpu=int(parallelism["ParallelismPerKPU"]),
    )


def set_job_property(rendered: Rendered, key: str, value: str) -> None:
    """Set one property of the job's group (PipelineConfig), as an UpdateApplication would."""
    next(g for g in rendered.groups if g["PropertyGroupId"] == appcfg.JOB_GROUP)["PropertyMap"][key] = value


def write(rendered: Rendered, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rendered.groups, indent=2) + "\n")
    return path
