"""`deploy`: from source to a RUNNING Managed Flink application, in visible phases.

`deploy()` is the phases below, in order, each a call into the module that knows it: resources.py,
desired.py (network and the application to make), upgrade.py, code.py (the code object),
app_change.py (create, update, start), restore.py, health.py and commits.py. This module sequences
them, keeps the result and decides the rollback; it makes no AWS call of its own beyond a describe.

settings checked (all problems at once, before any AWS call)
-> package (Maven, layout check) unless skipped
-> resources checked (code bucket, execution role, table bucket)
-> MSK: cluster ACTIVE, bootstrap servers, the VPC (from the cluster unless given)
-> network: refused when the brokers are private and there is no VPC, or when the
   subnets reach neither S3 nor S3 Tables (before any application is created)
-> the upgrade check (upgrade.py), when the code changes: the new release's operator ids against
   the record of the running release's; refused before anything changes when state would be dropped
-> upload under a content-hash key (skipped when the object is already there), and the release's
   operator ids recorded next to it
-> log group/stream
-> create, update (conditional token; VPC added/removed in place) or nothing when unchanged
-> start or restart from the latest snapshot (restore.py) and wait for RUNNING
-> Python driver errors in CloudWatch (the app can be RUNNING while the driver failed)
-> the settle window: uptime growing, no restart loop (health.py), commits (commits.py); when it
   fails after an update of a running application: RollbackApplication (upgrade.rollback), exit 4
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from pipectl import build
from pipectl.aws import app_change, code, desired, health, network, upgrade
from pipectl.aws import application as appcfg
from pipectl.aws.health import Health
from pipectl.aws.logs import driver_errors, ensure_log_stream
from pipectl.aws.app_state import console_url, describe, snapshots
from pipectl.aws.manage import stop, wait_settled
from pipectl.aws.resources import check_resources
from pipectl.aws.restore import RESTORE_LATEST, RESTORE_NONE, cannot_apply, plan
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError, UnhealthyError
from pipectl.progress import SILENT, Reporter


@dataclass
class DeployResult:
    application: str
    region: str
    arn: str = ""
    action: str = ""  # created | updated | unchanged
    changes: list[str] = field(default_factory=list)
    code: str = ""
    code_version: str = ""  # the S3 object version the application runs (versioned bucket)
    uploaded: bool = False
    started: bool = False
    restored_from: str | None = None
    status: str = ""
    version: int = 0
    vpc: str = ""  # where the subnets came from: settings | MSK cluster NAME | none
    health: Health | None = None  # the job inside the application after the settle window
    commits: dict | None = None  # pipectl.aws.commits: what the settle window saw committed
    log_group: str = ""
    console_url: str = ""
    upgrade_check: dict = field(default_factory=dict)  # upgrade.UpgradeCheck of a code change ({}: none)
    read_from: dict[str, int] | None = None  # a start without state: where the job reads on, per partition

    def to_dict(self) -> dict:
        return asdict(self)


def _check_upgrade(
    target: Target,
    detail: dict | None,
    key: str,
    artifact: build.Artifact,
    restore: str,
    allow: bool,
    reporter: Reporter,
) -> upgrade.UpgradeCheck | None:
    """Before anything changes: can the release in the zip take the state of the code the application
    runs? None when there is no application or its code stays."""
    if detail is None or appcfg.code_location(detail)[1] == key:
        return None
    if restore == RESTORE_NONE:  # asked to start without state: nothing to carry over
        ops, why = upgrade.release_operators(target.settings, artifact.path, artifact.sha256)
        return upgrade.UpgradeCheck(
            upgrade.PATH_NOT_CHECKED,
            "not checked: --restore none starts without state",
            operators=ops,
            release_error=why,
        )
    reporter.step("checking that the new release can take the application's state (recorded operator ids)")
    return upgrade.settle(
        upgrade.check(target, detail, artifact.path, artifact.sha256, allow_non_restored=allow), reporter
    )


def _record(
    target: Target, key: str, artifact: build.Artifact, check: upgrade.UpgradeCheck | None, reporter: Reporter
) -> None:
    """Record the deployed release's operator ids next to its code object, for the next deploy's check."""
    ops: list[dict] | None
    if check is not None:
        ops, why = check.operators, check.release_error
    else:
        ops, why = upgrade.release_operators(target.settings, artifact.path, artifact.sha256)
    if ops is None:
        reporter.warn(f"the release's operator ids are not recorded ({why}): the next deploy cannot check its state")
        return
    url = upgrade.save_record(target, key, artifact.sha256, ops)
    reporter.done(f"recorded the release's {len(ops)} operator ids in {url}")


def _check_driver(target: Target, since_ms: int, reporter: Reporter) -> None:
    try:
        errors = driver_errors(target, since_ms)
    except NotFoundError:
        return
    except PipectlError as exc:
        reporter.warn(f"could not read the Python driver's log ({exc.message})")
        return
    if errors:
        raise health.driver_failed(target.aws.application_name, [e.line() for e in errors])


def _settle(target: Target, result: DeployResult, since_ms: int, fresh: bool, reporter: Reporter) -> None:
    """After RUNNING: the settle window (fresh job), or one look at the job's health (unchanged)."""
    settle = target.aws.settle_s
    commit: dict | None = None
    # S3 Tables' own snapshot expiry must keep the sink's commit lineage (docs/aws.md#s3-tables-maintenance)
    from pipectl.aws.tables import report_lineage_keeping

    kept = report_lineage_keeping(target, reporter, apply=True)
    if fresh and settle > 0:
        window_ms = int(time.time() * 1000)
        h = health.watch(target, since_ms, settle, reporter, fresh_job=True)
        reporter.done(f"job {health.JOB_NAME} is running: {h.reason}")
        commit = _confirm_commits(target, window_ms, since_ms, reporter)
    elif fresh:
        reporter.warn("the job's health was not checked (aws.settle_s is 0): RUNNING alone does not mean data flows")
        h = health.Health("unknown", reason="not checked")
    else:
        h = health.assess(target)
        if h.verdict in ("restarting", "failed"):
            cause = h.cause
            raise UnhealthyError(
                f"application '{target.aws.application_name}' is RUNNING but {h.reason}"
                + (f": {cause.exception}" if cause else ""),
                hint=cause.fix if cause else health.GENERIC_FIX,
                log_tail=h.state_changes[-6:],
            )
    result.health, result.commits = h, commit
    if any(k.state == "missing" for k in kept):  # a first deploy: the job has created its tables by now
        report_lineage_keeping(target, reporter, apply=True)


