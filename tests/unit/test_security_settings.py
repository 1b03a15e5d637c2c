"""Settings refuse, at load, what would make `local down --purge` dangerous, names that a service
would refuse or that would widen the IAM policy, and hosts other machines could reach. Each
refusal is one line naming the setting (exact messages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipectl.config import load_settings
from pipectl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "home" / "work" / "project"
    p.mkdir(parents=True)
    return p


def problems(project: Path, **settings: str) -> list[str]:
    environ = {"HOME": str(project.parents[1])}
    environ.update({f"PIPECTL_{k.upper()}": v for k, v in settings.items()})
    with pytest.raises(ConfigError) as err:
        load_settings(project, environ=environ)
    return err.value.problems


# ------------------------------------------------------------------------------ folders purge deletes
@pytest.mark.parametrize("key", ["state_dir", "warehouse"])
def test_root_home_project_and_its_parents_are_refused(project: Path, key: str) -> None:
    home = project.parents[1]
    setting = f"local_{key}"
    assert problems(project, **{setting: "/"}) == [f"local.{key} must not be the root folder /: `local down --purge` deletes it"]
    assert problems(project, **{setting: str(home)}) == [
        f"local.{key} must not be the home folder {home}: `local down --purge` deletes it"
    ]
    assert problems(project, **{setting: "~"}) == [f"local.{key} must not be the home folder {home}: `local down --purge` deletes it"]
    for value, path in ((".", project), ("..", project.parent), ("data/../..", project.parent)):
        assert problems(project, **{setting: value}) == [
            f"local.{key} must not be the project folder or one of its parents ({path}): `local down --purge` deletes it"
        ], value


def test_a_folder_outside_the_project_needs_the_explicit_setting(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    assert problems(project, local_warehouse=str(outside)) == [
        f"local.warehouse {outside} is outside the project folder {project}: set local.allow_outside_project = true "
        "to use it (`local down --purge` deletes it)"
    ]
    s = load_settings(
        project, environ={"PIPECTL_LOCAL_WAREHOUSE": str(outside), "PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT": "true"}
    )
    assert s.warehouse_dir == outside
    # even allowed, the root, the home folder and the project's parents stay refused
    assert problems(project, local_warehouse="/", local_allow_outside_project="true") == [
        "local.warehouse must not be the root folder /: `local down --purge` deletes it"
    ]


def test_the_warehouse_may_not_hold_the_state_folder(project: Path) -> None:
    assert problems(project, local_warehouse="data", local_state_dir="data/state") == [
        f"local.warehouse must not be the state folder or hold it ({project / 'data'})"
    ]


def test_the_defaults_load(project: Path) -> None:
    s = load_settings(project, environ={})
    assert (s.state_dir, s.warehouse_dir) == (project / ".pipectl", project / "warehouse")


def test_a_symlink_is_judged_by_where_it_points(project: Path) -> None:
    (project / "wh").symlink_to(project.parent)
    assert problems(project, local_warehouse="wh") == [
        f"local.warehouse must not be the project folder or one of its parents ({project.parent}): "
        "`local down --purge` deletes it"
    ]


# ----------------------------------------------------------------------------------------------- names
S3 = "1-255 lowercase letters, digits or '_', beginning and ending with a letter or digit (S3 Tables)"
KAFKA = "1-249 letters, digits, '.', '_' or '-' (a Kafka topic name)"


def test_a_backtick_in_the_rejected_table_is_refused(project: Path) -> None:
    bad = "orders_rejected` (x INT); DROP TABLE `analytics`.`orders"
    assert problems(project, pipeline_rejected_table=bad) == [f"pipeline.rejected_table must be {S3}, got {bad!r}"]


@pytest.mark.parametrize(
    "setting, value, line",
    [
        ("pipeline_topic", "orders created", f"pipeline.topic must be {KAFKA}, got 'orders created'"),
        ("pipeline_topic", "t" * 250, f"pipeline.topic must be {KAFKA}, got {'t' * 250!r}"),
        ("pipeline_topic", "..", f"pipeline.topic must be {KAFKA}, got '..'"),
        ("aws_topic", "*", f"aws.topic must be {KAFKA}, got '*'"),
        ("pipeline_consumer_group", "*", "pipeline.consumer_group must be 1-255 letters, digits, '.', '_' or '-', got '*'"),
        ("pipeline_namespace", "ana.lytics", "pipeline.namespace must be 1-255 letters, digits, '_' or '-', beginning with a letter or digit, got 'ana.lytics'"),
        ("pipeline_table", "orders`", "pipeline.table must be 1-255 letters, digits, '_' or '-', beginning with a letter or digit, got 'orders`'"),
        ("aws_namespace", "Analytics", f"aws.namespace must be {S3}, got 'Analytics'"),
        ("aws_namespace", "awsdata", "aws.namespace must not begin with 'aws' (reserved by S3 Tables), got 'awsdata'"),
        ("aws_table", "orders-v2", f"aws.table must be {S3}, got 'orders-v2'"),
        ("aws_table", "orders_", f"aws.table must be {S3}, got 'orders_'"),
        ("aws_application_name", "order ingest", "aws.application_name must be 1-128 letters, digits, '.', '_' or '-', got 'order ingest'"),
        ("aws_application_name", "*", "aws.application_name must be 1-128 letters, digits, '.', '_' or '-', got '*'"),
        ("aws_code_bucket", "my*bucket", "aws.code_bucket must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-'), got 'my*bucket'"),
        ("aws_code_prefix", "*", "aws.code_prefix must be letters, digits, '.', '_', '-' or '/', got '*'"),
        ("aws_log_group", "/aws/*", "aws.log_group must be a log group name (letters, digits, '.', '_', '-', '/' or '#'), got '/aws/*'"),
        ("aws_subnets", "subnet-*", "aws.subnets must be subnet ids (subnet-0123abcd...), got 'subnet-*'"),
        ("aws_security_groups", "*", "aws.security_groups must be security group ids (sg-0123abcd...), got '*'"),
    ],
)
def test_a_bad_name_is_one_line_naming_the_setting(project: Path, setting: str, value: str, line: str) -> None:
    assert problems(project, **{setting: value}) == [line]


def test_the_longest_names_the_services_take_are_accepted(project: Path) -> None:
    s = load_settings(
        project,
        environ={
            "PIPECTL_PIPELINE_TOPIC": "t" * 249,
            "PIPECTL_AWS_TABLE": "o" * 255,
            "PIPECTL_AWS_APPLICATION_NAME": "a" * 128,
            "PIPECTL_AWS_SUBNETS": "subnet-0123456789abcdef0",
        },
    )
    assert len(s.pipeline.topic) == 249 and len(s.aws.table) == 255


def test_no_setting_puts_a_wildcard_into_the_iam_policy(project: Path) -> None:
    """Every setting that reaches the policy's ARNs refuses '*' and '?'."""
    for setting in (
        "aws_topic", "pipeline_consumer_group", "aws_namespace", "aws_table", "pipeline_rejected_table",
        "aws_application_name", "aws_code_bucket", "aws_code_prefix", "aws_log_group", "aws_subnets",
        "aws_security_groups",
    ):
        for wildcard in ("*", "orders?", "a*b"):
            found = problems(project, **{setting: wildcard})
            assert len(found) == 1 and found[0].startswith(setting.replace("_", ".", 1)), (setting, found)


