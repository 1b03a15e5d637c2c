"""`pipectl aws bootstrap`: what `aws deploy` needs, as one CloudFormation stack per pipeline.

The stack (pipectl/aws/templates/bootstrap.yaml) holds the code bucket (versioned, encrypted,
public access blocked), the S3 table bucket and its namespace, the execution role with the
policy of pipectl/aws/iam.py (the document `aws iam-policy` prints: one source for both), the
application's log group with a retention, and with `--vpc-endpoints` the S3 gateway and S3 Tables
interface endpoints in the MSK cluster's VPC.

create or update goes through a change set: shown (Add / Modify / Replace / Remove per
resource), asked for, executed; an unchanged bootstrap gets an empty change set, which is
deleted, and says so. The stack's outputs go into pipectl.toml's [aws] section (tomlkit keeps
the user's comments and other keys), so that `aws deploy` needs only the MSK cluster's ARN.

`destroy` deletes the application, then the stack; it refuses while the code bucket or the
table bucket holds data unless told to delete it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.iam import build_policies
from pipectl.aws.target import Target, resolve
from pipectl.config import CONFIG_FILE, Settings
from pipectl.errors import EXIT_INTERRUPTED, EXIT_USAGE, PipectlError, UnhealthyError
from pipectl.progress import SILENT, Reporter
from pipectl.wait import wait_until

LOG_RETENTION_DAYS = 30
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")  # AWS's StatusReason for an empty set
# Stack outputs -> the [aws] settings they fill.
OUTPUT_SETTINGS = {
    "CodeBucketName": "code_bucket",
    "TableBucketArn": "table_bucket_arn",
    "ExecutionRoleArn": "service_role_arn",
    "SubnetIds": "subnets",
    "SecurityGroupIds": "security_groups",
}
LIST_SETTINGS = ("subnets", "security_groups")


def stack_name(application: str) -> str:
    """One stack per pipeline: pipectl-APPLICATION (letters, digits and '-')."""
    return "pipectl-" + re.sub(r"[^A-Za-z0-9-]", "-", application)[:100]


def _slug(application: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", application.lower()).strip("-") or "pipeline"


@dataclass(frozen=True)
class Names:
    code_bucket: str
    table_bucket: str
    role: str


def resource_names(application: str, account: str, region: str) -> Names:
    """Bucket names are global (code) or per account and region (tables); roles per account."""
    slug = _slug(application)
    tail = f"-{account}-{region}"
    return Names(
        code_bucket=f"pipectl-{slug[: 63 - len('pipectl-') - len(tail)]}{tail}".replace("--", "-"),
        table_bucket=f"{slug[:56]}-tables",
        role=f"pipectl-{slug[: 64 - len('pipectl-') - len(region) - 1]}-{region}",
    )


@dataclass
class Network:
    """The MSK cluster's VPC, for the ENI permissions and the endpoints."""

    vpc_id: str = ""
    vpc_cidr: str = ""
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    route_tables: tuple[str, ...] = ()


# The template ------------------------------------------------------------------------------
def _skeleton() -> dict:
    import yaml

    text = resources.files("pipectl.aws").joinpath("templates/bootstrap.yaml").read_text()
    return dict(yaml.safe_load(text))


def _fill(node: Any, marks: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, marks) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, marks) for v in node]
    if isinstance(node, str) and node in marks:
        return marks[node]
    return node


def bootstrapped_settings(settings: Settings, target: Target, account: str, net: Network) -> Settings:
    """The settings as they will be after the bootstrap (what the policy is built from)."""
    names = resource_names(settings.aws.application_name, account, target.region)
    aws = dataclasses.replace(
        settings.aws,
        region=target.region,
        code_bucket=names.code_bucket,
        table_bucket_arn=f"arn:{target.partition}:s3tables:{target.region}:{account}:bucket/{names.table_bucket}",
        service_role_arn=f"arn:{target.partition}:iam::{account}:role/{names.role}",
        subnets=net.subnets or settings.aws.subnets,
        security_groups=net.security_groups or settings.aws.security_groups,
    )
    return settings.replace(aws=aws)


