"""The orders table's schema across releases: what the job needs against what the table has, the
evolution (new optional columns only, through Iceberg schema evolution: a metadata commit, no data file
rewritten, old rows read NULL), and the schema history an independent reader (pyiceberg) sees.

The rules live with the job (jobs/order_ingest/statements.evolve_statements), so the job and pipectl
cannot disagree: pipectl checks them with pyiceberg before it stops anything, and the change itself is
made by the job's own code through the Iceberg catalog it runs with (the Hadoop catalog locally,
S3TablesCatalog on AWS): `python jobs/order_ingest/job.py --evolve-tables`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter

if TYPE_CHECKING:
    from pyiceberg.table import Table

__all__ = ["SchemaChange", "SchemaRefused", "apply", "check", "history", "plan_for_columns"]


class SchemaRefused(PipectlError):
    """The new job's columns are not the table's plus new optional ones: one line naming the column and the rule."""

    exit_code = EXIT_USAGE


@dataclass
class SchemaChange:
    table: str
    exists: bool
    schema_id: int | None  # the table's current schema id (None: no table yet, the job creates it)
    add: list[str] = field(default_factory=list)  # the columns the table gains
    statements: list[str] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return bool(self.statements)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Run in a Python process whose `jobs` package is the release's (settings.project_dir), not the one this
# pipectl was installed with: the new release's columns and rules decide.
_PLAN = """
import json, sys
from jobs.order_ingest import statements
from jobs.order_ingest.settings import load_job_settings
request = json.load(sys.stdin)
try:
    sqls = statements.evolve_statements(load_job_settings(request["env"]), [tuple(c) for c in request["existing"]])
    out = {"statements": sqls, "fields": [f[0] for f in statements.ORDERS_FIELDS]}
except statements.SchemaChangeRefused as exc:
    out = {"refused": str(exc)}
print("SCHEMA_PLAN " + json.dumps(out))
"""


def plan_for_columns(settings: Settings, existing: list[tuple[str, str, bool]], schema_id: int | None) -> SchemaChange:
    """The change from `existing` (name, Iceberg type, required) columns to the columns of the job in
    settings.project_dir, by its own rules; raises SchemaRefused."""
    from pipectl.flink.jobs import job_environment

    name = f"{settings.pipeline.namespace}.{settings.pipeline.table}"
    request = json.dumps({"env": job_environment(settings), "existing": existing})
    env = {"PYTHONPATH": str(settings.project_dir), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", _PLAN],
        input=request,
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.project_dir,
        timeout=60,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("SCHEMA_PLAN ")), None)
    if line is None:
        raise PipectlError(
            f"could not read the new job's columns from {settings.project_dir / 'jobs'}: "
            + ((proc.stderr.strip().splitlines() or ["no output"])[-1])[:300],
            hint="nothing was changed",
        )
    plan = json.loads(line[len("SCHEMA_PLAN ") :])
    if "refused" in plan:
        raise SchemaRefused(
            f"{name}: {plan['refused']}",
            hint="nothing was changed; an upgrade in place only adds optional columns (write a new table for anything else)",
        )
    have = {c[0] for c in existing}
    add = [n for n in plan["fields"] if n not in have] if plan["statements"] else []
    return SchemaChange(name, True, schema_id, add, plan["statements"])


def columns_of(table: Table) -> list[tuple[str, str, bool]]:
    return [(f.name, str(f.field_type).replace(" ", ""), f.required) for f in table.schema().fields]


def check(settings: Settings) -> SchemaChange:
    """What the job's columns need from the local orders table, read with pyiceberg; changes nothing.
    Raises SchemaRefused when the change is not additive."""
    from pipectl.iceberg import load_local_table

    try:
        table = load_local_table(settings)
    except NotFoundError:
        return SchemaChange(f"{settings.pipeline.namespace}.{settings.pipeline.table}", False, None)
    return plan_for_columns(settings, columns_of(table), table.metadata.current_schema_id)


def apply(settings: Settings, change: SchemaChange, reporter: Reporter = SILENT) -> list[str]:
    """Evolve the local tables with the job's own code and catalog (idempotent); the statements run."""
    if not change.needed:
        return []
    from pipectl.flink.jobs import job_environment
    from pipectl.launch.java import java_env

    reporter.step(f"evolving {change.table}: adding {', '.join(change.add)} (Iceberg schema evolution, no rewrite)")
    env = java_env()
    env.update(job_environment(settings))
    env["PYTHONPATH"] = str(settings.project_dir)
    job_py = settings.project_dir / "jobs" / "order_ingest" / "job.py"
    proc = subprocess.run(
        [sys.executable, str(job_py), "--evolve-tables"], capture_output=True, text=True, env=env, timeout=300
    )
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode != 0 or not last:
        error = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
        raise PipectlError(
            f"evolving {change.table} failed: "
            + (error[-1][7:] if error else (proc.stderr.strip().splitlines() or ["no output"])[-1]),
            hint="the table is unchanged unless its metadata shows a new schema; see 'pipectl verify'",
        )
    done = json.loads(last[0]).get("evolved", [])
    reporter.done(f"{change.table} evolved: {len(done)} schema change(s)")
    return done


def history(table: Table) -> list[dict[str, Any]]:
    """The table's schemas, oldest first, with the columns each one added: what pyiceberg reads."""
    out: list[dict[str, Any]] = []
    previous: set[str] = set()
    for schema in sorted(table.metadata.schemas, key=lambda s: s.schema_id):
        names = [f.name for f in schema.fields]
        out.append(
            {
                "schema_id": schema.schema_id,
                "columns": len(names),
                "added": [n for n in names if n not in previous] if previous else [],
                "current": schema.schema_id == table.metadata.current_schema_id,
            }
        )
        previous = set(names)
    return out


def restore_schema(settings: Settings, schema_id: int) -> bool:
    """Make `schema_id` the local orders table's current schema again (a rollback after an evolution):
    one metadata commit of the Hadoop table layout (v<N+1>.metadata.json, created exclusively, then
    version-hint.text), the same as Iceberg's SetCurrentSchema update. Rows written under the newer
    schema stay; their newer columns are not read under the older one. False when nothing changed."""
    import os
    import time

    from pipectl.iceberg import local_table_dir

    meta_dir = local_table_dir(settings) / "metadata"
    version = int((meta_dir / "version-hint.text").read_text().strip())
    current = meta_dir / f"v{version}.metadata.json"
    metadata = json.loads(current.read_text())
    if metadata.get("current-schema-id") == schema_id:
        return False
    if schema_id not in {s.get("schema-id") for s in metadata.get("schemas", [])}:
        raise PipectlError(f"{settings.pipeline.namespace}.{settings.pipeline.table} has no schema {schema_id}")
    now_ms = int(time.time() * 1000)
    metadata["metadata-log"] = [
        *metadata.get("metadata-log", []),
        {"timestamp-ms": metadata.get("last-updated-ms", now_ms), "metadata-file": current.resolve().as_uri()},
    ]
    metadata["current-schema-id"] = schema_id
    metadata["last-updated-ms"] = now_ms
    target = meta_dir / f"v{version + 1}.metadata.json"
    tmp = meta_dir / f".v{version + 1}.metadata.json.pipectl-tmp"
    tmp.write_text(json.dumps(metadata))
    try:
        os.link(tmp, target)  # fails when another writer committed this version first
    except FileExistsError:
        raise PipectlError(
            f"{settings.pipeline.namespace}.{settings.pipeline.table} changed while its schema was being restored",
            hint="stop every writer and run the upgrade again",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    (meta_dir / "version-hint.text").write_text(str(version + 1))
    return True
