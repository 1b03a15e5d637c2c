"""compose/docker-compose.yml on its own, with Compose and no pipectl in between: build (offline,
from the local base and a wheelhouse), up -d, the topic, the job submitted with `exec`, rows in
the warehouse folder on the host, down."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import REPO, run_json
from tests.docker.conftest import COMPOSE_OFFSET, clean_env, committed_rows, ports, skip_or_fail

pytestmark = pytest.mark.docker

EVENTS = 200
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
PROJECT = "pipectl-compose-test"


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) when there, else `docker-compose` (v1, Debian's package)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    skip_or_fail("no Compose: neither 'docker compose' nor 'docker-compose' (apt-get install docker-compose)")
    return []


@pytest.fixture(scope="module")
def wheelhouse_in_context():
    """The Flink image's wheels in compose/wheels (the build context's offline wheelhouse)."""
    from pipectl.stack.docker import ensure_wheelhouse

    source = ensure_wheelhouse(REPO / "target" / "docker" / "wheels", REPO / "requirements.lock")
    dest = REPO / "compose" / "wheels"
    added = []
    for wheel in source.glob("*.whl"):
        target = dest / wheel.name
        if not target.exists():
            os.link(wheel, target)
            added.append(target)
    yield dest
    for path in added:
        path.unlink(missing_ok=True)


def test_compose_file_runs_the_pipeline_on_its_own(base_image, docker_engine, wheelhouse_in_context, tmp_path):
    compose = compose_command() + ["-f", str(COMPOSE_FILE), "-p", PROJECT]
    warehouse = tmp_path / "warehouse"
    env = clean_env()
    env.update(ports(COMPOSE_OFFSET))
    env.update(
        DOCKER_HOST=docker_engine,
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(tmp_path / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(warehouse),
        PIPECTL_COMPOSE_WAREHOUSE=str(warehouse),
        PIPECTL_DOCKER_BASE_IMAGE=base_image,
        PIPECTL_DOCKER_PYTHON_PACKAGES="wheels",
    )
    kafka = "127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"]

    def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([*compose, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)

    try:
        up = run("up", "-d", "--build")
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]

        from pipectl import kafka_admin
        from pipectl.flink.rest import FlinkRest
        from pipectl.wait import wait_until

        rest = FlinkRest("http://127.0.0.1:" + env["PIPECTL_LOCAL_FLINK_PORT"], timeout=3)
        wait_until(lambda: kafka_admin.ping(kafka, 3), what="kafka", timeout=120)
        # the Kafka container creates the topic itself (KAFKA_CREATE_TOPICS)
        wait_until(lambda: sum(1 for _ in kafka_admin.topic_offsets(kafka, "orders.created.v1")[1]) == 2,
                   what="topic orders.created.v1 with 2 partitions", timeout=120)
        wait_until(lambda: rest.overview().get("taskmanagers", 0) >= 1, what="flink", timeout=120)

        submit = run("exec", "-T", "jobmanager", "flink", "run", "-d", "-j", "/opt/flink/usrlib/lib/pyflink-dependencies.jar", "-py",
                     "/opt/flink/usrlib/jobs/order_ingest/job.py", timeout=300)
        assert submit.returncode == 0 and "JobID" in submit.stdout, (submit.stdout + submit.stderr)[-4000:]

        code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "5")
        assert code == 0 and produced["acked"] == EVENTS, produced

        # the table lands in the host folder (its metadata holds the container's paths, so it is
        # read from the snapshot summary and the Parquet files, not through pyiceberg)
        table_dir = warehouse / "analytics" / "orders"
        deadline = time.monotonic() + 240
        while committed_rows(table_dir) < EVENTS and time.monotonic() < deadline:
            time.sleep(2)
        assert committed_rows(table_dir) == EVENTS
        assert list((table_dir / "data").glob("event_time_day=*/*.parquet"))
    finally:
        logs = run("logs", "--tail", "30", timeout=120)
        down = run("down", "-v", "--remove-orphans", timeout=300)
        if down.returncode != 0:
            print(logs.stdout[-3000:])
    assert down.returncode == 0, down.stderr[-2000:]
    assert run("ps", "-q").stdout.strip() == ""
