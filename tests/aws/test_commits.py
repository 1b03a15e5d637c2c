"""Deploy's settle window and `aws status` read the table's newest snapshot through S3 Tables:
a job that reads records and commits nothing fails the deploy (exit 4) and shows as "running, not
committing"; a job whose commits land passes. The commits are real Iceberg snapshots written into
the emulated table bucket (tests/aws/s3tables_writer.py) with the Flink sink's summary."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from tests.aws import moto_runtime
from tests.aws.conftest import REGION, client

APP = "order-ingest"
FAST = {"PIPECTL_AWS_SETTLE_S": "3", "PIPECTL_AWS_CHECKPOINT_INTERVAL_S": "1"}


@pytest.fixture
def table(world, moto_url):
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    from tests.aws.s3tables_writer import S3TablesTestCatalog

    schema = Schema(
        NestedField(1, "event_id", StringType(), required=False),
        NestedField(2, "amount_cents", LongType(), required=False),
    )
    catalog = S3TablesTestCatalog(world.table_bucket_arn, REGION, moto_url)
    table = catalog.create_table(("analytics", "orders"), schema)
    # A first snapshot that no Flink job wrote (a backfill, say); it also warms pyarrow up here.
    import pyarrow as pa

    table.append(pa.table({"event_id": ["backfill"], "amount_cents": [1]}, schema=schema.as_arrow()))
    return table


def flink_commit(table, job_id: str, checkpoint: int) -> int:
    """What the Iceberg Flink sink's committer does on a checkpoint: append with its summary."""
    import pyarrow as pa

    data = pa.table({"event_id": [f"e{checkpoint}"], "amount_cents": [100]}, schema=table.schema().as_arrow())
    table.append(data, snapshot_properties={"flink.job-id": job_id, "flink.max-committed-checkpoint-id": str(checkpoint)})
    return table.refresh().current_snapshot().snapshot_id


def job_id_when_running(delay_s: float) -> str:
    """The Flink job id, from the application's log, once it runs (as the job itself knows it)."""
    logs = client("logs")
    group = f"/aws/kinesis-analytics/{APP}"
    for _ in range(400):
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        for e in events:
            m = re.search(r"Job order_ingest \(([0-9a-f]+)\) switched from state CREATED to RUNNING", e["message"])
            if m:
                time.sleep(delay_s)
                return m.group(1)
        time.sleep(0.05)
    raise AssertionError("the job never ran")


def test_records_without_a_commit_fail_the_deploy_and_status_says_so(world, table):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(records_per_s=50)
    proc = world.run("aws", "deploy", "--skip-build", env=FAST)
    assert proc.returncode == 4, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert re.fullmatch(
        rf"error: application '{APP}' is running, not committing: \d+ records read in \d+s, no commit to "
        r"analytics\.orders \(newest commit: snapshot \d+ at \S+ \(not by a Flink job\)\) -- Iceberg commits on each completed checkpoint: "
        r"see `pipectl aws logs` for failed checkpoints or commit errors \(S3 Tables permissions, egress\), and "
        r"`pipectl aws status`",
        last,
    ), last
    assert proc.stdout == ""

    status = world.run("aws", "status", env=FAST)
    assert status.returncode == 4, status.stderr
    [job] = [line for line in status.stdout.splitlines() if line.startswith("job ")]
    assert re.fullmatch(r"job\s+running, not committing: \d+ records read in \d+s, no commit to analytics\.orders "
                        r"\(newest commit: snapshot \d+ at \S+ \(not by a Flink job\)\)", job), job
    doc = world.json("aws", "status", code=4, env=FAST)
    assert doc["health"]["verdict"] == "not_committing"
    assert doc["commits"]["state"] == "not_committing"
    assert doc["commits"]["newest"]["job_id"] is None  # the backfill
    assert doc["commits"]["records_in_window"] > 0


def test_commits_from_the_job_pass_the_settle_window_and_show_in_status(world, table):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(records_per_s=50)
    done = threading.Event()
    commits: list[tuple[str, int]] = []

    def job() -> None:  # the running job commits on every checkpoint, as the Iceberg sink does
        job_id = job_id_when_running(delay_s=0.0)
        checkpoint = 0
        while not done.is_set():
            checkpoint += 1
            commits.append((job_id, flink_commit(table, job_id, checkpoint)))
            done.wait(0.5)

    writer = threading.Thread(target=job, daemon=True)
    writer.start()
    proc = world.run("aws", "deploy", "--skip-build", "--output", "json", env={**FAST, "PIPECTL_AWS_SETTLE_S": "6"})
    done.set()
    writer.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    job_id = commits[0][0]
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("✓ committed to ")]
    m = re.fullmatch(rf"✓ committed to analytics\.orders: snapshot (\d+) at \S+ \(job {job_id}, checkpoint (\d+)\)", line)
    assert m, line
    assert (job_id, int(m.group(1))) == commits[int(m.group(2)) - 1]  # the snapshot of that checkpoint
    doc = json.loads(proc.stdout)
    assert doc["health"]["verdict"] == "running"
    assert doc["commits"]["state"] == "committing"
    assert doc["commits"]["newest"]["job_id"] == job_id
    assert doc["commits"]["job_ids"] == [job_id]

    status = world.run("aws", "status", env=FAST)
    assert status.returncode == 0, status.stderr
    [row] = [x for x in status.stdout.splitlines() if x.startswith("commits ")]
    assert re.fullmatch(rf"commits\s+newest \S+ \(job {job_id}, checkpoint {len(commits)}\)", row), row


def test_no_records_means_no_commit_is_expected(world, table):
    moto_runtime.JOBS[APP] = moto_runtime.JobScript(records_per_s=0)  # publishes no numRecordsIn
    proc = world.run("aws", "deploy", "--skip-build", "--output", "json", env=FAST)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["commits"]["state"] == "unknown"
