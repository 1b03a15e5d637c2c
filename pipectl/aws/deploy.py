"""`deploy`: from source to a RUNNING Managed Flink application, in visible phases.

Over 400 lines: the phases below read in order in one module; each phase's knowledge lives in its own
module (network.py, restore.py, health.py, application.py), this one only sequences and reports them.

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
from pipectl.aws import application as appcfg
from pipectl.aws import health, msk, network, upgrade
from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.health import Health
from pipectl.aws.logs import driver_errors, ensure_log_stream
from pipectl.aws.app_state import app_not_found, console_url, describe, snapshots
from pipectl.aws.manage import wait_settled
from pipectl.aws.reporting import transfer
from pipectl.aws.resources import check_resources
from pipectl.aws.restore import RESTORE_LATEST, RESTORE_NONE, cannot_apply, plan
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError, UnhealthyError
from pipectl.progress import SILENT, Reporter

ARTIFACT_STEM = "data-pipeline-aws"


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

    def to_dict(self) -> dict:
        return asdict(self)


def code_key(target: Target, sha256: str) -> str:
    return f"{target.code_prefix}{ARTIFACT_STEM}-{sha256[:16]}.zip"


# upload ------------------------------------------------------------------------------------
SINGLE_PUT_LIMIT = 5 * 1024**3  # one PutObject (up to 5 GiB): S3 then keeps the whole object's SHA-256


@dataclass(frozen=True)
class Stored:
    """What S3 holds under the code key: its content hash and version (None: not versioned)."""

    sha256: str
    version: str | None


def stored_object(target: Target, bucket: str, key: str, version: str | None = None) -> Stored | None:
    """The object's SHA-256, from S3's full-object checksum when it has one, else by reading it
    (an object another tool uploaded, or a multipart upload); None when there is no object."""
    import base64
    import hashlib

    s3 = target.client("s3")
    extra = {"VersionId": version} if version else {}
    with aws_call(f"read s3://{bucket}/{key}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        found = head.get("VersionId")
        found = None if found in (None, "null") else str(found)
        checksum = head.get("ChecksumSHA256") or ""
        if checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            return Stored(base64.b64decode(checksum).hex(), found)
        digest = hashlib.sha256()
        body = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": found} if found else {}))["Body"]
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            digest.update(chunk)
        return Stored(digest.hexdigest(), found)


def upload(target: Target, artifact: build.Artifact, reporter: Reporter) -> tuple[str, bool, str | None]:
    """Make s3://code_bucket/KEY hold exactly the local zip: (key, uploaded?, object version).

    The key carries the zip's content hash, but a key says nothing about what is stored under it:
    the stored object's SHA-256 is compared with the zip's, and a different object is replaced.
    On a versioned bucket the version that holds these bytes is returned, for the application to
    pin (a later overwrite of the key then cannot change what the service runs)."""
    from boto3.s3.transfer import TransferConfig

    bucket = target.aws.code_bucket
    key = code_key(target, artifact.sha256)
    stored = stored_object(target, bucket, key)
    if stored is not None and stored.sha256 == artifact.sha256:
        reporter.done(f"s3://{bucket}/{key} is already uploaded (sha256 matches); upload skipped")
        return key, False, stored.version
    if stored is not None:
        reporter.warn(
            f"s3://{bucket}/{key} holds other bytes (sha256 {stored.sha256[:16]}…, the zip's is "
            f"{artifact.sha256[:16]}…); uploading the zip again"
        )
    with transfer(reporter, f"uploading to s3://{bucket}/{key}", artifact.size) as advance:
        with aws_call(f"upload to s3://{bucket}/{key}"):
            target.client("s3").upload_file(
                artifact.path,
                bucket,
                key,
                ExtraArgs={
                    "Metadata": {"sha256": artifact.sha256},
                    "ContentType": "application/zip",
                    "ChecksumAlgorithm": "SHA256",  # S3 checks the bytes it received and keeps the hash
                },
                Config=TransferConfig(multipart_threshold=SINGLE_PUT_LIMIT),
                Callback=advance,
            )
    stored = stored_object(target, bucket, key)
    if stored is None or stored.sha256 != artifact.sha256:
        raise PipectlError(
            f"s3://{bucket}/{key} does not hold the uploaded zip after the upload "
            f"(sha256 {stored.sha256[:16] if stored else 'none'}…, expected {artifact.sha256[:16]}…)",
            hint="something else writes to this key; check who can write to the code bucket and deploy again",
        )
    reporter.done(
        f"uploaded s3://{bucket}/{key} ({artifact.size:,} bytes, sha256 checked"
        + (f", version {stored.version})" if stored.version else ")")
    )
    return key, True, stored.version


# create / update ---------------------------------------------------------------------------
def _create(target: Target, desired: appcfg.Desired) -> dict:
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


def _update(target: Target, detail: dict, desired: appcfg.Desired, changes: list[str], run: dict | None) -> dict:
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


def _start(target: Target, restore: str, allow_non_restored: bool, reporter: Reporter) -> str | None:
    """Start a READY application; return the snapshot it restores from, if any."""
    name = target.aws.application_name
    chosen = plan(target, restore, allow_non_restored, reporter, updating=False)
    reporter.step(
        f"starting '{name}'" + (f" from snapshot {chosen.snapshot}" if chosen.snapshot else " without a snapshot")
    )
    client = target.client("kinesisanalyticsv2")
    with aws_call(f"start the application '{name}'", not_found=app_not_found(target)):
        client.start_application(ApplicationName=name, RunConfiguration=chosen.run_configuration())
    return chosen.snapshot


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


def _start_without_state(target: Target, reporter: Reporter) -> None:
    """The offsets path: start from the consumer group's offsets the clean stop committed."""
    name = target.aws.application_name
    reporter.step(f"starting '{name}' without state, from the consumer group's committed offsets (offsets path)")
    with aws_call(f"start the application '{name}'", not_found=app_not_found(target)):
        target.client("kinesisanalyticsv2").start_application(
            ApplicationName=name,
            RunConfiguration={
                "FlinkRunConfiguration": {"AllowNonRestoredState": False},
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"},
            },
        )


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


