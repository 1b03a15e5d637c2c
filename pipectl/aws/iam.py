"""The execution role's least-privilege policy and trust policy, built from the settings alone
(no AWS call). Resources are scoped wherever the service allows it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipectl.aws.target import Target, resolve
from pipectl.config import Settings

TRUSTED_SERVICE = "kinesisanalytics.amazonaws.com"


@dataclass
class IamPolicies:
    application: str
    region: str
    policy: dict
    trust_policy: dict
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "application": self.application,
            "region": self.region,
            "policy": self.policy,
            "trust_policy": self.trust_policy,
            "notes": self.notes,
        }


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def build_policies(target: Target) -> IamPolicies:
    aws = target.aws
    part, region = target.partition, target.region
    account = target.account
    notes: list[str] = []
    if account is None:
        account = "*"
        notes.append("no ARN names the account: set aws.service_role_arn to scope resources to it")
    acct = account
    statements = [
        _statement(
            "ReadApplicationCode",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [f"arn:{part}:s3:::{aws.code_bucket}/{target.code_prefix}*"],
        ),
        _statement(
            "FindLogGroups",
            ["logs:DescribeLogGroups"],
            [f"arn:{part}:logs:{region}:{acct}:log-group:*"],
        ),
        _statement(
            "DescribeLogStreams",
            ["logs:DescribeLogStreams"],
            [f"arn:{part}:logs:{region}:{acct}:log-group:{target.log_group}:log-stream:*"],
        ),
        _statement(
            "WriteLogs",
            ["logs:PutLogEvents"],
            [f"arn:{part}:logs:{region}:{acct}:log-group:{target.log_group}:log-stream:{target.log_stream}"],
        ),
    ]

    msk = target.msk
    group = target.settings.pipeline.consumer_group
    if msk is not None:
        cluster = msk.arn
        topic = f"arn:{part}:kafka:{region}:{msk.account}:topic/{msk.name}/{msk.uuid}/{aws.topic}"
        group_arn = f"arn:{part}:kafka:{region}:{msk.account}:group/{msk.name}/{msk.uuid}/{group}"
    else:
        cluster = f"arn:{part}:kafka:{region}:{acct}:cluster/*"
        topic = f"arn:{part}:kafka:{region}:{acct}:topic/*/*/{aws.topic}"
        group_arn = f"arn:{part}:kafka:{region}:{acct}:group/*/*/{group}"
        notes.append("aws.msk_cluster_arn is not set: Kafka permissions name any cluster; set it to scope them")
    statements += [
        _statement("ConnectToMsk", ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], [cluster]),
        _statement("ReadOrdersTopic", ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], [topic]),
        _statement("UseConsumerGroup", ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], [group_arn]),
    ]

    bucket = aws.table_bucket_arn
    statements += [
        _statement(
            "UseTableBucket",
            [
                "s3tables:GetTableBucket",
                "s3tables:ListNamespaces",
                "s3tables:GetNamespace",
                "s3tables:CreateNamespace",
                "s3tables:ListTables",
                "s3tables:CreateTable",
            ],
            [bucket],
        ),
        _statement(
            "ReadWriteTables",
            [
                "s3tables:GetTable",
                "s3tables:GetTableMetadataLocation",
                "s3tables:UpdateTableMetadataLocation",
                "s3tables:GetTableData",
                "s3tables:PutTableData",
            ],
            # The bucket ARN too, as AWS's example does (the catalog's first-run create path asks on
            # the bucket): https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-identity-based-policies.html
            [bucket, f"{bucket}/table/*"],
        ),
    ]

    if aws.subnets or aws.msk_cluster_arn:  # deploy takes the MSK cluster's VPC when none is given
        subnets = [f"arn:{part}:ec2:{region}:{acct}:subnet/{s}" for s in aws.subnets] or [
            f"arn:{part}:ec2:{region}:{acct}:subnet/*"
        ]
        groups = [f"arn:{part}:ec2:{region}:{acct}:security-group/{g}" for g in aws.security_groups] or [
            f"arn:{part}:ec2:{region}:{acct}:security-group/*"
        ]
        statements += [
            _statement(
                "DescribeVpc",
                [
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                ],
                ["*"],  # EC2 Describe* actions cannot be scoped to resources
            ),
            _statement(
                "CreateEni",
                ["ec2:CreateNetworkInterface"],
                [f"arn:{part}:ec2:{region}:{acct}:network-interface/*"] + subnets + groups,
            ),
            _statement(
                "ManageEni",
                ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
                [f"arn:{part}:ec2:{region}:{acct}:network-interface/*"],
            ),
        ]
        notes.append("ec2:Describe* cannot be scoped to resources, so it names '*'")

    trust: dict = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": TRUSTED_SERVICE},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    if account != "*":
        trust["Statement"][0]["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnEquals": {
                "aws:SourceArn": f"arn:{part}:kinesisanalytics:{region}:{account}:application/{aws.application_name}"
            },
        }
    return IamPolicies(
        application=aws.application_name,
        region=region,
        policy={"Version": "2012-10-17", "Statement": statements},
        trust_policy=trust,
        notes=notes,
    )


def iam_policies(settings: Settings) -> IamPolicies:
    """`pipectl aws iam-policy`: the execution role's policy and trust policy."""
    return build_policies(resolve(settings, "iam"))


def select_document(settings: Settings, document: str = "both") -> IamPolicies | dict:
    """The policies, or one raw document: "policy" or "trust"."""
    if document not in ("both", "policy", "trust"):
        from pipectl.errors import ConfigError

        raise ConfigError(f"--document must be both, policy or trust, got {document!r}")
    policies = iam_policies(settings)
    if document == "policy":
        return policies.policy
    if document == "trust":
        return policies.trust_policy
    return policies
