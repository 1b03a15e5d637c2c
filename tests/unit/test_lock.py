"""The state folder's lock (pipectl/lock.py), with real processes contending for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipectl import lock
from pipectl.cli import main as cli_main
from pipectl.errors import EXIT_BUSY
from tests.conftest import REPO

HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from pipectl import lock\n"
    "with lock.hold(Path(sys.argv[1]), sys.argv[2], deadline_s=float(sys.argv[3])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[4]))\n"
    "print('released', flush=True)\n"
)


def _holder(state: Path, command: str, deadline_s: float, hold_s: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state), command, str(deadline_s), str(hold_s)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_at_once_with_the_holders_command_and_pid(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "pipectl job start", 300, 60)
    try:
        found = lock.read_holder(tmp_path)
        assert found is not None and (found.pid, found.command) == (holder.pid, "pipectl job start")
        started = time.monotonic()
        with pytest.raises(lock.LockedError) as err:
            with lock.hold(tmp_path, "pipectl job start", deadline_s=300, wait=False):
                pytest.fail("got a lock another process holds")
        assert time.monotonic() - started < 2
        assert err.value.exit_code == EXIT_BUSY == 7
        assert err.value.message.startswith(
            f"the state folder {tmp_path} is in use by `pipectl job start` (pid {holder.pid}, running for "
        )
        assert f"kill {holder.pid}" in (err.value.hint or "")
    finally:
        holder.kill()
        holder.wait()


def test_a_waiter_gets_the_lock_when_the_holder_finishes(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "pipectl local down", 30, 2)
    told: list[str] = []
    try:
        started = time.monotonic()
        with lock.hold(tmp_path, "pipectl local up", deadline_s=60, on_wait=told.append, poll_s=0.05) as me:
            waited = time.monotonic() - started
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "released", "got the lock while the holder held it"
            assert lock.read_holder(tmp_path) is None or lock.read_holder(tmp_path) == me  # it is ours now
        assert 0.5 < waited < 20
        assert len(told) == 1
        assert told[0].startswith(f"waiting for `pipectl local down` (pid {holder.pid}, running for ")
        assert told[0].endswith(f"to finish with {tmp_path} (at most {told[0].rsplit('at most ', 1)[1]}")
    finally:
        holder.kill()
        holder.wait()
    assert lock.read_holder(tmp_path) is None


def test_a_waiter_gives_up_after_the_holders_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "GRACE_S", 0.5)
    holder = _holder(tmp_path, "pipectl maintain", 1, 60)  # says it takes 1 s, then hangs
    try:
        started = time.monotonic()
        with pytest.raises(lock.LockedError) as err:
            with lock.hold(tmp_path, "pipectl job start", deadline_s=60, poll_s=0.05):
                pytest.fail("got a lock another process holds")
        assert 0.5 < time.monotonic() - started < 5
        assert f"`pipectl maintain` (pid {holder.pid}" in err.value.message
        assert "(waited " in err.value.message
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "pipectl local up", 300, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with lock.hold(tmp_path, "pipectl local up", deadline_s=60, wait=False):
        pass
    assert time.monotonic() - started < 1


def test_processes_started_under_the_lock_do_not_inherit_it(tmp_path: Path) -> None:
    """`local up` starts Kafka, Flink and the supervisor while it holds the lock: they must not keep it."""
    with lock.hold(tmp_path, "pipectl local up", deadline_s=60):
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True, close_fds=False
        )
    try:
        with lock.hold(tmp_path, "pipectl job start", deadline_s=60, wait=False):
            pass
    finally:
        child.kill()
        child.wait()


def test_the_cli_refuses_with_one_line_and_exit_code_7(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / ".pipectl"
    monkeypatch.setenv("PIPECTL_LOCAL_STATE_DIR", str(state))
    monkeypatch.setenv("PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT", "true")
    monkeypatch.setattr(lock, "GRACE_S", 0.3)
    holder = _holder(state, "pipectl local up", 0, 60)
    try:
        for argv in (["job", "start"], ["local", "down"], ["maintain"], ["job", "stop"]):
            with pytest.raises(SystemExit) as code:
                cli_main.main(argv)
            assert code.value.code == EXIT_BUSY, argv
            err = capsys.readouterr().err.strip().splitlines()
            assert err[0].startswith(f"… waiting for `pipectl local up` (pid {holder.pid}, running for "), err
            assert len(err) == 2, err
            assert err[1].startswith(
                f"error: the state folder {state} is in use by `pipectl local up` (pid {holder.pid}"
            )
            assert err[1].endswith(
                f"-- run this command again when it has finished; if it hangs, stop it (kill {holder.pid})"
            )
    finally:
        holder.kill()
        holder.wait()
