"""What the service says about the application: whether it exists, its detail, its snapshots.

Read-only calls that the lifecycle (manage.py), the health watch (health.py), deploy, plan,
doctor and status all need; kept below them all, so none of those import each other for it."""

from __future__ import annotations

from datetime import datetime

from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.target import Target
from pipectl.errors import NotFoundError


def app_not_found(target: Target) -> NotFoundError:
    return NotFoundError(
        f"application '{target.aws.application_name}' does not exist in {target.region}",
        hint="deploy it with `pipectl aws deploy` (or check aws.application_name and aws.region)",
    )


def describe(target: Target) -> dict | None:
    """The ApplicationDetail, or None when there is no such application."""
    client = target.client("kinesisanalyticsv2")
    with aws_call(f"describe the application '{target.aws.application_name}'"):
        try:
            return client.describe_application(ApplicationName=target.aws.application_name)["ApplicationDetail"]
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise


def snapshots(target: Target) -> list[dict]:
    """Snapshots, newest first."""
    client = target.client("kinesisanalyticsv2")
    out: list[dict] = []
    kwargs: dict = {"ApplicationName": target.aws.application_name, "Limit": 50}
    with aws_call(f"list the snapshots of '{target.aws.application_name}'", not_found=app_not_found(target)):
        while True:
            page = client.list_application_snapshots(**kwargs)
            out.extend(page.get("SnapshotSummaries", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return sorted(out, key=lambda s: s.get("SnapshotCreationTimestamp") or datetime.min, reverse=True)


def console_url(target: Target) -> str:
    r = target.region
    return f"https://{r}.console.aws.amazon.com/flink/home?region={r}#/application/{target.aws.application_name}"
