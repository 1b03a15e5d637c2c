"""Text renderers for results (JSON output uses the results' to_dict()): the one home of the
renderers, one module per command group (this one: `local`, `job`, `verify`; `render.aws`,
`render.doctor`). Each takes the result type its command returns. The producer's renderers live in
producer/cli_display.py, since producer/cli.py runs without pipectl.

`pipectl aws deploy` and `aws deploy --plan`/`aws diff` still render in pipectl/cli/aws.py, next to
their options (owned by the deploy work), with the helpers of render.aws."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from pipectl import fmt

if TYPE_CHECKING:
    from pipectl.flink.jobs import JobInfo
    from pipectl.flink.upgrade import UpgradeReport
    from pipectl.stack.model import StackStatus
    from pipectl.verify import VerifyReport


def _yes(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"


def stack_status(console: Console, status: StackStatus) -> None:
    for m in status.messages:
        console.print(m)
    table = Table(title=f"local stack ({status.runtime})", title_justify="left")
    for col in ("component", "pid", "address", "healthy", "detail"):
        table.add_column(col)
    for c in status.components:
        table.add_row(c.name, str(c.pid or "-"), c.address, _yes(c.healthy), c.detail)
    console.print(table)
    if status.submit_command:
        console.print(f"submit the job from inside the JobManager: {status.submit_command}", highlight=False)


def stack_up(console: Console, status: StackStatus) -> None:
    stack_status(console, status)
    console.print(f"state, data and logs: {status.state_dir}")
    console.print("Flink web UI: " + next(c.address for c in status.components if c.name == "jobmanager"))
    console.print("next: pipectl job start && pipectl produce orders --rate 10 --count 100 && pipectl verify")


def stack_down(console: Console, status: StackStatus) -> None:
    for m in status.messages:
        console.print(m)


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{fmt.age(seconds)} ago"


def job_info(console: Console, info: JobInfo) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("job", info.name)
    table.add_row("id", info.job_id or "-")
    table.add_row("state", info.state)
    if info.started_at:
        table.add_row("started", dt.datetime.fromtimestamp(info.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    if info.last_checkpoint:
        cp = info.last_checkpoint
        table.add_row(
            "last checkpoint", f"#{cp['id']} {_age(cp['age_s'])}, {cp['duration_ms']} ms, {cp['size_bytes']} bytes"
        )
    if info.restored_from:
        table.add_row("restored from", info.restored_from)
    if info.read_from:
        table.add_row("read on from", _offsets(info.read_from))
    if info.savepoint:
        table.add_row("last savepoint", info.savepoint)
    if info.message:
        table.add_row("note", info.message)
    console.print(table)
    if info.message == "started":
        console.print(
            "next: pipectl produce orders --rate 10 --count 100, then pipectl verify (the job shows in the Flink UI)"
        )
    elif info.state == "STOPPED":
        console.print("next: pipectl job start (resumes from this savepoint)")


def _offsets(by_partition: dict[str, int]) -> str:
    from pipectl.flink.read_on import describe_offsets

    return describe_offsets(by_partition)


def catalog_tree(console: Console, catalog: dict) -> None:
    tree = Tree(f"S3 table buckets in {catalog['region']}")
    for bucket in catalog["table_buckets"]:
        b = tree.add(f"{bucket['name']} ({bucket['arn']})")
        for ns in bucket["namespaces"]:
            n = b.add(ns["name"])
            for t in ns["tables"]:
                n.add(t["name"])
    console.print(tree)


def verify_report(console: Console, report: VerifyReport) -> None:
    if report.catalog:
        catalog_tree(console, report.catalog)
    table = Table(show_header=False, box=None, title=f"Iceberg table {report.table}", title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("location", report.location)
    table.add_row("rows", f"{report.rows:,}")
    table.add_row("distinct event_id", f"{report.distinct_event_ids:,}")
    table.add_row("duplicates", f"{report.duplicates:,}")
    table.add_row("snapshots", str(report.snapshots))
    table.add_row("last commit", _age(report.last_commit_age_s))
    table.add_row("data files", f"{report.data_files} (avg {fmt.size(report.avg_file_bytes)})")
    if len(report.schema_history) > 1:  # the table evolved: each schema and the columns it added
        table.add_row(
            "schema",
            "; ".join(
                f"{h['schema_id']}: {h['columns']} columns" + (f" (+{', '.join(h['added'])})" if h["added"] else "")
                for h in report.schema_history
            ),
        )
    if report.rejected_rows is not None:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.rejected_reasons.items()))
        table.add_row("quarantined", f"{report.rejected_rows:,}" + (f" ({reasons})" if reasons else ""))
    if report.kafka is None:
        if report.kafka_error:
            table.add_row("kafka", f"not compared: {report.kafka_error}")
    else:
        k = report.kafka
        table.add_row("kafka records", f"{k['records']:,} in {k['topic']}")
        table.add_row("consumer lag", f"{k['lag']:,} ({k['consumer_group']})")
        verdict = (
            "[green]complete[/green]" if report.complete else "[red]incomplete[/red]: " + "; ".join(report.problems)
        )
        table.add_row("verdict", verdict)
    console.print(table)
    if report.partitions:
        parts = Table(title="rows per day", title_justify="left")
        parts.add_column("partition")
        parts.add_column("rows", justify="right")
        parts.add_column("")
        top = max(p.rows for p in report.partitions)
        for p in report.partitions:
            parts.add_row(p.partition, f"{p.rows:,}", "█" * max(1, round(30 * p.rows / top)))
        console.print(parts)


def upgrade_report(console: Console, report: UpgradeReport) -> None:
    """`job upgrade`: the path taken, what changed, then the verify report."""
    table = Table(show_header=False, box=None, title="job upgrade", title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("old job", report.old_job_id)
    table.add_row("new job", report.new_job_id or "-")
    table.add_row("path", report.message)
    if report.state is not None:
        table.add_row("state check", report.state.message)
    table.add_row("savepoint", report.savepoint or "-")
    if report.read_from:
        table.add_row("read on from", _offsets(report.read_from))
    if report.switch_s is not None:
        table.add_row(
            "timing", f"checks {report.check_s:.0f} s before the stop; stop to healthy {report.switch_s:.0f} s"
        )
    schema = report.schema or {}
    table.add_row("table schema", ("added " + ", ".join(schema["add"])) if schema.get("add") else "unchanged")
    for w in report.warnings:
        table.add_row("warning", w)
    console.print(table)
    if report.verify is not None:
        from types import SimpleNamespace

        v = dict(report.verify)
        v["partitions"] = [SimpleNamespace(**p) for p in v.get("partitions", [])]
        for key in ("avg_file_bytes", "complete", "problems", "exit_code", "exit_reason"):
            v.pop(key, None)
        from pipectl.verify import VerifyReport

        verify_report(console, VerifyReport(**v))
