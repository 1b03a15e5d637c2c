"""`pipectl aws deploy --plan` and `pipectl aws diff`: what deploy would change, changing nothing.

`plan` runs deploy's read-only phases (settings, package, MSK, VPC, the stored code object) and
compares the application it would make (desired.desired_for, shared with deploy) with DescribeApplication: create or
update, each property-group key that changes (old -> new, secret-looking values masked), the code
(by content hash), parallelism, checkpointing, the VPC, and the snapshot a start or restart would
restore from (for a start without state, where the job reads on: one past the highest offset the
tables hold), and whether the new release can take the running application's state (the same
check deploy runs before UpdateApplication, upgrade.check). `diff` is the same comparison without
the code: drift between the settings and the deployed application.

Exit codes, as `terraform plan -detailed-exitcode`: 0 nothing to do, 8 (EXIT_CHANGES) changes pending.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pipectl import build
from pipectl.aws import application as appcfg
from pipectl.aws import upgrade
from pipectl.aws.code import code_key, stored_object
from pipectl.aws.desired import desired_for, network_of
from pipectl.aws.logs import stream_arn
from pipectl.aws.app_state import describe
from pipectl.aws.restore import RESTORE_LATEST, RESTORE_NONE
from pipectl.aws.restore import plan as restore_plan
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import EXIT_CHANGES
from pipectl.progress import SILENT, Reporter

SECRET_RE = re.compile(r"secret|password|passwd|token|credential|private|api[_-]?key", re.IGNORECASE)
MASK = "****"
READS_ON = "reading on after the last records the tables hold"


@dataclass
class Change:
    part: str  # properties | code | parallelism | checkpointing | vpc | role | runtime | logging | ...
    key: str  # the property (GROUP.KEY) or setting that changes
    old: Any
    new: Any

    def line(self) -> str:
        return f"{self.part:<13}{self.key + ': ' if self.key else ''}{_show(self.old)} -> {_show(self.new)}"


def _show(value: Any) -> str:
    if value in (None, "", [], ()):
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass
class PlanResult:
    application: str
    region: str
    action: str  # create | update | none
    changes: list[Change] = field(default_factory=list)
    code: str = ""  # one line about the code: unchanged / new, with its content hash
    restore: str = ""  # the state a start or restart would resume from
    status: str = ""  # the application's status now ("" when it does not exist)
    upgrade_check: str = ""  # the state check deploy would run before UpdateApplication (upgrade.check)
    upgrade_path: str = ""  # state | offsets | non-restored | refused | not-checked ("" : no code change)
    mode: str = "plan"  # plan | diff
    # a start without state: where the job would read on in each partition (one past the highest offset the
    # tables hold now; deploy reads them again once the application is stopped)
    read_from: dict[str, int] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CHANGES if self.action != "none" else 0

    @property
    def exit_reason(self) -> str:
        if self.action == "create":
            return f"application '{self.application}' does not exist: deploy would create it"
        return f"{len(self.changes)} change(s) pending" if self.exit_code else ""

    def to_dict(self) -> dict:
        out = asdict(self)
        out["exit_code"] = self.exit_code
        return out


def _mask(key: str, value: Any) -> Any:
    return MASK if value not in (None, "") and SECRET_RE.search(key) else value


def property_changes(current: dict[str, dict[str, str]], desired: dict[str, dict[str, str]]) -> list[Change]:
    out = []
    for group in sorted(set(current) | set(desired)):
        old, new = current.get(group, {}), desired.get(group, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                name = f"{group}.{key}"
                out.append(Change("properties", name, _mask(name, old.get(key)), _mask(name, new.get(key))))
    return out


def _vpc_of(detail: dict) -> tuple[list[str], list[str]]:
    vpcs = appcfg.vpc_configurations(detail)
    return (list(vpcs[0].get("SubnetIds", [])), list(vpcs[0].get("SecurityGroupIds", []))) if vpcs else ([], [])


def changes_between(detail: dict, desired: appcfg.Desired, *, with_code: bool) -> list[Change]:
    """Every difference appcfg.diff finds, spelled out value by value."""
    parts = appcfg.diff(detail, desired)
    out: list[Change] = []
    for part in parts:
        if part == "properties":
            out += property_changes(appcfg.current_groups(detail), desired.property_groups)
        elif part == "code" and with_code:
            bucket_arn, key = appcfg.code_location(detail)
            version = appcfg.code_version(detail)
            old = f"s3://{bucket_arn.rsplit(':', 1)[-1]}/{key}" + (f"?versionId={version}" if version else "")
            new = f"s3://{desired.bucket_arn.rsplit(':', 1)[-1]}/{desired.file_key}" + (
                f"?versionId={desired.object_version}" if desired.object_version else ""
            )
            out.append(Change("code", "", old if bucket_arn else "", new))
        elif part == "parallelism":
            p = appcfg._flink(detail).get("ParallelismConfigurationDescription") or {}
            out.append(Change("parallelism", "", p.get("Parallelism"), desired.parallelism))
            if p.get("ParallelismPerKPU") != desired.parallelism_per_kpu:
                out.append(Change("parallelism", "per_kpu", p.get("ParallelismPerKPU"), desired.parallelism_per_kpu))
        elif part == "checkpointing":
            out.append(
                Change(
                    "checkpointing",
                    "interval_ms",
                    appcfg.checkpoint_interval_ms(detail),
                    desired.checkpoint_interval_ms,
                )
            )
        elif part == "vpc":
            subnets, groups = _vpc_of(detail)
            out.append(Change("vpc", "subnets", subnets, list(desired.subnets)))
            if groups != list(desired.security_groups):
                out.append(Change("vpc", "security_groups", groups, list(desired.security_groups)))
        elif part == "role":
            out.append(Change("role", "", detail.get("ServiceExecutionRole"), desired.role_arn))
        elif part == "runtime":
            out.append(Change("runtime", "", detail.get("RuntimeEnvironment"), appcfg.RUNTIME))
        elif part != "code":
            out.append(Change(part, "", "differs", "as deploy sets it"))
    return out


def _desired(target: Target, reporter: Reporter, artifact: build.Artifact | None) -> tuple[appcfg.Desired, bool]:
    """(the application deploy would make, is the zip already stored?) from read-only calls:
    nothing is uploaded or created."""
    servers, vpc = network_of(target, reporter)
    group = f"arn:{target.partition}:logs:{target.region}:{target.account}:log-group:{target.log_group}"
    arn = stream_arn(group, target.log_stream)
    if artifact is None:
        return desired_for(target, "", None, servers, vpc, arn), False
    key = code_key(target, artifact.sha256)
    stored = stored_object(target, target.aws.code_bucket, key)
    same = stored is not None and stored.sha256 == artifact.sha256
    return desired_for(target, key, stored.version if same and stored else None, servers, vpc, arn), same


def _reads_on(target: Target, result: PlanResult, *, final: bool) -> None:
    """A start without state reads on after the tables' last records (deploy._read_on): say where, from the
    tables as they stand. `final`: nothing writes to them any more (the application is not running), so
    deploy will read the same offsets; else deploy reads them again after the stop."""
    from jobs.order_ingest.settings import format_start_offsets
    from pipectl.aws.tables import next_offsets
    from pipectl.flink.read_on import describe_offsets

    found = next_offsets(target.settings)
    if not found:  # no table holds a record yet
        result.restore = result.restore.replace(f", {READS_ON}", " (the tables hold no records yet)")
        return
    result.read_from = {str(p): o for p, o in sorted(found.items())}
    where = describe_offsets(found)
    if READS_ON not in result.restore:
        result.restore += f", {READS_ON}"
    result.restore += f": {where}" if final else f" (now {where}; read again after the stop)"
    key = f"{appcfg.JOB_GROUP}.{appcfg.START_OFFSETS}"
    result.changes.append(
        Change("properties", key, None, format_start_offsets(found) if final else "(read after the stop)")
    )


def plan(
    settings: Settings,
    *,
    skip_build: bool = False,
    restore: str = RESTORE_LATEST,
    allow_non_restored_state: bool = False,
    reporter: Reporter = SILENT,
) -> PlanResult:
    """`pipectl aws deploy --plan`."""
    import dataclasses

    target = resolve(settings, "deploy")
    artifact = build.package(settings, reporter, build=not skip_build)
    desired, stored = _desired(target, reporter, artifact)
    detail = describe(target)
    result = PlanResult(target.aws.application_name, target.region, "create")
    zip_line = f"zip sha256 {artifact.sha256[:16]}…, " + ("already uploaded" if stored else "to be uploaded")
    if detail is None:
        result.code = f"new ({zip_line})"
        result.changes = [Change("application", "", "", f"create ({appcfg.RUNTIME})")]
        result.restore = "start without a snapshot (a new application has none)"
        result.upgrade_check = "nothing runs yet: no state to check"
        _reads_on(target, result, final=True)
        return result
    result.status = detail["ApplicationStatus"]
    if not stored and appcfg.code_version(detail):
        # deploy uploads the zip, and on a versioned bucket pins the version that upload makes
        desired = dataclasses.replace(desired, object_version="(the new upload's)")
    result.changes = changes_between(detail, desired, with_code=True)
    code_changes = any(c.part == "code" for c in result.changes)
    result.code = ("changed" if code_changes else "unchanged") + f" ({zip_line})"
    result.action = "update" if result.changes else "none"
    running = result.status == appcfg.RUNNING
    check = None
    if code_changes and restore == RESTORE_NONE:
        result.upgrade_path, result.upgrade_check = (
            upgrade.PATH_NOT_CHECKED,
            "not checked: --restore none starts without state",
        )
    elif code_changes:
        reporter.step("checking that the new release can take the application's state (recorded operator ids)")
        check = upgrade.check(
            target, detail, artifact.path, artifact.sha256, allow_non_restored=allow_non_restored_state
        )
        result.upgrade_path = check.path
        result.upgrade_check = ("deploy would refuse: " if check.path == upgrade.PATH_REFUSED else "") + check.message
    else:
        result.upgrade_check = "the code does not change"
    offsets_path = check is not None and check.path == upgrade.PATH_OFFSETS
    # --restore none starts without state whenever deploy starts or updates the application
    without_state = restore == RESTORE_NONE and (result.action == "update" or result.status == appcfg.READY)
    if offsets_path or without_state:
        if without_state and not running:  # the warning deploy's start gives
            restore_plan(target, restore, allow_non_restored_state, reporter, updating=False, read_on=True)
        result.restore = (
            f"stop with a snapshot, then start without state, {READS_ON}"
            if running
            else f"start without state, {READS_ON}"
        )
        if result.status == appcfg.READY:
            result.changes.append(Change("status", "", appcfg.READY, appcfg.RUNNING))
            result.action = "update"
        _reads_on(target, result, final=not running)
    elif result.action == "update" and running:
        chosen = restore_plan(target, restore, allow_non_restored_state, reporter, updating=True)
        result.restore = (
            f"restart from snapshot {chosen.snapshot}"
            if chosen.snapshot
            else "restart from the snapshot the update takes"
        )
    elif result.status == appcfg.READY:
        chosen = restore_plan(target, restore, allow_non_restored_state, reporter, updating=False)
        result.restore = f"start from snapshot {chosen.snapshot}" if chosen.snapshot else "start without a snapshot"
        result.changes.append(Change("status", "", appcfg.READY, appcfg.RUNNING))
        result.action = "update"
    else:
        result.restore = "no restart (nothing changes)" if running else f"none: the application is {result.status}"
    return result


def diff(settings: Settings, *, reporter: Reporter = SILENT) -> PlanResult:
    """`pipectl aws diff`: the deployed application against the settings (code left out)."""
    target = resolve(settings, "deploy")
    desired, _ = _desired(target, reporter, None)
    detail = describe(target)
    result = PlanResult(target.aws.application_name, target.region, "create", mode="diff")
    result.upgrade_check = ""
    if detail is None:
        result.changes = [Change("application", "", "", "not deployed")]
        return result
    result.status = detail["ApplicationStatus"]
    result.changes = changes_between(detail, desired, with_code=False)
    result.action = "update" if result.changes else "none"
    return result


__all__ = ["EXIT_CHANGES", "Change", "PlanResult", "diff", "plan", "property_changes"]
