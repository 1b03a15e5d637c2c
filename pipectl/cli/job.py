"""`pipectl job start|status|stop|upgrade`: the order_ingest job on the local Flink cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipectl.cli import context, render
from pipectl.flink.job_state import status_outcome
from pipectl.flink import jobs

app = typer.Typer(help="Run the order_ingest job on the local Flink cluster.", no_args_is_help=True)


@app.command()
@context.locked("job start", lambda s: 300)
def start(
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Ignore checkpoints and savepoints; read on after the last records the tables hold (the consumer "
        "group's offsets are set there first).",
    ),
    from_savepoint: Optional[str] = typer.Option(
        None,
        "--from-savepoint",
        help="Restore from this savepoint or retained checkpoint (refused when the tables hold newer commits).",
    ),
) -> None:
    """Submit the job (detached; it keeps running after this command).

    Resumes from the newest retained checkpoint or savepoint of this pipeline, after checking that the
    tables hold nothing newer (refused otherwise)."""
    context.out().emit(
        jobs.start(context.settings(), fresh=fresh, from_savepoint=from_savepoint, reporter=context.out()),
        render.job_info,
    )


@app.command()
def status() -> None:
    """State, start time and last checkpoint of the job. Exit code 4 when it is not running."""
    info = jobs.status(context.settings())
    context.out().emit(info, render.job_info)
    context.finish(status_outcome(info.state))


@app.command()
@context.locked("job stop", lambda s: 300)
def stop(
    no_savepoint: bool = typer.Option(False, "--no-savepoint", help="Cancel without taking a savepoint."),
) -> None:
    """Stop the job with a savepoint (the next 'job start' resumes from it)."""
    context.out().emit(
        jobs.stop(context.settings(), savepoint=not no_savepoint, reporter=context.out()), render.job_info
    )


@app.command()
def upgrade(
    skip_build: bool = typer.Option(False, "--skip-build", help="Use the jar as built (no mvn package)."),
    allow_non_restored_state: bool = typer.Option(
        False,
        "--allow-non-restored-state",
        help="Drop the state of operators the new job lacks (refused otherwise): that state is LOST.",
    ),
    previous: Optional[Path] = typer.Option(
        None, "--previous", help="A checkout of the running release, to roll back to if the new job fails."
    ),
    health_timeout: float = typer.Option(
        240, "--health-timeout", help="Seconds to wait for a checkpoint and a commit."
    ),
) -> None:
    """Replace the running job with the checkout's, in place, with its state and without losing or doubling a row.

    Build; check the tables (only new optional columns) and the state (the new job's operator ids against
    the running job's checkpoint); stop with a savepoint; evolve the tables; start the new job from the
    savepoint (or, where its state does not map, without state, reading on after the last records the
    tables hold);
    wait for a checkpoint and a commit; verify. Nothing is stopped when a check fails; a new job that
    fails is rolled back. See docs/operations.md#upgrading."""
    from pipectl.flink import upgrade as lib

    context.out().emit(
        lib.upgrade(
            context.settings(),
            build=not skip_build,
            allow_non_restored_state=allow_non_restored_state,
            previous=previous,
            health_timeout=health_timeout,
            reporter=context.out(),
        ),
        render.upgrade_report,
    )


def register(root: typer.Typer) -> None:
    """Add this command group to the root command (every command module registers the same way)."""
    root.add_typer(app, name="job")
