"""`pipectl aws deploy` against moto in server mode (extended with the Managed Flink lifecycle)."""

from __future__ import annotations

import json
import re
import threading
import time

from tests.aws.conftest import REGION, client, make_network, write_zip

APP = "order-ingest"
BROKERS = "b-1.msk.example:9098,b-2.msk.example:9098"


def describe() -> dict:
    return client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"]


def expected_groups(world, brokers: str = BROKERS) -> list[dict]:
    return [
        {
            "PropertyGroupId": "kinesis.analytics.flink.run.options",
            "PropertyMap": {"python": "streaming_job.py", "jarfile": "lib/pyflink-dependencies.jar"},
        },
        {
            "PropertyGroupId": "PipelineConfig",
            "PropertyMap": {
                "DEPLOYMENT_ENV": "aws",
                "KAFKA_BOOTSTRAP_SERVERS": brokers,
                "KAFKA_TOPIC": "orders.created.v1",
                "KAFKA_GROUP_ID": "pipectl-order-ingest",
                "S3_TABLES_BUCKET_ARN": world.table_bucket_arn,
                "ICEBERG_NAMESPACE": "analytics",
                "ICEBERG_TABLE": "orders",
                "ICEBERG_REJECTED_TABLE": "orders_rejected",
                "AWS_REGION": REGION,
            },
        },
    ]


def code_key(world) -> str:
    from pipectl.build import sha256_of

    return f"pipectl/data-pipeline-aws-{sha256_of(world.zip)[:16]}.zip"