def _confirm_commits(target: Target, window_ms: int, since_ms: int, reporter: Reporter) -> dict:
    """The end of the settle window: records arriving and no commit from this job fails the deploy
    (exit 4), unless the window was shorter than a checkpoint interval (then it is only said)."""
    from pipectl.aws import commits

    found = commits.check(target, window_ms, jobs_since_ms=since_ms)
    aws = target.aws
    if found.state == "committing":
        reporter.done(found.reason)
    elif found.state == "not_committing" and aws.settle_s < aws.checkpoint_interval_s:
        reporter.warn(
            f"{found.reason}; the settle window ({aws.settle_s}s) is shorter than the checkpoint interval "
            f"({aws.checkpoint_interval_s}s), so no commit was due yet: check `pipectl aws status` later"
        )
    elif found.state == "not_committing":
        raise UnhealthyError(
            f"application '{aws.application_name}' is {found.reason}",
            hint="Iceberg commits on each completed checkpoint: see `pipectl aws logs` for failed checkpoints "
            "or commit errors (S3 Tables permissions, egress), and `pipectl aws status`",
        )
    elif found.state == "unknown" and found.records_in_window is not None:
        reporter.warn(found.reason)
    return found.to_dict()


def deploy(
    settings: Settings,
    *,
    skip_build: bool = False,
    restore: str = RESTORE_LATEST,
    allow_non_restored_state: bool = False,
    reporter: Reporter = SILENT,
) -> DeployResult:
    """The phases, in order; each one's knowledge lives in the module it calls."""
    target = resolve(settings, "deploy")
    name = target.aws.application_name
    result = DeployResult(application=name, region=target.region, log_group=target.log_group)
    reporter.step(f"deploying '{name}' to Managed Flink in {target.region} (runtime {appcfg.RUNTIME})")

    artifact = build.package(settings, reporter, build=not skip_build)
    check_resources(target, reporter)
    servers, vpc = desired.network_of(target, reporter)
    result.vpc = vpc.source
    current = describe(target)
    check = _check_upgrade(
        target, current, code.code_key(target, artifact.sha256), artifact, restore, allow_non_restored_state, reporter
    )
    result.upgrade_check = check.to_dict() if check else {}
    want = _store_release(target, artifact, check, current is None, servers, vpc, result, reporter)
    detail = _settled_detail(target, reporter)
    since_ms = int(time.time() * 1000) - 1000
    offsets = check is not None and check.path == upgrade.PATH_OFFSETS
    detail, was_running = _apply(target, detail, want, restore, allow_non_restored_state, offsets, result, reporter)
    result.arn = detail["ApplicationARN"]
    version = detail["ApplicationVersionId"]
    status = _start_if_ready(target, detail, restore, allow_non_restored_state, offsets, result, reporter)
    fresh = result.started or result.action != "unchanged" or status != appcfg.RUNNING
    try:
        detail = _running(target, result, detail, version, since_ms, fresh, reporter)
    except UnhealthyError as exc:
        if result.action == "updated" and was_running:  # the previous version ran: bring it back
            raise upgrade.rollback(target, exc, reporter) from None
        raise
    result.status = detail["ApplicationStatus"]
    result.version = detail["ApplicationVersionId"]
    result.console_url = console_url(target)
    return result


