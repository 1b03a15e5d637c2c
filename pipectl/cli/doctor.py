"""`pipectl doctor`: what the chosen path needs, checked before anything starts."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipectl.cli import context
from pipectl import doctor as lib

STYLES = {"ok": "green", "warn": "yellow", "missing": "red", "wrong": "red"}


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        runtime: Optional[str] = typer.Option(None, "--runtime", help="native, docker or auto; default local.runtime."),
    ) -> None:
        """Check Python, Java, Maven, the built artifacts, free ports, disk space and a Docker engine
        (local), or credentials, region and the configured resources (--env aws). One line per check:
        ok, warn, missing or wrong, with the fix. Exit code 3 when a check is missing or wrong."""
        report = lib.run(context.settings(local__runtime=runtime))
        context.out().emit(report, render)
        context.finish(report)


def render(console: Console, report) -> None:
    where = f"{report.env}" + (f" ({report.runtime} runtime)" if report.env == "local" else "")
    table = Table(
        title=f"pipectl doctor: {where}",
        title_justify="left",
        show_header=False,
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
    )
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for c in report.checks:
        line = Text(c.detail)
        if c.fix and c.status != "ok":
            line.append(f" -- {c.fix}", style="italic")
        table.add_row(Text(c.status, style=STYLES.get(c.status, "")), c.name, line)
    console.print(table)
    if report.exit_reason:
        console.print(Text(report.exit_reason, style="bold red"))
    else:
        console.print(Text("ready", style="bold green"))
