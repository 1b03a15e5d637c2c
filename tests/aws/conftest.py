"""AWS tests: moto in server mode on 127.0.0.1 (a real HTTP endpoint), extended with the Managed
Flink lifecycle (tests/aws/moto_flink.py), and `pipectl` run as a user runs it (a subprocess
with AWS_ENDPOINT_URL pointing at the emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.aws import moto_cfn, moto_flink, moto_runtime

REGION = "us-east-1"  # moto serves s3tables in us-east-1, us-east-2 and us-west-2 only
ACCOUNT = "123456789012"  # moto's default account
PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]

AWS_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if AWS_TESTS in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.aws)


@pytest.fixture(scope="session")
def moto_url():
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_flink.install()
    moto_cfn.install()
    moto_flink.TRANSITION_S = 0.3
    moto_runtime.TRANSITION_S = 0.3
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """A clean emulator, and this process's boto3 pointed at it. Returns the subprocess env."""
    req = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(req).read()
    moto_runtime.reset()
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    for key in list(os.environ):
        if key.startswith(("AWS_", "PIPECTL_")) or key == "DEPLOYMENT_ENV":
            monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    sub = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPECTL_")) and k != "DEPLOYMENT_ENV"}
    sub.update(env)
    sub["AWS_CONFIG_FILE"] = "/nonexistent/aws-config"
    sub["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/aws-credentials"
    sub["PIPECTL_AWS_POLL_INTERVAL_MS"] = "50"
    sub["PIPECTL_AWS_WAIT_TIMEOUT_S"] = "20"
    sub["PIPECTL_AWS_SETTLE_S"] = "1"  # deploy's settle window (minutes on AWS; the emulator publishes every 0.1 s)
    sub["NO_COLOR"] = "1"
    sub["COLUMNS"] = "200"
    return sub


def client(service: str):
    import boto3

    return boto3.client(service, region_name=REGION)


def write_zip(path: Path, marker: str = "v1") -> Path:
    """A small zip with the layout Managed Flink needs (the checker must accept it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("streaming_job.py", f"# entry point {marker}\n")
        zf.writestr("jobs/__init__.py", "")
        zf.writestr("jobs/order_ingest/__init__.py", "")
        zf.writestr("jobs/order_ingest/job.py", f"# job {marker}\n")
        zf.writestr("lib/pyflink-dependencies.jar", b"PK\x05\x06" + b"\x00" * 18)
    return path


@dataclass
class World:
    """AWS resources a deploy needs, created in the emulator, and a project folder."""

    dir: Path
    env: dict
    bucket: str
    role_arn: str
    table_bucket_arn: str
    msk_arn: str = ""

    @property
    def zip(self) -> Path:
        return self.dir / "target" / "data-pipeline-aws.zip"

    def config(self, **aws) -> None:
        lines = ["[aws]"]
        for key, value in aws.items():
            lines.append(f"{key} = {json.dumps(value)}")
        (self.dir / "pipectl.toml").write_text("\n".join(lines) + "\n")

    def run(self, *args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "-m", "pipectl", *args],
            cwd=self.dir,
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def json(self, *args: str, code: int = 0, env: dict | None = None) -> dict:
        proc = self.run(*args, "--output", "json", env=env)
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        return json.loads(proc.stdout)


@pytest.fixture
def world(aws_env, tmp_path) -> World:
    s3, iam, tables = client("s3"), client("iam"), client("s3tables")
    s3.create_bucket(Bucket="pipectl-code")
    role = iam.create_role(
        RoleName="order-ingest-flink",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "kinesisanalytics.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]
    table_bucket = tables.create_table_bucket(name="orders-tables")["arn"]
    env = {**aws_env, "PIPECTL_PROJECT_DIR": str(tmp_path)}
    w = World(tmp_path, env, "pipectl-code", role["Arn"], table_bucket)
    w.config(
        region=REGION,
        code_bucket=w.bucket,
        service_role_arn=w.role_arn,
        bootstrap_servers="b-1.msk.example:9098,b-2.msk.example:9098",
        table_bucket_arn=w.table_bucket_arn,
    )
    write_zip(w.zip)
    return w


@dataclass
class Net:
    """A VPC in the emulator: two private subnets (one route table) and a security group."""

    vpc: str
    subnets: list[str]
    sg: str
    route_table: str


def make_network(*, nat: bool = False, igw_default: bool = False, s3_gateway: bool = False,
                 s3tables: bool = False, logs: bool = False) -> Net:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName="flink-app", Description="Managed Flink ENIs", VpcId=vpc)["GroupId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    if nat or igw_default:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        if igw_default:
            ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    if nat:
        public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.100.0/24")["Subnet"]["SubnetId"]
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat_id = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    if s3_gateway:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                                RouteTableIds=[rtb])
    for wanted, service in ((s3tables, "s3tables"), (logs, "logs")):
        if wanted:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{service}",
                                    VpcEndpointType="Interface", SubnetIds=subnets, SecurityGroupIds=[sg])
    return Net(vpc, subnets, sg, rtb)
