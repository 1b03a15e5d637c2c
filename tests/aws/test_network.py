"""The network deploy needs: the VPC (given, or the MSK cluster's), refused when it cannot work,
egress to S3 / S3 Tables / CloudWatch Logs, and VPC changes in place."""

from __future__ import annotations

import json

from tests.aws import moto_runtime
from tests.aws.conftest import REGION, client, make_network

APP = "order-ingest"
PRIVATE_BROKERS = "b-1.orders-msk.abc123.c2.kafka.us-east-1.amazonaws.com:9098"


def apps() -> list[str]:
    return [a["ApplicationName"] for a in client("kinesisanalyticsv2").list_applications()["ApplicationSummaries"]]


def describe() -> dict:
    return client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"]


def vpc_env(net) -> dict:
    return {"PIPECTL_AWS_SUBNETS": ",".join(net.subnets), "PIPECTL_AWS_SECURITY_GROUPS": net.sg}


def msk_cluster(net, name: str = "orders-msk") -> str:
    return client("kafka").create_cluster(
        ClusterName=name,
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": net.subnets, "SecurityGroups": [net.sg]},
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=2,
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )["ClusterArn"]


def test_missing_egress_is_named_before_any_application_exists(world):
    net = make_network()  # private subnets: no NAT gateway, no endpoints
    proc = world.run("aws", "deploy", "--skip-build", env=vpc_env(net))
    assert proc.returncode == 2, proc.stderr
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    subnets = ", ".join(net.subnets)
    assert error == (
        "error: the application's subnets cannot reach what the job needs: "
        f"S3: neither a NAT gateway nor an S3 gateway endpoint serves {subnets} (Iceberg data and metadata files); "
        "S3 Tables: no S3 Tables interface endpoint and no NAT gateway (the catalog's table operations) -- "
        f"aws ec2 create-vpc-endpoint --vpc-id {net.vpc} --vpc-endpoint-type Gateway "
        f"--service-name com.amazonaws.{REGION}.s3 --route-table-ids {net.route_table} ; "
        f"aws ec2 create-vpc-endpoint --vpc-id {net.vpc} --vpc-endpoint-type Interface "
        f"--service-name com.amazonaws.{REGION}.s3tables --subnet-ids {' '.join(net.subnets)} "
        f"--security-group-ids {net.sg} --private-dns-enabled (or a NAT gateway on the subnets' default route)"
    )
    assert apps() == []
    assert "Contents" not in client("s3").list_objects_v2(Bucket=world.bucket)  # nothing uploaded either


def test_an_internet_gateway_route_is_not_egress(world):
    net = make_network(igw_default=True, s3_gateway=True)
    proc = world.run("aws", "deploy", "--skip-build", env=vpc_env(net))
    assert proc.returncode == 2
    assert "S3 Tables: no S3 Tables interface endpoint and no NAT gateway" in proc.stderr
    assert "S3: neither" not in proc.stderr  # the gateway endpoint serves S3
    assert apps() == []
    doctor = world.json("doctor", "--env", "aws", code=3, env=vpc_env(net))
    checks = {c["name"]: c for c in doctor["checks"]}
    assert checks["egress: NAT gateway"]["status"] == "warn"
    assert ("route 0.0.0.0/0 to an internet gateway, which gives the application no internet access"
            in checks["egress: NAT gateway"]["detail"])
    assert checks["egress: S3"]["status"] == "ok"
    assert checks["egress: S3 Tables"]["status"] == "missing"
    assert checks["egress: S3 Tables"]["fix"].startswith(
        f"aws ec2 create-vpc-endpoint --vpc-id {net.vpc} --vpc-endpoint-type Interface --service-name com.amazonaws.{REGION}.s3tables")


def test_endpoints_without_nat_are_enough(world):
    net = make_network(s3_gateway=True, s3tables=True)
    proc = world.run("aws", "deploy", "--skip-build", env=vpc_env(net))
    assert proc.returncode == 0, proc.stderr
    assert "✓ VPC egress: S3, S3 Tables reachable" in proc.stderr
    warning = next(line for line in proc.stderr.splitlines() if line.startswith("warning: egress: CloudWatch Logs"))
    assert warning.endswith(f"--service-name com.amazonaws.{REGION}.logs --subnet-ids {' '.join(net.subnets)} "
                            f"--security-group-ids {net.sg} --private-dns-enabled")


