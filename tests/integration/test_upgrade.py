"""`pipectl job upgrade` on the real native stack: from the job users run today (contract version 1, built
from the release before contract version 2, no compiled plan) to this checkout's (version 2), in the middle
of a stream; then an incompatible upgrade refused, and a failing new job rolled back.

Every record of the topic is read back with a Kafka consumer and every row of both tables with pyiceberg:
0 lost, 0 doubled, the version 2 columns right for every row, the quarantine right.

The old release is rebuilt from git (tests/conftest.py, the old_release fixture, OLD_RELEASE): its jobs/ as
they were, and a copy of the dependency jar whose dev.pipectl.flink classes are compiled from that commit's
sources (Java 11 bytecode).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from pyiceberg.table import StaticTable

from jobs.order_ingest.statements import WRITER_PROPERTIES
from tests.conftest import REPO, TEST_BOOTSTRAP, run_json, run_pipectl, topic_records  # and the old_release fixture

pytestmark = pytest.mark.integration

# a pipeline of the test's own on the session stack: no other test's events or jobs in its topic and tables
TOPIC = "orders.upgrade.v1"
TABLE, REJECTED = "orders_upgrade", "orders_upgrade_rejected"
PIPELINE = {
    "PIPECTL_PIPELINE_TOPIC": TOPIC,
    "PIPECTL_PIPELINE_TABLE": TABLE,
    "PIPECTL_PIPELINE_REJECTED_TABLE": REJECTED,
    "PIPECTL_PIPELINE_CONSUMER_GROUP": "pipectl-upgrade-test",
}


def _release_copy(tmp: Path, name: str, edit) -> Path:
    """This checkout's release (jobs/, the jar), with one file edited by `edit(root)`."""
    root = tmp / name
    shutil.copytree(REPO / "jobs", root / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "target").mkdir()
    shutil.copy2(REPO / "target" / "pyflink-dependencies.jar", root / "target")
    edit(root)
    return root


def _env(stack_env: dict, project: Path) -> dict:
    return {**stack_env, **PIPELINE, "PIPECTL_PROJECT_DIR": str(project)}


def _produce(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(REPO / ".venv/bin/python"), "-m", "pipectl", "produce", "orders", "--output", "json", *args],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _acked(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out)["acked"]


def _rows(warehouse: Path, table: str) -> list[dict]:
    return StaticTable.from_metadata(str(warehouse / "analytics" / table)).scan().to_arrow().to_pylist()


