"""The one Output: text (Rich) or JSON, chosen once per invocation.

Results go to stdout; progress, spinners and warnings go to stderr. In JSON mode stdout holds
exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from pipectl.progress import Advance

Renderer = Callable[[Console, Any], None]


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class Output:
    """The results on stdout, and progress on stderr: Output implements pipectl.progress.Reporter,
    so commands hand it to the library as the reporter."""

    json_mode = False

    def __init__(self) -> None:
        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    # results --------------------------------------------------------------------------
    def emit(self, result: Any, render: Renderer) -> None:
        render(self.console, result)

    # progress (stderr) ----------------------------------------------------------------
    def step(self, message: str) -> None:
        self.err.print(f"[dim]…[/dim] {message}")

    def done(self, message: str) -> None:
        self.err.print(f"[green]✓[/green] {message}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}")

    @contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        if self.err.is_terminal:
            with self.err.status(message):
                yield
        else:
            self.step(message)
            yield

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        with self.spinner(message):
            yield

    @contextmanager
    def transfer(self, message: str, total: int) -> Iterator[Advance]:
        """A transfer bar on a terminal; one step line otherwise."""
        if not self.err.is_terminal:
            self.step(message)
            yield lambda _n: None
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.err,
            transient=True,
        ) as bar:
            task = bar.add_task(message, total=total)
            yield lambda n: bar.advance(task, n)


class JsonOutput(Output):
    json_mode = True

    def emit(self, result: Any, render: Renderer) -> None:
        sys.stdout.write(json.dumps(to_jsonable(result), indent=2, default=str) + "\n")
        sys.stdout.flush()


def make_output(mode: str) -> Output:
    return JsonOutput() if mode == "json" else Output()
