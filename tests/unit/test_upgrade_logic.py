"""The pure parts of `job upgrade` and table evolution: which state maps and which path follows; which
schema changes are additive, refused with one line naming the column and the rule; the schema history;
restoring a schema on rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.order_ingest import statements
from jobs.order_ingest.settings import load_job_settings
from pipectl.config import load_settings
from pipectl.flink.upgrade import PATH_NON_RESTORED, PATH_OFFSETS, PATH_STATE, StateRefused, assess
from pipectl.iceberg_schema import SchemaRefused, plan_for_columns, restore_schema

SOURCE = "Source: kafka_orders[1] -> Calc[2] -> Correlate[3]"
COMMITTER = "IcebergFilesCommitter -> IcebergSink lakehouse.analytics.orders: Writer"
OPS = [{"id": "a" * 32}, {"id": "b" * 32}, {"id": "c" * 32}]


def st(op_id: str, size: int = 100, has_state: bool = True) -> dict:
    return {"id": op_id, "size": size, "has_state": has_state}


def test_every_state_maps_restores_from_the_savepoint():
    check = assess(OPS, [st("a" * 32), st("b" * 32), st("d" * 32, 0, False)], {})
    assert check.path == PATH_STATE
    assert check.mapped == ["a" * 32, "b" * 32] and check.unmapped == []


def test_unmapped_source_and_committer_state_take_the_offsets_path():
    names = {"e" * 32: SOURCE, "f" * 32: COMMITTER}
    check = assess(OPS, [st("a" * 32), st("e" * 32, 1500), st("f" * 32, 300)], names)
    assert check.path == PATH_OFFSETS
    assert [u["recoverable"] for u in check.unmapped] == [True, True]
    assert check.message.endswith(
        "the new job starts without state and reads on after the last records the tables hold"
    )


def test_other_unmapped_state_is_refused_naming_the_operator():
    names = {"e" * 32: SOURCE, "9" * 32: "GroupAggregate[7]"}
    with pytest.raises(StateRefused) as err:
        assess(OPS, [st("e" * 32), st("9" * 32, 2048)], names)
    assert str(err.value) == (
        "the new job cannot take the state of GroupAggregate[7] [99999999, 2,048 bytes] (no operator with its id; "
        "state lost, no exactly-once path): nothing was stopped"
    )
    assert "--allow-non-restored-state" in (err.value.hint or "")
    # a chained operator has no vertex of its own: it is not known to be recoverable
    with pytest.raises(StateRefused, match="an operator chained inside a task"):
        assess(OPS, [st("8" * 32)], {})


def test_allow_non_restored_state_is_an_explicit_choice():
    check = assess(OPS, [st("9" * 32)], {"9" * 32: "GroupAggregate[7]"}, allow_non_restored=True)
    assert check.path == PATH_NON_RESTORED and "is dropped" in check.message


V1 = [(n, statements.iceberg_type(t), r) for n, t, r in statements.ORDERS_FIELDS if n not in statements.V2_COLUMNS]


@pytest.fixture
def settings(tmp_path):
    return load_settings(project_dir=tmp_path, environ={})


def test_a_v1_table_gains_the_v2_columns_once(settings):
    change = plan_for_columns(settings, V1, 0)
    assert change.add == ["discount_amount", "coupon_code"]
    assert change.statements == [
        "ALTER TABLE `lakehouse`.`analytics`.`orders` ADD (`discount_amount` DECIMAL(12, 2), `coupon_code` STRING)"
    ]
    full = V1 + [("discount_amount", "decimal(12,2)", False), ("coupon_code", "string", False)]
    assert plan_for_columns(settings, full, 1).statements == []  # idempotent


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        (
            [(n, "string" if n == "item_count" else t, r) for n, t, r in V1],
            "analytics.orders: column item_count would change type from string to int: Iceberg allows only "
            "int->long, float->double and a wider decimal precision",
        ),
        (
            [(n, "long" if n == "item_count" else t, r) for n, t, r in V1],
            "analytics.orders: column item_count would change type from long to int: Iceberg allows only "
            "int->long, float->double and a wider decimal precision",
        ),
        (
            [(n, "long" if n == "kafka_partition" else t, r) for n, t, r in V1][:18]
            + [(n, t, r) for n, t, r in V1][18:],
            "analytics.orders: column kafka_partition would change type from long to int: Iceberg allows only "
            "int->long, float->double and a wider decimal precision",
        ),
        (
            [("customer" if n == "customer_name" else n, t, r) for n, t, r in V1],
            "analytics.orders: column customer of analytics.orders is not among the job's columns: a renamed or "
            "dropped column is not an additive change",
        ),
        (
            [(n, t, False) for n, t, r in V1],
            "analytics.orders: column event_id would become required: rows in the table may hold NULL",
        ),
    ],
)
def test_incompatible_changes_are_one_line_naming_column_and_rule(settings, existing, message):
    with pytest.raises(SchemaRefused) as err:
        plan_for_columns(settings, existing, 0)
    assert str(err.value) == message
    assert "\n" not in str(err.value) and err.value.exit_code == 2


def test_a_new_required_column_is_refused(monkeypatch):
    fields = (*statements.ORDERS_FIELDS, ("loyalty_tier", "STRING", True))
    monkeypatch.setattr(statements, "ORDERS_FIELDS", fields)
    s = load_job_settings({})
    with pytest.raises(statements.SchemaChangeRefused, match="column loyalty_tier is new and required"):
        statements.evolve_statements(s, V1)


def test_a_promotion_iceberg_allows_is_named_as_such():
    s = load_job_settings({})
    existing = [(n, "int" if n == "kafka_offset" else t, r) for n, t, r in V1]
    with pytest.raises(statements.SchemaChangeRefused, match="Iceberg allows this promotion"):
        statements.evolve_statements(s, existing)


def test_restore_schema_writes_one_metadata_version(settings):
    meta = settings.warehouse_dir / "analytics" / "orders" / "metadata"
    meta.mkdir(parents=True)
    body = {"format-version": 2, "current-schema-id": 1, "last-updated-ms": 1,
            "schemas": [{"schema-id": 0}, {"schema-id": 1}], "metadata-log": []}
    (meta / "v3.metadata.json").write_text(json.dumps(body))
    (meta / "version-hint.text").write_text("3")
    assert restore_schema(settings, 0) is True
    assert (meta / "version-hint.text").read_text() == "4"
    written = json.loads((meta / "v4.metadata.json").read_text())
    assert written["current-schema-id"] == 0
    assert written["metadata-log"][-1]["metadata-file"] == Path(meta / "v3.metadata.json").resolve().as_uri()
    assert restore_schema(settings, 0) is False  # already current: nothing written
    assert not (meta / "v5.metadata.json").exists()


def _text(report) -> list[str]:
    from rich.console import Console

    from pipectl.cli.render import upgrade_report

    console = Console(record=True, width=200)
    upgrade_report(console, report)
    return [ln.rstrip() for ln in console.export_text().splitlines()]


def test_the_upgrade_report_in_text():
    from pipectl.flink.upgrade import StateCheck, UpgradeReport

    report = UpgradeReport(
        "a" * 32, "b" * 32, PATH_STATE, "/sp/savepoint-aaaaaa-1",
        StateCheck("/m", PATH_STATE, ["c" * 32], [], "every operator state maps to the new job: restored from the savepoint"),
        {"table": "analytics.orders", "add": ["discount_amount", "coupon_code"]},
        message="upgraded in place (state restored from the savepoint)", check_s=61.2, switch_s=48.0,
    )
    assert _text(report) == [
        "job upgrade",
        " old job       " + "a" * 32,
        " new job       " + "b" * 32,
        " path          upgraded in place (state restored from the savepoint)",
        " state check   every operator state maps to the new job: restored from the savepoint",
        " savepoint     /sp/savepoint-aaaaaa-1",
        " timing        checks 61 s before the stop; stop to healthy 48 s",
        " table schema  added discount_amount, coupon_code",
    ]


def test_the_offsets_path_in_text_says_where_the_new_job_reads_on():
    from pipectl.flink.upgrade import UpgradeReport

    report = UpgradeReport(
        "a" * 32, "b" * 32, PATH_OFFSETS, "/sp/savepoint-aaaaaa-1", None, {"add": []},
        message="upgraded in place (without state, read on after the last records the tables hold)",
        read_from={"1": 3983, "0": 13790}, group_was={"0": 13749, "1": 3954},
    )
    assert _text(report) == [
        "job upgrade",
        " old job       " + "a" * 32,
        " new job       " + "b" * 32,
        " path          upgraded in place (without state, read on after the last records the tables hold)",
        " savepoint     /sp/savepoint-aaaaaa-1",
        " read on from  partition 0 at 13,790, partition 1 at 3,983",
        " table schema  unchanged",
    ]
