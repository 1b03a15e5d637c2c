"""Table maintenance for the local Iceberg tables: compaction of small files and snapshot expiry.

Runs Iceberg's own Java actions (RewriteDataFiles through Flink, ExpireSnapshots) in this
process's Flink gateway, on the Hadoop catalog the job writes to. Before and after are measured
with pyiceberg, the independent reader. It is safe while the job runs: Iceberg's optimistic
concurrency retries a commit that races with the job's.

Maintenance never breaks a restore, for any retention it accepts. On restore the Iceberg sink's
committer (`IcebergFilesCommitter.initializeState` -> `SinkUtil.getMaxCommittedCheckpointId`, the
same in the v2 `IcebergCommitter`; the job's SQL sink is the v1 `FlinkSink`) walks the table from
its current snapshot through the parent ids to the first snapshot whose summary carries the restored
job's `flink.job-id` and `flink.max-committed-checkpoint-id`, and stops at a parent that was expired.
Whatever it does not find there it commits again from manifests it deleted after the first commit
(issue 25: a restart loop; had the manifest been kept, the rows twice). Two ways to keep it:

- carry `flink.*` forward into the compaction's own replace snapshot. Rejected: the properties of
  a commit are fixed before Iceberg retries it on a newer base, so a replace that races with the
  job's commit of checkpoint N+1 would carry N above it, and a restore from N+1 would commit it
  twice. (Flink's RewriteDataFilesAction sets no snapshot properties anyway.)
- expire only below the newest Flink commit: the expiry keeps every ancestor from the current
  snapshot back to the newest snapshot a Flink job committed (`retainLast` of at least that many,
  counted on the table as it is after compaction). This is what maintain does. A commit that races
  with the expiry only moves the newest Flink commit up, within what is kept. The cost: the data
  files of that commit outlive the compaction until the job commits again.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from pipectl.config import Settings
from pipectl.files import private_dir
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.flink.resume import lineage_depth
from pipectl.iceberg import TableTotals, load_local_table, totals
from pipectl.progress import SILENT, Reporter

SHADED_HADOOP = "pipectl.shaded.org.apache.hadoop.conf.Configuration"


@dataclass
class TableShape(TableTotals):
    """A table's totals and how many snapshots it keeps, before or after maintenance."""

    snapshots: int = 0


@dataclass
class MaintainReport:
    table: str
    before: TableShape
    after: TableShape
    rewritten_files: int
    added_files: int
    expired_snapshots: int
    kept_for_restore: int = 0  # snapshots from the current one back to the newest Flink commit

    def to_dict(self) -> dict:
        d = asdict(self)
        d["before"]["avg_file_bytes"] = self.before.avg_file_bytes
        d["after"]["avg_file_bytes"] = self.after.avg_file_bytes
        return d


def _shape(settings: Settings, table: str) -> TableShape:
    t = load_local_table(settings, table)
    counted = totals(t)
    return TableShape(counted.rows, counted.data_files, counted.data_bytes, snapshots=len(t.metadata.snapshots))


def rewrite_problem(rows_before: int, rows_after: int, rewritten_rows: int, written_rows: int) -> str | None:
    """What is wrong with a maintenance run's rows, or None. The rewrite must write exactly the rows
    of the files it replaced; the table may only grow meanwhile (the running job appends: a commit
    during maintenance is normal, not a reason to fail, as the randomized test's seed 405 showed)."""
    if rewritten_rows != written_rows:
        return (
            f"the compaction wrote {written_rows} rows in place of {rewritten_rows}: "
            "rows were lost or doubled by the rewrite"
        )
    if rows_after < rows_before:
        return f"the table lost rows during maintenance ({rows_before} -> {rows_after})"
    return None


def _java_class(jvm, dotted: str):
    obj = jvm
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _summaries(jtable) -> list[dict[str, str]]:
    """The summaries of the Java table's current snapshot and its ancestors, newest first, as far
    as they are kept (the walk of the sink's committer)."""
    found = []
    snap = jtable.currentSnapshot()
    while snap is not None:
        found.append({str(k): str(v) for k, v in dict(snap.summary()).items()})
        parent = snap.parentId()
        snap = jtable.snapshot(parent) if parent is not None else None
    return found


