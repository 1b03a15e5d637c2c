"""The docker runtime end to end on a real engine: `pipectl local up --runtime docker` builds the
images (from a local base, offline) and starts Kafka, the JobManager and the TaskManager as
containers; produce -> job -> rows in the host's warehouse (read with pyiceberg) -> stop -> down."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
from pyiceberg.table import StaticTable

from tests.conftest import run_json, run_pipectl

pytestmark = pytest.mark.docker

EVENTS = 500


def _containers(env: dict) -> dict[str, str]:
    """name -> status of this stack's containers (found by the state folder label)."""
    import docker

    client = docker.from_env()
    state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
    found = client.containers.list(all=True, filters={"label": f"io.pipectl.state-dir={state}"})
    return {c.labels["io.pipectl.component"]: c.status for c in found}


def test_docker_pipeline_end_to_end(docker_env):
    env = docker_env
    warehouse = Path(env["PIPECTL_LOCAL_WAREHOUSE"])
    state = Path(env["PIPECTL_LOCAL_STATE_DIR"])
    try:
        up = run_pipectl(env, "local", "up", "--runtime", "docker", timeout=1200)
        assert up.returncode == 0, up.stderr[-4000:]
        assert "local stack (docker)" in up.stdout
        for name in ("kafka", "jobmanager", "taskmanager"):
            assert f"{name}: started" in up.stdout
        assert "topic orders.created.v1: created with 2 partitions" in up.stdout
        assert (state / "runtime").read_text() == "docker\n"
        assert _containers(env) == {"kafka": "running", "jobmanager": "running", "taskmanager": "running"}

        # status in JSON, from the recorded runtime
        code, status = run_json(env, "local", "status")
        assert code == 0, status
        assert status["runtime"] == "docker" and status["healthy"] is True
        assert [(c["name"], c["healthy"], c["address"]) for c in status["components"]] == [
            ("kafka", True, "127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"]),
            ("jobmanager", True, "http://127.0.0.1:" + env["PIPECTL_LOCAL_FLINK_PORT"]),
            ("taskmanager", True, "-"),
        ]
        assert status["components"][1]["detail"] == "flink 1.20.3"

        # `up` twice: reused, without --runtime too
        again = run_pipectl(env, "local", "up")
        assert again.returncode == 0, again.stderr[-3000:]
        for name in ("kafka", "jobmanager", "taskmanager"):
            assert f"{name}: found running, reusing it" in again.stdout
        assert "topic orders.created.v1: exists" in again.stdout
        auto = run_pipectl(env, "local", "up", "--runtime", "auto")
        assert auto.returncode == 0, auto.stderr[-3000:]
        assert auto.stdout.splitlines()[0] == f"runtime: docker (auto: a Docker engine answers at {env['DOCKER_HOST']})"
        assert "kafka: found running, reusing it" in auto.stdout

        # a native `up` beside the running docker stack is refused, in one line
        clash = run_pipectl(env, "local", "up", "--runtime", "native")
        assert clash.returncode == 2
        assert clash.stderr.strip().splitlines()[-1] == (
            f"error: the docker stack of {state} is running -- stop it with 'pipectl local down' first, "
            "or use --runtime docker")

        # logs are the containers' logs
        code, logs = run_json(env, "local", "logs", "jobmanager", "-n", "20")
        assert code == 0 and logs["log"].startswith("docker logs pipectl-") and len(logs["lines"]) == 20

        code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "3")
        assert code == 0, produced
        assert produced["acked"] == EVENTS and produced["failed"] == 0

        code, started = run_json(env, "job", "start")
        assert code == 0, started
        assert started["state"] == "RUNNING" and len(started["job_id"]) == 32

        code, report = run_json(env, "verify", "--expect-rows", str(EVENTS), "--timeout", "240", timeout=400)
        assert code == 0, report
        assert report["rows"] == EVENTS and report["distinct_event_ids"] == EVENTS and report["duplicates"] == 0

        # the table is on the host, in the warehouse folder, readable without pipectl
        table_dir = warehouse / "analytics" / "orders"
        assert list((table_dir / "data").glob("event_time_day=*/*.parquet"))
        arrow = StaticTable.from_metadata(str(table_dir)).scan().to_arrow()
        assert arrow.num_rows == EVENTS
        assert pc.count_distinct(arrow["event_id"]).as_py() == EVENTS

        code, job = run_json(env, "job", "status")
        assert code == 0 and job["state"] == "RUNNING"

        # stop with a savepoint: written by the JobManager container into the host's state folder
        code, stopped = run_json(env, "job", "stop")
        assert code == 0, stopped
        assert stopped["state"] == "STOPPED"
        savepoint = Path(stopped["savepoint"].removeprefix("file:"))
        assert savepoint.is_relative_to(state / "flink" / "savepoints") and savepoint.is_dir()
        assert (savepoint / "_metadata").is_file()

        down = run_pipectl(env, "local", "down")
        assert down.returncode == 0, down.stderr
        assert down.stdout.splitlines()[:3] == ["taskmanager: stopped", "jobmanager: stopped", "kafka: stopped"]
        assert _containers(env) == {}
        assert table_dir.is_dir(), "down without --purge keeps the warehouse"

        code, after = run_json(env, "local", "status")
        assert code == 4 and after["runtime"] == "docker"
        assert [c["healthy"] for c in after["components"]] == [False, False, False]
    finally:
        run_pipectl(env, "local", "down", "--purge", timeout=300)
