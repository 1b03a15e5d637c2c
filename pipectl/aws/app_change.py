"""The calls that change the Managed Flink application: create, update (VPC and logging in place), start.

What to send is application.py's; when to send it is deploy.py's."""

from __future__ import annotations

from pipectl.aws import application as appcfg
from pipectl.aws.app_state import app_not_found, describe
from pipectl.aws.errors import aws_call
from pipectl.aws.manage import wait_settled
from pipectl.aws.restore import plan
from pipectl.aws.target import Target
from pipectl.progress import SILENT, Reporter


def create(target: Target, desired: appcfg.Desired) -> dict:
    client = target.client("kinesisanalyticsv2")
    name = target.aws.application_name
    with aws_call(f"create the application '{name}'"):
        return client.create_application(**appcfg.create_request(name, desired))["ApplicationDetail"]


def _change_vpc(target: Target, detail: dict, desired: appcfg.Desired) -> dict:
    """Add or remove the VPC in place (AddApplicationVpcConfiguration /
    DeleteApplicationVpcConfiguration): no destroy, so the snapshots stay."""
    client = target.client("kinesisanalyticsv2")
    name = target.aws.application_name
    vpcs = appcfg.vpc_configurations(detail)
    guard = (
        {"ConditionalToken": detail["ConditionalToken"]}
        if detail.get("ConditionalToken")
        else {"CurrentApplicationVersionId": detail["ApplicationVersionId"]}
    )
    if desired.subnets and not vpcs:
        with aws_call(f"add the VPC to '{name}'", not_found=app_not_found(target)):
            client.add_application_vpc_configuration(
                ApplicationName=name,
                VpcConfiguration={
                    "SubnetIds": list(desired.subnets),
                    "SecurityGroupIds": list(desired.security_groups),
                },
                **guard,
            )
    elif vpcs and not desired.subnets:
        with aws_call(f"remove the VPC from '{name}'", not_found=app_not_found(target)):
            client.delete_application_vpc_configuration(
                ApplicationName=name, VpcConfigurationId=vpcs[0]["VpcConfigurationId"], **guard
            )
    if detail["ApplicationStatus"] == appcfg.RUNNING:  # the service restarts it with the new network
        return wait_settled(
            target, SILENT, want=appcfg.RUNNING, message="", min_version=detail["ApplicationVersionId"] + 1
        )
    return describe(target) or detail


def update(target: Target, detail: dict, desired: appcfg.Desired, changes: list[str], run: dict | None) -> dict:
    """Update only what changed. `run` (RunConfigurationUpdate) goes with the UpdateApplication
    call, which comes first, so the restart it causes and any later one restore as planned."""
    client = target.client("kinesisanalyticsv2")
    name = target.aws.application_name
    vpc_change = appcfg.attaches_or_detaches_vpc(detail, desired, changes)
    if appcfg.needs_log_option(detail, changes):
        with aws_call(f"add CloudWatch logging to '{name}'", not_found=app_not_found(target)):
            client.add_application_cloud_watch_logging_option(
                ApplicationName=name,
                ConditionalToken=detail["ConditionalToken"],
                CloudWatchLoggingOption={"LogStreamARN": desired.log_stream_arn},
            )
        detail = describe(target) or detail
    rest = [c for c in appcfg.diff(detail, desired) if not (vpc_change and c == "vpc")]
    if rest or (run is not None and vpc_change):
        request = appcfg.update_request(name, detail, desired, rest)
        if run is not None:
            request["RunConfigurationUpdate"] = run
        with aws_call(f"update the application '{name}'", not_found=app_not_found(target)):
            detail = client.update_application(**request)["ApplicationDetail"]
        if vpc_change and detail["ApplicationStatus"] != appcfg.READY:
            detail = wait_settled(
                target, SILENT, want=appcfg.RUNNING, message="", min_version=detail["ApplicationVersionId"]
            )
    if vpc_change:
        detail = _change_vpc(target, detail, desired)
    return detail


def start(
    target: Target, restore: str, allow_non_restored: bool, reporter: Reporter, *, read_on: bool = False
) -> str | None:
    """Start a READY application; return the snapshot it restores from, if any. `read_on`: the job was given
    the offsets after the tables' last records (KAFKA_START_OFFSETS) for a start without state."""
    name = target.aws.application_name
    chosen = plan(target, restore, allow_non_restored, reporter, updating=False, read_on=read_on)
    reporter.step(
        f"starting '{name}'" + (f" from snapshot {chosen.snapshot}" if chosen.snapshot else " without a snapshot")
    )
    client = target.client("kinesisanalyticsv2")
    with aws_call(f"start the application '{name}'", not_found=app_not_found(target)):
        client.start_application(ApplicationName=name, RunConfiguration=chosen.run_configuration())
    return chosen.snapshot


def start_without_state(target: Target, reporter: Reporter, *, read_on: bool) -> None:
    """The offsets path: start without state, from the job's KAFKA_START_OFFSETS (`read_on`: one past the tables'
    last records, deploy._read_on), else from the consumer group's offsets (the tables hold no record yet)."""
    name = target.aws.application_name
    reporter.step(
        f"starting '{name}' without state, "
        + ("after the tables' last records" if read_on else "from the consumer group's committed offsets")
        + " (offsets path)"
    )
    with aws_call(f"start the application '{name}'", not_found=app_not_found(target)):
        target.client("kinesisanalyticsv2").start_application(
            ApplicationName=name,
            RunConfiguration={
                "FlinkRunConfiguration": {"AllowNonRestoredState": False},
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"},
            },
        )
