"""`pipectl aws bootstrap` and `pipectl aws destroy --bootstrap` against moto's CloudFormation
(server mode; S3 Tables types added by tests/aws/moto_cfn.py), read back with boto3."""

from __future__ import annotations

import json
import re

import pytest

from tests.aws.conftest import ACCOUNT, REGION, World, client, make_network, write_zip

APP = "order-ingest"
STACK = f"pipectl-{APP}"
CODE_BUCKET = f"pipectl-{APP}-{ACCOUNT}-{REGION}"
TABLE_BUCKET_ARN = f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/{APP}-tables"
ROLE = f"pipectl-{APP}-{REGION}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
USER_TOML = """# my pipeline -- only what I had to set
env = "aws"

[aws]
region = "{region}"  # where MSK lives
msk_cluster_arn = "{arn}"

[pipeline]
consumer_group = "pipectl-order-ingest"
"""


def msk_cluster(net) -> str:
    return client("kafka").create_cluster(
        ClusterName="orders-msk",
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": net.subnets, "SecurityGroups": [net.sg]},
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=2,
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )["ClusterArn"]


@pytest.fixture
def user(aws_env, tmp_path) -> tuple[World, object, str]:
    """A project where the user set only the region and the MSK cluster's ARN."""
    net = make_network()
    arn = msk_cluster(net)
    env = {**aws_env, "PIPECTL_PROJECT_DIR": str(tmp_path)}
    w = World(tmp_path, env, "", "", "", arn)
    (tmp_path / "pipectl.toml").write_text(USER_TOML.format(region=REGION, arn=arn))
    write_zip(w.zip)
    return w, net, arn


def stack_gone() -> bool:
    cfn = client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=STACK)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] == "ValidationError"
    return all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks)


