"""The resources `aws deploy` needs before it makes anything (code bucket, execution role, table
bucket): one list that deploy checks (raising at the first one missing) and doctor reports (a line
each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipectl.aws.errors import READ_DENIED, aws_call
from pipectl.aws.target import Target
from pipectl.errors import NotFoundError, PipectlError
from pipectl.progress import Reporter


@dataclass(frozen=True)
class Resource:
    """One configured resource: how to read it, and what to say when it is missing or unreadable."""

    label: str  # doctor's check name: "code bucket NAME"
    action: str  # aws_call's action: "read the code bucket 'NAME'"
    missing: str  # deploy's one line when it does not exist
    hint: str  # deploy's hint then
    fix: str  # doctor's fix then
    read: Callable[[], Any]  # the one read-only call that proves it exists
    denied: str = ""  # deploy's warning when the caller may not read it ("": access denied is an error)


def resources(target: Target) -> list[Resource]:
    """The configured resources deploy needs, in the order deploy checks them."""
    aws = target.aws
    found: list[Resource] = []
    if aws.code_bucket:
        found.append(
            Resource(
                label=f"code bucket {aws.code_bucket}",
                action=f"read the code bucket '{aws.code_bucket}'",
                missing=f"code bucket '{aws.code_bucket}' does not exist",
                hint=f"create it (`aws s3 mb s3://{aws.code_bucket} --region {target.region}`) or fix aws.code_bucket",
                fix="create it (aws s3 mb s3://BUCKET) or fix aws.code_bucket",
                read=lambda: target.client("s3").head_bucket(Bucket=aws.code_bucket),
            )
        )
    if aws.service_role_arn and "/" in aws.service_role_arn:
        role = aws.service_role_arn.rsplit("/", 1)[-1]
        found.append(
            Resource(
                label=f"execution role {role}",
                action=f"read the execution role '{role}'",
                missing=f"execution role '{role}' does not exist",
                hint="create it with the policies from `pipectl aws iam-policy` (see docs/aws.md), or fix aws.service_role_arn",
                fix="create it (docs/aws.md, 'pipectl aws iam-policy') or fix aws.service_role_arn",
                read=lambda: target.client("iam").get_role(RoleName=role),
                denied=f"cannot check the execution role (no iam:GetRole); assuming '{role}' exists",
            )
        )
    bucket = target.table_bucket
    if bucket is not None:
        found.append(
            Resource(
                label=f"table bucket {bucket.name}",
                action="read the S3 table bucket",
                missing=f"table bucket {aws.table_bucket_arn} does not exist",
                hint=f"create it (`aws s3tables create-table-bucket --name NAME --region {target.region}`) "
                "or fix aws.table_bucket_arn",
                fix="create it (aws s3tables create-table-bucket) or fix aws.table_bucket_arn",
                read=lambda: target.client("s3tables").get_table_bucket(tableBucketARN=aws.table_bucket_arn),
                denied="cannot check the table bucket (no s3tables:GetTableBucket); assuming it exists",
            )
        )
    return found


def check_resources(target: Target, reporter: Reporter) -> None:
    """deploy's check: NotFoundError at the first resource that does not exist; a warning for one
    the caller may not read, where deploy can go on without knowing."""
    for resource in resources(target):
        try:
            with aws_call(resource.action, not_found=NotFoundError(resource.missing, hint=resource.hint)):
                resource.read()
        except PipectlError as exc:
            if not resource.denied or getattr(exc, "code", "") not in READ_DENIED:
                raise
            reporter.warn(resource.denied)
    reporter.done("code bucket, execution role and table bucket found")