def _store_release(
    target: Target,
    artifact: build.Artifact,
    check: upgrade.UpgradeCheck | None,
    first: bool,
    servers: str,
    vpc: network.Vpc,
    result: DeployResult,
    reporter: Reporter,
) -> appcfg.Desired:
    """Upload the zip (and record its operator ids), make the log stream: the application to deploy."""
    key, result.uploaded, version = code.upload(target, artifact, reporter)
    if first or check is not None:
        _record(target, key, artifact, check, reporter)
    result.code = f"s3://{target.aws.code_bucket}/{key}"
    result.code_version = version or ""
    stream_arn, created = ensure_log_stream(target)
    if created:
        reporter.done(f"log group {target.log_group} ready")
    return desired.desired_for(target, key, version, servers, vpc, stream_arn)


def _settled_detail(target: Target, reporter: Reporter) -> dict | None:
    """The application as it is once no operation is under way; refused while it is being deleted."""
    name = target.aws.application_name
    detail = describe(target)
    if detail is not None and detail["ApplicationStatus"] == "DELETING":
        raise PipectlError(
            f"application '{name}' is being deleted",
            hint="wait until `pipectl aws status` reports it gone, then deploy again",
        )
    if detail is not None and detail["ApplicationStatus"] in appcfg.SETTLING:
        detail = wait_settled(
            target, reporter, want=None, message=f"waiting for '{name}' to finish {detail['ApplicationStatus']}"
        )
    return detail


def _read_on(
    target: Target, want: appcfg.Desired, changes: list[str], result: DeployResult, reporter: Reporter
) -> tuple[appcfg.Desired, list[str]]:
    """For a start without state, once the application is stopped (the offsets path, --restore none, a new
    application over kept tables): the job's KAFKA_START_OFFSETS, one past the highest offset the tables hold
    in each partition. The consumer group's offsets lag them (Flink's Kafka source commits
    them asynchronously, and a stopping job can end before its last commit lands); pipectl cannot set the group's
    offsets on MSK (its brokers answer inside the VPC only), so the job is told where to start."""
    from jobs.order_ingest.settings import format_start_offsets
    from pipectl.aws.tables import next_offsets
    from pipectl.flink.read_on import describe_offsets

    found = next_offsets(target.settings)
    if not found:
        return want, changes
    result.read_from = {str(p): o for p, o in sorted(found.items())}
    reporter.step("the new job reads on after the tables' last records: " + describe_offsets(found))
    return appcfg.with_start_offsets(want, format_start_offsets(found)), (
        changes if "properties" in changes else [*changes, "properties"]
    )


