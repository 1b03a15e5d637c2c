"""`pipectl doctor`: one line per check with the fix; a taken port and a missing Java are caught;
the JSON output has the documented shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipectl import doctor
from tests.unit.test_status_schema import schema

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path):
    """Settings of our own: free ports, a state folder with no running stack."""
    ports = []
    socks = []
    for _ in range(4):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    e = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_") and k != "DEPLOYMENT_ENV"}
    e.update(PIPECTL_PROJECT_DIR=str(REPO), PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"), PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
             PIPECTL_LOCAL_WAREHOUSE=str(tmp_path / "warehouse"), NO_COLOR="1", COLUMNS="250",
             PIPECTL_LOCAL_KAFKA_PORT=str(ports[0]), PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT=str(ports[1]),
             PIPECTL_LOCAL_FLINK_PORT=str(ports[2]), PIPECTL_LOCAL_FLINK_RPC_PORT=str(ports[3]))
    return e


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "pipectl", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def run_json(env, *args):
    result = run(env, *args, "--output", "json")
    doc = json.loads(result.stdout)
    import jsonschema

    jsonschema.validate(doc, schema("doctor"))
    return result.returncode, doc, {c["name"]: c for c in doc["checks"]}


def test_everything_ok_on_this_machine(env):
    code, doc, checks = run_json(env, "doctor")
    assert code == 0, doc
    assert doc["ok"] is True and doc["env"] == "local" and doc["runtime"] == "native"
    assert list(checks) == ["python", "java", "maven", "artifact: dependency jar", "artifact: kafka broker",
                            "apache-flink", f"port {env['PIPECTL_LOCAL_KAFKA_PORT']}",
                            f"port {env['PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT']}",
                            f"port {env['PIPECTL_LOCAL_FLINK_PORT']}", f"port {env['PIPECTL_LOCAL_FLINK_RPC_PORT']}",
                            "disk"]
    assert checks["java"]["detail"].startswith("Java 17 (")
    assert checks[f"port {env['PIPECTL_LOCAL_FLINK_PORT']}"]["detail"] == "free (local.flink_port, jobmanager)"


def test_a_taken_port_is_wrong_with_who_holds_it(env):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {env['PIPECTL_LOCAL_KAFKA_PORT']})); s.listen(); print('ready', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        port = env["PIPECTL_LOCAL_KAFKA_PORT"]
        code, doc, checks = run_json(env, "doctor")
        assert code == 3 and doc["ok"] is False and doc["exit_code"] == 3
        assert doc["counts"]["wrong"] == 1
        check = checks[f"port {port}"]
        assert check["status"] == "wrong"
        assert check["detail"].startswith(f"in use by pid {holder.pid} (python")
        assert check["detail"].endswith("; local.kafka_port needs it for kafka")
        assert check["fix"] == "stop that process, or set local.kafka_port (PIPECTL_LOCAL_KAFKA_PORT) to a free port"

        text = run(env, "doctor")
        assert text.returncode == 3
        line = next(line for line in text.stdout.splitlines() if f"port {port}" in line)
        assert line.startswith("wrong") and line.rstrip().endswith(
            "-- stop that process, or set local.kafka_port (PIPECTL_LOCAL_KAFKA_PORT) to a free port")
        assert text.stdout.rstrip().endswith("1 of 11 checks need a fix")
    finally:
        holder.kill()
        holder.wait()


def test_java_hidden_from_path_is_missing_with_the_fix(env):
    env = dict(env, PATH=str(Path(sys.executable).parent))  # the venv only: no java, no mvn
    env.pop("JAVA_HOME", None)
    code, doc, checks = run_json(env, "doctor")
    assert code == 3
    assert checks["java"] == {"name": "java", "status": "missing", "detail": "java is not on PATH",
                              "fix": "install Java 17: apt-get install openjdk-17-jre-headless"}
    # target/ is built, so a missing Maven is only a warning
    assert checks["maven"]["status"] == "warn"
    assert doc["counts"]["missing"] == 1


def test_docker_runtime_needs_an_engine(env):
    env = dict(env, DOCKER_HOST=f"unix://{env['PIPECTL_LOCAL_STATE_DIR']}/no-docker.sock")
    code, doc, checks = run_json(env, "doctor", "--runtime", "docker")
    assert code == 3 and doc["runtime"] == "docker"
    assert checks["docker engine"]["status"] == "missing"
    assert checks["docker engine"]["fix"] == "start a Docker engine (dockerd) and check DOCKER_HOST"
    assert "apache-flink" not in checks  # the docker runtime does not run the wheel's Flink
    code, doc, checks = run_json(env, "doctor", "--runtime", "auto")
    assert code == 0 and checks["docker engine"]["status"] == "warn"


@pytest.mark.parametrize("text,major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ("nonsense", None),
])
def test_parse_java_major(text, major):
    assert doctor.parse_java_major(text) == major


def test_disk_thresholds(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(0, 0, 1024**3))
    check = doctor.check_disk(tmp_path / "not" / "yet")
    assert check.status == "warn" and check.detail.endswith("(less than 2 GiB)")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(0, 0, 100 * 1024**2))
    assert doctor.check_disk(tmp_path).status == "wrong"


# ---------------------------------------------------------------------------- AWS settings problems
@pytest.mark.parametrize("aws, region_check, settings_check", [
    # nothing set: the region is missing, and so are the deploy settings
    ({}, ("missing", "aws.region is not set (nor AWS_REGION or a profile region)"), "missing"),
    # a malformed region is wrong, not missing
    ({"region": "mars-1"}, ("wrong", "aws.region 'mars-1' is not an AWS region name (like eu-west-1)"), "missing"),
    # an ARN in another region names aws.region in its text but is a problem of the ARN's setting
    ({"region": "us-east-1", "code_bucket": "code-bucket", "bootstrap_servers": "b-1:9098",
      "service_role_arn": "arn:aws:iam::123456789012:role/r",
      "table_bucket_arn": "arn:aws:s3tables:us-west-2:123456789012:bucket/tb"},
     ("ok", "us-east-1"), "wrong"),
])
def test_aws_settings_problems_are_sorted_by_setting_not_by_wording(monkeypatch, tmp_path, aws, region_check,
                                                                    settings_check):
    from pipectl.aws.target import check_settings
    from pipectl.config import AwsSettings, Settings, SettingProblem
    from pipectl.doctor import aws_checks

    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    settings = Settings(project_dir=tmp_path, env="aws", aws=AwsSettings(**aws))
    _, problems = check_settings(settings, "deploy")
    assert all(isinstance(p, str) for p in problems)
    assert all(p.setting.startswith("aws.") for p in problems if isinstance(p, SettingProblem))
    checks = {c.name: c for c in aws_checks(settings)}
    assert (checks["aws region"].status, checks["aws region"].detail) == region_check
    assert checks["aws settings"].status == settings_check