def render(settings: Settings, target: Target, account: str, net: Network, vpc_endpoints: bool) -> dict:
    """The stack's template for these settings: the skeleton, its parameters' defaults and the policy."""
    after = bootstrapped_settings(settings, target, account, net)
    policies = build_policies(Target(settings=after, region=target.region))
    names = resource_names(settings.aws.application_name, account, target.region)
    template = _fill(_skeleton(), {"@@POLICY@@": policies.policy, "@@TRUST_POLICY@@": policies.trust_policy})
    defaults = {
        "ApplicationName": settings.aws.application_name,
        "CodeBucketName": names.code_bucket,
        "TableBucketName": names.table_bucket,
        "Namespace": settings.aws.namespace,
        "RoleName": names.role,
        "LogGroupName": target.log_group,
        "LogRetentionDays": LOG_RETENTION_DAYS,
        "WithVpcEndpoints": "",
        "VpcId": net.vpc_id,
        "VpcCidr": net.vpc_cidr,
        "RouteTableIds": ",".join(net.route_tables),
        "SubnetIds": ",".join(after.aws.subnets),
        "SecurityGroupIds": ",".join(after.aws.security_groups),
    }
    for key, value in defaults.items():
        template["Parameters"][key]["Default"] = value
    # The endpoints only with --vpc-endpoints: resources the skeleton marks with the condition
    # are kept (without it) or dropped, so the change set lists only what will exist.
    del template["Conditions"], template["Parameters"]["WithVpcEndpoints"]
    for logical in list(template["Resources"]):
        resource = template["Resources"][logical]
        if resource.pop("Condition", None) and not vpc_endpoints:
            del template["Resources"][logical]
    if not vpc_endpoints:
        for key in ("VpcId", "VpcCidr", "RouteTableIds"):
            del template["Parameters"][key]
    return template


def template_text(template: dict) -> str:
    return json.dumps(template, indent=2) + "\n"


# AWS look-ups ------------------------------------------------------------------------------
def caller_account(target: Target) -> str:
    with aws_call("read the caller's AWS account (sts:GetCallerIdentity)"):
        return str(target.client("sts").get_caller_identity()["Account"])


def msk_network(target: Target, with_endpoints: bool) -> Network:
    """The MSK cluster's client subnets and security groups (and its VPC, route tables and CIDR
    for the endpoints); nothing without aws.msk_cluster_arn."""
    from pipectl.aws import network

    aws = target.aws
    if target.msk is None:
        if with_endpoints and not aws.subnets:
            raise PipectlError(
                "--vpc-endpoints needs the MSK cluster's VPC: set aws.msk_cluster_arn (or aws.subnets)",
                exit_code=EXIT_USAGE,
            )
        subnets, groups = tuple(aws.subnets), tuple(aws.security_groups)
    elif aws.subnets:
        subnets, groups = tuple(aws.subnets), tuple(aws.security_groups)
    else:
        subnets, groups = network.cluster_vpc(network.describe_cluster(target))
    net = Network(subnets=subnets, security_groups=groups)
    if not with_endpoints or not subnets:
        return net
    ec2 = target.client("ec2")
    with aws_call("describe the application's subnets (ec2:DescribeSubnets)"):
        found = ec2.describe_subnets(SubnetIds=list(subnets))["Subnets"]
    vpcs = sorted({s["VpcId"] for s in found})
    if len(vpcs) != 1:
        raise PipectlError(
            f"the subnets are in {len(vpcs)} VPCs ({', '.join(vpcs)}); expected one", exit_code=EXIT_USAGE
        )
    net.vpc_id = vpcs[0]
    with aws_call(f"describe the VPC {net.vpc_id} and its route tables"):
        net.vpc_cidr = ec2.describe_vpcs(VpcIds=[net.vpc_id])["Vpcs"][0]["CidrBlock"]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    chosen: list[str] = []
    for subnet in subnets:
        table = network._route_table_of(subnet, net.vpc_id, tables)
        if table and table["RouteTableId"] not in chosen:
            chosen.append(table["RouteTableId"])
    net.route_tables = tuple(chosen)
    return net