def test_first_deploy_uploads_creates_and_runs(world):
    key = code_key(world)
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"job          running: job order_ingest up \d+s, 0 restarts", lines[6]), lines[6]
    assert lines[:6] + lines[7:] == [
        f"application  {APP}",
        f"region       {REGION}",
        "action       created",
        f"code         s3://pipectl-code/{key}",
        "started      yes",
        "status       RUNNING (version 1)",
        "commits      no numRecordsIn metric from the application yet",
        "vpc          none",
        f"logs         /aws/kinesis-analytics/{APP}",
        f"console      https://{REGION}.console.aws.amazon.com/flink/home?region={REGION}#/application/{APP}",
        "next: pipectl aws status | pipectl aws logs | pipectl --env aws verify",
    ]
    err = proc.stderr.splitlines()
    assert re.fullmatch(r"✓ job order_ingest is running: job order_ingest up \d+s, 0 restarts", err[-1]), err[-1]
    assert err[:-1] == [
        f"… deploying '{APP}' to Managed Flink in {REGION} (runtime FLINK-1_20)",
        f"✓ artifact data-pipeline-aws.zip ({world.zip.stat().st_size:,} bytes, layout ok)",
        "✓ code bucket, execution role and table bucket found",
        f"… uploading to s3://pipectl-code/{key}",
        f"✓ uploaded s3://pipectl-code/{key} ({world.zip.stat().st_size:,} bytes, sha256 checked)",
        # the test zip's job.py is a stub: no graph to record (tests/aws/test_upgrade.py records real ones)
        "warning: the release's operator ids are not recorded (the release's jobs/order_ingest/job.py has no "
        "build_statement_set, so its job graph cannot be built): the next deploy cannot check its state",
        f"✓ log group /aws/kinesis-analytics/{APP} ready",
        f"✓ created application '{APP}' (version 1)",
        f"… starting '{APP}' without a snapshot",
        f"… waiting for '{APP}' to be RUNNING",
        f"✓ application '{APP}' is RUNNING (version 1)",
        # deploy sets S3 Tables' snapshot management; moto has no maintenance API, and says so
        *(f"warning: analytics.{t}: snapshot management not set: the S3 Tables endpoint does not serve the "
          "maintenance API (HTTP 404; the moto emulator has none)" for t in ("orders", "orders_rejected")),
        "… watching job order_ingest for 1s (uptime, restarts, logs)",
    ]

    # The object is in S3 under its content-hash key, byte for byte.
    body = client("s3").get_object(Bucket="pipectl-code", Key=key)["Body"].read()
    assert body == world.zip.read_bytes()

    d = describe()
    assert d["ApplicationStatus"] == "RUNNING"
    assert d["RuntimeEnvironment"] == "FLINK-1_20"
    assert d["ServiceExecutionRole"] == world.role_arn
    cfg = d["ApplicationConfigurationDescription"]
    assert cfg["ApplicationCodeConfigurationDescription"]["CodeContentType"] == "ZIPFILE"
    assert cfg["ApplicationCodeConfigurationDescription"]["CodeContentDescription"][
        "S3ApplicationCodeLocationDescription"
    ] == {"BucketARN": "arn:aws:s3:::pipectl-code", "FileKey": key}
    assert cfg["EnvironmentPropertyDescriptions"]["PropertyGroupDescriptions"] == expected_groups(world)
    flink = cfg["FlinkApplicationConfigurationDescription"]
    assert flink["CheckpointConfigurationDescription"] == {
        "ConfigurationType": "CUSTOM",
        "CheckpointingEnabled": True,
        "CheckpointInterval": 60000,
        "MinPauseBetweenCheckpoints": 5000,
    }
    assert flink["ParallelismConfigurationDescription"] == {
        "ConfigurationType": "CUSTOM",
        "Parallelism": 1,
        "ParallelismPerKPU": 1,
        "AutoScalingEnabled": False,
        "CurrentParallelism": 1,
    }
    assert flink["MonitoringConfigurationDescription"] == {
        "ConfigurationType": "CUSTOM",
        "MetricsLevel": "APPLICATION",
        "LogLevel": "INFO",
    }
    assert cfg["ApplicationSnapshotConfigurationDescription"] == {"SnapshotsEnabled": True}
    assert "VpcConfigurationDescriptions" not in cfg
    assert [o["LogStreamARN"] for o in d["CloudWatchLoggingOptionDescriptions"]] == [
        f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/kinesis-analytics/{APP}:log-stream:kinesis-analytics-log-stream"
    ]
    streams = client("logs").describe_log_streams(logGroupName=f"/aws/kinesis-analytics/{APP}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["kinesis-analytics-log-stream"]


def test_unchanged_code_is_a_noop(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    before = describe()
    proc = world.run("aws", "deploy", "--skip-build", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["action"] == "unchanged"
    assert result["changes"] == []
    assert result["uploaded"] is False
    assert result["started"] is False
    assert result["status"] == "RUNNING"
    assert result["version"] == 1
    assert f"✓ s3://pipectl-code/{code_key(world)} is already uploaded (sha256 matches); upload skipped" in proc.stderr
    assert f"✓ no changes: application '{APP}' already has this code and configuration" in proc.stderr
    after = describe()
    assert after["ApplicationVersionId"] == before["ApplicationVersionId"] == 1
    assert after["ConditionalToken"] == before["ConditionalToken"]
    assert len(client("s3").list_objects_v2(Bucket="pipectl-code")["Contents"]) == 1


def test_changed_zip_updates_the_application(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    old_key = code_key(world)
    write_zip(world.zip, marker="v2")
    new_key = code_key(world)
    assert new_key != old_key
    result = world.json("aws", "deploy", "--skip-build")
    assert result["action"] == "updated"
    assert result["changes"] == ["code"]
    assert result["uploaded"] is True
    assert result["started"] is False  # a RUNNING app restarts with the new code by itself
    assert result["status"] == "RUNNING"
    assert result["version"] == 2
    d = describe()
    loc = d["ApplicationConfigurationDescription"]["ApplicationCodeConfigurationDescription"]["CodeContentDescription"]
    assert loc["S3ApplicationCodeLocationDescription"]["FileKey"] == new_key
    assert d["ApplicationVersionId"] == 2
    keys = sorted(o["Key"] for o in client("s3").list_objects_v2(Bucket="pipectl-code")["Contents"])
    assert keys == sorted([old_key, new_key])


def test_changed_settings_update_properties_and_parallelism(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    proc = world.run(
        "aws", "deploy", "--skip-build", "--parallelism", "4", env={"PIPECTL_AWS_TOPIC": "orders.created.v2"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "action       updated (properties, parallelism)" in proc.stdout
    assert f"✓ updated application '{APP}': properties, parallelism (version 2)" in proc.stderr
    d = describe()
    groups = d["ApplicationConfigurationDescription"]["EnvironmentPropertyDescriptions"]["PropertyGroupDescriptions"]
    assert groups[1]["PropertyMap"]["KAFKA_TOPIC"] == "orders.created.v2"
    par = d["ApplicationConfigurationDescription"]["FlinkApplicationConfigurationDescription"][
        "ParallelismConfigurationDescription"
    ]
    assert par["Parallelism"] == 4


def test_deploy_starts_a_stopped_app_from_its_latest_snapshot(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    stopped = world.json("aws", "stop")
    snapshot = stopped["snapshot"]
    assert snapshot
    result = world.json("aws", "deploy", "--skip-build")
    assert result["action"] == "unchanged"
    assert result["started"] is True
    assert result["restored_from"] == snapshot
    assert result["status"] == "RUNNING"
    run = describe()["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert run["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}


def test_deploy_resolves_msk_bootstrap_servers_and_vpc(world):
    net = make_network(nat=True)
    kafka = client("kafka")
    cluster = kafka.create_cluster(
        ClusterName="orders-msk",
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": net.subnets, "SecurityGroups": [net.sg]},
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=2,
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )
    arn = cluster["ClusterArn"]
    world.config(
        region=REGION,
        code_bucket=world.bucket,
        service_role_arn=world.role_arn,
        msk_cluster_arn=arn,
        table_bucket_arn=world.table_bucket_arn,
    )
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 0, proc.stderr
    brokers = kafka.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringSaslIam"]
    assert brokers.endswith(":9098")
    groups = describe()["ApplicationConfigurationDescription"]["EnvironmentPropertyDescriptions"]
    assert groups["PropertyGroupDescriptions"] == expected_groups(world, brokers)
    # No subnets were given: the application joins the cluster's VPC.
    assert f"✓ VPC from MSK cluster orders-msk: subnets {', '.join(net.subnets)}; security groups {net.sg}" in proc.stderr
    assert "✓ VPC egress: NAT gateway, S3, S3 Tables, CloudWatch Logs reachable" in proc.stderr
    assert "vpc          MSK cluster orders-msk" in proc.stdout.splitlines()
    [vpc] = describe()["ApplicationConfigurationDescription"]["VpcConfigurationDescriptions"]
    assert (vpc["SubnetIds"], vpc["SecurityGroupIds"]) == (net.subnets, [net.sg])


def test_python_driver_errors_fail_the_deploy(world):
    logs = client("logs")
    group = f"/aws/kinesis-analytics/{APP}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="kinesis-analytics-log-stream")
    event = {
        "logger": "org.apache.flink.client.python.PythonDriver",
        "messageType": "ERROR",
        "message": "ModuleNotFoundError: No module named 'jobs'",
    }
    # The service writes the driver's error after the application reports RUNNING (the driver runs
    # in the started job manager): the settle window must still catch it.
    def service() -> None:
        kda = client("kinesisanalyticsv2")
        for _ in range(600):
            try:
                if kda.describe_application(ApplicationName=APP)["ApplicationDetail"]["ApplicationStatus"] == "RUNNING":
                    break
            except kda.exceptions.ResourceNotFoundException:
                pass
            time.sleep(0.05)
        logs.put_log_events(
            logGroupName=group,
            logStreamName="kinesis-analytics-log-stream",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(event)}],
        )

    writer = threading.Thread(target=service, daemon=True)
    writer.start()
    proc = world.run("aws", "deploy", "--skip-build", "--settle", "10")
    writer.join(timeout=5)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.splitlines()
    assert (
        f"error: application '{APP}' is RUNNING but its Python driver failed -- fix the job and deploy again; "
        "`pipectl aws logs` shows the rest, `pipectl aws stop` stops the app"
    ) in lines
    assert lines[-2] == "last log lines:"
    assert lines[-1].endswith(" ERROR PythonDriver: ModuleNotFoundError: No module named 'jobs'")
    assert proc.stdout == ""


def test_a_start_the_service_refuses_is_reported(world):
    iam = client("iam")
    role = iam.create_role(
        RoleName="wrong-trust",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]
    proc = world.run("aws", "deploy", "--skip-build", env={"PIPECTL_AWS_SERVICE_ROLE_ARN": role["Arn"]})
    assert proc.returncode == 4
    assert (
        f"error: application '{APP}' did not start: it went back to READY -- read the reason in "
        "`pipectl aws logs` (often the execution role or the code location)"
    ) in proc.stderr.splitlines()
    assert describe()["ApplicationStatus"] == "READY"


def test_json_mode_prints_one_document(world):
    proc = world.run("aws", "deploy", "--skip-build", "--output", "json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert sorted(doc) == sorted(
        [
            "application", "region", "arn", "action", "changes", "code", "code_version", "uploaded", "started",
            "restored_from", "status", "version", "vpc", "health", "commits", "log_group", "console_url", "upgrade_check",
            "read_from",
        ]
    )
    assert doc["arn"] == f"arn:aws:kinesisanalytics:{REGION}:123456789012:application/{APP}"


def test_vpc_settings_are_applied_and_stable(world):
    net = make_network(s3_gateway=True, s3tables=True, logs=True)
    env = {"PIPECTL_AWS_SUBNETS": ",".join(net.subnets), "PIPECTL_AWS_SECURITY_GROUPS": net.sg}
    proc = world.run("aws", "deploy", "--skip-build", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "✓ VPC egress: S3, S3 Tables, CloudWatch Logs reachable" in proc.stderr
    [vpc] = describe()["ApplicationConfigurationDescription"]["VpcConfigurationDescriptions"]
    assert vpc["SubnetIds"] == net.subnets
    assert vpc["SecurityGroupIds"] == [net.sg]
    again = world.json("aws", "deploy", "--skip-build", env=env)
    assert again["action"] == "unchanged"


def test_other_bytes_under_the_code_key_are_replaced(world):
    """The key names the zip's hash, but only the stored bytes' SHA-256 says what S3 holds."""
    key = code_key(world)
    client("s3").put_object(Bucket="pipectl-code", Key=key, Body=b"not the zip")
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 0, proc.stderr
    from pipectl.build import sha256_of

    import hashlib

    other = hashlib.sha256(b"not the zip").hexdigest()
    assert (
        f"warning: s3://pipectl-code/{key} holds other bytes (sha256 {other[:16]}…, the zip's is "
        f"{sha256_of(world.zip)[:16]}…); uploading the zip again"
    ) in proc.stderr
    assert client("s3").get_object(Bucket="pipectl-code", Key=key)["Body"].read() == world.zip.read_bytes()


def test_a_versioned_bucket_pins_the_object_version(world):
    s3 = client("s3")
    s3.put_bucket_versioning(Bucket="pipectl-code", VersioningConfiguration={"Status": "Enabled"})
    key = code_key(world)
    result = world.json("aws", "deploy", "--skip-build")
    version = s3.head_object(Bucket="pipectl-code", Key=key)["VersionId"]
    assert result["code_version"] == version
    loc = describe()["ApplicationConfigurationDescription"]["ApplicationCodeConfigurationDescription"][
        "CodeContentDescription"
    ]["S3ApplicationCodeLocationDescription"]
    assert loc == {"BucketARN": "arn:aws:s3:::pipectl-code", "FileKey": key, "ObjectVersion": version}
    # Someone overwrites the key: the next deploy re-uploads the zip and pins the new version.
    s3.put_object(Bucket="pipectl-code", Key=key, Body=b"tampered")
    again = world.json("aws", "deploy", "--skip-build")
    newest = s3.head_object(Bucket="pipectl-code", Key=key)["VersionId"]
    assert newest not in (version,)
    assert again["uploaded"] is True
    assert again["action"] == "updated" and again["changes"] == ["code"]
    assert again["code_version"] == newest
    assert s3.get_object(Bucket="pipectl-code", Key=key, VersionId=newest)["Body"].read() == world.zip.read_bytes()
