"""`pipectl doctor`: what the chosen path needs, checked before anything starts."""

from __future__ import annotations

from typing import Optional

import typer

from pipectl.cli import context
from pipectl.cli.render.doctor import doctor_report
from pipectl import doctor as lib


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        runtime: Optional[str] = typer.Option(None, "--runtime", help="native, docker or auto; default local.runtime."),
    ) -> None:
        """Check Python, Java, Maven, the built artifacts, free ports, disk space and a Docker engine
        (local), or credentials, region and the configured resources (--env aws). One line per check:
        ok, warn, missing or wrong, with the fix. Exit code 3 when a check is missing or wrong."""
        report = lib.run(context.settings(local__runtime=runtime))
        context.out().emit(report, doctor_report)
        context.finish(report)
