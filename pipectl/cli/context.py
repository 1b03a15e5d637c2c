"""Per-invocation state shared by the commands: the settings and the Output."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipectl.cli.output import Output, make_output
from pipectl.config import Settings, load_settings


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
