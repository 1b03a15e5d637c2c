"""Counting a table's rows, distinct event ids and rows per day in memory that does not grow with it.

`verify` used to read every `event_id` into one Arrow table (about 250 MB per million rows). Here
DuckDB does the counting with a memory limit, spilling to a temporary folder beyond it, over what
pyiceberg's scan plans (so the snapshot, partitions and schema are Iceberg's, not guessed):

- **direct**: when the planned data files are local Parquet files without delete files, and the
  two columns kept the names they have now in every schema of the table (Parquet files carry the
  names of the time they were written), DuckDB reads those files itself: in parallel, two columns
  only, never all in memory.
- **stream**: otherwise (S3 Tables on AWS, delete files, a renamed column), pyiceberg reads the
  files (its FileIO has the credentials; it applies deletes and maps columns by field id) and
  hands DuckDB one Arrow batch at a time, which DuckDB keeps in a temporary table that spills.

Distinct ids are counted by grouping on DuckDB's 64-bit hash of the id, which spills, unlike
COUNT(DISTINCT). Two different ids with one hash would read as a duplicate, so every hash seen more
than once is counted again on the ids themselves: the answer is exact.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from pipectl.errors import PipectlError

T = TypeVar("T")

if TYPE_CHECKING:
    from pyiceberg.table import Snapshot, Table

MEMORY_LIMIT_MB = 192  # DuckDB's own limit; the process adds pyiceberg, pyarrow and Python (~200 MB)
ENV_MEMORY_LIMIT = "PIPECTL_VERIFY_MEMORY_MB"


@dataclass(frozen=True)
class IdCounts:
    rows: int
    distinct: int
    per_day: list[tuple[str, int]]  # (day as YYYY-MM-DD, rows), by day
    engine: str  # "direct" | "stream"


def memory_limit_mb() -> int:
    try:
        return max(64, int(os.environ.get(ENV_MEMORY_LIMIT, MEMORY_LIMIT_MB)))
    except ValueError:
        return MEMORY_LIMIT_MB


def _connect(spill_dir: str, threads: int):
    import duckdb  # heavy: imported where a table is counted

    # a database file in the spill folder: tables of the stream engine live on disk, not in memory
    con = duckdb.connect(
        str(Path(spill_dir) / "verify.duckdb"),
        config={
            "memory_limit": f"{memory_limit_mb()}MB",
            "temp_directory": spill_dir,
            "preserve_insertion_order": False,
            "threads": threads,
        },
    )
    con.execute("SET enable_progress_bar = false")  # stdout belongs to the command's output
    return con


def local_path(file_path: str) -> str | None:
    """The local path of a data file (`/x`, `file:/x`, `file:///x`); None for any other scheme."""
    parsed = urlparse(file_path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme else file_path
    return None


def names_stable(table: Table, columns: tuple[str, ...]) -> bool:
    """Each column has had its current name in every schema of the table (no rename)."""
    current = table.schema()
    for name in columns:
        field_id = current.find_field(name).field_id
        for schema in table.metadata.schemas:
            try:
                if schema.find_field(field_id).name != name:
                    return False
            except ValueError:  # the column did not exist yet in that schema
                continue
    return True


def _direct_files(table: Table, scan, columns: tuple[str, ...]) -> list[str] | None:
    files = []
    for task in scan.plan_files():
        path = local_path(task.file.file_path)
        if task.delete_files or path is None or task.file.file_format.name != "PARQUET":
            return None
        files.append(path)
    return files if names_stable(table, columns) else None


def _source(con, table: Table, snapshot: Snapshot, columns: tuple[str, ...]) -> str:
    """Make `src` (a view or a temporary table) hold the columns of the snapshot; the engine used."""
    current = table.current_snapshot()
    # the current snapshot is read with the current schema (a snapshot id makes pyiceberg use the
    # schema of that snapshot's time, which lacks columns renamed or added since)
    at = None if current is not None and current.snapshot_id == snapshot.snapshot_id else snapshot.snapshot_id
    scan = (
        table.scan(snapshot_id=at, selected_fields=columns) if at is not None else table.scan(selected_fields=columns)
    )
    files = _direct_files(table, scan, columns)
    if files == []:
        con.execute(
            "CREATE TEMP TABLE src AS SELECT " + ", ".join(f'NULL::VARCHAR AS "{c}"' for c in columns) + " WHERE false"
        )
        return "direct"
    if files is not None:
        con.read_parquet(files, union_by_name=True).select(", ".join(f'"{c}"' for c in columns)).create_view("src")
        return "direct"
    import pyarrow as pa
    from pyiceberg.io.pyarrow import ArrowScan

    # Arrow's default allocator keeps what it freed for reuse: the process grew ~150 MB beyond the
    # system allocator on 10 million rows (docs/benchmarks.md)
    pa.set_memory_pool(pa.system_memory_pool())

    # one data file at a time: pyiceberg's own batch reader submits every file to its thread pool at
    # once and holds what they read until it is consumed, so its memory grows with the table
    projection = scan.projection()
    reader = ArrowScan(scan.table_metadata, scan.io, projection, scan.row_filter, scan.case_sensitive)
    created = False
    for task in scan.plan_files():
        for batch in reader.to_record_batches([task]):
            con.register("batch", batch)
            con.execute("INSERT INTO src SELECT * FROM batch" if created else "CREATE TABLE src AS SELECT * FROM batch")
            con.unregister("batch")
            created = True
    if not created:
        con.execute(
            "CREATE TABLE src AS SELECT " + ", ".join(f'NULL::VARCHAR AS "{c}"' for c in columns) + " WHERE false"
        )
    return "stream"


def count_ids(
    table: Table, snapshot: Snapshot, id_column: str = "event_id", day_column: str = "event_time_day"
) -> IdCounts:
    """Rows, distinct ids and rows per day of a snapshot, exact, in bounded memory."""

    def run(con) -> IdCounts:
        engine = _source(con, table, snapshot, (id_column, day_column))
        _aggregate(con, f'CREATE TABLE by_hash AS SELECT hash("{id_column}") AS h, count(*) AS n FROM src GROUP BY h')
        rows, groups = con.execute("SELECT coalesce(sum(n), 0), count(*) FROM by_hash").fetchone() or (0, 0)
        # hashes seen more than once: true duplicates, or (rarely) two ids with one hash
        shared = con.execute("SELECT count(*) FROM by_hash WHERE n > 1").fetchone() or (0,)
        distinct = int(groups)
        if shared[0]:
            exact = _aggregate(
                con,
                f'SELECT count(DISTINCT "{id_column}") FROM src '
                f'WHERE hash("{id_column}") IN (SELECT h FROM by_hash WHERE n > 1)',
            ).fetchone()
            distinct += int(exact[0] if exact else 0) - int(shared[0])
        days = _aggregate(
            con, f'SELECT CAST("{day_column}" AS VARCHAR), count(*) FROM src GROUP BY 1 ORDER BY 1'
        ).fetchall()
        return IdCounts(int(rows), distinct, [(str(d), int(n)) for d, n in days], engine)

    return _counting(run)


def count_by(table: Table, snapshot: Snapshot, column: str) -> tuple[int, dict[str, int]]:
    """Rows of a snapshot and rows per value of one column (e.g. the quarantine's reasons)."""

    def run(con) -> dict[str, int]:
        _source(con, table, snapshot, (column,))
        grouped = _aggregate(con, f'SELECT "{column}", count(*) FROM src GROUP BY 1').fetchall()
        return {("" if value is None else str(value)): int(n) for value, n in grouped}

    counts = _counting(run)
    return sum(counts.values()), counts


_MAX_PARTITION_RANGE = 100_000  # a file's partition bounds wider than this: not a Kafka topic's, read every file


@dataclass(frozen=True)
class _FileBounds:
    task: Any  # pyiceberg FileScanTask
    partitions: range  # the Kafka partitions its rows may hold (from the manifest's column bounds)
    highest: int  # the upper bound of its Kafka offsets


def _file_bounds(task: Any, partition: Any, offset: Any) -> _FileBounds | None:
    """A data file's bounds from its manifest entry (`partition`, `offset`: the columns' fields); None when
    they are not kept."""
    from pyiceberg.conversions import from_bytes

    lower, upper = task.file.lower_bounds or {}, task.file.upper_bounds or {}
    pid, oid = partition.field_id, offset.field_id
    if pid not in lower or pid not in upper or oid not in upper:
        return None
    low, high = from_bytes(partition.field_type, lower[pid]), from_bytes(partition.field_type, upper[pid])
    return _FileBounds(task, range(int(low), int(high) + 1), int(from_bytes(offset.field_type, upper[oid])))


def max_offsets(
    table: Table, snapshot: Snapshot, partition_column: str = "kafka_partition", offset_column: str = "kafka_offset"
) -> dict[int, int]:
    """The highest Kafka offset a snapshot holds in each Kafka partition (partitions without rows left out).

    Read from as few data files as the manifests allow, newest offsets first: files in the order of their
    highest offset (their column bounds), until no file left can hold a higher offset of any partition it
    may hold than the one found. After a stop that is the files of the last commits, whatever the size of
    the table. Files without bounds (or columns of other names in older schemas): every file is read, with
    DuckDB in bounded memory."""
    schema = table.schema()
    partition, offset = schema.find_field(partition_column), schema.find_field(offset_column)
    current = table.current_snapshot()
    at = None if current is not None and current.snapshot_id == snapshot.snapshot_id else snapshot.snapshot_id
    scan = table.scan(snapshot_id=at, selected_fields=(partition_column, offset_column))
    bounds = [_file_bounds(task, partition, offset) for task in scan.plan_files()]
    if any(b is None or len(b.partitions) > _MAX_PARTITION_RANGE for b in bounds) or not names_stable(
        table, (partition_column, offset_column)
    ):
        return _max_offsets_of_all(table, snapshot, partition_column, offset_column)
    files = sorted((b for b in bounds if b is not None), key=lambda b: b.highest, reverse=True)
    later: list[set[int]] = [set() for _ in range(len(files) + 1)]  # partitions the files from i on may hold
    for i in range(len(files) - 1, -1, -1):
        later[i] = later[i + 1] | set(files[i].partitions)
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.io.pyarrow import ArrowScan

    reader = ArrowScan(scan.table_metadata, scan.io, scan.projection(), scan.row_filter, scan.case_sensitive)
    best: dict[int, int] = {}
    for i, file in enumerate(files):
        if all(best.get(p, -1) >= file.highest for p in later[i]):
            break
        for batch in reader.to_record_batches([file.task]):
            rows = pa.Table.from_batches([batch]).filter(
                pc.and_(pc.is_valid(batch.column(partition_column)), pc.is_valid(batch.column(offset_column)))
            )
            grouped = rows.group_by(partition_column).aggregate([(offset_column, "max")])
            for p, o in zip(
                grouped[partition_column].to_pylist(), grouped[f"{offset_column}_max"].to_pylist(), strict=True
            ):
                best[int(p)] = max(int(o), best.get(int(p), int(o)))
    return best


def _max_offsets_of_all(table: Table, snapshot: Snapshot, partition_column: str, offset_column: str) -> dict[int, int]:
    def run(con) -> dict[int, int]:
        _source(con, table, snapshot, (partition_column, offset_column))
        grouped = _aggregate(
            con,
            f'SELECT "{partition_column}", max("{offset_column}") FROM src '
            f'WHERE "{partition_column}" IS NOT NULL AND "{offset_column}" IS NOT NULL GROUP BY 1',
        ).fetchall()
        return {int(partition): int(offset) for partition, offset in grouped}

    return _counting(run)


def _aggregate(con: Any, sql: str) -> Any:
    """Run a grouping query over `src`. DuckDB can run out of its limit when every thread holds a
    partition at once; the query then runs again on one thread, over the data already loaded (the
    stream engine's load is most of its time: starting over cost 6 s of 13 at 10 million rows)."""
    import duckdb

    try:
        return con.execute(sql)
    except duckdb.OutOfMemoryException:
        con.execute("SET threads = 1")
        return con.execute(sql)


def _counting(run: Callable[[Any], T]) -> T:
    """`run(connection)` in a fresh spill folder; DuckDB can still run out of its limit when every
    thread holds a partition at once, so it is tried again on one thread before giving up."""
    import duckdb

    threads = max(1, min(4, os.cpu_count() or 1))
    for attempt in (threads, 1):
        with tempfile.TemporaryDirectory(prefix="pipectl-verify-") as spill:
            con = _connect(spill, attempt)
            try:
                return run(con)
            except duckdb.OutOfMemoryException:
                if attempt == 1:
                    raise PipectlError(
                        f"counting the table needed more than its memory limit of {memory_limit_mb()} MB",
                        hint=f"raise it, e.g. {ENV_MEMORY_LIMIT}={2 * memory_limit_mb()} pipectl verify",
                    ) from None
            finally:
                con.close()
    raise AssertionError("unreachable")
