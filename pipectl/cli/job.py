"""`pipectl job start|status|stop`: the order_ingest job on the local Flink cluster."""

from __future__ import annotations

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
        False, "--fresh", help="Ignore checkpoints and savepoints; read on from the consumer group's committed offsets."
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