def describe_stack(target: Target, name: str) -> dict | None:
    cfn = target.client("cloudformation")
    with aws_call(f"describe the stack {name}"):
        try:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        except Exception as exc:
            if error_code(exc) == "ValidationError":  # CloudFormation's "Stack with id X does not exist"
                return None
            raise
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def _failure_reasons(target: Target, name: str) -> list[str]:
    cfn = target.client("cloudformation")
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except Exception:  # noqa: BLE001 - the reasons are a courtesy; the failure itself is reported
        return []
    return [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatus')} {e.get('ResourceStatusReason', '')}".strip()
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ][:10]


def _wait_stack(target: Target, name: str, reporter: Reporter, message: str, *, gone: bool = False) -> dict:
    def check() -> dict | None:
        stack = describe_stack(target, name)
        if stack is None:
            return {"StackStatus": "DELETE_COMPLETE"} if gone else {"StackStatus": "GONE"}
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack

    with reporter.waiting(message):
        stack = wait_until(
            check,
            what=f"stack {name}",
            timeout=target.aws.wait_timeout_s,
            interval=target.aws.poll_interval_ms / 1000,
            hint="see the stack's events in the CloudFormation console",
        )
    want = ("DELETE_COMPLETE",) if gone else ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    if stack["StackStatus"] not in want:
        raise UnhealthyError(
            f"stack {name} is {stack['StackStatus']}",
            hint="read the reasons below; fix and run `pipectl aws bootstrap` again"
            + (
                ""
                if gone
                else " (a stack in ROLLBACK_COMPLETE must be deleted first: `pipectl aws destroy --bootstrap`)"
            ),
            log_tail=_failure_reasons(target, name),
        )
    return stack


# bootstrap ---------------------------------------------------------------------------------
@dataclass
class Change:
    action: str  # Add | Modify | Replace | Remove
    resource: str  # logical id
    type: str

    def line(self) -> str:
        return f"{self.action:<8}{self.resource:<24}{self.type}"


@dataclass
class BootstrapResult:
    stack: str
    region: str
    action: str  # created | updated | unchanged | template
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # [aws] keys from the outputs
    written: str | None = None  # the pipectl.toml written, or None (--no-write)
    updated_keys: list[str] = field(default_factory=list)  # keys whose value changed in the file
    template: str = ""  # with --template only

    def to_dict(self) -> dict:
        return asdict(self)

    def toml_lines(self) -> list[str]:
        return ["[aws]", *(f"{k} = {json.dumps(v)}" for k, v in self.settings.items())]


def _changes(description: dict) -> list[Change]:
    out = []
    for item in description.get("Changes", []):
        rc = item.get("ResourceChange") or {}
        action = rc.get("Action", "?")
        if action == "Modify" and rc.get("Replacement") == "True":
            action = "Replace"
        out.append(Change(action, rc.get("LogicalResourceId", "?"), rc.get("ResourceType", "?")))
    return out


def _wait_change_set(target: Target, stack: str, change_set: str) -> dict:
    cfn = target.client("cloudformation")

    def check() -> dict | None:
        with aws_call(f"describe the change set {change_set}"):
            d = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
        return None if d.get("Status") in ("CREATE_PENDING", "CREATE_IN_PROGRESS") else d

    return wait_until(
        check,
        what=f"change set {change_set}",
        timeout=target.aws.wait_timeout_s,
        interval=target.aws.poll_interval_ms / 1000,
    )


