"""What pipectl sets on S3 Tables' snapshot management (pipectl.aws.tables.keep_lineage), the
commit rule the rehearsal shares with deploy and status (pipectl.aws.commits.verdict), and how
the rehearsal's egress tells S3 Tables requests from S3 ones. Pure logic: the S3 Tables answers
come from botocore's Stubber (the emulator has no maintenance API; the rehearsal and
tests/aws/test_restore_lineage.py show what it answers)."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from pipectl.aws import commits
from pipectl.aws.tables import LINEAGE_SNAPSHOTS, keep_lineage
from pipectl.rehearse.egress import SERVICE_RE

BUCKET = "arn:aws:s3tables:us-east-1:123456789012:bucket/b"


def _target(client):
    names = SimpleNamespace(namespace="analytics", table="orders", rejected_table="orders_rejected")
    return SimpleNamespace(settings=SimpleNamespace(names=names), aws=SimpleNamespace(table_bucket_arn=BUCKET),
                           client=lambda _service: client)


def _client():
    return boto3.client("s3tables", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def _config(status="enabled", keep=None, age=None):
    settings = {k: v for k, v in (("minSnapshotsToKeep", keep), ("maxSnapshotAgeHours", age)) if v is not None}
    return {"tableARN": BUCKET + "/table/x", "configuration": {
        "icebergSnapshotManagement": {"status": status, "settings": {"icebergSnapshotManagement": settings}}}}


def _get(stub, name, answer):
    stub.add_response("get_table_maintenance_configuration", answer,
                      {"tableBucketARN": BUCKET, "namespace": "analytics", "name": name})


def test_the_defaults_are_raised_to_keep_the_lineage_and_the_users_age_is_kept():
    client = _client()
    with Stubber(client) as stub:
        _get(stub, "orders", {"tableARN": BUCKET + "/table/x", "configuration": {}})  # never set: S3 Tables' defaults
        stub.add_response("put_table_maintenance_configuration", {}, {
            "tableBucketARN": BUCKET, "namespace": "analytics", "name": "orders", "type": "icebergSnapshotManagement",
            "value": {"status": "enabled", "settings": {"icebergSnapshotManagement": {
                "minSnapshotsToKeep": LINEAGE_SNAPSHOTS, "maxSnapshotAgeHours": 120}}}})
        _get(stub, "orders_rejected", _config(keep=5, age=48))
        stub.add_response("put_table_maintenance_configuration", {}, {
            "tableBucketARN": BUCKET, "namespace": "analytics", "name": "orders_rejected",
            "type": "icebergSnapshotManagement",
            "value": {"status": "enabled", "settings": {"icebergSnapshotManagement": {
                "minSnapshotsToKeep": LINEAGE_SNAPSHOTS, "maxSnapshotAgeHours": 48}}}})
        found = keep_lineage(_target(client))
        stub.assert_no_pending_responses()
    assert [(k.state, k.min_snapshots_to_keep, k.max_snapshot_age_hours) for k in found] == [
        ("set", 100, 120), ("set", 100, 48)]
    assert found[0].message == (
        "analytics.orders: snapshot management set to keep the newest 100 snapshots (was 1)")


def test_enough_or_disabled_is_left_alone_and_a_check_never_writes():
    client = _client()
    with Stubber(client) as stub:
        _get(stub, "orders", _config(keep=200))
        _get(stub, "orders_rejected", _config(status="disabled"))
        _get(stub, "orders", _config(keep=3))
        _get(stub, "orders_rejected", _config(keep=100))
        assert [k.state for k in keep_lineage(_target(client))] == ["kept", "disabled"]
        checked = keep_lineage(_target(client), apply=False)  # no put stubbed: a write would fail here
        stub.assert_no_pending_responses()
    assert [k.state for k in checked] == ["too_few", "kept"]
    assert checked[0].message == ("analytics.orders: S3 Tables keeps only the newest 3 snapshot(s) older than 120 h, "
                                  "so a stop longer than that can cut the job's commit lineage")


@pytest.mark.parametrize(("code", "http", "state"), [("404", 404, "not_served"), ("NotFoundException", 404, "missing"),
                                                     ("AccessDeniedException", 403, "failed")])
def test_what_the_endpoint_answers_is_said(code, http, state):
    client = _client()
    with Stubber(client) as stub:
        for _name in ("orders", "orders_rejected"):
            stub.add_client_error("get_table_maintenance_configuration", service_error_code=code,
                                  http_status_code=http)
        found = keep_lineage(_target(client))
    assert [k.state for k in found] == [state, state]


def _commit(ms, job="j" * 32):
    return commits.Commit(1, "t", ms, job, "7", "append")


@pytest.mark.parametrize(("newest", "records", "jobs", "state"), [
    (_commit(2000), 10, ["j" * 32], "committing"),
    (_commit(2000), 0, [], "committing"),
    (_commit(500), 10, ["j" * 32], "not_committing"),  # older than the window
    (_commit(2000, job="k" * 32), 10, ["j" * 32], "not_committing"),  # another job's
    (None, 10, [], "not_committing"),
    (_commit(500), 0, [], "idle"),
    (_commit(500), None, [], "unknown"),
])
def test_the_commit_rule(newest, records, jobs, state):
    assert commits.verdict("analytics.orders", 1000, 15.0, newest, records, jobs).state == state


def test_not_committing_says_what_was_read_and_the_newest_commit():
    found = commits.verdict("analytics.orders", 1000, 15.4, None, 220, [])
    assert found.reason == "running, not committing: 220 records read in 15s, no commit to analytics.orders " \
                           "(analytics.orders has no snapshot)"


def test_the_egress_reads_the_service_from_the_signature():
    header = (b"PUT /tables/x/metadata-location HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 "
              b"Credential=AKIAEXAMPLE/20261206/us-east-1/s3tables/aws4_request, SignedHeaders=host, Signature=ab\r\n")
    assert SERVICE_RE.search(header).group(1) == b"s3tables"
    assert SERVICE_RE.search(header.replace(b"/s3tables/", b"/s3/")).group(1) == b"s3"
    assert SERVICE_RE.search(b"GET / HTTP/1.1\r\nHost: x\r\n") is None
