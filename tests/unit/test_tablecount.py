"""verify's counting (pipectl.tablecount) on real Iceberg tables written by pyiceberg: exact rows,
distinct ids and rows per day, in both engines, and the same answers as the whole-table Arrow read
it replaced."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipectl import tablecount
from pipectl.verify import build_report, rejected_summary

pytest.importorskip("sqlalchemy")


def _catalog(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=(tmp_path / "wh").as_uri())
    catalog.create_namespace("analytics")
    return catalog


def _orders(ids: list[str], days: list[dt.date | None]) -> pa.Table:
    return pa.table({"event_id": pa.array(ids, pa.string()), "event_time_day": pa.array(days, pa.date32())})


@pytest.fixture
def orders_table(tmp_path):
    catalog = _catalog(tmp_path)
    d1, d2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    first = _orders([f"id-{i}" for i in range(1000)], [d1] * 600 + [d2] * 400)
    table = catalog.create_table("analytics.orders", first.schema)
    table.append(first)
    # a second commit: 5 ids again (duplicates), 10 new ones, 2 without a day
    table.append(_orders([f"id-{i}" for i in range(5)] + [f"new-{i}" for i in range(12)], [d1] * 15 + [None, None]))
    return catalog.load_table("analytics.orders")


def _arrow_answer(table):
    arrow = table.scan(selected_fields=("event_id", "event_time_day")).to_arrow()
    days = arrow.group_by("event_time_day").aggregate([("event_id", "count")])
    per_day = sorted((str(d), n) for d, n in zip(days["event_time_day"].to_pylist(), days["event_id_count"].to_pylist(), strict=True))
    return arrow.num_rows, pc.count_distinct(arrow["event_id"]).as_py(), per_day


def test_direct_engine_counts_exactly(orders_table):
    counts = tablecount.count_ids(orders_table, orders_table.current_snapshot())
    assert counts.engine == "direct"
    assert (counts.rows, counts.distinct) == (1017, 1012)
    assert counts.per_day == [("2026-03-01", 615), ("2026-03-02", 400), ("None", 2)]


def test_stream_engine_gives_the_same_answer(orders_table, monkeypatch):
    monkeypatch.setattr(tablecount, "_direct_files", lambda *a: None)  # as for S3 paths or delete files
    counts = tablecount.count_ids(orders_table, orders_table.current_snapshot())
    assert counts.engine == "stream"
    assert (counts.rows, counts.distinct) == (1017, 1012)
    assert counts.per_day == [("2026-03-01", 615), ("2026-03-02", 400), ("None", 2)]


def test_same_answers_as_the_whole_table_read(orders_table):
    rows, distinct, per_day = _arrow_answer(orders_table)
    report = build_report(orders_table, "analytics.orders")
    assert (report.rows, report.distinct_event_ids, report.duplicates) == (rows, distinct, rows - distinct)
    assert [(p.partition.removeprefix("event_time_day="), p.rows) for p in report.partitions] == per_day
    assert report.engine == "direct"


def test_a_renamed_column_is_read_by_field_id(orders_table):
    with orders_table.update_schema() as update:
        update.rename_column("event_id", "order_event_id")
    table = orders_table.refresh() if hasattr(orders_table, "refresh") else orders_table
    assert not tablecount.names_stable(table, ("order_event_id",))
    counts = tablecount.count_ids(table, table.current_snapshot(), id_column="order_event_id")
    assert counts.engine == "stream"  # old files carry the old name: pyiceberg maps them by field id
    assert (counts.rows, counts.distinct) == (1017, 1012)


def test_reasons_of_the_quarantine(tmp_path):
    catalog = _catalog(tmp_path)
    data = pa.table({"raw": ["a", "b", "c"], "reason": ["not JSON", "not JSON", "total_amount mismatch"]})
    table = catalog.create_table("analytics.rejected", data.schema)
    assert rejected_summary(table) == (0, {})
    table.append(data)
    assert rejected_summary(catalog.load_table("analytics.rejected")) == (3, {"not JSON": 2, "total_amount mismatch": 1})


def test_an_empty_snapshot_counts_zero(tmp_path):
    catalog = _catalog(tmp_path)
    table = catalog.create_table("analytics.orders", _orders([], []).schema)
    table.append(_orders([], []))
    table = catalog.load_table("analytics.orders")
    if table.current_snapshot() is None:
        pytest.skip("pyiceberg wrote no snapshot for an empty append")
    counts = tablecount.count_ids(table, table.current_snapshot())
    assert (counts.rows, counts.distinct, counts.per_day) == (0, 0, [])


@pytest.mark.parametrize(
    ("path", "local"),
    [("/w/a.parquet", "/w/a.parquet"), ("file:/w/a.parquet", "/w/a.parquet"), ("file:///w/a.parquet", "/w/a.parquet"), ("s3://b/a.parquet", None)],
)
def test_local_path(path, local):
    assert tablecount.local_path(path) == local


def test_out_of_memory_is_retried_on_one_thread_then_one_line(monkeypatch):
    import duckdb

    from pipectl.errors import PipectlError

    monkeypatch.setenv(tablecount.ENV_MEMORY_LIMIT, "100")
    threads_seen = []

    def run(con):
        threads_seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 32.0 MiB")

    with pytest.raises(PipectlError) as err:
        tablecount._counting(run)
    assert str(err.value) == "counting the table needed more than its memory limit of 100 MB"
    assert err.value.hint == "raise it, e.g. PIPECTL_VERIFY_MEMORY_MB=200 pipectl verify"
    assert threads_seen[-1] == 1 and len(threads_seen) == 2


def _offsets(partitions: list[int | None], offsets: list[int | None]) -> pa.Table:
    return pa.table({"kafka_partition": pa.array(partitions, pa.int32()), "kafka_offset": pa.array(offsets, pa.int64())})


def _offsets_table(tmp_path):
    catalog = _catalog(tmp_path)
    first = _offsets([0] * 500 + [1] * 300, list(range(500)) + list(range(300)))
    table = catalog.create_table("analytics.orders", first.schema)
    table.append(first)
    table.append(_offsets([1, 1, 2, None, 0], [900, 301, 7, 5000, None]))  # partition 2 new; rows without a key
    table.append(_offsets([0] * 11, list(range(500, 511))))
    return catalog.load_table("analytics.orders")


def _reads(monkeypatch) -> list[str]:
    from pyiceberg.io.pyarrow import ArrowScan

    read: list[str] = []
    original = ArrowScan.to_record_batches

    def counting(self, tasks):
        read.extend(t.file.file_path for t in tasks)
        return original(self, tasks)

    monkeypatch.setattr(ArrowScan, "to_record_batches", counting)
    return read


def test_max_offsets_reads_only_the_files_that_can_hold_the_highest(tmp_path, monkeypatch):
    table = _offsets_table(tmp_path)
    read = _reads(monkeypatch)
    assert tablecount.max_offsets(table, table.current_snapshot()) == {0: 510, 1: 900, 2: 7}
    # the second commit's file (offsets up to 5000) gives partitions 1 and 2, the third's partition 0; the
    # first file's offsets (up to 499) cannot be higher than those: never read
    first = min(table.metadata.snapshots, key=lambda s: s.sequence_number)
    [first_file] = [t.file.file_path for t in table.scan(snapshot_id=first.snapshot_id).plan_files()]
    assert len(read) == len(set(read)) == 2 and first_file not in read


@pytest.mark.parametrize("engine", ["direct", "stream"])
def test_max_offsets_without_bounds_read_every_file(tmp_path, monkeypatch, engine):
    table = _offsets_table(tmp_path)
    monkeypatch.setattr(tablecount, "_file_bounds", lambda *a: None)  # a writer that keeps no column bounds
    if engine == "stream":
        monkeypatch.setattr(tablecount, "_direct_files", lambda *a: None)
    assert tablecount.max_offsets(table, table.current_snapshot()) == {0: 510, 1: 900, 2: 7}


def test_max_offsets_of_an_older_snapshot(tmp_path):
    table = _offsets_table(tmp_path)
    first = min(table.metadata.snapshots, key=lambda s: s.sequence_number)
    assert tablecount.max_offsets(table, first) == {0: 499, 1: 299}


def test_max_offsets_of_an_empty_table(tmp_path):
    catalog = _catalog(tmp_path)
    table = catalog.create_table("analytics.orders", _offsets([], []).schema)
    table.append(_offsets([], []))
    table = catalog.load_table("analytics.orders")
    snapshot = table.current_snapshot()
    assert snapshot is None or tablecount.max_offsets(table, snapshot) == {}
