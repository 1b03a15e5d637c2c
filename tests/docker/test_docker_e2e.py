"""The docker runtime end to end on a real engine: `pipectl local up --runtime docker` builds the
images (from a local base, offline) and starts Kafka, the JobManager and the TaskManager as
containers; produce (with malformed records) -> job -> rows in the host's warehouse -> stop -> down.
Counts are read back with pyiceberg from the files (not from `verify` alone), after consumer lag 0
and one more completed checkpoint; recovery after a crash is a checkpoint id greater than the last
one before it, and a `local up` inside the restart policy's back-off returns on a live, registered
TaskManager (issue 25 §2; test_docker_recovery.py holds the rest of that issue's docker tests)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from pyiceberg.table import StaticTable

from pipectl.procs import namespace_listening_ports
from tests.conftest import (
    completed_checkpoint_id,
    flink_get,
    iceberg_counts,
    run_json,
    run_pipectl,
    wait_checkpoint_after,
    wait_settled,
)

pytestmark = pytest.mark.docker

EVENTS = 500
MALFORMED_RATIO = "0.05"


def _containers(env: dict, names: bool = False) -> dict[str, str]:
    """component -> status (or container name) of this stack's containers, found by the state folder label."""
    import docker

    client = docker.from_env(environment={"DOCKER_HOST": env["DOCKER_HOST"]})
    state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
    found = client.containers.list(all=True, filters={"label": f"io.pipectl.state-dir={state}"})
    return {c.labels["io.pipectl.component"]: c.name if names else c.status for c in found}


def _taskmanager(env: dict):
    import docker

    client = docker.from_env(environment={"DOCKER_HOST": env["DOCKER_HOST"]})
    state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
    (tm,) = client.containers.list(all=True, filters={"label": [f"io.pipectl.state-dir={state}",
                                                                 "io.pipectl.component=taskmanager"]})
    return tm


def _kill_taskmanager(env: dict) -> float:
    """SIGKILL to the TaskManager container's main process, from the host: a crash, as the engine sees it."""
    pid = _taskmanager(env).attrs["State"]["Pid"]
    assert pid > 0
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    return killed_at