def _network(target: Target, reporter: Reporter) -> tuple[str, network.Vpc]:
    """Bootstrap servers and the VPC; refuses a network that cannot work (no AWS resource changed yet)."""
    cluster = None
    if target.msk is not None:
        cluster = network.describe_cluster(target)
        network.require_active(target, cluster)
    servers = msk.bootstrap_servers(target, reporter)
    vpc = network.resolve_vpc(target, servers, cluster, reporter)
    network.preflight(target, vpc, reporter)
    return servers, vpc


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


def desired_for(
    target: Target, key: str, version: str | None, servers: str, vpc: network.Vpc, stream_arn: str
) -> appcfg.Desired:
    """The application deploy makes, from the settings and what it found (shared with `--plan`)."""
    aws = target.aws
    return appcfg.Desired(
        role_arn=aws.service_role_arn,
        bucket_arn=f"arn:{target.partition}:s3:::{aws.code_bucket}",
        file_key=key,
        object_version=version or "",
        property_groups=appcfg.property_groups(target, servers),
        checkpoint_interval_ms=aws.checkpoint_interval_s * 1000,
        parallelism=aws.parallelism,
        parallelism_per_kpu=aws.parallelism_per_kpu,
        log_stream_arn=stream_arn,
        subnets=vpc.subnets,
        security_groups=vpc.security_groups,
    )


def deploy(
    settings: Settings,
    *,
    skip_build: bool = False,
    restore: str = RESTORE_LATEST,
    allow_non_restored_state: bool = False,
    reporter: Reporter = SILENT,
) -> DeployResult:
    target = resolve(settings, "deploy")
    aws = target.aws
    name = aws.application_name
    result = DeployResult(application=name, region=target.region, log_group=target.log_group)
    reporter.step(f"deploying '{name}' to Managed Flink in {target.region} (runtime {appcfg.RUNTIME})")

    artifact = build.package(settings, reporter, build=not skip_build)
    check_resources(target, reporter)
    servers, vpc = _network(target, reporter)
    result.vpc = vpc.source
    key = code_key(target, artifact.sha256)
    current = describe(target)
    check = _check_upgrade(target, current, key, artifact, restore, allow_non_restored_state, reporter)
    result.upgrade_check = check.to_dict() if check else {}
    key, result.uploaded, version = upload(target, artifact, reporter)
    if current is None or check is not None:
        _record(target, key, artifact, check, reporter)
    result.code = f"s3://{aws.code_bucket}/{key}"
    result.code_version = version or ""
    stream_arn, created = ensure_log_stream(target)
    if created:
        reporter.done(f"log group {target.log_group} ready")

    desired = desired_for(target, key, version, servers, vpc, stream_arn)

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

    since_ms = int(time.time() * 1000) - 1000
    offsets = check is not None and check.path == upgrade.PATH_OFFSETS
    was_running = False
    if detail is None:
        detail = _create(target, desired)
        result.action = "created"
        reporter.done(f"created application '{name}' (version {detail['ApplicationVersionId']})")
    else:
        changes = appcfg.diff(detail, desired)
        running = detail["ApplicationStatus"] == appcfg.RUNNING
        was_running = running
        if changes and running and offsets:  # stop with a snapshot: the Iceberg files and Kafka offsets commit
            from pipectl.aws.manage import stop

            stop(settings, reporter=reporter)
            detail = describe(target) or detail
            running = False
        if changes:
            run = None
            if running:  # the update restarts it: say from which state, never leave it to the old run configuration
                chosen = plan(target, restore, allow_non_restored_state, reporter, updating=True)
                run = chosen.run_configuration()
                result.restored_from = chosen.snapshot
            detail = _update(target, detail, desired, changes, run)
            result.action, result.changes = "updated", changes
            reporter.done(
                f"updated application '{name}': {', '.join(changes)} (version {detail['ApplicationVersionId']})"
            )
        else:
            result.action = "unchanged"
            if running:
                problem = cannot_apply(restore, allow_non_restored_state, appcfg.RUNNING)
                if problem is not None:
                    raise problem
            reporter.done(f"no changes: application '{name}' already has this code and configuration")
    result.arn = detail["ApplicationARN"]
    version = detail["ApplicationVersionId"]

    status = detail["ApplicationStatus"]
    if status == appcfg.READY and offsets:
        _start_without_state(target, reporter)
        result.started = True
    elif status == appcfg.READY:
        result.restored_from = _start(target, restore, allow_non_restored_state, reporter)
        result.started = True
    elif status not in appcfg.SETTLING and status != appcfg.RUNNING:
        raise PipectlError(
            f"application '{name}' is {status}; deploy cannot start it from there",
            hint="see `pipectl aws status`; stop it (`pipectl aws stop`) and deploy again",
        )
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


__all__ = ["DeployResult", "code_key", "deploy", "package"]
