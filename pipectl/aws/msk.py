"""Where and how the producer reaches Amazon MSK in the aws environment.

    bootstrap, iam = producer_endpoint(settings, explicit_bootstrap=None, need_broker=True)
    servers = bootstrap_servers(target, reporter)  # what deploy hands the job: the IAM brokers

- bootstrap servers: the explicit ones (--bootstrap-servers), else aws.bootstrap_servers, else the IAM brokers
  of aws.msk_cluster_arn (kafka:GetBootstrapBrokers, BootstrapBrokerStringSaslIam);
- auth (aws.kafka_auth): `iam` (default) is SASL_SSL + OAUTHBEARER with MSK IAM tokens signed for aws.region
  (or the cluster ARN's region) with the default AWS credentials or aws.profile, trusting aws.kafka_ca_file when
  set; `none` is PLAINTEXT.
"""

from __future__ import annotations

from pipectl.aws.errors import aws_call
from pipectl.aws.target import Target, parse_msk_arn, resolve
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, ConfigError, NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter
from producer.iam import IamAuth

HINT = "set them in the [aws] section of pipectl.toml or as PIPECTL_AWS_* variables"


def producer_endpoint(
    settings: Settings, *, explicit_bootstrap: str | None, need_broker: bool
) -> tuple[str, IamAuth | None]:
    """(bootstrap servers, IAM auth or None). Raises ConfigError naming every missing or bad setting."""
    aws = settings.aws
    problems: list[str] = []
    msk = parse_msk_arn(aws.msk_cluster_arn) if aws.msk_cluster_arn else None
    if aws.msk_cluster_arn and msk is None:
        problems.append(
            f"aws.msk_cluster_arn {aws.msk_cluster_arn!r} is not an MSK cluster ARN "
            "(arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)"
        )
    if not need_broker:  # --stdout / --dry-run: nothing is sent
        if problems:
            raise ConfigError("invalid AWS settings", hint=HINT, problems=problems)
        return explicit_bootstrap or aws.bootstrap_servers or "127.0.0.1:9092", None

    bootstrap = explicit_bootstrap or aws.bootstrap_servers
    if not bootstrap and not aws.msk_cluster_arn:
        problems.append("neither aws.bootstrap_servers nor aws.msk_cluster_arn is set (or pass --bootstrap-servers)")
    iam = None
    if aws.kafka_auth == "iam":
        region = _region(settings, msk.region if msk else "")
        if not region:
            problems.append("aws.region is not set (nor AWS_REGION, a profile region or aws.msk_cluster_arn)")
        ca_file = ""
        if aws.kafka_ca_file:
            path = settings.path(aws.kafka_ca_file)
            if not path.is_file():
                problems.append(f"aws.kafka_ca_file {aws.kafka_ca_file!r} does not exist")
            ca_file = str(path)
        iam = IamAuth(region=region, profile=aws.profile, ca_file=ca_file)
    if problems:
        raise ConfigError("invalid AWS settings for producing to MSK", hint=HINT, problems=problems)
    if not bootstrap:
        bootstrap = _brokers_of_cluster(settings, iam is not None)
    return bootstrap, iam


def _region(settings: Settings, arn_region: str) -> str:
    if settings.aws.region:
        return settings.aws.region
    if arn_region:
        return arn_region
    import boto3
    import botocore.exceptions as bx

    try:
        return boto3.session.Session(profile_name=settings.aws.profile or None).region_name or ""
    except bx.ProfileNotFound:
        raise ConfigError(f"aws.profile {settings.aws.profile!r} is not a configured AWS profile", hint=HINT) from None


def _brokers_of_cluster(settings: Settings, iam: bool) -> str:
    """The cluster's bootstrap brokers from the MSK API (the IAM ones for IAM auth)."""
    target = resolve(settings, "status")
    if iam:
        return bootstrap_servers(target, SILENT)
    with aws_call("read the MSK bootstrap brokers"):
        brokers = target.client("kafka").get_bootstrap_brokers(ClusterArn=settings.aws.msk_cluster_arn)
    servers = str(brokers.get("BootstrapBrokerString") or "")
    if not servers:
        raise ConfigError("the MSK cluster offers no PLAINTEXT brokers", hint='use aws.kafka_auth = "iam"')
    return servers


def bootstrap_servers(target: Target, reporter: Reporter) -> str:
    """The brokers the job reaches with IAM auth: aws.bootstrap_servers, else the cluster's IAM ones."""
    aws = target.aws
    if aws.bootstrap_servers:
        return ",".join(b.strip() for b in aws.bootstrap_servers.split(",") if b.strip())
    if target.msk is None:
        raise PipectlError("neither aws.msk_cluster_arn nor aws.bootstrap_servers is set", exit_code=EXIT_USAGE)
    kafka = target.client("kafka")
    with aws_call(
        "read the MSK bootstrap brokers",
        not_found=NotFoundError(
            f"MSK cluster {aws.msk_cluster_arn} does not exist",
            hint="fix aws.msk_cluster_arn (or set aws.bootstrap_servers)",
        ),
    ):
        brokers = kafka.get_bootstrap_brokers(ClusterArn=aws.msk_cluster_arn)
    servers = brokers.get("BootstrapBrokerStringSaslIam") or ""
    if not servers:
        raise PipectlError(
            "the MSK cluster offers no IAM-authenticated brokers",
            hint="enable IAM access control on the cluster, or set aws.bootstrap_servers",
            exit_code=EXIT_USAGE,
        )
    reporter.done(f"MSK bootstrap servers (IAM): {servers.split(',')[0]}{' …' if ',' in servers else ''}")
    return servers
