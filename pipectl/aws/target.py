"""The checked AWS settings and the boto3 clients built from them.

`resolve(settings, purpose)` checks every setting a command needs and reports all problems
at once (ConfigError) before any AWS call. It returns a `Target`: the settings plus the
resolved region and a factory for boto3 clients (boto3 imported only here, when used).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipectl.config import AwsSettings, Settings, SettingProblem
from pipectl.errors import ConfigError

# What each command needs beyond region/profile.
PURPOSES = ("status", "deploy", "tables", "table", "iam", "bootstrap")

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$")
APP_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
MSK_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kafka:([a-z0-9-]+):(\d{12}):cluster/([\w-]+)/([\w-]+)$")
TABLE_BUCKET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:s3tables:([a-z0-9-]+):(\d{12}):bucket/([a-z0-9_-]{3,63})$")
S3TABLES_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,254}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SG_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
BROKER_RE = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
LOG_GROUP_RE = re.compile(r"^[\w./#-]{1,512}$")

DEFAULT_LOG_STREAM = "kinesis-analytics-log-stream"
HINT = "set them in the [aws] section of pipectl.toml, as PIPECTL_AWS_* variables or with flags"


@dataclass(frozen=True)
class MskCluster:
    arn: str
    region: str
    account: str
    name: str
    uuid: str


@dataclass(frozen=True)
class TableBucket:
    arn: str
    region: str
    account: str
    name: str


def parse_msk_arn(arn: str) -> MskCluster | None:
    m = MSK_ARN_RE.match(arn)
    return MskCluster(arn, m.group(1), m.group(2), m.group(3), m.group(4)) if m else None


def parse_table_bucket_arn(arn: str) -> TableBucket | None:
    m = TABLE_BUCKET_ARN_RE.match(arn)
    return TableBucket(arn, m.group(1), m.group(2), m.group(3)) if m else None


def endpoint_override(aws: AwsSettings) -> str | None:
    """The endpoint to use instead of AWS (an emulator), or None for real AWS."""
    return aws.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


@dataclass
class Target:
    """Checked settings for one AWS command, and the clients to talk to AWS with."""

    settings: Settings
    region: str
    _session: Any = field(default=None, repr=False)
    _clients: dict = field(default_factory=dict, repr=False)
    # the seam for unit tests of AWS logic: service name -> client; None builds boto3's (the default)
    client_factory: Callable[[str], Any] | None = field(default=None, repr=False)

    @property
    def aws(self) -> AwsSettings:
        return self.settings.aws

    @property
    def endpoint_url(self) -> str | None:
        return endpoint_override(self.aws)

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = make_session(self.aws, self.region)
        return self._session

    def client(self, service: str) -> Any:
        if service not in self._clients and self.client_factory is not None:
            self._clients[service] = self.client_factory(service)
        if service not in self._clients:
            from botocore.config import Config

            from pipectl.aws.errors import aws_call

            config = Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=10,
                read_timeout=60,
                user_agent_extra="pipectl",
            )
            kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
            if self.aws.endpoint_url:
                kwargs["endpoint_url"] = self.aws.endpoint_url
            with aws_call(f"create the {service} client"):
                self._clients[service] = self.session.client(service, **kwargs)
        return self._clients[service]

    # Derived names ---------------------------------------------------------------------
    @property
    def log_group(self) -> str:
        return self.aws.log_group or f"/aws/kinesis-analytics/{self.aws.application_name}"

    @property
    def log_stream(self) -> str:
        return DEFAULT_LOG_STREAM

    @property
    def code_prefix(self) -> str:
        prefix = self.aws.code_prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    @property
    def account(self) -> str | None:
        """The account id, when a configured ARN names it (no AWS call)."""
        for arn in (self.aws.service_role_arn, self.aws.table_bucket_arn, self.aws.msk_cluster_arn):
            parts = arn.split(":")
            if len(parts) > 4 and parts[4].isdigit():
                return parts[4]
        return None

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def msk(self) -> MskCluster | None:
        return parse_msk_arn(self.aws.msk_cluster_arn) if self.aws.msk_cluster_arn else None

    @property
    def table_bucket(self) -> TableBucket | None:
        return parse_table_bucket_arn(self.aws.table_bucket_arn) if self.aws.table_bucket_arn else None


def make_session(aws: AwsSettings, region: str | None = None) -> Any:
    import boto3

    from pipectl.aws.errors import aws_call

    with aws_call("load the AWS configuration"):
        return boto3.session.Session(profile_name=aws.profile or None, region_name=region or None)


def _default_region(aws: AwsSettings, problems: list[SettingProblem]) -> str:
    """aws.region, else the region boto3 finds (AWS_REGION, the profile); checks aws.profile."""
    import boto3
    import botocore.exceptions as bx

    try:
        session = boto3.session.Session(profile_name=aws.profile or None)
    except bx.ProfileNotFound:
        problems.append(SettingProblem(f"aws.profile {aws.profile!r} is not a configured AWS profile", "aws.profile"))
        return aws.region
    return aws.region or session.region_name or ""


def check_settings(settings: Settings, purpose: str) -> tuple[str, list[SettingProblem]]:
    """(region, problems) for `purpose`; no AWS call is made."""
    aws = settings.aws
    problems: list[SettingProblem] = []
    region = _default_region(aws, problems)

    def wrong(setting: str, text: str) -> None:
        problems.append(SettingProblem(text, setting))

    if not region:
        problems.append(
            SettingProblem("aws.region is not set (nor AWS_REGION or a profile region)", "aws.region", missing=True)
        )
    elif not REGION_RE.match(region):
        problems.append(
            SettingProblem(f"aws.region {region!r} is not an AWS region name (like eu-west-1)", "aws.region")
        )

    def need(name: str, value: str) -> bool:
        if not value:
            problems.append(SettingProblem(f"aws.{name} is not set", f"aws.{name}", missing=True))
            return False
        return True

    if purpose in ("status", "deploy", "iam", "bootstrap") and not APP_NAME_RE.match(aws.application_name):
        wrong(
            "aws.application_name",
            f"aws.application_name {aws.application_name!r} must be 1-128 letters, digits, '_', '.' or '-'",
        )

    if purpose in ("deploy", "iam"):
        if need("code_bucket", aws.code_bucket) and not BUCKET_RE.match(aws.code_bucket):
            wrong("aws.code_bucket", f"aws.code_bucket {aws.code_bucket!r} is not a valid S3 bucket name")
        if purpose == "deploy" and need("service_role_arn", aws.service_role_arn):
            if not ROLE_ARN_RE.match(aws.service_role_arn):
                wrong(
                    "aws.service_role_arn",
                    f"aws.service_role_arn {aws.service_role_arn!r} is not an IAM role ARN "
                    "(arn:aws:iam::123456789012:role/NAME)",
                )
        elif purpose == "iam" and aws.service_role_arn and not ROLE_ARN_RE.match(aws.service_role_arn):
            wrong("aws.service_role_arn", f"aws.service_role_arn {aws.service_role_arn!r} is not an IAM role ARN")
        if aws.msk_cluster_arn:
            msk = parse_msk_arn(aws.msk_cluster_arn)
            if msk is None:
                wrong(
                    "aws.msk_cluster_arn",
                    f"aws.msk_cluster_arn {aws.msk_cluster_arn!r} is not an MSK cluster ARN "
                    "(arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)",
                )
            elif region and msk.region != region:
                wrong("aws.msk_cluster_arn", f"aws.msk_cluster_arn is in {msk.region}, but aws.region is {region}")
        elif not aws.bootstrap_servers and purpose == "deploy":
            problems.append(
                SettingProblem(
                    "neither aws.msk_cluster_arn nor aws.bootstrap_servers is set",
                    "aws.bootstrap_servers",
                    missing=True,
                )
            )
        for broker in (b.strip() for b in aws.bootstrap_servers.split(",") if b.strip()):
            if not BROKER_RE.match(broker):
                wrong("aws.bootstrap_servers", f"aws.bootstrap_servers entry {broker!r} is not HOST:PORT")
        if not aws.topic:
            problems.append(SettingProblem("aws.topic is not set", "aws.topic", missing=True))
        if aws.parallelism < 1:
            wrong("aws.parallelism", "aws.parallelism must be at least 1")
        if aws.parallelism_per_kpu < 1:
            wrong("aws.parallelism_per_kpu", "aws.parallelism_per_kpu must be at least 1")
        if aws.checkpoint_interval_s < 1:
            wrong("aws.checkpoint_interval_s", "aws.checkpoint_interval_s must be at least 1")
        for subnet in aws.subnets:
            if not SUBNET_RE.match(subnet):
                wrong("aws.subnets", f"aws.subnets entry {subnet!r} is not a subnet id (subnet-...)")
        for sg in aws.security_groups:
            if not SG_RE.match(sg):
                wrong("aws.security_groups", f"aws.security_groups entry {sg!r} is not a security group id (sg-...)")
        if bool(aws.subnets) != bool(aws.security_groups):
            wrong("aws.subnets", "aws.subnets and aws.security_groups must be set together (MSK needs the VPC)")
        if aws.log_group and not LOG_GROUP_RE.match(aws.log_group):
            wrong("aws.log_group", f"aws.log_group {aws.log_group!r} is not a valid log group name")

    if purpose == "bootstrap":  # it makes the bucket, role and table bucket itself
        if aws.msk_cluster_arn:
            msk = parse_msk_arn(aws.msk_cluster_arn)
            if msk is None:
                wrong("aws.msk_cluster_arn", f"aws.msk_cluster_arn {aws.msk_cluster_arn!r} is not an MSK cluster ARN")
            elif region and msk.region != region:
                wrong("aws.msk_cluster_arn", f"aws.msk_cluster_arn is in {msk.region}, but aws.region is {region}")
        for subnet in aws.subnets:
            if not SUBNET_RE.match(subnet):
                wrong("aws.subnets", f"aws.subnets entry {subnet!r} is not a subnet id (subnet-...)")
        for sg in aws.security_groups:
            if not SG_RE.match(sg):
                wrong("aws.security_groups", f"aws.security_groups entry {sg!r} is not a security group id (sg-...)")
        if not S3TABLES_NAME_RE.match(aws.namespace):
            wrong("aws.namespace", f"aws.namespace {aws.namespace!r} must be lowercase letters, digits and '_'")

    if purpose in ("status", "deploy", "bootstrap"):
        if aws.wait_timeout_s < 1:
            wrong("aws.wait_timeout_s", "aws.wait_timeout_s must be at least 1")
        if aws.poll_interval_ms < 10:
            wrong("aws.poll_interval_ms", "aws.poll_interval_ms must be at least 10")
        if aws.settle_s < 0:
            wrong("aws.settle_s", "aws.settle_s must be 0 or more")

    if purpose in ("deploy", "iam", "table"):
        if need("table_bucket_arn", aws.table_bucket_arn):
            tb = parse_table_bucket_arn(aws.table_bucket_arn)
            if tb is None:
                wrong(
                    "aws.table_bucket_arn",
                    f"aws.table_bucket_arn {aws.table_bucket_arn!r} is not an S3 Tables bucket ARN "
                    "(arn:aws:s3tables:REGION:ACCOUNT:bucket/NAME)",
                )
            elif region and tb.region != region:
                wrong("aws.table_bucket_arn", f"aws.table_bucket_arn is in {tb.region}, but aws.region is {region}")
        for name in ("namespace", "table"):
            value = getattr(aws, name)
            if need(name, value) and not S3TABLES_NAME_RE.match(value):
                wrong(f"aws.{name}", f"aws.{name} {value!r} must be lowercase letters, digits and '_'")
    return region, problems


def resolve(settings: Settings, purpose: str) -> Target:
    region, problems = check_settings(settings, purpose)
    if problems:
        raise ConfigError("invalid AWS settings", hint=HINT, problems=problems)
    return Target(settings=settings, region=region)
