"""The TaskManager's supervisor (pipectl/stack/supervise.py), run for real on a short-lived child:
its pid file and restart count are whole JSON documents, and while it backs off it records when
it starts the child again (what `local up` reports instead of "found running")."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipectl import procs
from pipectl.stack.supervise import read_restarts
from tests.conftest import REPO


def test_the_supervisor_records_its_child_and_its_backoff(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    sup = subprocess.Popen(
        [sys.executable, "-m", "pipectl.stack.supervise", str(run), "child", "sleep",
         "--", "sh", "-c", "sleep 0.3; exit 3"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not read_restarts(run, "child") and time.monotonic() < deadline:
            time.sleep(0.05)
        info = read_restarts(run, "child")
        assert info["restarts"] == 1 and info["last_exit"] == 3, info
        assert 1.5 <= info["next_start_at"] - info["last_restart_at"] <= 2.5  # the first back-off: 2 s
        child = procs.read(run, "child")
        assert child is not None and child.marker == "sleep"
        assert sorted(p.name for p in run.iterdir()) == ["child-restarts.json", "child.json"]  # no temp file left
        json.loads((run / "child.json").read_text())
    finally:
        sup.send_signal(signal.SIGTERM)
        out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0
    assert "[pipectl supervisor] child exited with 3; restart 1 in 2s" in out