def _settings_from_outputs(outputs: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for output, key in OUTPUT_SETTINGS.items():
        value = outputs.get(output, "")
        if key in LIST_SETTINGS:
            items = [v for v in value.split(",") if v]
            if items:
                values[key] = items
        elif value:
            values[key] = value
    return values


def config_path(settings: Settings) -> Path:
    return settings.config_file or settings.project_dir / CONFIG_FILE


def write_settings(path: Path, values: dict[str, Any]) -> list[str]:
    """Set `values` in the [aws] section of the TOML file at `path`, keeping its comments, order
    and other keys; return the keys whose value changed."""
    import tomlkit

    doc = tomlkit.parse(path.read_text()) if path.is_file() else tomlkit.document()
    if "aws" not in doc:
        doc.add("aws", tomlkit.table())
    aws: Any = doc["aws"]
    changed = []
    for key, value in values.items():
        current = aws.get(key)
        if current is not None and (list(current) if isinstance(value, list) else str(current)) == value:
            continue
        aws[key] = value
        changed.append(key)
    if changed:
        path.write_text(tomlkit.dumps(doc))
    return changed


def bootstrap(
    settings: Settings,
    *,
    confirm: Callable[[str], bool] | None = None,
    write: bool = True,
    vpc_endpoints: bool = False,
    template_only: bool = False,
    reporter: Reporter = SILENT,
) -> BootstrapResult:
    """Create or update the pipeline's stack through a change set (`confirm` asked before it runs,
    unless None), and write its outputs into pipectl.toml (unless `write` is False)."""
    target = resolve(settings, "bootstrap")
    name = stack_name(target.aws.application_name)
    account = caller_account(target)
    net = msk_network(target, vpc_endpoints)
    template = render(settings, target, account, net, vpc_endpoints)
    result = BootstrapResult(stack=name, region=target.region, action="template")
    if template_only:
        result.template = template_text(template)
        return result

    cfn = target.client("cloudformation")
    stack = describe_stack(target, name)
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        raise PipectlError(
            f"stack {name} is ROLLBACK_COMPLETE (its first create failed) and cannot be updated",
            hint="delete it (`pipectl aws destroy --bootstrap`), fix the cause and bootstrap again",
            exit_code=EXIT_USAGE,
        )
    if (
        stack is not None
        and stack["StackStatus"].endswith("_IN_PROGRESS")
        and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
    ):
        stack = _wait_stack(target, name, reporter, f"waiting for stack {name} ({stack['StackStatus']})")
    kind = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
    change_set = f"pipectl-{int(time.time())}"
    reporter.step(f"{'creating' if kind == 'CREATE' else 'updating'} stack {name} in {target.region} (change set)")
    with aws_call(f"create a change set for the stack {name}"):
        cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType=kind,
            TemplateBody=template_text(template),
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "pipectl:application", "Value": target.aws.application_name}],
            Description="pipectl aws bootstrap",
        )
    described = _wait_change_set(target, name, change_set)
    if described.get("Status") == "FAILED":
        reason = str(described.get("StatusReason", ""))
        with aws_call(f"delete the change set {change_set}"):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
        if any(marker in reason for marker in NO_CHANGES):
            reporter.done(f"stack {name} is up to date; nothing to change (empty change set deleted)")
            result.action = "unchanged"
            return _finish(result, target, settings, name, write, reporter)
        raise PipectlError(f"CloudFormation refused the change set: {reason}", hint="fix the cause and bootstrap again")
    result.changes = _changes(described)
    for change in result.changes:
        reporter.step(f"  {change.line()}")
    question = f"Execute this change set on stack {name} in {target.region}?"
    try:
        approved = confirm is None or confirm(question)
    except BaseException:
        _discard(target, name, change_set, kind)
        raise
    if not approved:
        _discard(target, name, change_set, kind)
        raise PipectlError("change set not executed", hint="nothing was changed", exit_code=EXIT_INTERRUPTED)
    with aws_call(f"execute the change set {change_set}"):
        cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    _wait_stack(target, name, reporter, f"waiting for stack {name}")
    result.action = "created" if kind == "CREATE" else "updated"
    reporter.done(f"stack {name} {result.action} ({len(result.changes)} change(s))")
    return _finish(result, target, settings, name, write, reporter)


