"""`pipectl doctor`: one line per check, its status coloured, the fix after the detail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from pipectl.doctor import DoctorReport

STYLES = {"ok": "green", "warn": "yellow", "missing": "red", "wrong": "red"}


def doctor_report(console: Console, report: DoctorReport) -> None:
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
