"""`pipectl verify`: read the table with pyiceberg and report."""

from __future__ import annotations

from typing import Optional

import typer

from pipectl import verify as lib
from pipectl.cli import context, render


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(
        expect_rows: Optional[int] = typer.Option(
            None,
            "--expect-rows",
            help="Wait until the table holds this many rows; exit 5 unless it holds exactly these, each once.",
        ),
        timeout: float = typer.Option(120, "--timeout", help="Seconds to wait with --expect-rows."),
    ) -> None:
        """Rows, distinct event ids, partitions, snapshots and last commit of analytics.orders, read with pyiceberg.

        Locally it also compares the table with the topic: Kafka records against rows stored plus
        rows quarantined, duplicates, and the job's consumer lag; "complete" only when nothing is
        missing or doubled.

        Exit code 3 when the table is missing or empty; 5 when incomplete, or --expect-rows is not met."""
        s = context.settings()
        report = lib.verify(s) if expect_rows is None else lib.wait_for_rows(s, expect_rows, timeout)
        context.out().emit(report, render.verify_report)
        context.finish(report, warn=True)
