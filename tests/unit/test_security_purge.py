"""`pipectl local down --purge` names every folder it deletes and asks first: on a terminal it
asks (and deletes nothing on "no"); without a terminal it refuses unless --yes. The real CLI in a
subprocess, on a project folder of the test's own with data folders in it (no stack runs)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    p = tmp_path / "project"
    (p / ".pipectl" / "kafka" / "data").mkdir(parents=True)
    (p / ".pipectl" / "flink" / "checkpoints").mkdir(parents=True)
    (p / "warehouse" / "analytics" / "orders").mkdir(parents=True)
    (p / ".pipectl" / "runtime").write_text("native\n")
    (p / "pipectl.toml").write_text("[local]\nflink_port = 1\nkafka_port = 2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_")}
    env.update(PIPECTL_PROJECT_DIR=str(p), NO_COLOR="1", COLUMNS="300")
    return p, env


def doomed(p: Path) -> list[Path]:
    return [p / ".pipectl" / "kafka", p / ".pipectl" / "flink" / "checkpoints", p / "warehouse"]


def down(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipectl", "local", "down", *args],
        capture_output=True, text=True, env=env, cwd=env["PIPECTL_PROJECT_DIR"], stdin=subprocess.DEVNULL, timeout=120,
    )


def test_without_a_terminal_purge_refuses_unless_yes(project: tuple[Path, dict[str, str]]) -> None:
    p, env = project
    refused = down(env, "--purge")
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: refusing to delete without confirmation: no terminal to ask on -- pass --yes to 'local down --purge'\n"
    )
    assert all(d.is_dir() for d in doomed(p)), "nothing deleted"

    done = down(env, "--purge", "--yes")
    assert done.returncode == 0, done.stderr
    assert not any(d.exists() for d in doomed(p))
    for d in doomed(p):
        assert f"deleted {d}" in done.stdout
    assert (p / "pipectl.toml").is_file() and (p / ".pipectl" / "runtime").is_file()


def test_down_without_purge_asks_nothing_and_deletes_nothing(project: tuple[Path, dict[str, str]]) -> None:
    p, env = project
    result = down(env)
    assert result.returncode == 0, result.stderr
    assert all(d.is_dir() for d in doomed(p))


def _on_a_terminal(env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run `local down --purge` with a terminal as stdin; answer the question; (exit code, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipectl", "local", "down", "--purge"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=env["PIPECTL_PROJECT_DIR"],
    )
    os.close(slave)
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    os.write(master, answer.encode() + b"\n")
    _out, err = proc.communicate(timeout=120)
    os.close(master)
    return proc.returncode, (seen + err).decode()


def test_on_a_terminal_purge_names_every_folder_and_asks(project: tuple[Path, dict[str, str]]) -> None:
    p, env = project
    code, err = _on_a_terminal(env, "n")
    question = "Stop the stack and delete for good: " + ", ".join(str(d) for d in doomed(p)) + "? [y/N]"
    assert question in err
    assert code == 130
    assert "error: nothing deleted, nothing stopped -- --purge was not confirmed" in err
    assert all(d.is_dir() for d in doomed(p))

    code, err = _on_a_terminal(env, "y")
    assert code == 0, err
    assert not any(d.exists() for d in doomed(p))
