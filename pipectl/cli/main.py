"""The root command and the error edge: the one place where errors become messages and exit codes."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Optional

import typer

# Typer 0.29 vendors its own click: its exceptions, not the `click` package's, reach us here.
from typer._click import exceptions as click_exc

from pipectl.cli import aws, context, doctor, job, local, maintain, produce, status, verify
from pipectl.errors import EXIT_INTERRUPTED, EXIT_USAGE, PipectlError, UnhealthyError

EXIT_INTERNAL = 70

app = typer.Typer(
    name="pipectl",
    help="Operator toolkit for the orders pipeline: Kafka -> PyFlink -> Apache Iceberg, locally and on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    output: str = typer.Option("text", "--output", help="text or json (global: may follow any command)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show a traceback on errors (global)."),
    env: Optional[str] = typer.Option(None, "--env", help="local or aws; default DEPLOYMENT_ENV or local (global)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Settings file; default ./pipectl.toml (global)."),
) -> None:
    """Global options may be given anywhere on the line: `pipectl verify --output json`."""


# in the order a newcomer uses them (no command module imports an SDK at import time)
for module in (local, job, produce, verify, status, doctor, maintain, aws):
    module.register(app)

_GLOBAL_VALUED = {"--output": "output", "--env": "env", "--config": "config"}


def split_globals(argv: list[str]) -> tuple[dict, list[str]]:
    """Take the global options out of argv wherever they stand (before a lone `--`)."""
    found: dict = {"output": "text", "verbose": False, "env": None, "config": None}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name, eq, value = arg.partition("=")
        if name in _GLOBAL_VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    raise PipectlError(f"{name} needs a value", exit_code=EXIT_USAGE)
                value = argv[i + 1]
                i += 1
            found[_GLOBAL_VALUED[name]] = value
        elif arg == "--verbose":
            found["verbose"] = True
        else:
            rest.append(arg)
        i += 1
    if found["output"] not in ("text", "json"):
        raise PipectlError(f"--output must be text or json, got {found['output']!r}", exit_code=EXIT_USAGE)
    if found["config"] is not None:
        found["config"] = Path(found["config"])
    return found, rest


def report_error(exc: PipectlError, json_mode: bool) -> None:
    line = f"error: {exc.message}"
    if exc.hint:
        line += f" -- {exc.hint}"
    print(line, file=sys.stderr)
    if isinstance(exc, UnhealthyError) and exc.log_tail:
        print("last log lines:", file=sys.stderr)
        for entry in exc.log_tail:
            print(f"  | {entry}", file=sys.stderr)
    if json_mode:
        doc = {"error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}
        print(json.dumps(doc, indent=2))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    json_mode = False
    verbose = "--verbose" in argv
    try:
        found, rest = split_globals(argv)
        json_mode = found["output"] == "json"
        context.configure(found["output"], found["env"], found["config"])  # --verbose: read above
        rv = app(args=rest, prog_name="pipectl", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except click_exc.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except PipectlError as exc:
        if verbose:
            traceback.print_exception(exc)
        report_error(exc, json_mode)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the edge: never a traceback unless asked
        if verbose:
            traceback.print_exception(exc)
        report_error(
            PipectlError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="run again with --verbose and report it",
                exit_code=EXIT_INTERNAL,
            ),
            json_mode,
        )
        code = EXIT_INTERNAL
    sys.exit(code)


if __name__ == "__main__":
    main()
