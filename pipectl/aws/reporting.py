"""Progress beyond step/done/warn, as the AWS commands use it: a transfer bar and a wait spinner,
both part of the Reporter protocol (pipectl.progress)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from pipectl.progress import Advance, Reporter


def transfer(reporter: Reporter, message: str, total: int) -> AbstractContextManager[Advance]:
    return reporter.transfer(message, total)


def waiting(reporter: Reporter, message: str) -> AbstractContextManager[None]:
    return reporter.waiting(message)
