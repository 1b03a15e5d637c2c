"""`local down` stops a running job with a savepoint first; when that fails it says so and names
the newest retained checkpoint (the stack and the job calls are stand-ins: pure control flow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipectl import local_down, stack as stack_mod
from pipectl.config import load_settings
from pipectl.errors import PipectlError
from pipectl.flink import jobs
from pipectl.stack.model import StackStatus


class FakeStack:
    def __init__(self) -> None:
        self.downs: list[bool] = []

    def flink_overview(self) -> dict:
        return {"taskmanagers": 1}

    def down(self, purge: bool = False) -> StackStatus:
        self.downs.append(purge)
        return StackStatus(runtime="native", components=[], state_dir="s", topic="t", messages=["kafka: stopped"])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeStack:
    fake = FakeStack()
    monkeypatch.setattr(stack_mod, "get_stack", lambda settings, reporter=None, runtime=None: fake)
    monkeypatch.setattr(jobs, "find_job", lambda settings, active_only=True: {"jid": "f" * 32, "state": "RUNNING"})
    monkeypatch.setattr(jobs, "newest_point", lambda settings: "/s/flink/checkpoints/fff/chk-12")
    return fake


def test_down_when_the_savepoint_fails_says_so_and_names_the_checkpoint(fake: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(settings: object, **kwargs: object) -> None:
        raise PipectlError("timed out after 90s waiting for stop with savepoint")

    monkeypatch.setattr(jobs, "stop", fail)
    status = local_down.stop_stack(load_settings(), purge=False)
    assert fake.downs == [False]
    assert status.messages == [
        "job: stop with savepoint failed (timed out after 90s waiting for stop with savepoint); "
        "the newest retained checkpoint /s/flink/checkpoints/fff/chk-12 is still there",
        "kafka: stopped",
    ]


def test_down_purge_takes_no_savepoint(fake: FakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "stop", lambda *a, **k: pytest.fail("no savepoint with --purge"))
    local_down.stop_stack(load_settings(), purge=True)
    assert fake.downs == [True]
