"""`pipectl aws iam-policy`, `pipectl aws package`, and help for every aws command."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.aws.conftest import REGION, REPO

MSK_ARN = f"arn:aws:kafka:{REGION}:123456789012:cluster/orders-msk/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5"
COMMANDS = ["package", "deploy", "status", "stop", "logs", "destroy", "iam-policy", "bootstrap", "diff"]


def test_iam_policy_names_the_configured_resources(world):
    world.config(
        region=REGION,
        code_bucket=world.bucket,
        service_role_arn=world.role_arn,
        msk_cluster_arn=MSK_ARN,
        table_bucket_arn=world.table_bucket_arn,
    )
    doc = world.json("aws", "iam-policy", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})  # no AWS call
    policy, trust = doc["policy"], doc["trust_policy"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert policy["Version"] == "2012-10-17"
    assert by_sid["ReadApplicationCode"]["Resource"] == ["arn:aws:s3:::pipectl-code/pipectl/*"]
    assert by_sid["ConnectToMsk"]["Resource"] == [MSK_ARN]
    assert by_sid["ReadOrdersTopic"]["Resource"] == [
        f"arn:aws:kafka:{REGION}:123456789012:topic/orders-msk/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5/orders.created.v1"
    ]
    assert by_sid["UseConsumerGroup"]["Resource"] == [
        f"arn:aws:kafka:{REGION}:123456789012:group/orders-msk/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5/pipectl-order-ingest"
    ]
    assert by_sid["UseTableBucket"]["Resource"] == [world.table_bucket_arn]
    # As AWS's example: the table-level actions on the bucket ARN too, not only on its tables.
    assert by_sid["ReadWriteTables"]["Resource"] == [world.table_bucket_arn, f"{world.table_bucket_arn}/table/*"]
    assert by_sid["WriteLogs"]["Resource"] == [
        f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/kinesis-analytics/order-ingest:log-stream:kinesis-analytics-log-stream"
    ]
    # deploy joins the MSK cluster's VPC (subnets taken from the cluster): the ENI permissions are there,
    # but with no aws.subnets they name every subnet, and the output says so (never silently).
    assert by_sid["CreateEni"]["Resource"] == [
        f"arn:aws:ec2:{REGION}:123456789012:network-interface/*",
        f"arn:aws:ec2:{REGION}:123456789012:subnet/*",
        f"arn:aws:ec2:{REGION}:123456789012:security-group/*",
    ]
    assert by_sid["ManageEni"]["Resource"] == [f"arn:aws:ec2:{REGION}:123456789012:network-interface/*"]
    assert [s["Sid"] for s in policy["Statement"] if "*" in s["Resource"]] == ["DescribeVpc"]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "kinesisanalytics.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnEquals": {"aws:SourceArn": f"arn:aws:kinesisanalytics:{REGION}:123456789012:application/order-ingest"},
            },
        }
    ]
    assert doc["notes"] == [
        "aws.subnets is not set: the ENI permissions name every subnet and network interface of the account in "
        "this region; set aws.subnets and aws.security_groups (`pipectl aws bootstrap` sets them from the MSK "
        "cluster) to limit them to the application's subnets",
        "ec2:Describe* cannot be scoped to resources, so it names '*'",
    ]
    # One raw document, usable as `--policy-document file://...`
    raw = world.run("aws", "iam-policy", "--document", "policy")
    assert raw.returncode == 0
    assert json.loads(raw.stdout) == policy
    assert json.loads(world.run("aws", "iam-policy", "--document", "trust").stdout) == trust
    text = world.run("aws", "iam-policy").stdout
    assert text.startswith(f"# permissions policy for the execution role of 'order-ingest' ({REGION})\n")


def test_iam_policy_with_a_vpc_scopes_what_ec2_allows(world):
    world.config(
        region=REGION,
        code_bucket=world.bucket,
        service_role_arn=world.role_arn,
        bootstrap_servers="b-1.msk.example:9098",
        table_bucket_arn=world.table_bucket_arn,
        subnets=["subnet-0123456789abcdef0"],
        security_groups=["sg-0123456789abcdef0"],
    )
    doc = world.json("aws", "iam-policy")
    by_sid = {s["Sid"]: s for s in doc["policy"]["Statement"]}
    subnet = f"arn:aws:ec2:{REGION}:123456789012:subnet/subnet-0123456789abcdef0"
    eni = f"arn:aws:ec2:{REGION}:123456789012:network-interface/*"
    # AWS's documented policy grants the ENI calls on "*"; here they are limited to ENIs in the
    # application's subnets (the ec2:Subnet condition key of the network-interface resource).
    assert by_sid["CreateEniInSubnets"] == {
        "Sid": "CreateEniInSubnets",
        "Effect": "Allow",
        "Action": ["ec2:CreateNetworkInterface"],
        "Resource": [eni],
        "Condition": {"ArnEquals": {"ec2:Subnet": [subnet]}},
    }
    assert by_sid["CreateEniWithSubnetsAndGroups"]["Resource"] == [
        subnet,
        f"arn:aws:ec2:{REGION}:123456789012:security-group/sg-0123456789abcdef0",
    ]
    assert by_sid["ManageEniInSubnets"] == {
        "Sid": "ManageEniInSubnets",
        "Effect": "Allow",
        "Action": ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
        "Resource": [eni],
        "Condition": {"ArnEquals": {"ec2:Subnet": [subnet]}},
    }
    assert by_sid["DescribeVpc"]["Resource"] == ["*"]
    assert [s["Sid"] for s in doc["policy"]["Statement"] if "*" in s["Resource"]] == ["DescribeVpc"]
    assert doc["notes"] == [
        "aws.msk_cluster_arn is not set: Kafka permissions name any cluster; set it to scope them",
        "ec2:Describe* cannot be scoped to resources, so it names '*'",
    ]


def test_every_aws_command_has_help():
    from typer.testing import CliRunner

    from pipectl.cli.main import app

    runner = CliRunner()
    top = runner.invoke(app, ["aws", "--help"])
    assert top.exit_code == 0
    for command in COMMANDS:
        assert command in top.output
        result = runner.invoke(app, ["aws", command, "--help"])
        assert result.exit_code == 0, command
        assert f"Usage: pipectl aws {command}" in result.output.replace("root ", "pipectl "), result.output


def _fake_mvn(bin_dir, script: str) -> dict:
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text("#!/bin/sh\n" + script)
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_package_reports_maven_failures_with_its_last_lines(world, tmp_path):
    (world.dir / "pom.xml").write_text("<project/>\n")
    env = _fake_mvn(tmp_path / "bin", "echo '[ERROR] Failed to execute goal maven-shade-plugin'\necho '[ERROR] boom'\nexit 1\n")
    proc = world.run("aws", "package", env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "… building the job artifact with Maven (mvn -q package)",
        f"error: Maven build failed (exit 1) -- fix the build, or run `mvn -f {world.dir / 'pom.xml'} package` to see everything",
        "last log lines:",
        "  | [ERROR] Failed to execute goal maven-shade-plugin",
        "  | [ERROR] boom",
    ]


def test_package_builds_and_checks_the_zip(world, tmp_path):
    (world.dir / "pom.xml").write_text("<project/>\n")
    world.zip.unlink()
    # A stand-in Maven that writes a zip with the right layout, so the check runs on fresh output.
    builder = tmp_path / "build_zip.py"
    builder.write_text(
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\nfrom tests.aws.conftest import write_zip\n"
        "write_zip(Path('target/data-pipeline-aws.zip'))\n" % str(REPO)
    )
    env = _fake_mvn(tmp_path / "bin", f"{sys.executable} {builder}\n")
    doc = world.json("aws", "package", env=env)
    assert doc["path"] == str(world.zip)
    assert doc["built"] is True
    assert doc["entries"] == 5
    from pipectl.build import sha256_of

    assert doc["sha256"] == sha256_of(world.zip)


@pytest.mark.skipif(
    shutil.which("mvn") is None or not (REPO / "pom.xml").is_file() or os.environ.get("PIPECTL_SKIP_MAVEN") == "1",
    reason="needs Maven and the project's pom.xml",
)
def test_package_with_real_maven(aws_env):
    """The real build: `mvn -q package` of this project produces a zip the layout check accepts."""
    env = {**aws_env, "PIPECTL_PROJECT_DIR": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pipectl", "aws", "package", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["path"] == str(REPO / "target" / "data-pipeline-aws.zip")
    assert doc["built"] is True
