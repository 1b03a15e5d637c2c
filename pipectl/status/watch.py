"""`collect` once, or `watch`: collect again and again with a memory of what was seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from pipectl.config import Settings
from pipectl.status.aws import collect_aws
from pipectl.status.local import collect_local
from pipectl.status.model import Memory, PipelineStatus

COLLECTORS = {"local": collect_local, "aws": collect_aws}


def collect(settings: Settings, interval_s: float = 2.0, memory: Memory | None = None) -> PipelineStatus:
    """Gather the facts of every stage and judge them. `interval_s` is how long the end offsets
    are sampled for the produce rate (the other facts are gathered meanwhile)."""
    return COLLECTORS[settings.env](settings, interval_s, memory or Memory())


def watch(
    settings: Settings, every_s: float = 2.0, count: int | None = None, stop: threading.Event | None = None
) -> Iterator[PipelineStatus]:
    """collect() again and again, `every_s` apart, until `count` statuses or `stop` is set; each
    status carries the history of the produce rate, the lag and the records read by the job (for
    sparklines). `stop` is checked between collections and ends the wait between them at once."""
    memory = Memory()
    stop = stop or threading.Event()
    n = 0
    while (count is None or n < count) and not stop.is_set():
        began = time.monotonic()
        yield collect(settings, every_s, memory)
        n += 1
        rest = every_s - (time.monotonic() - began)
        if rest > 0 and (count is None or n < count):
            stop.wait(rest)