def _log_to_file(settings: Settings) -> None:
    """Keep the in-process JVM's log out of stdout (the JSON output lives there): to logs/maintain.log."""
    log_dir = private_dir(settings.state_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    props = settings.state_dir / "maintain-log4j.properties"
    props.write_text(
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = FileAppender\n"
        "appender.file.name = FileAppender\n"
        "appender.file.type = FILE\n"
        f"appender.file.fileName = {log_dir / 'maintain.log'}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n\n"
        # never log the environment of a Python process Flink starts (pipectl.stack.native)
        "logger.pythonenvutils.name = org.apache.flink.client.python.PythonEnvUtils\n"
        "logger.pythonenvutils.level = OFF\n"
    )
    os.environ["LOG4J_PROPERTIES"] = str(props)
    os.environ["FLINK_LOG_DIR"] = str(log_dir)


def maintain(
    settings: Settings,
    *,
    table: str | None = None,
    target_file_mb: int = 128,
    retain_last: int = 5,
    older_than_s: int = 3600,
    reporter: Reporter = SILENT,
) -> MaintainReport:
    if settings.env != "local":
        raise PipectlError(
            "Amazon S3 Tables compacts files and expires snapshots itself",
            hint="tune it with 'aws s3tables put-table-maintenance-configuration'",
            exit_code=EXIT_USAGE,
        )
    name = table or settings.pipeline.table
    before = _shape(settings, name)  # raises NotFoundError when the table is missing
    if not settings.dependency_jar.is_file():
        raise NotFoundError(f"dependency jar {settings.dependency_jar} is missing", hint="build it with 'make build'")

    reporter.step("starting Flink in-process for Iceberg's maintenance actions")
    _log_to_file(settings)
    # pyflink starts a JVM gateway and takes seconds to import: only when maintenance runs
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway

    # add_jars puts the jar on the gateway's class loader (for the catalog calls below) and in
    # pipeline.jars (for the rewrite job's tasks)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.add_jars(settings.dependency_jar.resolve().as_uri())
    env.set_parallelism(1)
    jvm = get_gateway().jvm
    conf = _java_class(jvm, SHADED_HADOOP)()
    catalog = jvm.org.apache.iceberg.hadoop.HadoopCatalog(conf, settings.warehouse_dir.resolve().as_uri())
    ident = jvm.org.apache.iceberg.catalog.TableIdentifier.parse(f"{settings.pipeline.namespace}.{name}")
    jtable = catalog.loadTable(ident)

    reporter.step(f"compacting data files of {settings.pipeline.namespace}.{name} to about {target_file_mb} MiB")
    result = (
        jvm.org.apache.iceberg.flink.actions.Actions.forTable(env._j_stream_execution_environment, jtable)
        .rewriteDataFiles()
        .targetSizeInBytes(target_file_mb * 1024 * 1024)
        .execute()
    )
    rewritten, added = result.deletedDataFiles().size(), result.addedDataFiles().size()
    # the rewrite keeps every row: the records of the files it removed = those of the files it wrote
    rows_out = sum(int(f.recordCount()) for f in result.deletedDataFiles())
    rows_in = sum(int(f.recordCount()) for f in result.addedDataFiles())

    jtable.refresh()
    depth = lineage_depth(_summaries(jtable))
    keep = max(retain_last, depth)
    reporter.step(
        f"expiring snapshots older than {older_than_s}s, keeping the last {keep}"
        + (" (back to the newest Flink commit, which a restore reads)" if depth > retain_last else "")
    )
    snapshots_before = len(list(jtable.snapshots()))
    cutoff_ms = int((time.time() - older_than_s) * 1000)
    jtable.expireSnapshots().expireOlderThan(cutoff_ms).retainLast(keep).commit()
    jtable.refresh()
    expired = snapshots_before - len(list(jtable.snapshots()))
    after = _shape(settings, name)
    problem = rewrite_problem(before.rows, after.rows, rows_out, rows_in)
    if problem:
        raise PipectlError(problem, hint="run 'pipectl verify' to check the table")
    reporter.done(
        f"{rewritten} files rewritten into {added}; {expired} snapshots expired"
        + (f"; the job committed {after.rows - before.rows} rows meanwhile" if after.rows > before.rows else "")
    )
    return MaintainReport(f"{settings.pipeline.namespace}.{name}", before, after, rewritten, added, expired, depth)
