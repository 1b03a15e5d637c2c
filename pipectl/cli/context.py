"""Per-invocation state shared by the commands: the settings and the Output."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from pipectl.cli.output import Output, make_output
from pipectl.config import Settings, load_settings
from pipectl.errors import Outcome
from pipectl import lock
from pipectl.rehearse import state as rehearse_state


@dataclass
class Globals:
    output: str = "text"
    env: str | None = None
    config: Path | None = None
    out: Output = field(default_factory=Output)


GLOBALS = Globals()


def out() -> Output:
    return GLOBALS.out


def settings(env: str | None = None, rehearsal: bool = True, **overrides: Any) -> Settings:
    """Load the settings for this invocation; `overrides` are "section.key" -> flag value.

    With env aws and a running `pipectl aws rehearse` (and `rehearsal` left True), the settings
    point at the rehearsal: said on stderr, and its credentials are used in this process."""
    loaded = load_settings(
        config_file=GLOBALS.config,
        env=env or GLOBALS.env,
        overrides={k.replace("__", "."): v for k, v in overrides.items()},
    )
    if loaded.env == "aws" and rehearsal:
        loaded = rehearse_state.point_at_rehearsal(loaded)
    used = rehearse_state.use_credentials(loaded)
    if used is not None:
        GLOBALS.out.step(
            f"using the running AWS rehearsal (broker {used.bootstrap_servers}, S3 Tables at {used.endpoint_url}); "
            "`pipectl aws rehearse --down` stops it"
        )
    return loaded


def configure(output: str, env: str | None, config: Path | None) -> None:
    GLOBALS.output = output
    GLOBALS.env = env
    GLOBALS.config = config
    GLOBALS.out = make_output(output)


def finish(result: Outcome, *, warn: bool = False) -> NoReturn:
    """End the command with the result's exit code (after the result was shown); with `warn`,
    a non-zero exit also says its reason on stderr."""
    if warn and result.exit_code and result.exit_reason:
        out().warn(result.exit_reason)
    raise typer.Exit(result.exit_code)


F = TypeVar("F", bound=Callable[..., Any])


def locked(command: str, deadline_s: Callable[[Settings], float]) -> Callable[[F], F]:
    """The one place where commands take the state folder's lock (pipectl/lock.py): the wrapped
    command runs holding it. `deadline_s(settings)`: how long the command may take, which is how
    long a second command waits for it before it refuses (exit code 7)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            loaded = load_settings(config_file=GLOBALS.config, env=GLOBALS.env)
            with lock.hold(
                loaded.state_dir, "pipectl " + command, deadline_s=deadline_s(loaded), on_wait=GLOBALS.out.step
            ):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap
