"""The execution role's least-privilege policy and trust policy, built from the settings alone
(no AWS call). Resources are scoped wherever the service allows it.

This is the one source of the policy: `pipectl aws iam-policy` prints it and `pipectl aws
bootstrap` puts the same document into its CloudFormation template (pipectl/aws/bootstrap.py).

In a VPC, AWS's documented policy for Managed Flink
(https://docs.aws.amazon.com/managed-flink/latest/java/vpc-permissions.html) grants the EC2
Describe* calls and the ENI calls (CreateNetworkInterface, CreateNetworkInterfacePermission,
DescribeNetworkInterfaces, DeleteNetworkInterface) on "*". Describe* cannot be scoped (the
Service Authorization Reference lists no resource type for them). The ENI calls can: the
`network-interface` resource carries the `ec2:Subnet` condition key
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html), so
they are limited to ENIs in the application's subnets, and CreateNetworkInterface names the
subnets and security groups themselves. Without known subnets the policy says so in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def build_policies(target: Target) -> IamPolicies:
    aws = target.aws
    part, region = target.partition, target.region
    account = target.account
    notes: list[str] = []
    if account is None:  # never a silent account wildcard (resources and trust conditions need it)
        from pipectl.errors import ConfigError

        raise ConfigError(
            "no setting names the AWS account: the policy would have to name every account ('*')",
            hint="set aws.table_bucket_arn (or aws.service_role_arn); `pipectl aws bootstrap` sets both",
        )
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
        eni = f"arn:{part}:ec2:{region}:{acct}:network-interface/*"
        subnets = [f"arn:{part}:ec2:{region}:{acct}:subnet/{s}" for s in aws.subnets]
        groups = [f"arn:{part}:ec2:{region}:{acct}:security-group/{g}" for g in aws.security_groups]
        statements.append(
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
            )
        )
        if subnets:
            in_subnets = {"ArnEquals": {"ec2:Subnet": subnets}}
            statements += [
                _statement("CreateEniInSubnets", ["ec2:CreateNetworkInterface"], [eni], in_subnets),
                _statement("CreateEniWithSubnetsAndGroups", ["ec2:CreateNetworkInterface"], subnets + groups),
                _statement(
                    "ManageEniInSubnets",
                    ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
                    [eni],
                    in_subnets,
                ),
            ]
        else:
            statements += [
                _statement(
                    "CreateEni",
                    ["ec2:CreateNetworkInterface"],
                    [
                        eni,
                        f"arn:{part}:ec2:{region}:{acct}:subnet/*",
                        f"arn:{part}:ec2:{region}:{acct}:security-group/*",
                    ],
                ),
                _statement("ManageEni", ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"], [eni]),
            ]
            notes.append(
                "aws.subnets is not set: the ENI permissions name every subnet and network interface of the "
                "account in this region; set aws.subnets and aws.security_groups (`pipectl aws bootstrap` sets "
                "them from the MSK cluster) to limit them to the application's subnets"
            )
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
