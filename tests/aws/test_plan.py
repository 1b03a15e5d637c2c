"""`pipectl aws deploy --plan` and `pipectl aws diff` (moto server); secret masking (pure logic)."""

from __future__ import annotations

from pipectl.aws.plan import EXIT_CHANGES, property_changes
from tests.aws.conftest import client


def test_secret_looking_values_are_masked():
    changes = property_changes(
        {"PipelineConfig": {"DB_PASSWORD": "old-pass", "KAFKA_TOPIC": "a", "API_KEY": "k1"}},
        {"PipelineConfig": {"DB_PASSWORD": "new-pass", "KAFKA_TOPIC": "b", "API_KEY": "k2", "AUTH_TOKEN": "t"}},
    )
    assert [c.line() for c in changes] == [
        "properties   PipelineConfig.API_KEY: **** -> ****",
        "properties   PipelineConfig.AUTH_TOKEN: (none) -> ****",
        "properties   PipelineConfig.DB_PASSWORD: **** -> ****",
        "properties   PipelineConfig.KAFKA_TOPIC: a -> b",
    ]


def test_plan_before_the_first_deploy_says_create_and_changes_nothing(world):
    proc = world.run("aws", "deploy", "--plan", "--skip-build")
    assert proc.returncode == EXIT_CHANGES == 8, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["application    order-ingest (us-east-1)", "plan           create"]
    assert lines[lines.index("changes:") + 1 :] == ["  application  (none) -> create (FLINK-1_20)"]
    assert any(line.startswith("code           new (zip sha256 ") and line.endswith("to be uploaded)") for line in lines)
    assert client("kinesisanalyticsv2").list_applications()["ApplicationSummaries"] == []
    assert "Contents" not in client("s3").list_objects_v2(Bucket=world.bucket)  # nothing uploaded


def test_plan_lists_parallelism_and_code_changes(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    from tests.aws.conftest import write_zip

    write_zip(world.zip, marker="v2")
    doc = world.json("aws", "deploy", "--plan", "--skip-build", "--parallelism", "3", code=8)
    assert doc["action"] == "update"
    assert [(c["part"], c["key"]) for c in doc["changes"]] == [("code", ""), ("parallelism", "")]
    assert doc["changes"][1]["old"] == 1 and doc["changes"][1]["new"] == 3
    assert doc["code"].startswith("changed (zip sha256 ") and doc["code"].endswith("to be uploaded)")
    # the deployed test zip's job is a stub, so no operator ids were recorded for it: said, not guessed
    assert doc["upgrade_path"] == "not-checked"
    assert doc["upgrade_check"].startswith("not checked: no record of the running release's operators (s3://")
    d = client("kinesisanalyticsv2").describe_application(ApplicationName="order-ingest")["ApplicationDetail"]
    assert d["ApplicationVersionId"] == 1
