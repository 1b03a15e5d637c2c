"""A restore after S3 Tables' own maintenance: when its snapshot expiry cut the Iceberg sink's
commit lineage (no Flink commit left in the current snapshot's ancestors), `aws deploy` refuses to
restore the application's snapshot, in one line, before StartApplication; with the lineage kept
(compaction and expiry that leave the last Flink commit) it restores as usual."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.aws.conftest import REGION, client

APP = "order-ingest"
JOB, OP = "a" * 32, "d" * 32


def app_status() -> str:
    return client("kinesisanalyticsv2").describe_application(ApplicationName=APP)["ApplicationDetail"][
        "ApplicationStatus"]


@pytest.fixture
def orders(world, moto_url):
    """analytics.orders in emulated S3 Tables: three commits of a Flink job, then a compaction-like
    commit without the sink's properties (what S3 Tables' compaction writes)."""
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.types import DateType, NestedField, StringType

    from tests.aws.s3tables_writer import S3TablesTestCatalog

    schema = Schema(NestedField(1, "event_id", StringType(), required=False),
                    NestedField(2, "event_time_day", DateType(), required=False))
    catalog = S3TablesTestCatalog(world.table_bucket_arn, REGION, moto_url)
    table = catalog.create_table(("analytics", "orders"), schema)
    day = datetime.date(2024, 5, 1)
    for cid in (1, 2, 3):
        rows = pa.table({"event_id": [f"e{cid}"], "event_time_day": [day]}, schema=schema.as_arrow())
        table.append(rows, snapshot_properties={
            "flink.job-id": JOB, "flink.max-committed-checkpoint-id": str(cid), "flink.operator-id": OP})
    table.append(pa.table({"event_id": ["e4"], "event_time_day": [day]}, schema=schema.as_arrow()))
    return world, table


def expire(table, keep_flink_commits: int) -> None:
    """Expire all but the current snapshot and the newest `keep_flink_commits` of its ancestors."""
    snaps = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number)
    doomed = [s.snapshot_id for s in snaps[: len(snaps) - 1 - keep_flink_commits]]
    table.maintenance.expire_snapshots().by_ids(doomed).commit()
    table.refresh()


def test_restore_refused_when_s3_tables_expired_the_lineage(orders):
    world, table = orders
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    stopped = world.json("aws", "stop")
    assert stopped["snapshot"]
    expire(table, keep_flink_commits=0)  # S3 Tables' default: minSnapshotsToKeep 1
    assert len(table.metadata.snapshots) == 1

    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: cannot restore from a snapshot: analytics.orders keeps no commit of the Flink job (its snapshots "
        "back to the job's last commit were expired), so the sink would commit the snapshot's last checkpoint "
        "again -- start without state, reading on after the last records the tables hold: `pipectl aws deploy "
        "--restore none`; docs/aws.md#s3-tables-maintenance says how to keep the lineage"
    )
    assert app_status() == "READY"  # nothing was started


NOT_SERVED = ("snapshot management not {}: the S3 Tables endpoint does not serve the maintenance API (HTTP 404; "
              "the moto emulator has none)")


def test_restore_goes_on_when_the_last_flink_commit_is_kept(orders):
    world, table = orders
    first = world.run("aws", "deploy", "--skip-build")
    assert first.returncode == 0, first.stderr
    # deploy sets snapshot management on the tables; moto has no maintenance API: said, not faked
    assert f"warning: analytics.orders: {NOT_SERVED.format('set')}" in first.stderr.splitlines()
    stopped = world.json("aws", "stop")
    expire(table, keep_flink_commits=1)
    assert len(table.metadata.snapshots) == 2
    proc = world.run("aws", "deploy", "--skip-build", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["restored_from"] == stopped["snapshot"]
    # the check before the restore reads the setting, and says it could not
    assert f"warning: analytics.orders: {NOT_SERVED.format('read')}" in proc.stderr.splitlines()
    assert app_status() == "RUNNING"
