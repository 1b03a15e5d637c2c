"""The resources deploy needs (pipectl/aws/resources.py), checked through Target's client seam:
deploy stops at the first missing one with its message, hint and exit code 3, and goes on with a
warning where the caller may not read the role or the table bucket; doctor reads the same list."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from pipectl.aws.resources import check_resources, resources
from pipectl.aws.target import Target
from pipectl.config import AwsSettings, Settings
from pipectl.errors import EXIT_NOT_FOUND, NotFoundError

ROLE = "arn:aws:iam::123456789012:role/flink-exec"
TABLE_BUCKET = "arn:aws:s3tables:us-east-1:123456789012:bucket/orders"


def _error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class Client:
    """A client whose every call answers {} or raises the ClientError given for it."""

    def __init__(self, service: str, fail: dict[str, str], calls: list[str]):
        self.service, self.fail, self.calls = service, fail, calls

    def __getattr__(self, op: str):
        def call(**kwargs):
            self.calls.append(f"{self.service}.{op}")
            if op in self.fail:
                raise _error(self.fail[op], op)
            return {"ok": True}

        return call


class Recorder:
    def __init__(self):
        self.lines: list[str] = []

    def step(self, message):
        self.lines.append(f"step: {message}")

    def done(self, message):
        self.lines.append(f"done: {message}")

    def warn(self, message):
        self.lines.append(f"warn: {message}")


def _target(tmp_path, fail: dict[str, str], calls: list[str]) -> Target:
    aws = AwsSettings(region="us-east-1", code_bucket="code-bkt", service_role_arn=ROLE, table_bucket_arn=TABLE_BUCKET)
    return Target(
        settings=Settings(project_dir=tmp_path, env="aws", aws=aws),
        region="us-east-1",
        client_factory=lambda service: Client(service, fail, calls),
    )


def test_all_found(tmp_path):
    calls: list[str] = []
    out = Recorder()
    check_resources(_target(tmp_path, {}, calls), out)
    assert calls == ["s3.head_bucket", "iam.get_role", "s3tables.get_table_bucket"]
    assert out.lines == ["done: code bucket, execution role and table bucket found"]
    assert [r.label for r in resources(_target(tmp_path, {}, []))] == [
        "code bucket code-bkt",
        "execution role flink-exec",
        "table bucket orders",
    ]


@pytest.mark.parametrize(
    ("fail", "message", "hint_start"),
    [
        ({"head_bucket": "404"}, "code bucket 'code-bkt' does not exist", "create it (`aws s3 mb s3://code-bkt --region us-east-1`)"),
        ({"get_role": "NoSuchEntity"}, "execution role 'flink-exec' does not exist", "create it with the policies"),
        ({"get_table_bucket": "NotFoundException"}, f"table bucket {TABLE_BUCKET} does not exist", "create it (`aws s3tables"),
    ],
)
def test_the_first_missing_resource_stops_deploy(tmp_path, fail, message, hint_start):
    calls: list[str] = []
    with pytest.raises(NotFoundError) as err:
        check_resources(_target(tmp_path, fail, calls), Recorder())
    assert (err.value.message, err.value.exit_code) == (message, EXIT_NOT_FOUND)
    assert err.value.hint.startswith(hint_start)
    assert calls[-1].endswith(next(iter(fail)))  # nothing read after the missing one


def test_an_unreadable_role_and_table_bucket_are_warnings(tmp_path):
    out = Recorder()
    check_resources(_target(tmp_path, {"get_role": "AccessDenied", "get_table_bucket": "AccessDeniedException"}, []), out)
    assert out.lines == [
        "warn: cannot check the execution role (no iam:GetRole); assuming 'flink-exec' exists",
        "warn: cannot check the table bucket (no s3tables:GetTableBucket); assuming it exists",
        "done: code bucket, execution role and table bucket found",
    ]


def test_an_unreadable_code_bucket_is_an_error(tmp_path):
    from pipectl.errors import PipectlError

    with pytest.raises(PipectlError) as err:
        check_resources(_target(tmp_path, {"head_bucket": "403"}, []), Recorder())
    assert not isinstance(err.value, NotFoundError)
    assert "code bucket" in err.value.message


def test_doctor_reports_each_resource_with_its_fix(tmp_path):
    from pipectl.doctor import _aws_probe

    target = _target(tmp_path, {"get_role": "NoSuchEntity"}, [])
    checks = [_aws_probe(r.label, lambda r=r: r.read() and "exists", missing_fix=r.fix) for r in resources(target)]
    assert [(c.name, c.status, c.detail) for c in checks] == [
        ("code bucket code-bkt", "ok", "exists"),
        ("execution role flink-exec", "missing", "does not exist (NoSuchEntity)"),
        ("table bucket orders", "ok", "exists"),
    ]
    assert checks[1].fix == "create it (docs/aws.md, 'pipectl aws iam-policy') or fix aws.service_role_arn"
