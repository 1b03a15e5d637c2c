"""One source of truth for the docker services: compose/docker-compose.yml is rendered from
pipectl/stack/spec.py, the Dockerfiles agree with it, and the runtime choice is recorded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pipectl.config import load_settings
from pipectl.errors import PipectlError
from pipectl.stack import spec

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose" / "docker-compose.yml"
REGENERATE = "python -m pipectl.stack.spec > compose/docker-compose.yml"


def test_committed_compose_file_is_the_rendered_spec():
    rendered = spec.render_compose()
    assert COMPOSE.read_text() == rendered, f"compose/docker-compose.yml differs from pipectl/stack/spec.py: run '{REGENERATE}'"


def test_rendering_is_deterministic_and_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "pipectl.stack.spec"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and result.stdout == spec.render_compose() == spec.render_compose()


def test_compose_file_is_valid_yaml_with_the_expected_services():
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(COMPOSE.read_text())
    assert list(doc["services"]) == ["kafka", "jobmanager", "taskmanager"]
    kafka, jm, tm = (doc["services"][n] for n in ("kafka", "jobmanager", "taskmanager"))
    # published on 127.0.0.1 only, on the ports pipectl's settings name
    assert kafka["ports"] == ["127.0.0.1:${PIPECTL_LOCAL_KAFKA_PORT:-9092}:9092"]
    assert jm["ports"] == ["127.0.0.1:${PIPECTL_LOCAL_FLINK_PORT:-8081}:8081"]
    assert "ports" not in tm
    assert kafka["environment"]["KAFKA_ADVERTISED_HOST"] == "127.0.0.1:${PIPECTL_LOCAL_KAFKA_PORT:-9092}"
    assert kafka["environment"]["KAFKA_INTERNAL_HOST"] == "kafka:29092"
    # the flow document's names
    assert [s["container_name"] for s in (kafka, jm, tm)] == ["kafka", "flink-jobmanager", "flink-taskmanager"]
    assert [s["hostname"] for s in (kafka, jm, tm)] == ["kafka", "jobmanager", "taskmanager"]
    # ./warehouse of the folder Compose runs in is where the job writes, at the same path in both
    # Flink containers; they run Flink as the owner of that folder (mounted read-only to tell it)
    for svc in (jm, tm):
        assert svc["volumes"] == ["${PWD}/warehouse:${PWD}/warehouse", "flink-state:/opt/flink/state",
                                  "${PWD}:/opt/flink/project:ro"]
        assert {k: svc["environment"][k] for k in ("PIPECTL_RUN_AS", "PIPECTL_WAREHOUSE_DIR", "PIPECTL_STATE_DIR")} == {
            "PIPECTL_RUN_AS": "/opt/flink/project", "PIPECTL_WAREHOUSE_DIR": "${PWD}/warehouse",
            "PIPECTL_STATE_DIR": "/opt/flink/state"}
        assert "user" not in svc
        assert "classloader.check-leaked-classloader: false\n" in svc["environment"]["FLINK_PROPERTIES"]
        assert svc["build"] == {"context": "..", "dockerfile": "compose/flink/Dockerfile", "args": {
            "BASE_IMAGE": "${PIPECTL_DOCKER_BASE_IMAGE:-python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02}",
            "PYTHON_PACKAGES": "${PIPECTL_DOCKER_PYTHON_PACKAGES:-pypi}"}}
        assert "jobmanager.rpc.address: jobmanager\n" in svc["environment"]["FLINK_PROPERTIES"]
    assert jm["environment"]["ICEBERG_WAREHOUSE"] == "file://${PWD}/warehouse"
    # a plain `python job.py` in the JobManager container submits to its cluster, detached
    assert jm["environment"]["SUBMIT_ARGS"] == "remote -d -j /opt/flink/usrlib/lib/pyflink-dependencies.jar" and jm["environment"]["DEPLOYMENT_ENV"] == "local"
    assert jm["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:29092"
    assert jm["environment"]["PIPELINE_JARS"] == "file:///opt/flink/usrlib/lib/pyflink-dependencies.jar"
    assert jm["command"] == ["jobmanager"] and tm["command"] == ["taskmanager"]
    assert doc["networks"] == {"pipectl": {"name": "pipectl"}}
    assert doc["volumes"] == {"flink-state": {}, "kafka-data": {}}


def _dockerfile(path: str) -> str:
    return (REPO / path).read_text()


@pytest.mark.parametrize("service", ["kafka", "jobmanager"])
def test_dockerfile_defaults_and_inputs_match_the_spec(service):
    svc = next(s for s in spec.services(spec.compose_layout()) if s.name == service)
    text = _dockerfile(svc.build.dockerfile)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    assert args == svc.build.args
    # everything the Dockerfile copies from the context is an input pipectl sends, and back
    sources = set()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        sources.update(line.split()[:-1])
    assert sources == set(svc.build.inputs)


def test_flink_image_python_packages_are_the_spec_list_pinned_in_the_lock():
    from pipectl.stack.images import python_pins

    names = re.search(r"grep -iE '\^\(([^)]+)\)==", _dockerfile(spec.FLINK_DOCKERFILE)).group(1).split("|")
    assert tuple(names) == spec.FLINK_PYTHON_PACKAGES
    pins = python_pins(REPO / "requirements.lock")
    assert [p.split("==")[0] for p in pins] == list(spec.FLINK_PYTHON_PACKAGES)
    assert "apache-flink==1.20.3" in pins


def test_runtime_layout_mounts_host_folders_at_the_same_paths(tmp_path):
    settings = load_settings(REPO, environ={
        "PIPECTL_LOCAL_STATE_DIR": str(tmp_path / "state"), "PIPECTL_LOCAL_WAREHOUSE": str(tmp_path / "wh"),
        "PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT": "true",
        "PIPECTL_LOCAL_KAFKA_PORT": "19092", "PIPECTL_LOCAL_FLINK_PORT": "18081"})
    layout = spec.runtime_layout(settings)
    assert re.fullmatch(r"pipectl-[0-9a-f]{8}", layout.prefix)
    services = {s.name: s for s in spec.services(layout)}
    jm = services["jobmanager"]
    assert spec.Mount(str(tmp_path / "wh"), str(tmp_path / "wh")) in jm.mounts
    assert spec.Mount(str(tmp_path / "state" / "flink"), str(tmp_path / "state" / "flink")) in jm.mounts
    assert jm.environment["ICEBERG_WAREHOUSE"] == (tmp_path / "wh").as_uri()
    assert f"state.savepoints.dir: file://{tmp_path}/state/flink/savepoints\n" in jm.environment["FLINK_PROPERTIES"]
    assert services["kafka"].ports == (("127.0.0.1", 19092, 9092),)
    assert services["kafka"].environment["KAFKA_ADVERTISED_HOST"] == "127.0.0.1:19092"
    assert "KAFKA_CREATE_TOPICS" not in services["kafka"].environment  # `local up` creates it
    assert jm.ports == (("127.0.0.1", 18081, 8081),)
    # Kafka runs as the caller; Flink starts as root and runs as the caller (PIPECTL_RUN_AS)
    me = f"{os.getuid()}:{os.getgid()}"
    assert services["kafka"].user == me and jm.user is None and services["taskmanager"].user is None
    assert jm.environment["PIPECTL_RUN_AS"] == me == services["taskmanager"].environment["PIPECTL_RUN_AS"]
    assert jm.environment["PIPECTL_STATE_DIR"] == str(tmp_path / "state" / "flink")
    assert spec.exec_job_command(layout) == (
        f"docker exec {layout.prefix}-jobmanager python /opt/flink/usrlib/jobs/order_ingest/job.py")
    # the project's own state folder keeps the plain names
    assert spec.runtime_layout(load_settings(REPO, environ={})).container("kafka") == "pipectl-kafka"


def test_build_context_holds_only_what_the_dockerfile_copies(tmp_path):
    from pipectl.stack.docker import DockerStack
    from pipectl.stack.images import Builder

    settings = load_settings(REPO, environ={"PIPECTL_LOCAL_STATE_DIR": str(tmp_path / "state"),
                                            "PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT": "true"})
    if not settings.dependency_jar.is_file():
        pytest.skip("needs the Maven build (make build)")
    stack = DockerStack(settings)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "x-1.0-py3-none-any.whl").write_bytes(b"")
    context = Builder(None, settings)._context(stack.services["jobmanager"], {"compose/wheels/": wheels})
    with tarfile.open(fileobj=context) as tar:
        names = set(tar.getnames())
    assert {"compose/flink/Dockerfile", "requirements.lock", "compose/wheels/x-1.0-py3-none-any.whl",
            "target/pyflink-dependencies.jar", "compose/flink/entrypoint.sh", "compose/flink/as-caller.sh",
            "jobs/order_ingest/job.py"} <= names
    assert not [n for n in names if n.startswith((".venv", "warehouse", ".pipectl", ".git")) or "__pycache__" in n]


# ------------------------------------------------------------------------------- runtime choice
def _run(*args, env):
    return subprocess.run([sys.executable, "-m", "pipectl", *args], capture_output=True, text=True, env=env, cwd=REPO)


@pytest.fixture
def no_engine_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_")}
    env.update(PIPECTL_PROJECT_DIR=str(REPO), PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"), PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
               PIPECTL_LOCAL_WAREHOUSE=str(tmp_path / "wh"), DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock",
               PIPECTL_LOCAL_KAFKA_PORT="1", PIPECTL_LOCAL_FLINK_PORT="2")
    return env


def test_auto_without_an_engine_is_native_and_says_why(monkeypatch, tmp_path):
    from pipectl.stack import resolve_runtime

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert resolve_runtime("auto") == ("native", "auto: no Docker engine answers")
    assert resolve_runtime("docker") == ("docker", "")
    with pytest.raises(PipectlError) as err:
        resolve_runtime("podman")
    assert err.value.exit_code == 2


def test_up_rejects_an_unknown_runtime(no_engine_env):
    result = _run("local", "up", "--runtime", "podman", env=no_engine_env)
    assert result.returncode == 2
    assert result.stderr == "error: unknown runtime 'podman' -- choose native, docker or auto\n"


def test_up_help_names_the_runtimes(no_engine_env):
    result = _run("local", "up", "--help", env=no_engine_env)
    assert result.returncode == 0 and "--runtime" in result.stdout and "native|docker|auto" in result.stdout


def test_docker_up_without_an_engine_is_one_line(no_engine_env, tmp_path):
    result = _run("local", "up", "--runtime", "docker", env=no_engine_env)
    assert result.returncode == 4
    assert result.stderr == (
        f"error: no Docker engine answers at unix://{tmp_path}/no-engine.sock (DockerException) -- "
        "start Docker or set DOCKER_HOST, or use 'pipectl local up --runtime native'\n")
    assert (tmp_path / "state" / "runtime").read_text() == "docker\n"


def test_status_and_logs_follow_the_recorded_runtime(no_engine_env, tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "runtime").write_text("docker\n")
    import json

    result = _run("local", "status", "--output", "json", env=no_engine_env)
    assert result.returncode == 4
    doc = json.loads(result.stdout)
    assert doc["runtime"] == "docker" and doc["healthy"] is False
    assert [c["name"] for c in doc["components"]] == ["kafka", "jobmanager", "taskmanager"]
    assert doc["components"][0]["detail"].startswith("no Docker engine answers at unix://")

    logs = _run("local", "logs", "zookeeper", env=no_engine_env)
    assert logs.returncode == 2
    assert logs.stderr == "error: unknown component 'zookeeper' -- choose one of kafka, jobmanager, taskmanager\n"

    (tmp_path / "state" / "runtime").write_text("native\n")
    result = _run("local", "status", "--output", "json", env=no_engine_env)
    assert json.loads(result.stdout)["runtime"] == "native"


def test_the_docker_flink_allows_only_the_ui_as_cors_origin():
    from pipectl.config import load_settings
    from pipectl.stack.spec import flink_properties, runtime_layout

    conf = flink_properties(runtime_layout(load_settings(env="local", overrides={"local.flink_port": 18081})))
    assert "web.access-control-allow-origin: http://127.0.0.1:18081\n" in conf
