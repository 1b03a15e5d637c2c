"""Typed errors: every failure a user can fix carries a message, a hint and an exit code.

Library code raises these; the CLI edge (pipectl.cli.main) turns them into one line on
stderr and the exit code. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Exit codes, documented in docs/operations.md. This module owns them: a result that decides
# its command's exit code implements Outcome; an error carries its own (PipectlError.exit_code).
EXIT_FAILURE = 1  # the operation failed
EXIT_USAGE = 2  # bad flags, settings or input
EXIT_NOT_FOUND = 3  # something that should exist does not (table, app, artifact)
EXIT_CHECK_FAILED = 3  # `doctor`: a check is missing or wrong (documented as 3, with EXIT_NOT_FOUND)
EXIT_UNHEALTHY = 4  # a component did not become healthy / timed out
EXIT_INCOMPLETE = 5  # verification found missing or duplicated data
EXIT_DEGRADED = 6  # `status`: a stage is degraded (data may still flow; the reason names what)
EXIT_BUSY = 7  # another pipectl command holds the state folder (pipectl/lock.py)
EXIT_CHANGES = 8  # `aws deploy --plan`, `aws diff`: changes pending (as terraform plan -detailed-exitcode)
EXIT_INTERRUPTED = 130


@runtime_checkable
class Outcome(Protocol):
    """A result that says the exit code of the command that produced it, and why (the reason is
    empty when the code is 0). The CLI exits with it after showing the result; the JSON output
    carries both, so a script can tell why a command exited non-zero."""

    @property
    def exit_code(self) -> int: ...

    @property
    def exit_reason(self) -> str: ...


@dataclass(frozen=True)
class Exit:
    """An Outcome on its own, for commands whose result type is shared with commands that
    always exit 0 (e.g. `job status`)."""

    exit_code: int = 0
    exit_reason: str = ""


class PipectlError(Exception):
    """An error with a one-line message, an optional hint (what to do) and an exit code."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(PipectlError):
    """Invalid or missing settings; may carry several problems reported at once."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None, problems: Sequence[str] | None = None):
        self.problems = list(problems or [])
        if self.problems:
            message = message + ": " + "; ".join(self.problems)
        super().__init__(message, hint)


class NotFoundError(PipectlError):
    exit_code = EXIT_NOT_FOUND


class UnhealthyError(PipectlError):
    """A component did not answer in time. `log_tail` holds its last log lines."""

    exit_code = EXIT_UNHEALTHY

    def __init__(self, message: str, hint: str | None = None, log_tail: list[str] | None = None):
        super().__init__(message, hint)
        self.log_tail = list(log_tail or [])


class GaveUpError(UnhealthyError):
    """Raised by a wait's check when waiting longer cannot help (the job ended as FAILED, say):
    `wait_until` lets it through at once instead of polling until its deadline."""