def test_a_bad_name_is_one_line_on_the_command_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "PIPECTL_PROJECT_DIR": str(REPO), "PIPECTL_CONFIG": "/nonexistent.toml",
           "PIPECTL_PIPELINE_REJECTED_TABLE": "x`y"}
    result = subprocess.run([sys.executable, "-m", "pipectl", "local", "status"], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: invalid settings: pipeline.rejected_table must be {S3}, got 'x`y' "
        "-- fix nonexistent.toml, PIPECTL_* variables or flags\n"
    )


# ----------------------------------------------------------------------------------------------- hosts
def test_a_host_other_machines_reach_is_refused_unless_allowed(project: Path) -> None:
    line = (
        "local.{key} must be a loopback address (127.0.0.1, ::1 or localhost), got '{host}': other machines could "
        "reach it; set local.allow_remote = true to allow that (see docs/security.md)"
    )
    assert problems(project, local_flink_host="0.0.0.0") == [line.format(key="flink_host", host="0.0.0.0")]
    assert problems(project, local_kafka_host="192.168.1.5") == [line.format(key="kafka_host", host="192.168.1.5")]
    for loopback in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert load_settings(project, environ={"PIPECTL_LOCAL_FLINK_HOST": loopback}).exposure_warnings == []


def test_an_allowed_remote_host_warns_what_it_exposes(project: Path) -> None:
    s = load_settings(
        project,
        environ={"PIPECTL_LOCAL_FLINK_HOST": "0.0.0.0", "PIPECTL_LOCAL_KAFKA_HOST": "0.0.0.0", "PIPECTL_LOCAL_ALLOW_REMOTE": "1"},
    )
    assert s.exposure_warnings == [
        "Flink's REST API on http://0.0.0.0:8081 is reachable from other machines and has no authentication: "
        "anyone who reaches it can submit a job, i.e. run code as you",
        "Kafka on 0.0.0.0:9092 is reachable from other machines over PLAINTEXT, without authentication or "
        "encryption: anyone who reaches it can read and write the topics",
    ]