def _discard(target: Target, name: str, change_set: str, kind: str) -> None:
    """Delete a change set that will not run (and the empty stack a CREATE change set made)."""
    cfn = target.client("cloudformation")
    with aws_call(f"delete the change set {change_set}"):
        cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
        if kind == "CREATE":
            cfn.delete_stack(StackName=name)


def _finish(
    result: BootstrapResult, target: Target, settings: Settings, name: str, write: bool, reporter: Reporter
) -> BootstrapResult:
    stack = describe_stack(target, name) or {}
    result.outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    result.settings = _settings_from_outputs(result.outputs)
    if write:
        path = config_path(settings)
        result.updated_keys = write_settings(path, result.settings)
        result.written = str(path)
        if result.updated_keys:
            reporter.done(f"wrote {', '.join('aws.' + k for k in result.updated_keys)} into {path}")
    return result


# destroy -----------------------------------------------------------------------------------
@dataclass
class TeardownResult:
    stack: str
    region: str
    application: dict | None
    deleted: bool  # False: there was no stack
    data_deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _stack_resources(target: Target, name: str) -> dict[str, str]:
    with aws_call(f"list the resources of stack {name}"):
        items = target.client("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in items}


def _code_objects(target: Target, bucket: str) -> list[dict]:
    """Every version and delete marker in the bucket (what keeps it from being deleted)."""
    s3 = target.client("s3")
    out: list[dict] = []
    kwargs: dict[str, Any] = {"Bucket": bucket}
    with aws_call(f"list the objects in s3://{bucket}"):
        while True:
            try:
                page = s3.list_object_versions(**kwargs)
            except Exception as exc:
                if error_code(exc) in ("NoSuchBucket", "404"):
                    return []
                raise
            for kind in ("Versions", "DeleteMarkers"):
                out += [{"Key": v["Key"], "VersionId": v.get("VersionId")} for v in page.get(kind, [])]
            if not page.get("IsTruncated"):
                return out
            kwargs = {
                "Bucket": bucket,
                "KeyMarker": page["NextKeyMarker"],
                "VersionIdMarker": page["NextVersionIdMarker"],
            }


def _tables(target: Target, bucket_arn: str) -> list[tuple[str, str]]:
    from pipectl.aws.tables import _pages

    client = target.client("s3tables")
    out = []
    with aws_call("list the tables in the table bucket"):
        try:
            namespaces = _pages(client.list_namespaces, "namespaces", tableBucketARN=bucket_arn)
        except Exception as exc:
            if error_code(exc) in ("NotFoundException", "ResourceNotFoundException"):
                return []
            raise
        for ns in namespaces:
            name = ns["namespace"][0] if isinstance(ns.get("namespace"), list) else ns.get("namespace")
            for t in _pages(client.list_tables, "tables", tableBucketARN=bucket_arn, namespace=name):
                out.append((str(name), t["name"]))
    return out


def destroy(
    settings: Settings,
    *,
    delete_data: bool = False,
    confirm: Callable[[str], bool] | None = None,
    reporter: Reporter = SILENT,
) -> TeardownResult:
    """Delete the application, then the bootstrap stack. Refuses, before changing anything,
    while the buckets hold data and `delete_data` is False."""
    from pipectl.aws import manage

    target = resolve(settings, "status")
    name = stack_name(target.aws.application_name)
    stack = describe_stack(target, name)
    resources_ = _stack_resources(target, name) if stack else {}
    bucket = resources_.get("CodeBucket", "")
    table_bucket = resources_.get("TableBucket", "")
    objects = _code_objects(target, bucket) if bucket else []
    tables = _tables(target, table_bucket) if table_bucket else []
    holds = []
    if objects:
        holds.append(f"s3://{bucket} holds {len(objects)} object version(s)")
    if tables:
        holds.append(f"the table bucket holds {len(tables)} table(s): {', '.join(f'{n}.{t}' for n, t in tables)}")
    if holds and not delete_data:
        raise PipectlError(
            f"refusing to delete stack {name}: " + "; ".join(holds),
            hint="pass --delete-data to delete them too (they cannot be recovered), or copy them out first",
            exit_code=EXIT_USAGE,
        )
    app = target.aws.application_name
    question = (
        f"Delete Managed Flink application '{app}' and its snapshots, and stack {name} in {target.region} "
        "(code bucket, table bucket, execution role, log group" + (", and the data in them" if holds else "") + ")?"
    )
    if confirm is not None and not confirm(question):
        raise PipectlError("not deleted", hint="nothing was changed", exit_code=EXIT_INTERRUPTED)
    app_result = manage.destroy(settings, confirm=None, reporter=reporter)
    result = TeardownResult(name, target.region, app_result.to_dict(), deleted=False)
    if stack is None:
        reporter.done(f"stack {name} does not exist in {target.region}; nothing more to delete")
        return result
    if objects:
        s3 = target.client("s3")
        with aws_call(f"delete the objects in s3://{bucket}"):
            for i in range(0, len(objects), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[i : i + 1000], "Quiet": True})
        result.data_deleted.append(f"{len(objects)} object version(s) in s3://{bucket}")
    if tables:
        client = target.client("s3tables")
        with aws_call("delete the tables in the table bucket"):
            for namespace, table in tables:
                client.delete_table(tableBucketARN=table_bucket, namespace=namespace, name=table)
        result.data_deleted.append(f"{len(tables)} table(s) in {table_bucket}")
    if table_bucket:  # namespaces the job made itself (the stack deletes its own)
        _delete_other_namespaces(target, table_bucket, resources_.get("TableNamespace", ""))
    reporter.step(f"deleting stack {name}")
    with aws_call(f"delete the stack {name}"):
        target.client("cloudformation").delete_stack(StackName=stack["StackId"])
    _wait_stack_gone(target, stack["StackId"], name, reporter)
    result.deleted = True
    reporter.done(f"stack {name} deleted")
    return result