def test_doctor_shows_the_same_lines(world):
    net = make_network()
    doc = world.json("doctor", "--env", "aws", code=3, env=vpc_env(net))
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["vpc"]["status"] == "ok"
    assert checks["egress: S3"]["status"] == "missing"
    assert checks["egress: S3"]["detail"] == (
        f"neither a NAT gateway nor an S3 gateway endpoint serves {', '.join(net.subnets)} (Iceberg data and metadata files)")
    assert checks["egress: S3"]["fix"] == (
        f"aws ec2 create-vpc-endpoint --vpc-id {net.vpc} --vpc-endpoint-type Gateway "
        f"--service-name com.amazonaws.{REGION}.s3 --route-table-ids {net.route_table}")
    assert checks["egress: CloudWatch Logs"]["status"] == "warn"
    good = make_network(nat=True)
    doc = world.json("doctor", "--env", "aws", env=vpc_env(good))
    assert all(doc_check["status"] == "ok" for doc_check in doc["checks"] if doc_check["name"].startswith("egress"))


def test_private_brokers_without_a_vpc_are_refused(world):
    proc = world.run("aws", "deploy", "--skip-build", env={"PIPECTL_AWS_BOOTSTRAP_SERVERS": PRIVATE_BROKERS})
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"error: no VPC is set, but the brokers are MSK private endpoints ({PRIVATE_BROKERS}): an application "
        "outside the cluster's VPC times out on every connection -- set aws.msk_cluster_arn (deploy then takes the "
        "cluster's subnets and security groups), or aws.subnets and aws.security_groups"
    )
    assert apps() == []


def test_an_msk_cluster_that_is_not_active_is_refused(world):
    net = make_network(nat=True)
    arn = msk_cluster(net)
    moto_runtime.set_cluster_state(arn, "FAILED")
    world.config(region=REGION, code_bucket=world.bucket, service_role_arn=world.role_arn, msk_cluster_arn=arn,
                 table_bucket_arn=world.table_bucket_arn)
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "error: MSK cluster orders-msk is FAILED, not ACTIVE -- wait until `aws kafka describe-cluster-v2 "
        "--cluster-arn ARN` says ACTIVE (a FAILED cluster must be recreated)"
    )
    assert apps() == []
    doctor = world.json("doctor", "--env", "aws", code=3)
    [check] = [c for c in doctor["checks"] if c["name"] == "MSK cluster orders-msk"]
    assert (check["status"], check["detail"]) == ("missing", "state FAILED; deploy needs ACTIVE")
    moto_runtime.set_cluster_state(arn, "ACTIVE")
    doctor = world.json("doctor", "--env", "aws")
    [check] = [c for c in doctor["checks"] if c["name"] == "MSK cluster orders-msk"]
    assert (check["status"], check["detail"]) == ("ok", "state ACTIVE")


def test_a_vpc_is_added_and_removed_in_place(world):
    first = world.json("aws", "deploy", "--skip-build")  # no VPC (the example brokers are not MSK hosts)
    assert first["action"] == "created"
    created = describe()["CreateTimestamp"]
    net = make_network(nat=True)
    added = world.json("aws", "deploy", "--skip-build", env=vpc_env(net))
    assert (added["action"], added["changes"], added["status"]) == ("updated", ["vpc"], "RUNNING")
    d = describe()
    assert d["CreateTimestamp"] == created  # the same application: not destroyed, snapshots kept
    [vpc] = d["ApplicationConfigurationDescription"]["VpcConfigurationDescriptions"]
    assert (vpc["SubnetIds"], vpc["SecurityGroupIds"]) == (net.subnets, [net.sg])
    # It restarted from the snapshot the change took, not from how it was first started (no snapshot then).
    run = d["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert run["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}
    snaps = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    assert added["restored_from"] == snaps[-1]["SnapshotName"]

    removed = world.json("aws", "deploy", "--skip-build")
    assert (removed["action"], removed["changes"]) == ("updated", ["vpc"])
    d = describe()
    assert d["CreateTimestamp"] == created
    assert "VpcConfigurationDescriptions" not in d["ApplicationConfigurationDescription"]
    assert json.loads(world.run("aws", "deploy", "--skip-build", "--output", "json").stdout)["action"] == "unchanged"
