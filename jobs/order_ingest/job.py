"""order_ingest: Kafka topic orders.created.v1 -> Iceberg table analytics.orders.

Valid orders go to analytics.orders (Parquet, partitioned by event_time_day); records that break
the orders.created.v1 contract go to analytics.orders_rejected with the reason. Iceberg commits
on every checkpoint, and Kafka offsets live in the checkpoints: exactly once end to end.

Run it
  * in-process (Flink mini cluster): `python jobs/order_ingest/job.py` (waits until stopped);
  * on the local cluster: `pipectl job start` (submits it with `flink run`, detached);
  * on Amazon Managed Service for Apache Flink: through streaming_job.py in the zip.

Settings: environment variables locally, the PipelineConfig property group on Managed Flink
(see settings.py). This module imports only pyflink and the standard library, and does nothing
at import time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jobs` importable from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jobs.order_ingest import statements
from jobs.order_ingest.settings import (
    JobConfigError,
    JobSettings,
    is_aws_environment,
    load_job_settings,
    read_application_properties,
)

__all__ = [
    "build_statement_set",
    "evolve_tables",
    "is_aws_environment",
    "main",
    "register_classified_view",
    "resolve_settings",
    "table_columns",
]

DEFAULT_JAR = Path(__file__).resolve().parents[2] / "target" / "pyflink-dependencies.jar"


def resolve_settings() -> JobSettings:
    """Environment variables, overlaid by the Managed Flink property group when it exists."""
    values = dict(os.environ)
    properties = read_application_properties()
    if properties is not None:
        values.update(properties)
    return load_job_settings(values)


def _dependency_jars(settings: JobSettings) -> str | None:
    """pipeline.jars for local runs: PIPELINE_JARS, else the Maven build output if present."""
    if settings.pipeline_jars:
        return settings.pipeline_jars
    if DEFAULT_JAR.is_file():
        return DEFAULT_JAR.as_uri()
    return None


def create_table_env(settings: JobSettings):
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    config.set("table.local-time-zone", "UTC")
    config.set("pipeline.name", settings.pipeline_name)
    # The classification's rows go to two inserts; without object reuse Flink copies each row for each
    # of them (~18% of the TaskManager's CPU in a profile). Safe here: every operator after the source
    # (SQL Calc, the Iceberg writers) reads its input row and builds its own output.
    config.set("pipeline.object-reuse", "true")
    if not settings.is_aws:
        jars = _dependency_jars(settings)
        if jars is None:
            raise JobConfigError(
                f"dependency jar not found at {DEFAULT_JAR}: build it with `mvn -q package` or set PIPELINE_JARS"
            )
        config.set("pipeline.jars", jars)
        # On Managed Flink checkpointing comes from the application configuration, not from code.
        config.set("execution.checkpointing.interval", f"{settings.checkpoint_interval_ms} ms")
        config.set("execution.checkpointing.mode", "EXACTLY_ONCE")
        if settings.allow_non_restored_state:  # `pipectl job upgrade --allow-non-restored-state`
            config.set("execution.savepoint.ignore-unclaimed-state", "true")
        if settings.parallelism:
            config.set("parallelism.default", str(settings.parallelism))
    return t_env


def register_classified_view(t_env) -> None:
    """The view both inserts read, registered as one Table so that they share its Correlate: the
    classification function runs once per record (see statements.classified_select)."""
    t_env.create_temporary_view(statements.CLASSIFIED, t_env.sql_query(statements.classified_select()))


def table_columns(t_env, settings: JobSettings) -> list[tuple[str, str, bool]]:
    """The orders table's columns as the catalog has them: (name, Iceberg type, required)."""
    with t_env.execute_sql(f"DESCRIBE {statements.qualified(settings, settings.table)}").collect() as rows:
        return [(row[0], statements.iceberg_type(row[1]), not row[2]) for row in rows]


def evolve_tables(t_env, settings: JobSettings) -> list[str]:
    """Give the orders table the job's columns through Iceberg schema evolution (new optional columns
    only; idempotent): the ALTER TABLE statements run, none when the table has them all. A change that
    is not additive fails with a JobConfigError naming the column and the rule, before anything changes."""
    try:
        changes = statements.evolve_statements(settings, table_columns(t_env, settings))
    except statements.SchemaChangeRefused as exc:
        raise JobConfigError(f"{statements.qualified(settings, settings.table)}: {exc}") from None
    for sql in changes:
        t_env.execute_sql(sql)
    return changes


def table_properties(t_env, settings: JobSettings, table: str) -> dict[str, str]:
    """The Iceberg table's properties as the catalog has them (the Flink table's options)."""
    from pyflink.table.catalog import ObjectPath

    catalog = t_env.get_catalog(statements.CATALOG)
    return dict(catalog.get_table(ObjectPath(settings.namespace, table)).get_options())


def align_writer_settings(t_env, settings: JobSettings) -> list[str]:
    """Give both tables the Parquet writer's settings of this release (statements.WRITER_PROPERTIES) when
    an older release made them without: `ALTER TABLE ... SET`, a metadata change that applies to the
    files written from then on. None when they have them (no commit)."""
    changes = []
    for kind, table in (("orders", settings.table), ("rejected", settings.rejected_table)):
        changes += statements.writer_settings_statements(settings, kind, table_properties(t_env, settings, table))
    for sql in changes:
        t_env.execute_sql(sql)
    return changes


def build_statement_set(t_env, settings: JobSettings, sink: str = "iceberg"):
    """Run the setup DDL and return the statement set holding the inserts.

    `sink`: "iceberg" (the job); the benchmark's ceilings into blackhole sinks: "raw", "json",
    "blackhole" (see statements.bench_statements)."""
    if sink == "iceberg":
        ddl, inserts = statements.setup_statements(settings), statements.inserts(settings)
    else:
        ddl, inserts = statements.bench_statements(settings, sink)
    for sql in ddl:
        t_env.execute_sql(sql)
    if sink == "iceberg":  # a table made by an older release gains the columns and settings of this one
        evolve_tables(t_env, settings)
        align_writer_settings(t_env, settings)
    if sink in ("iceberg", "blackhole"):
        register_classified_view(t_env)
    stmt_set = t_env.create_statement_set()
    for sql in inserts:
        stmt_set.add_insert_sql(sql)
    return stmt_set


def main(wait: bool | None = None):
    """Build and submit the job; returns the TableResult.

    `wait`: block until the job ends. Default: wait when run locally in-process, never on
    Managed Flink (there main() must return) nor when submitted detached (PIPECTL_DETACHED=1).
    """
    settings = resolve_settings()
    t_env = create_table_env(settings)
    result = build_statement_set(t_env, settings, sink=settings.sink).execute()
    if wait is None:
        wait = not settings.is_aws and not settings.detached
    if wait:
        result.wait()
    return result


def evolve_only() -> list[str]:
    """Create the catalog, database and tables if needed and evolve the orders table; no job is run
    (`python jobs/order_ingest/job.py --evolve-tables`, what `pipectl job upgrade` runs)."""
    settings = resolve_settings()
    t_env = create_table_env(settings)
    for sql in statements.setup_statements(settings)[: 1 + len(statements.create_tables(settings))]:
        t_env.execute_sql(sql)
    return evolve_tables(t_env, settings)


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["--evolve-tables"]:
            import json

            print(json.dumps({"evolved": evolve_only()}))
        else:
            main()
    except JobConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
