"""How library code reports progress without knowing about terminals.

`Reporter` is the one declared interface: the CLI's Output implements it (drawing on stderr:
steps, a transfer bar and a spinner on a terminal); library code calls `step` before a phase,
`done` after it succeeded, `transfer` around an upload and `waiting` around a poll. Tests and
other callers use the silent default.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, runtime_checkable
from collections.abc import Callable, Iterator

Advance = Callable[[int], None]  # called with the number of bytes just sent


@runtime_checkable
class Reporter(Protocol):
    def step(self, message: str) -> None: ...

    def done(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def transfer(self, message: str, total: int) -> AbstractContextManager[Advance]:
        """Around sending `total` bytes: yields the callback to call with each chunk's size."""
        ...

    def waiting(self, message: str) -> AbstractContextManager[None]:
        """Around a poll of a service (a spinner on a terminal)."""
        ...


class Silent:
    def step(self, message: str) -> None:
        pass

    def done(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    @contextmanager
    def transfer(self, message: str, total: int) -> Iterator[Advance]:
        yield lambda _n: None

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        yield


SILENT: Reporter = Silent()
