"""The Managed Flink emulator follows the API reference (it is not a stub that accepts anything)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.aws.conftest import client


def _code(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def _wait(kda, status: str) -> dict:
    for _ in range(100):
        d = kda.describe_application(ApplicationName="emu")["ApplicationDetail"]
        if d["ApplicationStatus"] == status:
            return d
        time.sleep(0.05)
    raise AssertionError(f"never {status}")


def test_lifecycle_rules(world):
    s3 = client("s3")
    s3.put_object(Bucket=world.bucket, Key="code.zip", Body=world.zip.read_bytes())
    kda = client("kinesisanalyticsv2")
    with pytest.raises(ClientError) as e:
        kda.describe_application(ApplicationName="emu")
    assert _code(e) == "ResourceNotFoundException"

    def create(key: str = "code.zip"):
        return kda.create_application(
            ApplicationName="emu",
            RuntimeEnvironment="FLINK-1_20",
            ServiceExecutionRole=world.role_arn,
            ApplicationConfiguration={
                "ApplicationCodeConfiguration": {
                    "CodeContent": {"S3ContentLocation": {"BucketARN": f"arn:aws:s3:::{world.bucket}", "FileKey": key}},
                    "CodeContentType": "ZIPFILE",
                },
                "EnvironmentProperties": {"PropertyGroups": [
                    {"PropertyGroupId": "kinesis.analytics.flink.run.options", "PropertyMap": {"python": "streaming_job.py", "jarfile": "lib/x.jar"}}
                ]},
                "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
            },
        )["ApplicationDetail"]

    with pytest.raises(ClientError) as e:
        create("missing.zip")
    assert _code(e) == "InvalidArgumentException"
    d = create()
    assert (d["ApplicationStatus"], d["ApplicationVersionId"]) == ("READY", 1)
    with pytest.raises(ClientError) as e:
        create()
    assert _code(e) == "ResourceInUseException"

    with pytest.raises(ClientError) as e:
        kda.stop_application(ApplicationName="emu")
    assert _code(e) == "ResourceInUseException"

    # UpdateApplication: exactly one guard, and it must be current.
    update = {"ApplicationConfigurationUpdate": {"FlinkApplicationConfigurationUpdate": {
        "ParallelismConfigurationUpdate": {"ConfigurationTypeUpdate": "CUSTOM", "ParallelismUpdate": 2}}}}
    with pytest.raises(ClientError) as e:
        kda.update_application(ApplicationName="emu", **update)
    assert _code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kda.update_application(ApplicationName="emu", CurrentApplicationVersionId=7, **update)
    assert _code(e) == "ConcurrentModificationException"
    with pytest.raises(ClientError) as e:
        kda.update_application(ApplicationName="emu", ConditionalToken="stale", **update)
    assert _code(e) == "ConcurrentModificationException"
    d2 = kda.update_application(ApplicationName="emu", ConditionalToken=d["ConditionalToken"], **update)["ApplicationDetail"]
    assert d2["ApplicationVersionId"] == 2
    assert d2["ConditionalToken"] != d["ConditionalToken"]

    kda.start_application(ApplicationName="emu", RunConfiguration={
        "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}})
    assert kda.describe_application(ApplicationName="emu")["ApplicationDetail"]["ApplicationStatus"] == "STARTING"
    with pytest.raises(ClientError) as e:
        kda.start_application(ApplicationName="emu")
    assert _code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        kda.delete_application(ApplicationName="emu", CreateTimestamp=d["CreateTimestamp"])
    assert _code(e) == "ResourceInUseException"
    _wait(kda, "RUNNING")

    kda.create_application_snapshot(ApplicationName="emu", SnapshotName="s1")
    assert [s["SnapshotName"] for s in kda.list_application_snapshots(ApplicationName="emu")["SnapshotSummaries"]] == ["s1"]
    kda.stop_application(ApplicationName="emu", Force=False)
    assert kda.describe_application(ApplicationName="emu")["ApplicationDetail"]["ApplicationStatus"] == "STOPPING"
    _wait(kda, "READY")
    assert len(kda.list_application_snapshots(ApplicationName="emu")["SnapshotSummaries"]) == 2

    with pytest.raises(ClientError) as e:
        kda.delete_application(ApplicationName="emu", CreateTimestamp=d["CreateTimestamp"].replace(year=2001))
    assert _code(e) == "InvalidArgumentException"
    kda.delete_application(ApplicationName="emu", CreateTimestamp=d["CreateTimestamp"])
    assert kda.describe_application(ApplicationName="emu")["ApplicationDetail"]["ApplicationStatus"] == "DELETING"
    time.sleep(0.4)
    with pytest.raises(ClientError) as e:
        kda.describe_application(ApplicationName="emu")
    assert _code(e) == "ResourceNotFoundException"
