"""RUNNING is not healthy: deploy's settle window and `aws status` read the job's metrics and log
as the service emits them (tests/aws/moto_runtime.py puts them into moto's CloudWatch and Logs)."""

from __future__ import annotations

import json

import pytest

from tests.aws import moto_runtime
from tests.aws.conftest import client

APP = "order-ingest"
SETTLE = {"PIPECTL_AWS_SETTLE_S": "30"}  # long enough that only an early verdict explains the exit

JAVA17_CLASS = (
    "org.apache.kafka.common.KafkaException: Failed to construct kafka consumer\n"
    "\tat org.apache.kafka.clients.consumer.KafkaConsumer.<init>(KafkaConsumer.java:830)\n"
    "Caused by: org.apache.kafka.common.KafkaException: java.lang.UnsupportedClassVersionError: "
    "software/amazon/msk/auth/iam/IAMClientCallbackHandler has been compiled by a more recent version of the "
    "Java Runtime (class file version 61.0), this version of the Java Runtime only recognizes class file "
    "versions up to 55.0\n"
    "\tat org.apache.kafka.common.security.authenticator.LoginManager.<init>(LoginManager.java:76)\n"
    "Caused by: java.lang.UnsupportedClassVersionError: software/amazon/msk/auth/iam/IAMClientCallbackHandler "
    "has been compiled by a more recent version of the Java Runtime (class file version 61.0), this version of "
    "the Java Runtime only recognizes class file versions up to 55.0\n"
    "\tat java.base/java.lang.ClassLoader.defineClass1(Native Method)\n"
)
BROKER_TIMEOUT = (
    "org.apache.flink.util.FlinkRuntimeException: Failed to list subscribed topic partitions\n"
    "\tat org.apache.flink.connector.kafka.source.enumerator.KafkaSourceEnumerator.checkPartitionChanges(KafkaSourceEnumerator.java:234)\n"
    "Caused by: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. "
    "Call: describeTopics\n"
)
S3TABLES_DENIED = (
    "org.apache.flink.table.api.TableException: Could not execute CreateTable in path `lakehouse`.`analytics`.`orders`\n"
    "Caused by: software.amazon.awssdk.services.s3tables.model.AccessDeniedException: User: "
    "arn:aws:sts::123456789012:assumed-role/order-ingest-flink/kinesis-analytics is not authorized to perform: "
    "s3tables:CreateTable on resource: arn:aws:s3tables:us-east-1:123456789012:bucket/orders-tables "
    "(Service: S3Tables, Status Code: 403)\n"
)


