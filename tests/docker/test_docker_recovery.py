"""Containers of another state folder (issue 25, section 4), on a real engine: a container with this
stack's name but another folder's io.pipectl.state-dir label is never used, stopped or removed.

`local up` after a TaskManager crash, inside the restart policy's back-off (section 2), is part of
test_docker_e2e.py's run, on its stack: a stack of its own cost two minutes for the same checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_pipectl

pytestmark = pytest.mark.docker


def _client(env: dict):
    import docker

    return docker.from_env(environment={"DOCKER_HOST": env["DOCKER_HOST"]})


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
