"""What a child process gets from pipectl: the allow-listed environment, Flink configurations that
do not log environments and allow only the UI's origin, a state folder for this user only, and
secret files that are 0600 from their first byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipectl import childenv, files
from pipectl.config import load_settings
from pipectl.stack import native

SHELL = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "JAVA_HOME": "/opt/java",
    "TMPDIR": "/tmp",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t",
    "AWS_SESSION_TOKEN": "tok",
    "AWS_PROFILE": "prod",
    "DATABASE_URL": "postgresql://app:pw@db/orders",
    "GITHUB_TOKEN": "ghp_x",
    "PYTHONPATH": "/somewhere",
    "LD_PRELOAD": "/evil.so",
    "PIPECTL_LOCAL_KAFKA_PORT": "1",
    "DEPLOYMENT_ENV": "aws",
}


def test_a_child_gets_only_the_allow_list_and_what_the_caller_adds() -> None:
    env = childenv.child_env({"FLINK_CONF_DIR": "/c", "PATH": "/venv/bin:/usr/bin"}, environ=SHELL)
    assert env == {
        "PATH": "/venv/bin:/usr/bin",
        "HOME": "/home/me",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "JAVA_HOME": "/opt/java",
        "TMPDIR": "/tmp",
        "FLINK_CONF_DIR": "/c",
    }


def test_java_and_flink_environments_hold_no_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in SHELL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin", "/usr/local/bin"]))
    java = native.java_env()
    assert set(java) <= set(childenv.ALLOWED) | {"LC_ALL"}
    settings = load_settings(tmp_path, environ={})
    flink = native.NativeStack(settings).flink_env()
    assert set(flink) - set(java) == {"FLINK_CONF_DIR", "FLINK_LOG_DIR", "FLINK_PID_DIR"}
    for secret in ("AKIAEXAMPLE", "s3cr3t", "tok", "pw@db", "ghp_x", "/evil.so"):
        assert not any(secret in v for v in flink.values()), secret


def test_the_flink_conf_we_write_logs_no_environment_and_allows_only_the_ui_origin(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"PIPECTL_LOCAL_FLINK_PORT": "18081"})
    stack = native.NativeStack(settings)
    stack._write_flink_conf()
    conf = (stack.conf_dir / "config.yaml").read_text().splitlines()
    assert "web.access-control-allow-origin: http://127.0.0.1:18081" in conf
    log4j = sorted(p.name for p in stack.conf_dir.glob("log4j*.properties"))
    assert log4j == ["log4j-cli.properties", "log4j-console.properties", "log4j-session.properties", "log4j.properties"]
    for name in log4j:
        lines = (stack.conf_dir / name).read_text().splitlines()
        assert "logger.pythonenvutils.name = org.apache.flink.client.python.PythonEnvUtils" in lines, name
        assert "logger.pythonenvutils.level = OFF" in lines, name
    # written twice (every `local up`): still one logger definition
    stack._write_flink_conf()
    assert (stack.conf_dir / "log4j-cli.properties").read_text().count("logger.pythonenvutils.level") == 1


def test_private_folders_and_secret_files(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        state = files.private_dir(tmp_path / "a" / ".pipectl")
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        existing = tmp_path / "open"
        existing.mkdir(mode=0o755)
        files.private_dir(existing)
        assert stat.S_IMODE(existing.stat().st_mode) == 0o700

        secret = files.write_secret(state / "password", "hunter2")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == "hunter2"
        files.write_secret(secret, b"again")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_bytes() == b"again"
        assert [p.name for p in state.iterdir()] == ["password"], "no temporary file left behind"
    finally:
        os.umask(old)


def test_a_secret_file_is_never_readable_by_others_while_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mode is given to open() itself: there is no moment at which the file is 0644."""
    modes: list[int] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777) -> int:
        modes.append(mode)
        return real_open(path, flags, mode)

    monkeypatch.setattr(files.os, "open", spy)
    files.write_secret(tmp_path / "s", "x")
    assert modes == [0o600]