def _restart_count(env: dict) -> int:
    tm = _taskmanager(env)
    return int(tm.attrs.get("RestartCount") or 0) if tm.status == "running" else 0


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(2)


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

        code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "3",
                                  "--malformed-ratio", MALFORMED_RATIO)
        assert code == 0, produced
        assert produced["acked"] == EVENTS and produced["failed"] == 0
        valid, malformed = produced["valid"], produced["malformed"]
        assert valid + malformed == EVENTS and malformed > 0, produced

        code, started = run_json(env, "job", "start")
        assert code == 0, started
        assert started["state"] == "RUNNING" and len(started["job_id"]) == 32

        code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "240", timeout=400)
        assert code == 0, report
        wait_settled(env, timeout=300)  # lag 0, then one more checkpoint: a late duplicate would show
        code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "60", timeout=200)
        assert code == 0, report
        assert report["rows"] == valid and report["distinct_event_ids"] == valid and report["duplicates"] == 0
        assert report["rejected_rows"] == malformed

        # the table is on the host, in the warehouse folder, readable without pipectl
        table_dir = warehouse / "analytics" / "orders"
        assert list((table_dir / "data").glob("event_time_day=*/*.parquet"))
        arrow = StaticTable.from_metadata(str(table_dir)).scan().to_arrow()
        assert arrow.num_rows == valid
        assert pc.count_distinct(arrow["event_id"]).as_py() == valid
        assert iceberg_counts(warehouse, "orders_rejected")[0] == malformed

        code, job = run_json(env, "job", "status")
        assert code == 0 and job["state"] == "RUNNING"

        # a TaskManager that crashes (its JVM killed from the host, not `docker stop`) comes back by
        # itself through the container's restart policy, and the job recovers without user action:
        # a checkpoint completes after the fault, and the next events are stored exactly once
        job_id = started["job_id"]
        before = completed_checkpoint_id(env, job_id)
        _kill_taskmanager(env)
        # `local up` at once, inside the restart policy's back-off (issue 25 §2), while the JobManager still
        # lists the dead TaskManager: it must not say "found running"; it waits, says so, and returns once
        # the TaskManager running in the container is the registered one, with slots
        up = run_pipectl(env, "local", "up", timeout=600)
        assert up.returncode == 0, up.stderr[-4000:]
        assert "taskmanager: found running" not in up.stdout, up.stdout
        assert (
            "taskmanager: not running; Docker's restart policy starts it again" in up.stdout
            or "taskmanager: container running, its TaskManager not registered yet, waiting for it" in up.stdout
        ), up.stdout
        assert "kafka: found running, reusing it" in up.stdout
        tm = _taskmanager(env)
        assert tm.status == "running" and int(tm.attrs["RestartCount"]) >= 1
        ports = namespace_listening_ports(tm.attrs["State"]["Pid"])
        live = [t for t in flink_get(env, "/taskmanagers")["taskmanagers"] if t["dataPort"] in ports]
        assert len(live) == 1 and live[0]["slotsNumber"] >= 1, (ports, flink_get(env, "/taskmanagers"))
        _wait(lambda: _restart_count(env) >= 1, 120, "Docker to restart the TaskManager container")
        after = wait_checkpoint_after(env, job_id, before, 300)  # an id greater than the last before the crash
        code, job = run_json(env, "job", "status")
        assert code == 0 and job["state"] == "RUNNING" and job["job_id"] == job_id, job
        assert after > before
        code, status = run_json(env, "local", "status")
        tm = next(c for c in status["components"] if c["name"] == "taskmanager")
        assert code == 0 and tm["healthy"] is True, status
        assert tm["detail"].endswith(", restarted 1 time(s) by Docker"), tm
        code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", str(EVENTS), "--seed", "4",
                                  "--malformed-ratio", MALFORMED_RATIO)
        assert code == 0 and produced["acked"] == EVENTS, produced
        valid, malformed = valid + produced["valid"], malformed + produced["malformed"]
        code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "240", timeout=400)
        assert code == 0, report
        wait_settled(env, timeout=300)
        code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "60", timeout=200)
        assert code == 0, report
        assert report["rows"] == valid and report["distinct_event_ids"] == valid and report["duplicates"] == 0
        assert iceberg_counts(warehouse, "orders") == (valid, valid)
        assert iceberg_counts(warehouse, "orders_rejected")[0] == malformed

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
        run_pipectl(env, "local", "down", "--purge", "--yes", timeout=300)


