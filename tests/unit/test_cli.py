"""Every command has help; global flags and errors behave the same everywhere."""

import subprocess
import sys

import pytest
import typer.main

from pipectl.cli.main import app, split_globals
from pipectl.errors import PipectlError


def all_commands():
    root = typer.main.get_command(app)
    todo = [((), root)]
    while todo:
        path, cmd = todo.pop()
        yield path
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                todo.append((path + (name,), sub))


COMMANDS = sorted(all_commands())


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pipectl", *args], capture_output=True, text=True, **kw)


def test_the_tree_has_the_documented_commands():
    for expected in [("local", "up"), ("local", "status"), ("local", "logs"), ("local", "down"),
                     ("job", "start"), ("job", "status"), ("job", "stop"), ("verify",), ("produce", "orders")]:
        assert expected in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pipectl")
def test_every_command_has_help(path):
    result = run(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: pipectl" in result.stdout
    assert result.stderr == ""


def test_global_flags_are_taken_from_anywhere():
    found, rest = split_globals(["verify", "--output", "json", "--env=aws", "--verbose"])
    assert rest == ["verify"]
    assert found["output"] == "json" and found["env"] == "aws" and found["verbose"] is True


def test_bad_output_flag_is_one_line_and_exit_2():
    result = run("verify", "--output", "yaml")
    assert result.returncode == 2
    assert result.stderr == "error: --output must be text or json, got 'yaml'\n"


def test_split_globals_needs_a_value():
    with pytest.raises(PipectlError, match="--env needs a value"):
        split_globals(["verify", "--env"])


def test_bad_settings_are_reported_at_once_without_traceback(tmp_path):
    (tmp_path / "pipectl.toml").write_text('[local]\nkafka_port = "x"\n[pipeline]\nparallelism = 0\n')
    result = run("local", "status", env={"PIPECTL_PROJECT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: invalid settings: local.kafka_port must be a whole number, got 'x'; "
        "pipeline.parallelism must be at least 1 -- fix pipectl.toml, PIPECTL_* variables or flags\n"
    )
    assert "Traceback" not in result.stderr


def test_verify_on_a_missing_table_exits_3_with_a_hint(tmp_path):
    result = run("verify", env={"PIPECTL_PROJECT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: table analytics.orders does not exist in {tmp_path}/warehouse -- ")


def test_verify_json_error_is_one_document(tmp_path):
    import json

    result = run("verify", "--output", "json", env={"PIPECTL_PROJECT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 3
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 3 and doc["error"].startswith("table analytics.orders does not exist")


def test_unknown_log_component_is_a_usage_error(tmp_path):
    result = run("local", "logs", "zookeeper", env={"PIPECTL_PROJECT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr == "error: unknown component 'zookeeper' -- choose one of kafka, jobmanager, taskmanager\n"
