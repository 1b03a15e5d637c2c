"""`pipectl verify`: read the table with pyiceberg and report."""

from __future__ import annotations

import typer

from pipectl.cli import context, render
from pipectl.errors import EXIT_NOT_FOUND


def register(app: typer.Typer) -> None:
    @app.command()
    def verify() -> None:
        """Rows, distinct event ids, partitions, snapshots and last commit of analytics.orders, read with pyiceberg.

        Exit code 3 when the table is missing or empty."""
        from pipectl.verify import verify as run_verify

        report = run_verify(context.settings())
        context.out().emit(report, render.verify_report)
        if report.rows == 0:
            context.out().warn(f"table {report.table} is empty: produce events and wait for a checkpoint")
            raise typer.Exit(EXIT_NOT_FOUND)
