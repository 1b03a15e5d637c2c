"""`pipectl aws deploy` of a new release onto a running application (moto server, extended with the
Managed Flink lifecycle and RollbackApplication): the state check before UpdateApplication, the paths
it chooses, `--plan`, and the rollback of a release that fails in the settle window.

The releases of the state tests are the real zip (`make package`: target/data-pipeline-aws.zip),
whose job graph pipectl builds with Flink (plan_probe) to record and compare operator ids."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from pipectl.aws.upgrade import PATH_OFFSETS, PATH_REFUSED, PATH_STATE, compare
from tests.aws import moto_runtime
from tests.aws.conftest import REPO, client, write_zip

APP = "order-ingest"
REAL_ZIP = REPO / "target" / "data-pipeline-aws.zip"
TRACE = (
    "java.lang.IllegalStateException: the new release breaks\n"
    "\tat org.apache.flink.runtime.taskmanager.Task.run(Task.java:1)"
)


def describe() -> dict:
    return client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"]


def file_key(detail: dict) -> str:
    return detail["ApplicationConfigurationDescription"]["ApplicationCodeConfigurationDescription"][
        "CodeContentDescription"
    ]["S3ApplicationCodeLocationDescription"]["FileKey"]


def key_of(path: Path) -> str:
    from pipectl.build import sha256_of

    return f"pipectl/data-pipeline-aws-{sha256_of(path)[:16]}.zip"


def real_release(dest: Path, marker: str) -> Path:
    """The real zip with a changed entry point comment: another release (another content hash) of
    the same job graph."""
    with zipfile.ZipFile(REAL_ZIP) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "streaming_job.py":
                data += f"\n# release {marker}\n".encode()
            out.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return dest


def record(world, key: str) -> dict:
    body = client("s3").get_object(Bucket=world.bucket, Key=key.removesuffix(".zip") + ".operators.json")["Body"]
    return json.loads(body.read())


def put_record(world, key: str, doc: dict) -> None:
    client("s3").put_object(
        Bucket=world.bucket, Key=key.removesuffix(".zip") + ".operators.json", Body=json.dumps(doc).encode()
    )


# pure logic ---------------------------------------------------------------------------------------
SOURCE = "Source: kafka_orders[1] -> Calc[2]"
OLD = [
    {"id": "a" * 32, "vertex": SOURCE},
    {"id": "b" * 32, "vertex": "IcebergFilesCommitter -> IcebergSink lakehouse.analytics.orders: Writer"},
    {"id": "c" * 32, "vertex": "GroupAggregate[7]"},
]


def test_compare_chooses_the_path():
    assert compare(OLD, OLD + [{"id": "d" * 32, "vertex": "x"}], allow_non_restored=False).path == PATH_STATE
    offsets = compare(OLD, [OLD[2]], allow_non_restored=False)
    assert offsets.path == PATH_OFFSETS
    assert [m["id"] for m in offsets.missing] == ["a" * 32, "b" * 32]
    refused = compare(OLD, OLD[:2], allow_non_restored=False)
    assert refused.path == PATH_REFUSED
    assert refused.message == (
        "the new release cannot take the state of GroupAggregate[7] (operator cccccccc) (no operator with its id in the "
        "new release; its state would be dropped): nothing was changed"
    )
    allowed = compare(OLD, OLD[:2], allow_non_restored=True)
    assert allowed.message == "--allow-non-restored-state: the state of GroupAggregate[7] (operator cccccccc) is dropped"


# rollback -----------------------------------------------------------------------------------------
def test_a_failing_release_is_rolled_back_to_the_previous_version(world):
    v1_key = key_of(world.zip)
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    assert (describe()["ApplicationVersionId"], describe()["ApplicationStatus"]) == (1, "RUNNING")

    write_zip(world.zip, marker="v2")
    v2_key = key_of(world.zip)
    moto_runtime.CODE_JOBS[v2_key] = moto_runtime.JobScript(exception=TRACE)  # v2's job fails after every start
    proc = world.run("aws", "deploy", "--skip-build", "--settle", "3")
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    err = proc.stderr.splitlines()
    assert (
        f"warning: not checked: no record of the running release's operators "
        f"(s3://pipectl-code/{v1_key.removesuffix('.zip')}.operators.json): it was deployed without one, or its "
        "job graph could not be built"
    ) in err
    assert f"✓ updated application '{APP}': code (version 2)" in err
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert errors[0].startswith("error: the new release failed (application 'order-ingest' is RUNNING but ")
    assert (
        f"); rolled back: '{APP}' runs version 1's code again (s3://pipectl-code/{v1_key}, now version 3) from its "
        "last snapshot -- fix the new release and deploy again; `pipectl aws logs` shows why it failed"
    ) in errors[0]

    # Read back: the application's code and configuration are version 1's again, and it runs.
    d = describe()
    assert d["ApplicationStatus"] == "RUNNING"
    assert file_key(d) == v1_key != v2_key
    assert d["ApplicationVersionId"] == 3
    assert (d["ApplicationVersionRolledBackFrom"], d["ApplicationVersionRolledBackTo"]) == (2, 1)
    assert d["ApplicationConfigurationDescription"]["RunConfigurationDescription"][
        "ApplicationRestoreConfigurationDescription"
    ] == {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}
    snaps = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    assert [s["ApplicationVersionId"] for s in snaps] == [1]  # the update's snapshot, of version 1: the restore point


def test_a_release_that_fails_to_start_on_a_stopped_app_is_not_rolled_back(world):
    """RollbackApplication reverts to the previous *running* version: a stopped app is only started."""
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    assert world.run("aws", "stop").returncode == 0
    write_zip(world.zip, marker="v2")
    moto_runtime.CODE_JOBS[key_of(world.zip)] = moto_runtime.JobScript(exception=TRACE)
    proc = world.run("aws", "deploy", "--skip-build", "--settle", "3")
    assert proc.returncode == 4
    assert "rolled back" not in proc.stderr
    assert file_key(describe()) == key_of(world.zip)


# the state check on real releases ------------------------------------------------------------------
@pytest.mark.skipif(not REAL_ZIP.is_file(), reason="needs target/data-pipeline-aws.zip (make package)")
def _stored_offsets(world, moto_url) -> None:
    """What the running job stored: analytics.orders holds partition 0 up to offset 41 and partition 1 up to 17,
    the quarantine partition 1 up to 19 (pyiceberg into the emulated table bucket)."""
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.types import IntegerType, LongType, NestedField

    from tests.aws.conftest import REGION
    from tests.aws.s3tables_writer import S3TablesTestCatalog

    schema = Schema(NestedField(1, "kafka_partition", IntegerType(), required=False),
                    NestedField(2, "kafka_offset", LongType(), required=False))
    catalog = S3TablesTestCatalog(world.table_bucket_arn, REGION, moto_url)
    for name, rows in (("orders", [(0, 40), (0, 41), (1, 17), (0, 12)]), ("orders_rejected", [(1, 19), (0, 3)])):
        table = catalog.create_table(("analytics", name), schema)
        table.append(pa.table({"kafka_partition": pa.array([p for p, _ in rows], pa.int32()),
                               "kafka_offset": pa.array([o for _, o in rows], pa.int64())}))


def _start_offsets_change(planned: dict) -> dict:
    [change] = [c for c in planned["changes"] if c["key"] == "PipelineConfig.KAFKA_START_OFFSETS"]
    return change


def job_properties() -> dict:
    groups = describe()["ApplicationConfigurationDescription"]["EnvironmentPropertyDescriptions"]
    return {g["PropertyGroupId"]: g["PropertyMap"] for g in groups["PropertyGroupDescriptions"]}["PipelineConfig"]


def test_upgrade_checks_state_against_the_recorded_operators(world, tmp_path, moto_url):
    # v1: the real release. Deploy records its operator ids, built by Flink from the zip's own job.
    shutil.copyfile(REAL_ZIP, world.zip)
    v1_key = key_of(world.zip)
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 0, proc.stderr
    v1_ops = record(world, v1_key)["operators"]
    assert len(v1_ops) >= 4
    assert any(op["vertex"].startswith("Source: kafka_orders") for op in v1_ops)
    assert any(op["vertex"].startswith("IcebergFilesCommitter") for op in v1_ops)
    assert (
        f"✓ recorded the release's {len(v1_ops)} operator ids in "
        f"s3://pipectl-code/{v1_key.removesuffix('.zip')}.operators.json"
    ) in proc.stderr.splitlines()

    # v2: another zip of the same graph. --plan says the state is kept; deploy updates in place.
    real_release(world.zip, "v2")
    v2_key = key_of(world.zip)
    planned = world.json("aws", "deploy", "--plan", "--skip-build", code=8)
    kept = (
        f"state kept: all {len(v1_ops)} operators of the running release are in the new one "
        "(restored from the snapshot the update takes)"
    )
    assert (planned["upgrade_path"], planned["upgrade_check"]) == ("state", kept)
    result = world.json("aws", "deploy", "--skip-build")
    assert (result["action"], result["changes"]) == ("updated", ["code"])
    assert result["upgrade_check"]["path"] == "state"
    assert result["upgrade_check"]["running_code"] == f"s3://pipectl-code/{v1_key}"
    d = describe()
    assert (file_key(d), d["ApplicationVersionId"]) == (v2_key, 2)
    assert record(world, v2_key)["operators"] == v1_ops

    # The running release had an aggregation the new one lacks (its record says so): refused, one line,
    # before anything changes (no upload, no update).
    put_record(world, v2_key, {"operators": v1_ops + [{"id": "c" * 32, "vertex": "GroupAggregate[7]"}]})
    real_release(world.zip, "v3")
    v3_key = key_of(world.zip)
    planned = world.json("aws", "deploy", "--plan", "--skip-build", code=8)
    assert planned["upgrade_path"] == "refused"
    assert planned["upgrade_check"].startswith("deploy would refuse: the new release cannot take the state of ")
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: the new release cannot take the state of GroupAggregate[7] (operator cccccccc) (no operator with its id in "
        "the new release; its state would be dropped): nothing was changed -- keep the running release, or pass "
        "--allow-non-restored-state to drop that state on purpose"
    ]
    d = describe()
    assert (file_key(d), d["ApplicationVersionId"], d["ApplicationStatus"]) == (v2_key, 2, "RUNNING")
    stored = [o["Key"] for o in client("s3").list_objects_v2(Bucket=world.bucket)["Contents"]]
    assert v3_key not in stored

    # --allow-non-restored-state: warned, updated, the service told to drop the unmapped state.
    proc = world.run("aws", "deploy", "--skip-build", "--allow-non-restored-state")
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: --allow-non-restored-state: the state of GroupAggregate[7] (operator cccccccc) is dropped"
        in proc.stderr.splitlines()
    )
    d = describe()
    assert (file_key(d), d["ApplicationVersionId"]) == (v3_key, 3)
    run = d["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert run["FlinkRunConfigurationDescription"] == {"AllowNonRestoredState": True}

    # The running release's Kafka source had another id (a graph of another shape): the offsets path.
    # Stop with a snapshot, update, start without state, reading on after the last records the tables hold:
    # the job is given them (KAFKA_START_OFFSETS), as the group's offsets on MSK cannot be set from here.
    _stored_offsets(world, moto_url)
    assert "KAFKA_START_OFFSETS" not in job_properties()
    source = {"id": "d" * 32, "vertex": "Source: kafka_orders[1] -> Calc[2]"}
    put_record(world, v3_key, {"operators": v1_ops + [source]})
    shutil.copyfile(REAL_ZIP, world.zip)  # v1 again (its graph was probed above: the cache answers)
    snaps_before = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    # --plan says where the job reads on, from the tables as they stand (the running job still writes to them)
    planned = world.json("aws", "deploy", "--plan", "--skip-build", code=8)
    assert (planned["upgrade_path"], planned["read_from"]) == ("offsets", {"0": 42, "1": 20})
    assert planned["restore"] == (
        "stop with a snapshot, then start without state, reading on after the last records the tables hold "
        "(now partition 0 at 42, partition 1 at 20; read again after the stop)"
    )
    assert _start_offsets_change(planned) == {
        "part": "properties", "key": "PipelineConfig.KAFKA_START_OFFSETS", "old": None, "new": "(read after the stop)"}
    result = world.json("aws", "deploy", "--skip-build")
    assert result["upgrade_check"]["path"] == "offsets"
    assert [m["id"] for m in result["upgrade_check"]["missing"]] == ["d" * 32]
    assert result["started"] is True and result["restored_from"] is None
    assert result["read_from"] == {"0": 42, "1": 20}
    assert "properties" in result["changes"]
    assert job_properties()["KAFKA_START_OFFSETS"] == "0:42,1:20"
    d = describe()
    assert (file_key(d), d["ApplicationStatus"]) == (v1_key, "RUNNING")
    run = d["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert run["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}
    snaps = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    new = [s for s in snaps if s not in snaps_before]
    assert [s["SnapshotName"].startswith("stop-snapshot-") for s in new] == [True]  # the clean stop's snapshot

    # The start offsets alone are no change: the next deploy of the same release leaves the application be
    # (the job ignores them when it restores a snapshot)
    again = world.json("aws", "deploy", "--skip-build")
    assert (again["action"], again["changes"], again["read_from"]) == ("unchanged", [], None)
    assert describe()["ApplicationVersionId"] == d["ApplicationVersionId"]


def test_restore_none_of_a_stopped_application_reads_on_after_the_tables(world, moto_url):
    """`--restore none` of a stopped application (what the lineage check's hint says to run): the job is given
    the offsets after the tables' last records, not the consumer group's, which can lag them."""
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    assert world.json("aws", "stop")["snapshot"]
    _stored_offsets(world, moto_url)
    planned = world.json("aws", "deploy", "--plan", "--skip-build", "--restore", "none", code=8)
    assert (planned["action"], planned["read_from"]) == ("update", {"0": 42, "1": 20})
    assert planned["restore"] == (
        "start without state, reading on after the last records the tables hold: partition 0 at 42, partition 1 at 20"
    )
    assert _start_offsets_change(planned)["new"] == "0:42,1:20"
    assert "KAFKA_START_OFFSETS" not in job_properties()  # the plan changed nothing
    proc = world.run("aws", "deploy", "--skip-build", "--restore", "none", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["action"], result["changes"], result["started"]) == ("updated", ["properties"], True)
    assert result["read_from"] == {"0": 42, "1": 20}
    assert job_properties()["KAFKA_START_OFFSETS"] == "0:42,1:20"
    run = describe()["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert run["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: starting without state")]
    assert len(warnings) == 1 and warnings[0].endswith(": the job reads on after the last records the tables hold")


def test_restore_none_of_a_running_application_stops_it_then_reads_on_after_the_tables(world, moto_url):
    """`--restore none` with a change, of a running application: an update would restart the job at once, from the
    consumer group's offsets, which can lag the tables. Deploy stops it with a snapshot first (its last files
    commit), then starts it without state after the tables' last records."""
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    _stored_offsets(world, moto_url)
    write_zip(world.zip, marker="v2")
    planned = world.json("aws", "deploy", "--plan", "--skip-build", "--restore", "none", code=8)
    assert planned["restore"] == (
        "stop with a snapshot, then start without state, reading on after the last records the tables hold "
        "(now partition 0 at 42, partition 1 at 20; read again after the stop)"
    )
    proc = world.run("aws", "deploy", "--skip-build", "--restore", "none", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["action"], result["started"], result["read_from"]) == ("updated", True, {"0": 42, "1": 20})
    assert sorted(result["changes"]) == ["code", "properties"]
    assert job_properties()["KAFKA_START_OFFSETS"] == "0:42,1:20"
    snaps = client("kinesisanalyticsv2").list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]
    assert [s["SnapshotName"].startswith("stop-snapshot-") for s in snaps] == [True]
    d = describe()
    run = d["ApplicationConfigurationDescription"]["RunConfigurationDescription"]
    assert (d["ApplicationStatus"], run["ApplicationRestoreConfigurationDescription"]) == (
        "RUNNING", {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"})


def test_a_new_application_over_kept_tables_reads_on_after_them(world, moto_url):
    """The tables outlive the application (`aws destroy` keeps them): a new application's first start, without
    state, reads on after their last records."""
    _stored_offsets(world, moto_url)
    planned = world.json("aws", "deploy", "--plan", "--skip-build", code=8)
    assert (planned["action"], planned["read_from"]) == ("create", {"0": 42, "1": 20})
    assert planned["restore"] == (
        "start without a snapshot (a new application has none), reading on after the last records the tables hold: "
        "partition 0 at 42, partition 1 at 20"
    )
    result = world.json("aws", "deploy", "--skip-build")
    assert (result["action"], result["started"], result["read_from"]) == ("created", True, {"0": 42, "1": 20})
    assert job_properties()["KAFKA_START_OFFSETS"] == "0:42,1:20"