def _wait_stored(warehouse: Path, total: int, timeout: float = 240) -> tuple[list[dict], list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        orders, rejected = _rows(warehouse, TABLE), _rows(warehouse, REJECTED)
        if len(orders) + len(rejected) >= total or time.monotonic() > deadline:
            return orders, rejected
        time.sleep(3)


def _writer_settings(warehouse: Path) -> dict[str, dict[str, str]]:
    """Of the properties this release's writer sets (WRITER_PROPERTIES), those each table has."""
    settings = {}
    for kind, table in (("orders", TABLE), ("rejected", REJECTED)):
        properties = StaticTable.from_metadata(str(warehouse / "analytics" / table)).properties
        settings[kind] = {k: properties[k] for k in WRITER_PROPERTIES[kind] if k in properties}
    return settings


def _upgrade_while_producing(produce_env: dict, upgrade_env: dict, upgrade_args: list[str],
                             *produce_args: str) -> tuple[dict, dict]:
    """`job upgrade` while the producer sends 40 events/s, from 5 s before it until 10 s after: (the upgrade's
    report, the producer's)."""
    during = _produce(produce_env, "--rate", "40", *produce_args)
    time.sleep(5)
    up = run_pipectl(upgrade_env, "job", "upgrade", "--skip-build", *upgrade_args, "--output", "json", timeout=900)
    time.sleep(10)
    during.send_signal(signal.SIGINT)
    out, err = during.communicate(timeout=120)
    assert up.returncode == 0, up.stderr[-4000:]
    sent = json.loads(out)
    assert sent["failed"] == 0 and sent["acked"] == sent["sent"] > 0, err[-2000:]
    return json.loads(up.stdout), sent


def _job(env: dict) -> dict:
    return run_json(env, "job", "status")[1]


def test_upgrade_mid_stream_from_todays_job_then_refusal_then_rollback(native_stack, old_release, tmp_path):
    env_old, env_new = _env(native_stack, old_release), _env(native_stack, REPO)
    warehouse = Path(native_stack["PIPECTL_LOCAL_WAREHOUSE"])

    # the test's own topic (`local up` creates the settings' topic; the stack is the session's)
    assert run_pipectl(env_new, "local", "up", timeout=300).returncode == 0
    # today's job, contract version 1, v1 events flowing
    started = run_pipectl(env_old, "job", "start", timeout=300)
    assert started.returncode == 0, started.stderr[-3000:]
    assert _acked(_produce(env_old, "--rate", "400", "--count", "2000", "--seed", "1", "--malformed-ratio", "0.02")) == 2000
    _wait_stored(warehouse, 2000)
    old_job = _job(env_old)["job_id"]
    assert _writer_settings(warehouse) == {"orders": {}, "rejected": {}}  # the old release's tables have none

    # both versions while the job is upgraded: the producer runs until the upgrade is over
    report, sent_during = _upgrade_while_producing(
        env_new, env_new, ["--previous", str(old_release)], "--seed", "2", "--schema-version-mix", "0.5",
        "--malformed-ratio", "0.02")
    assert report["old_job_id"] == old_job and report["new_job_id"] not in (None, old_job)
    assert report["path"] in ("state", "offsets"), report
    assert report["schema"]["add"] == ["discount_amount", "coupon_code"]
    history = report["verify"]["schema_history"]
    assert [h["columns"] for h in history] == [20, 22] and history[1]["added"] == ["discount_amount", "coupon_code"]
    # ... and this release's Parquet writer settings, given to both tables by the new job at its start
    assert _writer_settings(warehouse) == WRITER_PROPERTIES

    # version 2 after
    after = _produce(env_new, "--rate", "400", "--count", "2000", "--seed", "3", "--schema-version", "2",
                     "--malformed-ratio", "0.02")
    out, err = after.communicate(timeout=600)
    assert after.returncode == 0, err[-2000:]
    valid_after = json.loads(out)["valid"]
    total = 2000 + sent_during["acked"] + 2000
    records = topic_records(TEST_BOOTSTRAP, TOPIC, "upgrade-test")
    assert len(records) == total
    orders, rejected = _wait_stored(warehouse, total)

    # 0 lost, 0 doubled: every record once, in one of the two tables
    keys = Counter((r["kafka_partition"], r["kafka_offset"]) for r in orders + rejected)
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == set(records)

    # the columns of every row, the quarantine of every record
    by_key = {(r["kafka_partition"], r["kafka_offset"]): ("orders", r) for r in orders}
    by_key.update({(r["kafka_partition"], r["kafka_offset"]): ("rejected", r) for r in rejected})
    v2_rejected_by_old: dict[int, list[int]] = {}
    v2_stored: dict[int, list[int]] = {}
    counts = Counter()
    for key, raw in records.items():
        where, row = by_key[key]
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        from producer.contract import is_valid

        valid = is_valid(raw)
        version = event.get("schema_version") if isinstance(event, dict) else None
        if not valid:
            assert where == "rejected", (raw, row)
            counts["malformed"] += 1
        elif version == 1:
            assert where == "orders", (raw, row)
            assert (row["discount_amount"], row["coupon_code"]) == (None, None)
            counts["v1"] += 1
        elif where == "orders":  # version 2, read by the new job
            assert row["schema_version"] == 2
            assert row["discount_amount"] == Decimal(str(event["discount_amount"])).quantize(Decimal("0.01"))
            assert row["coupon_code"] == event["coupon_code"]
            assert row["total_amount"] == Decimal(str(event["total_amount"])).quantize(Decimal("0.01"))
            v2_stored.setdefault(key[0], []).append(key[1])
            counts["v2 stored"] += 1
        else:  # version 2, read by today's job before the upgrade: its contract has no version 2
            assert row["reason"] == "schema_version is not 1", row
            v2_rejected_by_old.setdefault(key[0], []).append(key[1])
            counts["v2 quarantined by the old job"] += 1
    # the switch is one point per partition: every v2 event the old job quarantined came before every one stored
    for partition, offsets in v2_rejected_by_old.items():
        assert max(offsets) < min(v2_stored.get(partition, [1 << 62])), partition
    # both versions during: some version 2 events sent during the upgrade were stored by the new job
    assert counts["v2 stored"] > valid_after and counts["v1"] > 1900 and counts["malformed"] > 40, counts
    print(f"upgrade path {report['path']}: {dict(counts)}; checks {report['check_s']} s, "
          f"stop to healthy {report['switch_s']} s")

    # an incompatible upgrade is refused before anything changes; the job runs on, unchanged
    running = _job(env_new)["job_id"]
    hint_before = (warehouse / "analytics" / TABLE / "metadata" / "version-hint.text").read_text()

    def retype(root: Path) -> None:
        path = root / "jobs/order_ingest/statements.py"
        path.write_text(path.read_text().replace('("item_count", "INT", False)', '("item_count", "STRING", False)'))

    bad = _release_copy(tmp_path, "bad-type", retype)
    refused = run_pipectl(_env(native_stack, bad), "job", "upgrade", "--skip-build", timeout=600)
    assert refused.returncode == 2, refused.stderr
    error_lines = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
    assert error_lines == [
        f"error: analytics.{TABLE}: column item_count would change type from int to string: Iceberg allows only "
        "int->long, float->double and a wider decimal precision -- nothing was changed; an upgrade in place only "
        "adds optional columns (write a new table for anything else)"
    ], refused.stderr
    after = _job(env_new)
    assert (after["job_id"], after["state"]) == (running, "RUNNING")
    assert (warehouse / "analytics" / TABLE / "metadata" / "version-hint.text").read_text() == hint_before

    # a new job that fails to start is rolled back to the running release, from the same savepoint
    def broken(root: Path) -> None:
        path = root / "jobs/order_ingest/job.py"
        path.write_text(path.read_text().replace(
            "    settings = resolve_settings()\n    t_env = create_table_env(settings)\n    result",
            "    raise JobConfigError('broken on purpose')\n    settings = resolve_settings()\n"
            "    t_env = create_table_env(settings)\n    result"))

    failing = _release_copy(tmp_path, "broken", broken)
    rolled = run_pipectl(_env(native_stack, failing), "job", "upgrade", "--skip-build", timeout=900)
    assert rolled.returncode == 4, rolled.stderr[-3000:]
    assert "broken on purpose" in rolled.stderr and "rolled back: the previous release runs again as" in rolled.stderr
    back = _job(env_new)
    assert back["state"] == "RUNNING" and back["job_id"] != running
    # and it carries on exactly once
    assert _acked(_produce(env_new, "--rate", "400", "--count", "500", "--seed", "4", "--schema-version", "2")) == 500
    orders, rejected = _wait_stored(warehouse, total + 500)
    keys = Counter((r["kafka_partition"], r["kafka_offset"]) for r in orders + rejected)
    assert len(keys) == total + 500 and max(keys.values()) == 1

    # a release whose job graph moved (its operators unchained: no operator id of the source or the
    # committers maps) takes the offsets path while events flow; it reads on after the last records the
    # tables hold, not from the group's offsets the stopping source may not have committed yet
    def unchained(root: Path) -> None:
        path = root / "jobs/order_ingest/job.py"
        anchor = '    config.set("pipeline.object-reuse", "true")\n'
        assert anchor in path.read_text()
        path.write_text(path.read_text().replace(
            anchor, anchor + '    config.set("pipeline.operator-chaining.enabled", "false")\n'))

    moved = _release_copy(tmp_path, "unchained", unchained)
    offsets_path, sent = _upgrade_while_producing(env_new, _env(native_stack, moved), [], "--seed", "5",
                                                  "--schema-version", "2")
    assert offsets_path["path"] == "offsets", offsets_path["state"]
    assert offsets_path["warnings"] == [], offsets_path["warnings"]
    records = topic_records(TEST_BOOTSTRAP, TOPIC, "upgrade-test-moved")
    assert len(records) == total + 500 + sent["acked"]
    orders, rejected = _wait_stored(warehouse, len(records))
    keys = Counter((r["kafka_partition"], r["kafka_offset"]) for r in orders + rejected)
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == set(records)
    # the new job read on from one past the highest offset stored in each partition at the switch
    read_from = {int(p): o for p, o in offsets_path["read_from"].items()}
    assert set(read_from) == {p for p, _ in records}
    behind = sum(read_from[int(p)] - (was or 0) for p, was in offsets_path["group_was"].items())
    print(f"offsets path: read on from {read_from}; the group's offsets were {offsets_path['group_was']} "
          f"({behind} records behind the tables); {sent['acked']} events during the upgrade, 0 stored twice")
    assert run_pipectl(env_new, "job", "stop").returncode == 0
