"""Read the Iceberg tables with pyiceberg (an independent reader, not Flink) and report on them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipectl.config import Settings
from pipectl.errors import NotFoundError


@dataclass
class PartitionCount:
    partition: str
    rows: int


@dataclass
class VerifyReport:
    table: str
    location: str
    rows: int
    distinct_event_ids: int
    duplicates: int
    partitions: list[PartitionCount]
    snapshots: int
    last_commit_age_s: float | None
    data_files: int
    data_bytes: int
    rejected_rows: int | None = None
    rejected_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def avg_file_bytes(self) -> int:
        return self.data_bytes // self.data_files if self.data_files else 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["avg_file_bytes"] = self.avg_file_bytes
        return d


def local_table_dir(settings: Settings, table: str | None = None) -> Path:
    # Iceberg's Hadoop catalog lays namespace `analytics` out as <warehouse>/analytics/<table>
    return settings.warehouse_dir / settings.pipeline.namespace / (table or settings.pipeline.table)


def load_local_table(settings: Settings, table: str | None = None):
    from pyiceberg.table import StaticTable

    table_dir = local_table_dir(settings, table)
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        raise NotFoundError(
            f"table {settings.pipeline.namespace}.{table or settings.pipeline.table} does not exist in {settings.warehouse_dir}",
            hint="start the job with 'pipectl job start' and produce events with 'pipectl produce orders'",
        )
    return StaticTable.from_metadata(str(table_dir.resolve()))


def load_table(settings: Settings, table: str | None = None):
    if settings.env == "aws":
        from pipectl.aws.tables import load_table as load_aws_table

        return load_aws_table(settings, settings.aws.namespace, table or settings.aws.table)
    return load_local_table(settings, table)


def build_report(table, name: str) -> VerifyReport:
    import pyarrow.compute as pc

    snapshot = table.current_snapshot()
    snapshots = len(table.metadata.snapshots)
    if snapshot is None:
        return VerifyReport(name, table.metadata.location, 0, 0, 0, [], snapshots, None, 0, 0)
    arrow = table.scan(selected_fields=("event_id", "event_time_day")).to_arrow()
    rows = arrow.num_rows
    distinct = pc.count_distinct(arrow["event_id"]).as_py() if rows else 0
    partitions = []
    if rows:
        days = arrow.group_by("event_time_day").aggregate([("event_id", "count")]).sort_by("event_time_day")
        for day, count in zip(days["event_time_day"].to_pylist(), days["event_id_count"].to_pylist()):
            partitions.append(PartitionCount(f"event_time_day={day}", count))
    files = 0
    size = 0
    for task in table.scan().plan_files():
        files += 1
        size += task.file.file_size_in_bytes
    age = round(time.time() - snapshot.timestamp_ms / 1000, 1)
    return VerifyReport(name, table.metadata.location, rows, distinct, rows - distinct, partitions, snapshots, age, files, size)


def rejected_summary(table) -> tuple[int, dict[str, int]]:
    if table.current_snapshot() is None:
        return 0, {}
    arrow = table.scan(selected_fields=("reason",)).to_arrow()
    reasons: dict[str, int] = {}
    if arrow.num_rows:
        grouped = arrow.group_by("reason").aggregate([("reason", "count")])
        reasons = dict(zip(grouped["reason"].to_pylist(), grouped["reason_count"].to_pylist()))
    return arrow.num_rows, reasons


def wait_for_rows(settings: Settings, expected: int, timeout: float) -> VerifyReport:
    """Poll until the table holds at least `expected` rows (or the deadline passes); return the report."""
    from pipectl.errors import UnhealthyError
    from pipectl.wait import wait_until

    last: list[VerifyReport] = []

    def enough():
        try:
            report = verify(settings)
        except NotFoundError:
            return None
        last[:] = [report]
        return report if report.rows >= expected else None

    try:
        return wait_until(enough, what=f"{expected} rows in the table", timeout=timeout, interval=1)
    except UnhealthyError:
        if last:
            return last[0]
        raise NotFoundError(
            f"table {settings.pipeline.namespace}.{settings.pipeline.table} did not appear within {timeout:.0f}s",
            hint="is the job running? see 'pipectl job status'",
        ) from None


def verify(settings: Settings) -> VerifyReport:
    """The report for the orders table; raises NotFoundError when the table is missing."""
    ns = settings.aws.namespace if settings.env == "aws" else settings.pipeline.namespace
    name = settings.aws.table if settings.env == "aws" else settings.pipeline.table
    table = load_table(settings)
    report = build_report(table, f"{ns}.{name}")
    rejected_name = settings.pipeline.rejected_table
    try:
        report.rejected_rows, report.rejected_reasons = rejected_summary(load_table(settings, rejected_name))
    except NotFoundError:
        report.rejected_rows = None
    return report

