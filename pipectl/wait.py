"""The one waiting helper: poll until a check passes or a deadline expires."""

from __future__ import annotations

import time
from typing import TypeVar
from collections.abc import Callable

from pipectl.errors import GaveUpError, UnhealthyError

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
    hint: str | None = None,
    log_tail: Callable[[], list[str]] | None = None,
    alive: Callable[[], bool] | None = None,
) -> T:
    """Call `check` until it returns a truthy value and return it.

    `check` may raise; the last exception is kept as the reason, except GaveUpError, which ends
    the wait at once. `alive` says whether the
    process being waited on is still running: when it dies the wait ends at once. On failure
    raise UnhealthyError carrying the component's last log lines.
    """
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while True:
        try:
            result = check()
            if result:
                return result
        except GaveUpError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the probe is "not yet"
            reason = f"{type(exc).__name__}: {exc}".strip()
        if alive is not None and not alive():
            raise UnhealthyError(
                f"{what} exited before it became healthy",
                hint=hint,
                log_tail=log_tail() if log_tail else None,
            )
        if time.monotonic() >= deadline:
            raise UnhealthyError(
                f"{what} did not become healthy within {timeout:.0f}s ({reason})",
                hint=hint,
                log_tail=log_tail() if log_tail else None,
            )
        time.sleep(interval)
