"""One command at a time on a state folder: an exclusive `flock` on <state_dir>/.lock.

Every command that changes what the state folder describes (`local up`, `local down`, `job start`,
`job stop`, `maintain`, `aws rehearse`) holds the lock for its whole run; read-only commands
(`status`, `local status`, `local logs`, `job status`, `verify`, `doctor`) and `produce` (it only
writes to Kafka) never take it. The holder writes its command, pid, start time and deadline into
the lock file. A second command waits until the holder is done, for at most the holder's own
deadline (plus a grace, never more than MAX_WAIT_S), then refuses with one line naming the holder's
command and pid (LockedError, exit code 7). The kernel releases a `flock` when its process dies,
so a crashed holder (even `kill -9`) never leaves a stale lock. The descriptor is not inherited
by the processes a command starts (Kafka, Flink, the supervisor), so they never hold it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipectl.errors import EXIT_BUSY, PipectlError

LOCK_FILE = ".lock"
MAX_WAIT_S = 900.0  # a waiter never waits longer than this
GRACE_S = 30.0  # past the holder's deadline (its own wait may end a little late)
UNKNOWN_WAIT_S = 60.0  # when the holder has not said its deadline yet


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: float
    deadline: float

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid}, running for {max(0.0, time.time() - self.since):.0f}s)"


class LockedError(PipectlError):
    """Another pipectl command holds the state folder."""

    exit_code = EXIT_BUSY

    def __init__(self, state_dir: Path, holder: Holder | None, waited_s: float):
        who = holder.describe() if holder else "another pipectl command"
        waited = f" (waited {waited_s:.0f}s)" if waited_s >= 1 else ""
        hint = "run this command again when it has finished"
        if holder:
            hint += f"; if it hangs, stop it (kill {holder.pid})"
        super().__init__(f"the state folder {state_dir} is in use by {who}{waited}", hint=hint)
        self.holder = holder


def lock_path(state_dir: Path) -> Path:
    return Path(state_dir) / LOCK_FILE


def read_holder(state_dir: Path) -> Holder | None:
    """Who holds the lock (None when nobody does, or the holder has not written itself yet)."""
    try:
        fd = os.open(lock_path(state_dir), os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd, fcntl.LOCK_SH):  # nobody holds it
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return _holder(fd)
    finally:
        os.close(fd)


def _holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode())
        return Holder(int(data["pid"]), str(data["command"]), float(data["since"]), float(data["deadline"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not written yet (or being written): the holder is still "another command"


def _try_lock(fd: int, kind: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextmanager
def hold(
    state_dir: Path,
    command: str,
    *,
    deadline_s: float,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.2,
) -> Iterator[Holder]:
    """Hold the state folder's lock for the block. `deadline_s`: how long this command may take
    (a waiter waits that long for it). Busy: wait for the holder (bounded), or with `wait=False`
    refuse at once; both refusals are a LockedError."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(state_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        started = time.monotonic()
        if not _try_lock(fd):
            holder = _holder(fd)
            if not wait:
                raise LockedError(state_dir, holder, 0)
            give_up = started + _wait_for(holder)
            if on_wait is not None:
                on_wait(
                    f"waiting for {holder.describe() if holder else 'another pipectl command'} to finish with "
                    f"{state_dir} (at most {give_up - started:.0f}s)"
                )
            while not _try_lock(fd):
                now = time.monotonic()
                seen = _holder(fd)
                if seen is not None and seen != holder:  # the holder said its deadline, or another took over
                    holder = seen
                    give_up = max(give_up, now + _wait_for(holder))
                    give_up = min(give_up, started + MAX_WAIT_S)
                if now >= give_up:
                    raise LockedError(state_dir, holder, now - started)
                time.sleep(poll_s)
        me = Holder(os.getpid(), command, time.time(), time.time() + deadline_s)
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps({"pid": me.pid, "command": me.command, "since": me.since, "deadline": me.deadline}).encode(),
            0,
        )
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _wait_for(holder: Holder | None) -> float:
    if holder is None:
        return UNKNOWN_WAIT_S
    return min(MAX_WAIT_S, max(0.0, holder.deadline - time.time()) + GRACE_S)
