"""`pipectl local up|status|logs|down`: the local stack."""

from __future__ import annotations

import sys

import typer

from pipectl.cli import context, render
from pipectl.errors import EXIT_USAGE, PipectlError
from pipectl.stack import component_log, get_stack, start_stack

app = typer.Typer(help="Run the local stack: a Kafka broker and a Flink cluster.", no_args_is_help=True)


def _stack():
    return get_stack(context.settings(), reporter=context.out())


@app.command()
@context.locked("local up", lambda s: 3 * s.local.start_timeout_s + 300)
def up(
    runtime: str = typer.Option(
        None,
        "--runtime",
        metavar="native|docker|auto",
        help="native: local processes; docker: containers; auto: docker when an engine answers. Default: the running stack's, else local.runtime.",
    ),
) -> None:
    """Start Kafka (127.0.0.1:9092) and Flink (REST and UI on 127.0.0.1:8081); create the topic. Idempotent.

    The runtime is recorded in the state folder; status, logs, down and job commands use it."""
    context.out().emit(start_stack(context.settings(), runtime, reporter=context.out()), render.stack_up)


@app.command()
def status() -> None:
    """Show each component: pid, address, healthy. Exit code 4 when one is not healthy."""
    result = _stack().status()
    context.out().emit(result, render.stack_status)
    context.finish(result)


@app.command()
def logs(
    component: str = typer.Argument("kafka", help="kafka, jobmanager or taskmanager"),
    lines: int = typer.Option(50, "--lines", "-n", help="How many of the last lines."),
) -> None:
    """Print the last lines of a component's log (a container's log in the docker runtime)."""
    context.out().emit(
        component_log(context.settings(), component, lines),
        lambda console, r: console.out("\n".join(r.lines) if r.lines else f"(no log yet at {r.log})", highlight=False),
    )


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PipectlError(
            "refusing to delete without confirmation: no terminal to ask on",
            hint="pass --yes to 'local down --purge'",
            exit_code=EXIT_USAGE,
        )
    return typer.confirm(question, default=False, err=True)


@app.command()
@context.locked("local down", lambda s: 300)
def down(
    purge: bool = typer.Option(
        False, "--purge", help="Also delete Kafka data, checkpoints, savepoints and the warehouse (asks first)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --purge: do not ask for confirmation."),
) -> None:
    """Stop the local stack; a running job is first stopped with a savepoint. Data is kept unless --purge,
    which names every folder it deletes and asks first (without a terminal it needs --yes)."""
    from pipectl.local_down import stop_stack

    result = stop_stack(context.settings(), purge=purge, reporter=context.out(), confirm=None if yes else _ask)
    context.out().emit(result, render.stack_down)


def register(root: typer.Typer) -> None:
    """Add this command group to the root command (every command module registers the same way)."""
    root.add_typer(app, name="local")
