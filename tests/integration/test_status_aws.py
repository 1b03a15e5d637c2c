"""`pipectl --env aws status` and `pipectl --env aws doctor` against moto in server mode: the
application's description, its CloudWatch metrics and the S3 Tables table."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest

from tests.aws.conftest import REGION, aws_env, client, moto_url, world  # noqa: F401 - fixtures
from tests.unit.test_status_schema import schema

pytestmark = pytest.mark.aws

APP = "order-ingest"


def put_metrics(values: dict[str, float], minutes_ago: int = 0) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    client("cloudwatch").put_metric_data(
        Namespace="AWS/KinesisAnalytics",
        MetricData=[{"MetricName": name, "Dimensions": [{"Name": "Application", "Value": APP}], "Timestamp": when,
                     "Value": value} for name, value in values.items()],
    )


def write_table(world, rows: int = 4) -> None:
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField, StringType

    from tests.aws.s3tables_writer import S3TablesTestCatalog

    s = Schema(NestedField(1, "event_id", StringType(), required=False))
    catalog = S3TablesTestCatalog(world.table_bucket_arn, REGION, world.env["AWS_ENDPOINT_URL"])
    table = catalog.create_table(("analytics", "orders"), s)
    table.append(pa.table({"event_id": [f"e{n}" for n in range(rows)]}, schema=s.as_arrow()))


def status(world, code: int) -> dict:
    doc = world.json("--env", "aws", "status", "--interval", "0.2", code=code)
    jsonschema.validate(doc, schema("status"))
    return doc


def test_status_of_a_running_application(world):
    from tests.aws import moto_runtime

    moto_runtime.JOBS[APP] = moto_runtime.JobScript(metrics=False)  # this test puts the data points itself
    assert world.run("aws", "deploy", "--skip-build", "--settle", "0").returncode == 0
    write_table(world)
    put_metrics({"uptime": 60_000, "downtime": 0, "fullRestarts": 0, "numberOfFailedCheckpoints": 0,
                 "lastCheckpointDuration": 850, "lastCheckpointSize": 4096,
                 "numRecordsInPerSecond": 12.5, "numRecordsOutPerSecond": 12.0}, minutes_ago=2)
    put_metrics({"uptime": 180_000, "downtime": 0, "fullRestarts": 0, "numberOfFailedCheckpoints": 0,
                 "lastCheckpointDuration": 900, "lastCheckpointSize": 4096,
                 "numRecordsInPerSecond": 12.5, "numRecordsOutPerSecond": 12.0})
    doc = status(world, 0)
    assert doc["env"] == "aws" and doc["verdict"] == "healthy"
    assert {n: s["verdict"] for n, s in doc["stages"].items()} == {"kafka": "unknown", "flink": "healthy", "iceberg": "healthy"}
    assert doc["reason"].endswith("(kafka not observable from here)")
    f = doc["stages"]["flink"]
    assert f["application"] == APP and f["application_status"] == "RUNNING" and f["region"] == REGION
    assert f["checkpoint_interval_s"] == 60
    job = f["job"]
    assert (job["state"], job["uptime_s"], job["restarts"], job["records_in_per_s"]) == ("RUNNING", 180.0, 0, 12.5)
    assert job["last_checkpoint"] == {"id": None, "age_s": None, "duration_ms": 900, "size_bytes": 4096}
    i = doc["stages"]["iceberg"]
    assert i["table"] == "analytics.orders" and i["rows"] == 4 and i["data_files"] == 1
    assert doc["stages"]["kafka"]["reason"].startswith("set aws.msk_cluster_arn")

    # restarts in the window and downtime now: degraded, exit 6
    put_metrics({"downtime": 4000, "fullRestarts": 3, "uptime": 0}, minutes_ago=0)
    doc = status(world, 6)
    assert doc["verdict"] == "degraded"
    assert doc["stages"]["flink"]["problems"] == [
        "the job is not running inside the application (downtime 4s); see 'pipectl aws logs'",
        "job order_ingest restarted 3 times in the last 10m; see 'pipectl aws logs'",
    ]

    # stopped: the application is READY, Flink is down, exit 4
    assert world.run("aws", "stop", "--force").returncode == 0
    doc = status(world, 4)
    assert doc["reason"] == ("flink: application 'order-ingest' is not running (status READY); "
                             "start it with 'pipectl aws deploy'")


def test_status_without_application_or_table(world):
    doc = status(world, 4)
    assert {n: s["verdict"] for n, s in doc["stages"].items()} == {"kafka": "unknown", "flink": "down", "iceberg": "down"}
    assert doc["reason"] == ("flink: application 'order-ingest' does not exist in us-east-1; "
                             "deploy it with 'pipectl aws deploy'")
    assert doc["stages"]["iceberg"]["reason"].startswith("table analytics.orders does not exist")


def test_doctor_env_aws(world):
    doc = world.json("--env", "aws", "doctor")
    jsonschema.validate(doc, schema("doctor"))
    checks = {c["name"]: c for c in doc["checks"]}
    assert all(c["status"] == "ok" for c in doc["checks"]), doc
    assert list(checks) == ["python", "artifact: aws zip", "aws region", "aws settings", "aws credentials",
                            "aws identity", "code bucket pipectl-code", "execution role order-ingest-flink",
                            "table bucket orders-tables", "vpc", f"application {APP}"]
    assert checks["aws identity"]["detail"].startswith("account 123456789012 as arn:aws:")
    assert "testing" not in json.dumps(doc)  # credentials are never shown
    assert checks[f"application {APP}"]["detail"] == "not deployed yet ('pipectl aws deploy' creates it)"


def test_doctor_env_aws_names_what_is_missing(world):
    world.config(region=REGION, code_bucket="no-such-bucket", service_role_arn=world.role_arn,
                 bootstrap_servers="b-1.msk.example:9098", table_bucket_arn=world.table_bucket_arn)
    doc = world.json("--env", "aws", "doctor", code=3)
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["code bucket no-such-bucket"]["status"] == "missing"
    assert checks["code bucket no-such-bucket"]["fix"] == "create it (aws s3 mb s3://BUCKET) or fix aws.code_bucket"
    creds = world.json("--env", "aws", "doctor", code=3,
                       env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    c = {c["name"]: c for c in creds["checks"]}["aws credentials"]
    assert c["status"] == "missing" and c["detail"] == "no AWS credentials found"
