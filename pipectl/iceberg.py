"""The Iceberg tables, read with pyiceberg (the independent reader, never Flink): where they live,
how to open them in the chosen environment, and their totals (rows, data files, bytes).

`verify`, `status`, `job start` and `maintain` all read tables through this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipectl.aws.tables import load_table as load_aws_table
from pipectl.config import Settings
from pipectl.errors import NotFoundError

if TYPE_CHECKING:  # pyiceberg is heavy: imported where a table is opened
    from pyiceberg.table import Snapshot, Table


@dataclass
class TableTotals:
    rows: int
    data_files: int
    data_bytes: int

    @property
    def avg_file_bytes(self) -> int:
        return self.data_bytes // self.data_files if self.data_files else 0


def local_table_dir(settings: Settings, table: str | None = None) -> Path:
    # Iceberg's Hadoop catalog lays namespace `analytics` out as <warehouse>/analytics/<table>
    return settings.warehouse_dir / settings.pipeline.namespace / (table or settings.pipeline.table)


def load_local_table(settings: Settings, table: str | None = None) -> Table:
    """A table of the local Hadoop warehouse; NotFoundError when it was never created."""
    from pyiceberg.table import StaticTable  # heavy SDK: imported where used

    table_dir = local_table_dir(settings, table)
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        raise NotFoundError(
            f"table {settings.pipeline.namespace}.{table or settings.pipeline.table} does not exist in {settings.warehouse_dir}",
            hint="start the job with 'pipectl job start' and produce events with 'pipectl produce orders'",
        )
    return StaticTable.from_metadata(str(table_dir.resolve()))


def load_table(settings: Settings, table: str | None = None) -> Table:
    """A table of the chosen environment (the orders table unless `table` names another):
    the local warehouse, or S3 Tables on AWS."""
    if settings.env == "aws":
        names = settings.names
        return load_aws_table(settings, names.namespace, table or names.table)
    return load_local_table(settings, table)


def totals(table: Table, snapshot: Snapshot | None = None) -> TableTotals:
    """Rows, data files and bytes of a snapshot (the current one by default): from the snapshot's
    summary, else (a writer that does not keep totals) counted from the manifests."""
    snap = snapshot or table.current_snapshot()
    if snap is None:
        return TableTotals(0, 0, 0)
    kept = _summary_totals(snap)
    if kept is not None:
        return kept
    rows = files = size = 0
    for task in table.scan(snapshot_id=snap.snapshot_id).plan_files():
        files += 1
        rows += task.file.record_count
        size += task.file.file_size_in_bytes
    return TableTotals(rows, files, size)


def _summary_totals(snap: Snapshot) -> TableTotals | None:
    """The totals the writer kept in the snapshot's summary; None when it kept none."""
    if snap.summary is None:
        return None
    values = [snap.summary.get(key) for key in ("total-records", "total-data-files", "total-files-size")]
    try:
        rows, files, size = (int(v) for v in values if v is not None)
    except ValueError:  # missing (fewer than three) or not a number
        return None
    return TableTotals(rows, files, size)


def last_commit_age_s(table: Table) -> float | None:
    """Seconds since the current snapshot was committed; None without one."""
    snap = table.current_snapshot()
    return None if snap is None else round(max(0.0, time.time() - snap.timestamp_ms / 1000), 1)


def rows_added_since(table: Table, since: float) -> int:
    """Rows added by the snapshots committed at or after `since` (epoch seconds)."""
    since_ms = since * 1000
    total = 0
    for snap in table.metadata.snapshots:
        if snap.timestamp_ms >= since_ms and snap.summary is not None:
            try:
                total += int(snap.summary.get("added-records") or 0)
            except (TypeError, ValueError):
                pass
    return total
