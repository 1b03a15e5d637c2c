"""How library code reports progress without knowing about terminals.

The CLI passes a Reporter that draws on stderr; library code calls `step` before a phase and
`done` after it succeeded. Tests and other callers use the silent default.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def step(self, message: str) -> None: ...

    def done(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class Silent:
    def step(self, message: str) -> None:
        pass

    def done(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


SILENT = Silent()