def _delete_other_namespaces(target: Target, bucket_arn: str, stack_namespace: str) -> None:
    from pipectl.aws.tables import _pages

    client = target.client("s3tables")
    with aws_call("delete the table bucket's namespaces"):
        for ns in _pages(client.list_namespaces, "namespaces", tableBucketARN=bucket_arn):
            name = ns["namespace"][0] if isinstance(ns.get("namespace"), list) else ns.get("namespace")
            if not stack_namespace.endswith(f"|{name}") and stack_namespace != name:
                client.delete_namespace(tableBucketARN=bucket_arn, namespace=name)


def _wait_stack_gone(target: Target, stack_id: str, name: str, reporter: Reporter) -> None:
    cfn = target.client("cloudformation")

    def check() -> dict | None:
        with aws_call(f"describe the stack {name}"):
            try:
                stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            except Exception as exc:
                if error_code(exc) == "ValidationError":
                    return {"StackStatus": "DELETE_COMPLETE"}
                raise
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack

    with reporter.waiting(f"waiting for stack {name} to be deleted"):
        stack = wait_until(
            check,
            what=f"stack {name}",
            timeout=target.aws.wait_timeout_s,
            interval=target.aws.poll_interval_ms / 1000,
        )
    if stack["StackStatus"] != "DELETE_COMPLETE":
        raise UnhealthyError(
            f"stack {name} is {stack['StackStatus']}",
            hint="read the reasons below; empty what is left and run `pipectl aws destroy --bootstrap` again",
            log_tail=_failure_reasons(target, stack_id),
        )


__all__ = ["BootstrapResult", "TeardownResult", "bootstrap", "destroy", "render", "stack_name", "write_settings"]
