"""Fixtures for the tests on a real Docker engine.

The engine is the one at DOCKER_HOST (or the default socket); `.ci/docker-engine.sh` starts one
(`export DOCKER_HOST="$(bash .ci/docker-engine.sh)"`). Without an engine the tests are skipped with
a one-line reason, except in CI (CI=true) or with PIPECTL_REQUIRE_DOCKER=1, where they fail.

Nothing can be pulled, so the images build FROM a local base: PIPECTL_DOCKER_BASE_IMAGE when set,
else `pipectl-test-base:bookworm`, made once by tests/docker/build-base-image.sh (debootstrap,
root) and kept by the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_PORTS

TEST_BASE_IMAGE = "pipectl-test-base:bookworm"
# ports of their own: the native stack of the same session may still hold TEST_PORTS
DOCKER_OFFSET = 300
COMPOSE_OFFSET = 400


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PIPECTL_REQUIRE_DOCKER") == "1"


def skip_or_fail(reason: str):
    if required():
        pytest.fail(f"{reason} (CI=true or PIPECTL_REQUIRE_DOCKER=1: the docker tests must run)", pytrace=False)
    pytest.skip(reason)


def ports(offset: int) -> dict[str, str]:
    return {key: str(int(value) + offset) for key, value in TEST_PORTS.items()}


@pytest.fixture(scope="session")
def docker_engine() -> str:
    from pipectl.stack.docker import engine_address, engine_answers

    if not engine_answers():
        skip_or_fail(f"no Docker engine answers at {engine_address()}; start one with "
                     "'export DOCKER_HOST=\"$(sudo bash .ci/docker-engine.sh)\"'")
    return engine_address()


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    import docker
    from docker.errors import ImageNotFound

    name = os.environ.get("PIPECTL_DOCKER_BASE_IMAGE") or TEST_BASE_IMAGE
    client = docker.from_env()
    try:
        client.images.get(name)
        return name
    except ImageNotFound:
        pass
    if name != TEST_BASE_IMAGE:
        skip_or_fail(f"base image {name} (PIPECTL_DOCKER_BASE_IMAGE) is not in the engine")
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        skip_or_fail(f"no base image {name}, and building it needs root and debootstrap "
                     "(sudo bash tests/docker/build-base-image.sh)")
    result = subprocess.run(["bash", str(REPO / "tests" / "docker" / "build-base-image.sh"), name],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"building the base image failed: {result.stderr[-2000:]}", pytrace=False)
    return name


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("PIPECTL_") or k == "DEPLOYMENT_ENV"]:
        del env[key]
    return env


@pytest.fixture(scope="module")
def docker_env(base_image, docker_engine, tmp_path_factory) -> dict[str, str]:
    """The environment of a pipectl docker stack: its own state, warehouse and ports."""
    root = tmp_path_factory.mktemp("docker-stack")
    env = clean_env()
    env.update(ports(DOCKER_OFFSET))
    env.update(
        DOCKER_HOST=docker_engine,
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_DOCKER_BASE_IMAGE=base_image,
    )
    return env


def committed_rows(table_dir: Path) -> int:
    """Rows of the table's current snapshot, from the Iceberg metadata the Hadoop catalog wrote
    (works whatever absolute paths the metadata holds)."""
    import json

    hint = table_dir / "metadata" / "version-hint.text"
    if not hint.is_file():
        return 0
    meta = json.loads((table_dir / "metadata" / f"v{hint.read_text().strip()}.metadata.json").read_text())
    current = meta.get("current-snapshot-id")
    for snap in meta.get("snapshots", []):
        if snap["snapshot-id"] == current:
            return int(snap["summary"].get("total-records", 0))
    return 0