@pytest.mark.parametrize(
    ("trace", "exception", "fix"),
    [
        (
            JAVA17_CLASS,
            "java.lang.UnsupportedClassVersionError: software/amazon/msk/auth/iam/IAMClientCallbackHandler has been "
            "compiled by a more recent version of the Java Runtime (class file version 61.0), this version of the "
            "Java Runtime only recognizes class file versions up to 55.0",
            "software.amazon.msk.auth.iam.IAMClientCallbackHandler was compiled for Java 17 (class file version 61); "
            "the service runs Java 11: build every class for Java 11 (aws-msk-iam-auth 2.3.4 or older) and deploy again",
        ),
        (
            BROKER_TIMEOUT,
            "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. Call: describeTopics",
            "the Kafka brokers cannot be reached: run the application in the MSK cluster's VPC (aws.subnets and "
            "aws.security_groups, or aws.msk_cluster_arn to derive them) and let its security group reach port 9098",
        ),
        (
            S3TABLES_DENIED,
            "software.amazon.awssdk.services.s3tables.model.AccessDeniedException: User: "
            "arn:aws:sts::123456789012:assumed-role/order-ingest-flink/kinesis-analytics is not authorized to perform: "
            "s3tables:CreateTable on resource: arn:aws:s3tables:us-east-1:123456789012:bucket/orders-tables "
            "(Service: S3Tables, Status Code: 403)",
            "the execution role may not use the table bucket: apply the policy from `pipectl aws iam-policy` "
            "(s3tables actions on the bucket ARN and on bucket/table/*)",
        ),
    ],
    ids=["java17-class", "broker-timeout", "s3tables-denied"],
)
def test_a_restart_loop_fails_the_deploy_with_the_root_exception(world, trace, exception, fix):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(exception=trace)
    proc = world.run("aws", "deploy", "--skip-build", env=SETTLE)
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    head, _, hint = errors[0].partition(" -- ")
    assert head.startswith(f"error: application '{APP}' is RUNNING but job order_ingest is restarting in a loop (2 full restarts in ")
    assert head.endswith(f"): {exception}")
    assert hint == fix
    # The job's state changes from the log follow, as the service wrote them.
    tail = proc.stderr.split("last log lines:\n", 1)[1].splitlines()
    assert [line.removeprefix("  | ").split(" ", 1)[1] for line in tail[:3]] == [
        "order_ingest: CREATED -> RUNNING", "order_ingest: RUNNING -> RESTARTING", "order_ingest: RESTARTING -> RUNNING",
    ]
    # The application itself is RUNNING all along: only the job tells the truth.
    kda = client("kinesisanalyticsv2")
    assert kda.describe_application(ApplicationName=APP)["ApplicationDetail"]["ApplicationStatus"] == "RUNNING"


def test_status_shows_the_same_health(world):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(exception=BROKER_TIMEOUT)
    assert world.run("aws", "deploy", "--skip-build", env=SETTLE).returncode == 4
    proc = world.run("aws", "status", "--output", "json")
    assert proc.returncode == 4, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "RUNNING"
    health = doc["health"]
    assert health["verdict"] == "restarting"
    assert health["restarts_in_window"] >= 2
    assert health["cause"]["exception"].startswith("org.apache.kafka.common.errors.TimeoutException: Timed out waiting")
    assert health["cause"]["fix"].startswith("the Kafka brokers cannot be reached")
    assert any(c.endswith("order_ingest: RUNNING -> RESTARTING") for c in health["state_changes"])
    text = world.run("aws", "status")
    assert text.returncode == 4
    [job] = [line for line in text.stdout.splitlines() if line.startswith("job ")]
    assert job.startswith("job            restarting: ")
    assert "(org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. Call: " \
           "describeTopics -- the Kafka brokers cannot be reached" in job


def test_a_healthy_job_passes_the_settle_window(world):
    proc = world.run("aws", "deploy", "--skip-build", "--settle", "2", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["health"]["verdict"] == "running"
    assert doc["health"]["restarts"] == 0
    assert doc["health"]["uptime_s"] >= 1.5  # the job stayed up through the whole 2 s window
    assert "… watching job order_ingest for 2s (uptime, restarts, logs)" in proc.stderr


def test_settle_zero_says_health_was_not_checked(world):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(exception=BROKER_TIMEOUT)
    proc = world.run("aws", "deploy", "--skip-build", "--settle", "0", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["health"]["verdict"], doc["health"]["reason"], doc["health"]["uptime_s"]) == ("unknown", "not checked", None)
    assert doc["commits"] is None
    assert ("warning: the job's health was not checked (aws.settle_s is 0): RUNNING alone does not mean data flows"
            in proc.stderr.splitlines())


def test_an_unchanged_deploy_of_a_looping_job_fails(world):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(exception=JAVA17_CLASS)
    assert world.run("aws", "deploy", "--skip-build", env=SETTLE).returncode == 4
    again = world.run("aws", "deploy", "--skip-build")
    assert again.returncode == 4
    assert "✓ no changes: application 'order-ingest' already has this code and configuration" in again.stderr
    assert "java.lang.UnsupportedClassVersionError: software/amazon/msk/auth/iam/IAMClientCallbackHandler" in again.stderr