def test_bootstrap_creates_the_stack_and_writes_the_settings(user):
    w, net, arn = user
    proc = w.run("aws", "bootstrap", "--yes")
    assert proc.returncode == 0, proc.stderr
    # The change set, per resource, before it runs.
    assert f"… creating stack {STACK} in {REGION} (change set)" in proc.stderr.splitlines()
    added = sorted(re.findall(r"^…\s+Add\s+(\w+)\s+(\S+)$", proc.stderr, re.M))
    assert added == [
        ("CodeBucket", "AWS::S3::Bucket"),
        ("ExecutionRole", "AWS::IAM::Role"),
        ("LogGroup", "AWS::Logs::LogGroup"),
        ("TableBucket", "AWS::S3Tables::TableBucket"),
        ("TableNamespace", "AWS::S3Tables::Namespace"),
    ]
    assert f"✓ stack {STACK} created (5 change(s))" in proc.stderr
    assert proc.stdout.splitlines() == [
        f"stack {STACK} ({REGION}) created:",
        "  Add     CodeBucket              AWS::S3::Bucket",
        "  Add     TableBucket             AWS::S3Tables::TableBucket",
        "  Add     TableNamespace          AWS::S3Tables::Namespace",
        "  Add     ExecutionRole           AWS::IAM::Role",
        "  Add     LogGroup                AWS::Logs::LogGroup",
        f"output CodeBucketName    {CODE_BUCKET}",
        f"output TableBucketArn    {TABLE_BUCKET_ARN}",
        f"output ExecutionRoleArn  {ROLE_ARN}",
        f"output LogGroupName      /aws/kinesis-analytics/{APP}",
        f"output SubnetIds         {','.join(net.subnets)}",
        f"output SecurityGroupIds  {net.sg}",
        f"written into {w.dir / 'pipectl.toml'}: aws.code_bucket, aws.table_bucket_arn, aws.service_role_arn, "
        "aws.subnets, aws.security_groups",
        "next: pipectl aws deploy",
    ]

    # pipectl.toml: the outputs added to [aws], the user's comments and keys kept.
    text = (w.dir / "pipectl.toml").read_text()
    assert text.startswith('# my pipeline -- only what I had to set\nenv = "aws"\n\n[aws]\n')
    assert f'region = "{REGION}"  # where MSK lives\n' in text
    assert '[pipeline]\nconsumer_group = "pipectl-order-ingest"\n' in text
    import tomllib

    aws = tomllib.loads(text)["aws"]
    assert aws == {
        "region": REGION,
        "msk_cluster_arn": arn,
        "code_bucket": CODE_BUCKET,
        "table_bucket_arn": TABLE_BUCKET_ARN,
        "service_role_arn": ROLE_ARN,
        "subnets": net.subnets,
        "security_groups": [net.sg],
    }

    # Read back with boto3: the role's policy is exactly `aws iam-policy`'s.
    iam = client("iam")
    [name] = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    document = iam.get_role_policy(RoleName=ROLE, PolicyName=name)["PolicyDocument"]
    assert document == w.json("aws", "iam-policy", "--document", "policy")
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust == w.json("aws", "iam-policy", "--document", "trust")
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["ManageEniInSubnets"]["Condition"] == {
        "ArnEquals": {"ec2:Subnet": [f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{s}" for s in net.subnets]}
    }
    assert by_sid["ReadApplicationCode"]["Resource"] == [f"arn:aws:s3:::{CODE_BUCKET}/pipectl/*"]

    # The code bucket: versioned, encrypted, public access blocked.
    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=CODE_BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=CODE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=CODE_BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    # The table bucket and its namespace; the log group with its retention.
    tables = client("s3tables")
    assert tables.get_table_bucket(tableBucketARN=TABLE_BUCKET_ARN)["name"] == f"{APP}-tables"
    assert tables.get_namespace(tableBucketARN=TABLE_BUCKET_ARN, namespace="analytics")["namespace"] == ["analytics"]
    [group] = client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/kinesis-analytics/{APP}")["logGroups"]
    assert group["retentionInDays"] == 30

    # A second bootstrap changes nothing, says so, and leaves no change set behind.
    again = w.run("aws", "bootstrap", "--yes")
    assert again.returncode == 0, again.stderr
    assert f"✓ stack {STACK} is up to date; nothing to change (empty change set deleted)" in again.stderr
    assert again.stdout.splitlines()[0] == f"stack {STACK} ({REGION}) is up to date: no changes"
    assert f"{w.dir / 'pipectl.toml'} already has these settings" in again.stdout
    assert (w.dir / "pipectl.toml").read_text() == text
    # (AWS removes executed change sets; moto keeps them as EXECUTE_COMPLETE)
    summaries = client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    assert [s["ExecutionStatus"] for s in summaries] == ["EXECUTE_COMPLETE"]


def test_bootstrap_asks_and_refuses_without_a_terminal(user):
    w, _, _ = user
    before = (w.dir / "pipectl.toml").read_text()
    proc = w.run("aws", "bootstrap", input="")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "error: refusing to change the stack without confirmation -- pass --yes"
    assert "Add     CodeBucket" in proc.stderr  # the change set was shown first
    assert stack_gone()  # the unexecuted CREATE change set and its empty stack were deleted
    assert (w.dir / "pipectl.toml").read_text() == before


def test_template_and_no_write_change_nothing_on_disk(user):
    w, net, _ = user
    before = (w.dir / "pipectl.toml").read_text()
    proc = w.run("aws", "bootstrap", "--template")
    assert proc.returncode == 0, proc.stderr
    template = json.loads(proc.stdout)
    assert template["Resources"]["TableBucket"]["Type"] == "AWS::S3Tables::TableBucket"
    assert template["Parameters"]["CodeBucketName"]["Default"] == CODE_BUCKET
    assert stack_gone()
    printed = w.run("aws", "bootstrap", "--yes", "--no-write")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    start = lines.index("add these lines to pipectl.toml:")
    assert lines[start + 1 : start + 7] == [
        "[aws]",
        f'code_bucket = "{CODE_BUCKET}"',
        f'table_bucket_arn = "{TABLE_BUCKET_ARN}"',
        f'service_role_arn = "{ROLE_ARN}"',
        f"subnets = {json.dumps(net.subnets)}",
        f'security_groups = ["{net.sg}"]',
    ]
    assert (w.dir / "pipectl.toml").read_text() == before


def test_bootstrap_deploy_plan_and_destroy_leave_nothing(user):
    w, net, _ = user
    boot = w.json("aws", "bootstrap", "--yes", "--vpc-endpoints")
    assert boot["action"] == "created"
    assert sorted(c["resource"] for c in boot["changes"]) == [
        "CodeBucket", "EndpointSecurityGroup", "ExecutionRole", "LogGroup", "S3GatewayEndpoint",
        "S3TablesEndpoint", "TableBucket", "TableNamespace",
    ]
    ec2 = client("ec2")
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["VpcEndpoints"]
    assert sorted((e["ServiceName"], e["VpcEndpointType"]) for e in endpoints) == [
        (f"com.amazonaws.{REGION}.s3", "Gateway"),
        (f"com.amazonaws.{REGION}.s3tables", "Interface"),
    ]

    # With only the region and the MSK ARN from the user, deploy succeeds.
    proc = w.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 0, proc.stderr
    assert "✓ VPC egress: S3, S3 Tables reachable" in proc.stderr
    assert "action       created" in proc.stdout

    # deploy --plan: nothing to do (exit 0); after a settings change, exactly that change (exit 8),
    # and nothing is changed on AWS.
    version = client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"][
        "ApplicationVersionId"
    ]
    same = w.run("aws", "deploy", "--plan", "--skip-build")
    assert same.returncode == 0, same.stderr
    assert "plan           nothing to do" in same.stdout.splitlines()
    assert "changes:" not in same.stdout
    topic = {"PIPECTL_AWS_TOPIC": "orders.created.v2"}
    planned = w.run("aws", "deploy", "--plan", "--skip-build", env=topic)
    assert planned.returncode == 8, planned.stderr
    lines = planned.stdout.splitlines()
    assert lines[lines.index("changes:") + 1 :] == [
        "  properties   PipelineConfig.KAFKA_TOPIC: orders.created.v1 -> orders.created.v2"
    ]
    assert "plan           update" in lines
    assert "restore        restart from the snapshot the update takes" in lines
    doc = w.json("aws", "deploy", "--plan", "--skip-build", code=8, env=topic)
    assert doc["changes"] == [
        {"part": "properties", "key": "PipelineConfig.KAFKA_TOPIC", "old": "orders.created.v1", "new": "orders.created.v2"}
    ]
    assert doc["code"].startswith("unchanged (zip sha256 ")
    drift = w.json("aws", "diff", code=8, env=topic)
    assert drift["changes"] == doc["changes"]
    assert w.json("aws", "diff")["changes"] == []
    after = client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"]
    assert after["ApplicationVersionId"] == version

    # The buckets now hold data: destroy refuses without --delete-data, and changes nothing.
    refused = w.run("aws", "destroy", "--bootstrap", "--yes")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].startswith(f"error: refusing to delete stack {STACK}: s3://{CODE_BUCKET} holds 1 object version(s)")
    assert client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"]
    assert not stack_gone()

    done = w.run("aws", "destroy", "--bootstrap", "--yes", "--delete-data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"application '{APP}' deleted from {REGION}",
        f"data deleted: 1 object version(s) in s3://{CODE_BUCKET}",
        f"stack {STACK} deleted from {REGION}",
    ]
    # Nothing is left: stack, application, buckets, role, log group, endpoints.
    assert stack_gone()
    assert client("kinesisanalyticsv2").list_applications()["ApplicationSummaries"] == []
    assert CODE_BUCKET not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    assert client("s3tables").list_table_buckets()["tableBuckets"] == []
    assert ROLE not in [r["RoleName"] for r in client("iam").list_roles()["Roles"]]
    assert client("logs").describe_log_groups(logGroupNamePrefix="/aws/kinesis-analytics/")["logGroups"] == []
    left = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["VpcEndpoints"]
    assert [e["State"].lower() for e in left] == ["deleted", "deleted"]  # as AWS lists them for a while
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["SecurityGroups"]
    assert sorted(g["GroupName"] for g in groups) == ["default", "flink-app"]  # the endpoints' group is gone
