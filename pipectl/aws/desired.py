"""The application deploy makes, and `deploy --plan` compares: where the brokers are, the VPC, the
code object, the run settings. Read-only: finding it changes nothing on AWS."""

from __future__ import annotations

from pipectl.aws import application as appcfg
from pipectl.aws import msk, network
from pipectl.aws.target import Target
from pipectl.progress import Reporter


def network_of(target: Target, reporter: Reporter) -> tuple[str, network.Vpc]:
    """Bootstrap servers and the VPC; refuses a network that cannot work (no AWS resource changed yet)."""
    cluster = None
    if target.msk is not None:
        cluster = network.describe_cluster(target)
        network.require_active(target, cluster)
    servers = msk.bootstrap_servers(target, reporter)
    vpc = network.resolve_vpc(target, servers, cluster, reporter)
    network.preflight(target, vpc, reporter)
    return servers, vpc


def desired_for(
    target: Target, key: str, version: str | None, servers: str, vpc: network.Vpc, stream_arn: str
) -> appcfg.Desired:
    """The application deploy makes, from the settings and what it found (shared with `--plan`)."""
    aws = target.aws
    return appcfg.Desired(
        role_arn=aws.service_role_arn,
        bucket_arn=f"arn:{target.partition}:s3:::{aws.code_bucket}",
        file_key=key,
        object_version=version or "",
        property_groups=appcfg.property_groups(target, servers),
        checkpoint_interval_ms=aws.checkpoint_interval_s * 1000,
        parallelism=aws.parallelism,
        parallelism_per_kpu=aws.parallelism_per_kpu,
        log_stream_arn=stream_arn,
        subnets=vpc.subnets,
        security_groups=vpc.security_groups,
    )
