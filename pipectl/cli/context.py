"""Per-invocation state shared by the commands: the settings and the Output."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import typer

from pipectl.cli.output import Output, make_output
from pipectl.config import Settings, load_settings
from pipectl.errors import Outcome


@dataclass
class Globals:
    output: str = "text"
    verbose: bool = False
    env: str | None = None
    config: Path | None = None
    out: Output = field(default_factory=Output)


GLOBALS = Globals()


def out() -> Output:
    return GLOBALS.out


def settings(env: str | None = None, **overrides: Any) -> Settings:
    """Load the settings for this invocation; `overrides` are "section.key" -> flag value."""
    return load_settings(
        config_file=GLOBALS.config,
        env=env or GLOBALS.env,
        overrides={k.replace("__", "."): v for k, v in overrides.items()},
    )


def configure(output: str, verbose: bool, env: str | None, config: Path | None) -> None:
    GLOBALS.output = output
    GLOBALS.verbose = verbose
    GLOBALS.env = env
    GLOBALS.config = config
    GLOBALS.out = make_output(output)


def finish(result: Outcome, *, warn: bool = False) -> NoReturn:
    """End the command with the result's exit code (after the result was shown); with `warn`,
    a non-zero exit also says its reason on stderr."""
    if warn and result.exit_code and result.exit_reason:
        out().warn(result.exit_reason)
    raise typer.Exit(result.exit_code)