def test_docker_runtime_as_a_user_the_images_do_not_know(caller, base_image):
    """uid 501, unknown to the images: `local up --runtime docker`, `job start`, `produce`, `verify`
    work, and every file the containers write in the warehouse and the state folder is the user's."""
    from tests.docker.conftest import DOCKER_OFFSET, ports

    checkout = caller.checkout
    state, warehouse = checkout / ".pipectl-docker-test", checkout / "warehouse-docker-test"
    env = caller.env(
        **ports(DOCKER_OFFSET),
        PIPECTL_PROJECT_DIR=str(checkout),
        PIPECTL_LOCAL_STATE_DIR=str(state),
        PIPECTL_LOCAL_WAREHOUSE=str(warehouse),
        PIPECTL_DOCKER_BASE_IMAGE=base_image,
        PIPECTL_DOCKER_WHEELHOUSE=str(Path(__file__).resolve().parents[2] / "target" / "docker" / "wheels"),
    )

    def pipectl(line: str, timeout: float = 900):
        return caller.run("pipectl " + line, env, timeout=timeout)

    def pipectl_json(line: str, timeout: float = 600) -> tuple[int, dict]:
        import json

        result = pipectl(line + " --output json", timeout=timeout)
        try:
            return result.returncode, json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout!r} {result.stderr[-3000:]!r}") from None

    try:
        if not (checkout / "target" / "pyflink-dependencies.jar").is_file():
            built = caller.run("mvn -q -B package -DskipTests", env)
            assert built.returncode == 0, built.stdout[-3000:]
        up = pipectl("local up --runtime docker", timeout=1200)
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]

        status = pipectl("local status")
        assert status.returncode == 0, status.stdout + status.stderr
        jobmanager = _containers(env, names=True)["jobmanager"]
        line = f"docker exec {jobmanager} python /opt/flink/usrlib/jobs/order_ingest/job.py"
        assert f"submit the job from inside the JobManager: {line}" in status.stdout

        code, started = pipectl_json("job start")
        assert code == 0, started
        assert started["state"] == "RUNNING"
        code, produced = pipectl_json(f"produce orders --rate max --count {EVENTS} --seed 11 "
                                      f"--malformed-ratio {MALFORMED_RATIO}")
        assert code == 0 and produced["acked"] == EVENTS, produced
        valid, malformed = produced["valid"], produced["malformed"]
        assert valid + malformed == EVENTS and malformed > 0, produced
        code, report = pipectl_json(f"verify --expect-rows {valid} --timeout 240", timeout=400)
        assert code == 0, report
        wait_settled(env, timeout=300)
        code, report = pipectl_json(f"verify --expect-rows {valid} --timeout 60", timeout=200)
        assert code == 0, report
        assert report["rows"] == valid and report["duplicates"] == 0
        # read back from the files, not from verify
        assert iceberg_counts(warehouse, "orders") == (valid, valid)
        assert iceberg_counts(warehouse, "orders_rejected")[0] == malformed
        assert report["location"].removeprefix("file://") == str(warehouse / "analytics" / "orders")

        code, stopped = pipectl_json("job stop")
        assert code == 0 and stopped["state"] == "STOPPED", stopped
        assert (Path(stopped["savepoint"].removeprefix("file:")) / "_metadata").is_file()
        # the table, the checkpoints, the savepoint and Kafka's data: all the user's
        assert caller.files_not_owned(warehouse) == []
        assert caller.files_not_owned(state) == []
    finally:
        down = pipectl("local down --purge --yes", timeout=300)
    assert down.returncode == 0, down.stderr[-2000:]


def test_up_with_a_base_image_that_cannot_be_pulled_is_one_line(docker_env, tmp_path):
    """An engine without the base image and without a registry (here: a registry that does not
    exist): one line naming the offline build, before any build starts."""
    env = dict(docker_env, PIPECTL_LOCAL_STATE_DIR=str(tmp_path / ".pipectl"), PIPECTL_LOCAL_WAREHOUSE=str(tmp_path / "wh"),
               PIPECTL_DOCKER_BASE_IMAGE="registry.invalid/pipectl/no-such-base:1")
    try:
        up = run_pipectl(env, "local", "up", "--runtime", "docker", timeout=300)
        assert up.returncode == 1, up.stderr
        lines = up.stderr.strip().splitlines()  # progress lines, then the error
        assert "Traceback" not in up.stderr and [ln for ln in lines if ln.startswith("error:")] == lines[-1:], up.stderr
        assert lines[-1].startswith("error: the base image registry.invalid/pipectl/no-such-base:1 is not in the Docker "
                                   "engine and cannot be pulled (")
        assert lines[-1].endswith(") -- build offline from a local base: set PIPECTL_DOCKER_BASE_IMAGE (the BASE_IMAGE "
                                 "build argument) to an image the engine has, see 'Offline build' in docs/docker.md")
        assert not (tmp_path / ".pipectl" / "logs" / "build-pipectl-kafka.log").exists()
    finally:
        run_pipectl(env, "local", "down", timeout=120)
