"""One result style (issue 20): every AWS settings problem is a SettingProblem naming its setting,
doctor's failing checks exit with their own named code (3, as documented), and `local logs`
returns a ComponentLog whose JSON keeps the documented keys."""

from __future__ import annotations

import pytest

from pipectl import errors
from pipectl.config import AwsSettings, SettingProblem, Settings


@pytest.fixture
def no_aws_env(monkeypatch, tmp_path):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.mark.parametrize("purpose", ["deploy", "bootstrap", "iam", "status", "table"])
def test_every_settings_problem_names_its_setting(no_aws_env, tmp_path, purpose):
    from pipectl.aws.target import check_settings

    aws = AwsSettings(
        region="us-east-1",
        application_name="bad name!",
        code_bucket="Bad_Bucket",
        service_role_arn="not-an-arn",
        msk_cluster_arn="arn:nope",
        bootstrap_servers="nohostport",
        table_bucket_arn="arn:nope",
        namespace="Bad-NS",
        table="",
        subnets=("subnet-x",),
        parallelism=0,
        wait_timeout_s=0,
    )
    _, problems = check_settings(Settings(project_dir=tmp_path, env="aws", aws=aws), purpose)
    assert problems, purpose
    for p in problems:
        assert isinstance(p, SettingProblem), p
        assert p.setting.startswith("aws.") and p.setting.split(".", 1)[1] in p, (p.setting, str(p))


def test_doctor_exits_with_its_own_code_the_documented_3(tmp_path):
    from pipectl.doctor import Check, DoctorReport

    assert errors.EXIT_CHECK_FAILED == 3
    report = DoctorReport("local", "native", [Check("java", "missing", "java is not on PATH")])
    assert (report.exit_code, report.exit_reason) == (errors.EXIT_CHECK_FAILED, "1 of 1 checks need a fix")
    assert DoctorReport("local", "native", [Check("java", "ok", "Java 17")]).exit_code == 0


def test_component_log_is_a_dataclass_with_the_documented_json(tmp_path, monkeypatch):
    from pipectl import stack

    class Fake:
        def log_source(self, name):
            return f"/logs/{name}.log"

        def log_lines(self, name, lines):
            return ["a", "b"][:lines]

    monkeypatch.setattr(stack, "get_stack", lambda settings: Fake())
    log = stack.component_log(Settings(project_dir=tmp_path), "kafka", 1)
    assert (log.component, log.log, log.lines) == ("kafka", "/logs/kafka.log", ["a"])
    assert log.to_dict() == {"component": "kafka", "log": "/logs/kafka.log", "lines": ["a"]}
