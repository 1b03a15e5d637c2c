"""The producer on its own, without pipectl installed:

    python producer/cli.py produce orders --rate 10 --count 100
    python producer/cli.py produce orders --stdout --seed 7 --count 100

Same options as `pipectl produce orders` (producer/cli_options.py) and the same library call
(producer.send.produce). Errors are one line on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so `producer` resolves.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer  # noqa: E402
from typer._click import exceptions as click_exc  # noqa: E402 - Typer raises its own copy of click's errors
from rich.console import Console  # noqa: E402

from producer.cli_options import orders_command  # noqa: E402
from producer.errors import EXIT_FAILURE, ProducerError  # noqa: E402
from producer.options import RawOptions, build_config  # noqa: E402

app = typer.Typer(
    name="producer",
    help="Generate orders.created.v1 events and send them to Kafka.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
produce_app = typer.Typer(help="Send generated events to Kafka.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(produce_app, name="produce")


def _print(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def run_orders(raw: RawOptions) -> None:
    from producer.cli_display import render_dry_run, render_summary, reporting
    from producer.send import dry_run, produce

    config = build_config(raw)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if config.dry_run:
        result = dry_run(config)
        _print(result.to_dict()) if raw.output == "json" else render_dry_run(out, result)
        return
    with reporting(err, quiet=config.stdout) as reporter:
        summary = produce(config, reporter)
    if raw.output == "json":
        _print(summary.to_dict())
    else:
        render_summary(err if config.stdout else out, summary)
    if not summary.ok:
        raise typer.Exit(EXIT_FAILURE)


produce_app.command("orders")(orders_command(run_orders, with_output=True))


def usage_line(exc: click_exc.UsageError) -> str:
    """A usage error (unknown option, missing value) as one line that says where help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "producer/cli.py"
    return f"error: {exc.format_message()} -- see '{command} --help'"


def main(argv: list[str] | None = None) -> int:
    try:
        rv = app(args=argv, prog_name="producer/cli.py", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except click_exc.UsageError as exc:
        print(usage_line(exc), file=sys.stderr)
        return 2
    except click_exc.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except ProducerError as exc:
        print(exc.line(), file=sys.stderr)
        if "--output" in (argv or sys.argv) and "json" in (argv or sys.argv):
            _print({"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code})
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
