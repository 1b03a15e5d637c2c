"""Typed errors: every failure a user can fix carries a message, a hint and an exit code.

Library code raises these; the CLI edge (pipectl.cli.main) turns them into one line on
stderr and the exit code. Stdlib only.
"""

from __future__ import annotations

# Exit codes, documented in docs/operations.md.
EXIT_FAILURE = 1  # the operation failed
EXIT_USAGE = 2  # bad flags, settings or input
EXIT_NOT_FOUND = 3  # something that should exist does not (table, app, artifact)
EXIT_UNHEALTHY = 4  # a component did not become healthy / timed out
EXIT_INCOMPLETE = 5  # verification found missing or duplicated data
EXIT_DEGRADED = 6  # `status`: a stage is degraded (data may still flow; the reason names what)
EXIT_INTERRUPTED = 130


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

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
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


class IncompleteError(PipectlError):
    exit_code = EXIT_INCOMPLETE
