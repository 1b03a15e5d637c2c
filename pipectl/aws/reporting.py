"""Progress beyond step/done/warn: a transfer bar and a wait spinner.

A Reporter may also offer `transfer(message, total)` (a context manager yielding a callback
that takes the bytes just sent) and `waiting(message)` (a context manager shown while polling).
The CLI's reporter draws them on stderr; without them these helpers fall back to `step`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from pipectl.progress import Reporter


@contextmanager
def transfer(reporter: Reporter, message: str, total: int) -> Iterator[Callable[[int], None]]:
    impl = getattr(reporter, "transfer", None)
    if impl is None:
        reporter.step(message)
        yield lambda _n: None
        return
    with impl(message, total) as advance:
        yield advance


@contextmanager
def waiting(reporter: Reporter, message: str) -> Iterator[None]:
    impl = getattr(reporter, "waiting", None)
    if impl is None:
        reporter.step(message)
        yield
        return
    with impl(message):
        yield
