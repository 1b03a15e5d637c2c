"""`pipectl maintain`: compaction and snapshot expiry for the local tables."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from pipectl import fmt
from pipectl.cli import context
from pipectl.flink.maintenance import maintain as run


def _render(console, report) -> None:
    table = Table(title=f"maintenance of {report.table}", title_justify="left")
    for col in ("", "data files", "avg file size", "snapshots", "rows"):
        table.add_column(col, justify="right")
    for label, shape in (("before", report.before), ("after", report.after)):
        table.add_row(
            label, str(shape.data_files), fmt.size(shape.avg_file_bytes), str(shape.snapshots), f"{shape.rows:,}"
        )
    console.print(table)
    console.print(
        f"{report.rewritten_files} files rewritten into {report.added_files}; {report.expired_snapshots} snapshots expired"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    @context.locked("maintain", lambda s: 600)
    def maintain(
        table: Optional[str] = typer.Option(None, "--table", help="Table in the namespace; default the orders table."),
        target_file_mb: int = typer.Option(128, "--target-file-mb", min=1, help="Target data file size."),
        retain_last: int = typer.Option(5, "--retain-last", min=1, help="Snapshots always kept."),
        older_than: int = typer.Option(
            3600, "--older-than", min=0, help="Expire snapshots older than this many seconds."
        ),
    ) -> None:
        """Compact small data files and expire old snapshots (local tables); shows before and after."""
        context.out().emit(
            run(
                context.settings(),
                table=table,
                target_file_mb=target_file_mb,
                retain_last=retain_last,
                older_than_s=older_than,
                reporter=context.out(),
            ),
            _render,
        )
