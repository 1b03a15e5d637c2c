"""Errors of the producer: a one-line message, an optional hint and an exit code.

The producer runs on its own (producer/cli.py), so it does not import pipectl; the same codes
as pipectl.errors are used, and pipectl's `produce` command turns these into PipectlError.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNHEALTHY = 4


class ProducerError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message

    def line(self) -> str:
        """The one line shown to a user: `error: message -- hint`."""
        return f"error: {self.message}" + (f" -- {self.hint}" if self.hint else "")


class UsageError(ProducerError):
    """A bad option value."""

    exit_code = EXIT_USAGE


class BrokerUnreachable(ProducerError):
    exit_code = EXIT_UNHEALTHY


class TopicNotFound(ProducerError):
    exit_code = EXIT_NOT_FOUND


class ClientMissing(ProducerError):
    exit_code = EXIT_USAGE