def _apply(
    target: Target,
    detail: dict | None,
    want: appcfg.Desired,
    restore: str,
    allow_non_restored: bool,
    offsets: bool,
    result: DeployResult,
    reporter: Reporter,
) -> tuple[dict, bool]:
    """Create the application, update what changed, or leave it: (its detail, was it running before?)."""
    name = target.aws.application_name
    if detail is None:  # its first start is without state: after the tables' last records, if they hold any
        want, _ = _read_on(target, want, [], result, reporter)
        detail = app_change.create(target, want)
        result.action = "created"
        reporter.done(f"created application '{name}' (version {detail['ApplicationVersionId']})")
        return detail, False
    changes = appcfg.diff(detail, want)
    running = was_running = detail["ApplicationStatus"] == appcfg.RUNNING
    if changes and running and (offsets or restore == RESTORE_NONE):
        # a start without state: stop with a snapshot first, so that the Iceberg files and Kafka offsets commit and
        # the tables are final before the start offsets are read from them (an update of the running application
        # would restart it at once, from the consumer group's offsets, which can lag the tables)
        stop(target.settings, reporter=reporter)
        detail = describe(target) or detail
        running = False
    if (changes and offsets) or (restore == RESTORE_NONE and not running):
        # a start without state (the offsets path, --restore none of a stopped application): it reads on after
        # the last records the tables hold
        want, changes = _read_on(target, want, changes, result, reporter)
    if not changes:
        result.action = "unchanged"
        if running:
            problem = cannot_apply(restore, allow_non_restored, appcfg.RUNNING)
            if problem is not None:
                raise problem
        reporter.done(f"no changes: application '{name}' already has this code and configuration")
        return detail, was_running
    run = None
    if running:  # the update restarts it: say from which state, never leave it to the old run configuration
        chosen = plan(target, restore, allow_non_restored, reporter, updating=True)
        run = chosen.run_configuration()
        result.restored_from = chosen.snapshot
    detail = app_change.update(target, detail, want, changes, run)
    result.action, result.changes = "updated", changes
    reporter.done(f"updated application '{name}': {', '.join(changes)} (version {detail['ApplicationVersionId']})")
    return detail, was_running


def _start_if_ready(
    target: Target,
    detail: dict,
    restore: str,
    allow_non_restored: bool,
    offsets: bool,
    result: DeployResult,
    reporter: Reporter,
) -> str:
    """Start a READY application (from its state, or from the offsets on the offsets path); its status."""
    status = detail["ApplicationStatus"]
    if status == appcfg.READY and offsets:
        app_change.start_without_state(target, reporter, read_on=result.read_from is not None)
        result.started = True
    elif status == appcfg.READY:
        result.restored_from = app_change.start(
            target, restore, allow_non_restored, reporter, read_on=result.read_from is not None
        )
        result.started = True
    elif status not in appcfg.SETTLING and status != appcfg.RUNNING:
        raise PipectlError(
            f"application '{target.aws.application_name}' is {status}; deploy cannot start it from there",
            hint="see `pipectl aws status`; stop it (`pipectl aws stop`) and deploy again",
        )
    return status


def _running(
    target: Target, result: DeployResult, detail: dict, version: int, since_ms: int, fresh: bool, reporter: Reporter
) -> dict:
    """Wait for RUNNING, the driver's errors, the settle window; the final detail."""
    name = target.aws.application_name
    if fresh:
        detail = wait_settled(
            target,
            reporter,
            want=appcfg.RUNNING,
            message=f"waiting for '{name}' to be RUNNING",
            min_version=version,
            since_ms=since_ms,
        )
        _check_driver(target, since_ms, reporter)
        reporter.done(f"application '{name}' is RUNNING (version {detail['ApplicationVersionId']})")
        if result.action == "updated" and not result.started and result.restored_from is None:
            result.restored_from = _newest_snapshot(target)
    else:
        reporter.done(f"application '{name}' is RUNNING (version {version})")
    _settle(target, result, since_ms, fresh, reporter)
    return detail


def _newest_snapshot(target: Target) -> str | None:
    ready = [s for s in snapshots(target) if s.get("SnapshotStatus") == "READY"]
    return ready[0]["SnapshotName"] if ready else None


def package(settings: Settings, reporter: Reporter = SILENT) -> build.Artifact:
    """`pipectl aws package`: build the zip and check its layout."""
    return build.package(settings, reporter, build=True)


__all__ = ["DeployResult", "deploy", "package"]
