"""Shared fixtures: the real native stack (Kafka broker + Flink cluster) on test ports.

The stack runs from this checkout (its target/ and jobs/), with its state, data and logs in a
temporary folder and on ports of its own, so a developer's own stack on 9092/8081 is left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# PIPECTL_TEST_PORT_OFFSET lets two test runs share a machine (each on its own ports).
_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
TEST_PORTS = {
    "PIPECTL_LOCAL_KAFKA_PORT": str(29092 + _OFFSET),
    "PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT": str(29093 + _OFFSET),
    "PIPECTL_LOCAL_FLINK_PORT": str(28081 + _OFFSET),
    "PIPECTL_LOCAL_FLINK_RPC_PORT": str(26123 + _OFFSET),
}
TEST_BOOTSTRAP = f"127.0.0.1:{29092 + _OFFSET}"


def run_pipectl(env: dict, *args: str, timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "pipectl", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout, input=input,
    )


def run_json(env: dict, *args: str, timeout: float = 600) -> tuple[int, dict]:
    result = run_pipectl(env, *args, "--output", "json", timeout=timeout)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout!r} {result.stderr[-2000:]!r}") from None


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("stack")
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("PIPECTL_") or k == "DEPLOYMENT_ENV"]:
        del env[key]
    env.update(TEST_PORTS)
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",  # the stack's folders are the test's own
        PIPECTL_TEST_ROOT=str(root),
    )
    return env


@pytest.fixture(scope="session")
def native_stack(stack_env):
    """`pipectl local up` once for the session; `pipectl local down` at the end."""
    result = run_pipectl(stack_env, "local", "up", timeout=300)
    if result.returncode != 0:
        run_pipectl(stack_env, "local", "down")
        pytest.fail(f"pipectl local up failed ({result.returncode}): {result.stderr[-3000:]}")
    yield stack_env
    down = run_pipectl(stack_env, "local", "down")
    assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def kafka_bootstrap(request) -> str:
    """A real broker with orders.created.v1 (2 partitions). PIPECTL_TEST_KAFKA_BOOTSTRAP overrides it."""
    external = os.environ.get("PIPECTL_TEST_KAFKA_BOOTSTRAP")
    if external:
        return external
    request.getfixturevalue("native_stack")
    return TEST_BOOTSTRAP
