"""The docker runtime after a TaskManager crash, and containers of another state folder
(issue 25, sections 2 and 4), on a real engine.

A TaskManager container whose JVM is killed comes back by the `on-failure` restart policy; until
the new JVM registers, the JobManager still lists the dead TaskManager. `local up` then must not
say "found running": it waits (for the restart policy's back-off, or for the new TaskManager to
register), says so, and returns once the TaskManager running in the container is the registered
one. A container with this stack's name but another folder's io.pipectl.state-dir label is never
used, stopped or removed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pipectl.procs import namespace_listening_ports
from tests.conftest import run_json, run_pipectl, wait_for

pytestmark = pytest.mark.docker


def _client(env: dict):
    import docker

    return docker.from_env(environment={"DOCKER_HOST": env["DOCKER_HOST"]})


def _taskmanager(env: dict):
    state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
    (tm,) = _client(env).containers.list(
        all=True, filters={"label": [f"io.pipectl.state-dir={state}", "io.pipectl.component=taskmanager"]}
    )
    return tm


def _rest(env: dict, path: str):
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{env['PIPECTL_LOCAL_FLINK_PORT']}{path}", timeout=10) as r:
        return json.loads(r.read())


def _checkpoint_id(env: dict, job_id: str) -> int:
    completed = (_rest(env, f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed")
    return int(completed["id"]) if completed else 0


def test_local_up_after_a_taskmanager_crash_waits_for_the_restart_policy(docker_env):
    env = docker_env
    try:
        up = run_pipectl(env, "local", "up", "--runtime", "docker", timeout=1800)
        assert up.returncode == 0, up.stderr[-4000:]
        code, produced = run_json(env, "produce", "orders", "--rate", "max", "--count", "300", "--seed", "5")
        assert code == 0 and produced["acked"] == 300, produced
        code, started = run_json(env, "job", "start")
        assert code == 0, started
        job_id = started["job_id"]
        before = wait_for(lambda: _checkpoint_id(env, job_id), 300, "a first checkpoint")

        tm = _taskmanager(env)
        os.kill(tm.attrs["State"]["Pid"], signal.SIGKILL)  # a crash, as the engine sees it
        up = run_pipectl(env, "local", "up", timeout=600)
        assert up.returncode == 0, up.stderr[-4000:]
        assert "taskmanager: found running" not in up.stdout, up.stdout
        assert (
            "taskmanager: not running; Docker's restart policy starts it again" in up.stdout
            or "taskmanager: container running, its TaskManager not registered yet, waiting for it" in up.stdout
        ), up.stdout
        assert "kafka: found running, reusing it" in up.stdout

        # up returned on the TaskManager that runs in the container now, registered, with slots
        tm = _taskmanager(env)
        assert tm.status == "running" and int(tm.attrs["RestartCount"]) >= 1
        ports = namespace_listening_ports(tm.attrs["State"]["Pid"])
        live = [t for t in _rest(env, "/taskmanagers")["taskmanagers"] if t["dataPort"] in ports]
        assert len(live) == 1 and live[0]["slotsNumber"] >= 1, (ports, _rest(env, "/taskmanagers"))
        code, status = run_json(env, "local", "status")
        assert code == 0 and status["healthy"] is True, status

        # the job recovers on it: a checkpoint with a new id
        at_up = _checkpoint_id(env, job_id)
        after = wait_for(lambda: (c := _checkpoint_id(env, job_id)) > max(before, at_up) and c, 300, "a new checkpoint")
        print(f"\n[docker tm back-off] checkpoints before={before} at_up={at_up} after={after}")
    finally:
        run_pipectl(env, "job", "stop", "--no-savepoint", timeout=300)
        down = run_pipectl(env, "local", "down", timeout=600)
        assert down.returncode == 0, down.stderr[-3000:]


def test_a_container_of_another_state_folder_is_left_alone(docker_env, base_image):
    from pipectl.config import load_settings
    from pipectl.stack import spec

    env = docker_env
    settings = load_settings(env="local", environ=env)
    name = spec.runtime_layout(settings).container("kafka")
    foreign = _client(env).containers.create(
        base_image, command=["sleep", "600"], name=name, labels={"io.pipectl.state-dir": "/elsewhere/.pipectl"}
    )
    try:
        state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
        for args in (("local", "up", "--runtime", "docker"), ("local", "down")):
            result = run_pipectl(env, *args, timeout=600)
            assert result.returncode == 2, (args, result.stdout, result.stderr[-3000:])
            assert result.stderr.strip().splitlines()[-1] == (
                f"error: container {name} belongs to the pipectl state folder /elsewhere/.pipectl, not to {state}; "
                "pipectl leaves it alone -- stop it from where it was started ('pipectl local down' with that "
                "state folder), or use another local.state_dir here (its containers get names of their own)"
            ), result.stderr
            foreign.reload()  # still there, untouched
            assert foreign.status == "created" and foreign.labels["io.pipectl.state-dir"] == "/elsewhere/.pipectl"
    finally:
        foreign.remove(force=True)
        run_pipectl(env, "local", "down", timeout=600)
