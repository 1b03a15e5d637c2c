"""Read the Iceberg tables with pyiceberg (an independent reader, not Flink) and report on them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipectl.config import Settings
from pipectl import kafka_admin, tablecount
from pipectl.errors import EXIT_INCOMPLETE, EXIT_NOT_FOUND, NotFoundError, UnhealthyError
from pipectl.iceberg import last_commit_age_s, load_table, totals
from pipectl.wait import wait_until
from pipectl.aws.tables import describe_catalog


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
    kafka: dict | None = None  # the topic side: records, consumer lag; None when not compared
    kafka_error: str | None = None  # why the topic side is missing (locally: Kafka did not answer)
    catalog: dict | None = None  # on AWS: table buckets -> namespaces -> tables
    expected_rows: int | None = None  # --expect-rows: the table must hold exactly this many
    engine: str = ""  # how the rows were counted: direct (DuckDB over the Parquet files) or stream (pyiceberg)
    # the table's schemas, oldest first, with the columns each added (pipectl.iceberg_schema.history)
    schema_history: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool | None:
        """True when every record of the topic is in the table or in quarantine, once."""
        if self.kafka is None:
            return None
        return self.kafka["missing"] == 0 and self.duplicates == 0

    @property
    def problems(self) -> list[str]:
        out = []
        if self.duplicates:
            out.append(f"{self.duplicates} duplicated event ids")
        if self.kafka is not None:
            k = self.kafka
            if k["missing"] > 0:
                out.append(
                    f"{k['missing']} of {k['records']} Kafka records are neither stored nor quarantined"
                    f" (consumer lag {k['lag']})"
                )
            elif k["missing"] < 0:
                out.append(f"{-k['missing']} more rows stored and quarantined than records in the topic")
        return out

    @property
    def avg_file_bytes(self) -> int:
        return self.data_bytes // self.data_files if self.data_files else 0

    @property
    def exit_code(self) -> int:
        """3 when the table is empty; 5 when --expect-rows is not met or the data is incomplete."""
        if self.rows == 0:
            return EXIT_NOT_FOUND
        if (self.expected_rows is not None and self.rows != self.expected_rows) or self.problems:
            return EXIT_INCOMPLETE
        return 0

    @property
    def exit_reason(self) -> str:
        if self.rows == 0:
            return f"table {self.table} is empty: produce events and wait for a checkpoint"
        if self.expected_rows is not None and self.rows != self.expected_rows:
            return f"expected {self.expected_rows} rows, found {self.rows}"
        if self.problems:
            return "incomplete: " + "; ".join(self.problems)
        return ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["avg_file_bytes"] = self.avg_file_bytes
        d["complete"] = self.complete
        d["problems"] = self.problems
        d["exit_code"] = self.exit_code
        d["exit_reason"] = self.exit_reason
        return d


def build_report(table, name: str) -> VerifyReport:
    snapshot = table.current_snapshot()
    snapshots = len(table.metadata.snapshots)
    if snapshot is None:
        return VerifyReport(name, table.metadata.location, 0, 0, 0, [], snapshots, None, 0, 0)
    counted_ids = tablecount.count_ids(table, snapshot)  # bounded memory, whatever the table's size
    partitions = [PartitionCount(f"event_time_day={day}", rows) for day, rows in counted_ids.per_day]
    counted = totals(table, snapshot)
    from pipectl.iceberg_schema import history

    return VerifyReport(
        name,
        table.metadata.location,
        counted_ids.rows,
        counted_ids.distinct,
        counted_ids.rows - counted_ids.distinct,
        partitions,
        snapshots,
        last_commit_age_s(table),
        counted.data_files,
        counted.data_bytes,
        engine=counted_ids.engine,
        schema_history=history(table),
    )


def rejected_summary(table) -> tuple[int, dict[str, int]]:
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0, {}
    return tablecount.count_by(table, snapshot, "reason")


def wait_for_rows(settings: Settings, expected: int, timeout: float) -> VerifyReport:
    """Poll until the table holds at least `expected` rows (or the deadline passes); return the report."""
    last: list[VerifyReport] = []

    def enough():
        try:
            report = verify(settings, compare=False)
        except NotFoundError:
            return None
        last[:] = [report]
        return report if report.rows >= expected else None

    try:
        report = wait_until(enough, what=f"{expected} rows in the table", timeout=timeout, interval=1)
    except UnhealthyError:
        if not last:
            raise NotFoundError(
                f"table {settings.names.qualified_table} did not appear within {timeout:.0f}s",
                hint="is the job running? see 'pipectl job status'",
            ) from None
        report = last[0]
    report.expected_rows = expected
    if settings.env == "local":
        compare_with_topic(settings, report)
    return report


def verify(settings: Settings, compare: bool = True) -> VerifyReport:
    """The report for the orders table; raises NotFoundError when the table is missing.

    Locally it also compares the table with the topic (see compare_with_topic)."""
    catalog = None
    if settings.env == "aws":
        catalog = describe_catalog(settings)
    table = load_table(settings)
    report = build_report(table, settings.names.qualified_table)
    report.catalog = catalog
    rejected_name = settings.pipeline.rejected_table
    try:
        report.rejected_rows, report.rejected_reasons = rejected_summary(load_table(settings, rejected_name))
    except NotFoundError:
        report.rejected_rows = None
    if compare and settings.env == "local":
        compare_with_topic(settings, report)
    return report


def compare_with_topic(settings: Settings, report: VerifyReport) -> None:
    """Fill report.kafka: records in the topic, the job's consumer lag, and what is missing.

    When the broker does not answer, report.kafka stays None and report.kafka_error says so: the
    table report stands on its own. Any other failure is an error, not a missing comparison."""
    names = settings.names
    try:
        begin, end = kafka_admin.topic_offsets(settings.kafka_bootstrap, names.topic)
        committed = kafka_admin.group_offsets(settings.kafka_bootstrap, names.consumer_group, names.topic)
    except kafka_admin.errors() as exc:
        report.kafka_error = f"Kafka at {settings.kafka_bootstrap} did not answer ({kafka_admin.describe_error(exc)})"
        return
    report.kafka = topic_comparison(report, names.topic, names.consumer_group, begin, end, committed)


def topic_comparison(
    report: VerifyReport, topic: str, group: str, begin: dict[int, int], end: dict[int, int], committed: dict[int, int]
) -> dict:
    """The topic side of the report from the topic's offsets and the group's committed offsets:
    records in the topic against rows stored plus rows quarantined, and the consumer lag."""
    records = sum(end[p] - begin.get(p, 0) for p in end)
    lag = kafka_admin.lag_per_partition(begin, end, committed)
    stored = report.rows + (report.rejected_rows or 0)
    return {
        "topic": topic,
        "records": records,
        "stored_plus_quarantined": stored,
        "missing": records - stored,
        "consumer_group": group,
        "lag": sum(lag.values()),
        "lag_per_partition": {str(p): v for p, v in lag.items()},
    }
