"""Managed Flink application lifecycle: wait, status, stop, destroy (its read-only calls: app_state.py)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from collections.abc import Callable

from pipectl.aws import application as appcfg
from pipectl.aws import commits
from pipectl.aws.app_state import app_not_found, console_url, describe, snapshots
from pipectl.aws.errors import aws_call
from pipectl.aws.health import WINDOW_S, Health, assess
from pipectl.aws.logs import tail_lines
from pipectl.aws.reporting import waiting
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import EXIT_INTERRUPTED, EXIT_UNHEALTHY, PipectlError, UnhealthyError
from pipectl.progress import SILENT, Reporter
from pipectl.wait import wait_until

FAILED_STATES = {"ROLLED_BACK", "DELETING"}


def wait_settled(
    target: Target,
    reporter: Reporter,
    *,
    want: str | None,
    message: str,
    min_version: int = 0,
    since_ms: int | None = None,
) -> dict:
    """Poll until the application leaves the transitional states. Return the detail when it
    reached `want` (None: any settled state; "GONE": deleted); raise with the reason (and the
    last log lines) when it did not."""
    name = target.aws.application_name

    def check() -> dict | None:
        try:
            detail = describe(target)
        except PipectlError as exc:  # a real answer (access denied, ...): stop waiting
            return {"error": exc}
        if detail is None:
            return {"ApplicationStatus": "GONE"} if want == "GONE" else {"error": app_not_found(target)}
        status = detail["ApplicationStatus"]
        if status in appcfg.SETTLING or (want == "GONE" and status == "DELETING"):
            return None
        if status == want and detail.get("ApplicationVersionId", 0) < min_version:
            return None  # the service has not picked up our update yet
        return detail

    def logs() -> list[str]:
        return tail_lines(target, since_ms or int((time.time() - 600) * 1000))

    with waiting(reporter, message):
        detail = wait_until(
            check,
            what=f"application '{name}'",
            timeout=target.aws.wait_timeout_s,
            interval=target.aws.poll_interval_ms / 1000,
            hint="see `pipectl aws status` and `pipectl aws logs`; raise aws.wait_timeout_s to wait longer",
            log_tail=logs,
        )
    if "error" in detail:
        raise detail["error"]
    status = detail["ApplicationStatus"]
    if want is not None and status != want:
        if want == appcfg.RUNNING and status == appcfg.READY:
            raise UnhealthyError(
                f"application '{name}' did not start: it went back to READY",
                hint="read the reason in `pipectl aws logs` (often the execution role or the code location)",
                log_tail=logs(),
            )
        raise UnhealthyError(
            f"application '{name}' is {status}, expected {want}",
            hint="see `pipectl aws status` and `pipectl aws logs`",
            log_tail=logs(),
        )
    return detail


# status ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status:
    application: str
    region: str
    arn: str
    status: str
    health: Health | None  # the job inside the application (pipectl.aws.health), when RUNNING
    version: int
    runtime: str
    parallelism: int | None
    checkpoint_interval_ms: int | None
    code: str
    last_snapshot: str | None
    last_snapshot_time: str | None
    log_group: str
    console_url: str
    commits: dict | None = None  # pipectl.aws.commits: the table's newest commit, records read

    @property
    def exit_code(self) -> int:
        """4 when the application is RUNNING but its job restarts, failed, or reads and commits nothing."""
        bad = ("restarting", "failed", "not_committing")
        return EXIT_UNHEALTHY if self.health and self.health.verdict in bad else 0

    @property
    def exit_reason(self) -> str:
        return (
            f"the job is {self.health.verdict} inside the RUNNING application" if self.exit_code and self.health else ""
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _s3_url(detail: dict) -> str:
    bucket_arn, key = appcfg.code_location(detail)
    return f"s3://{bucket_arn.rsplit(':', 1)[-1]}/{key}" if bucket_arn else ""


def status(settings: Settings) -> Status:
    target = resolve(settings, "status")
    detail = describe(target)
    if detail is None:
        raise app_not_found(target)
    snaps = snapshots(target)
    last = snaps[0] if snaps else None
    when = last.get("SnapshotCreationTimestamp") if last else None
    job = None
    if detail["ApplicationStatus"] == appcfg.RUNNING:
        try:
            job = assess(target)
        except PipectlError as exc:  # no cloudwatch:GetMetricData / logs:FilterLogEvents: say so, keep the rest
            job = Health("unknown", reason=f"cannot read the job's metrics or log ({exc.message})")
        commit = _commits(target, job)
    return Status(
        application=target.aws.application_name,
        region=target.region,
        arn=detail["ApplicationARN"],
        status=detail["ApplicationStatus"],
        health=job,
        version=detail["ApplicationVersionId"],
        runtime=detail["RuntimeEnvironment"],
        parallelism=appcfg.parallelism(detail),
        checkpoint_interval_ms=appcfg.checkpoint_interval_ms(detail),
        code=_s3_url(detail),
        last_snapshot=last["SnapshotName"] if last else None,
        last_snapshot_time=when.isoformat() if isinstance(when, datetime) else when,
        log_group=target.log_group,
        console_url=console_url(target),
        commits=commit if detail["ApplicationStatus"] == appcfg.RUNNING else None,
    )


def _commits(target: Target, job: Health) -> dict | None:
    """Look back over the health window (at least two checkpoint intervals) for commits; a job that
    reads records and commits nothing is "running, not committing" (verdict not_committing)."""
    if target.aws.table_bucket_arn == "":
        return None
    look_back = max(WINDOW_S, 2 * target.aws.checkpoint_interval_s)
    found = commits.check(target, int((time.time() - look_back) * 1000))
    if found.state == "not_committing" and job.verdict == "running":
        job.verdict, job.reason = "not_committing", found.reason
    return found.to_dict()


# stop -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StopResult:
    application: str
    region: str
    stopped: bool  # False: it was not running
    forced: bool
    snapshot: str | None
    status: str

    def to_dict(self) -> dict:
        return asdict(self)


def stop(settings: Settings, *, force: bool = False, reporter: Reporter = SILENT) -> StopResult:
    """Stop the application; without force Managed Flink takes a snapshot first."""
    target = resolve(settings, "status")
    name = target.aws.application_name
    detail = describe(target)
    if detail is None:
        raise app_not_found(target)
    if detail["ApplicationStatus"] in appcfg.SETTLING:
        detail = wait_settled(
            target, reporter, want=None, message=f"waiting for '{name}' to finish {detail['ApplicationStatus']}"
        )
    if detail["ApplicationStatus"] == appcfg.READY:
        reporter.done(f"application '{name}' is not running (READY); nothing to stop")
        return StopResult(name, target.region, False, force, None, appcfg.READY)
    snaps_enabled = (
        (detail.get("ApplicationConfigurationDescription") or {})
        .get("ApplicationSnapshotConfigurationDescription", {})
        .get("SnapshotsEnabled", False)
    )
    existing = snapshots(target) if snaps_enabled else []
    before = {s["SnapshotName"] for s in existing}
    if force and existing:
        reporter.warn(
            f"--force takes no snapshot: the next start resumes from {existing[0]['SnapshotName']}, older than the "
            "job's state, so records after it are read again and stored twice; stop without --force to avoid that"
        )
    client = target.client("kinesisanalyticsv2")
    reporter.step(f"stopping '{name}'" + (" (force, no snapshot)" if force else " (taking a snapshot)"))
    with aws_call(f"stop the application '{name}'", not_found=app_not_found(target)):
        client.stop_application(ApplicationName=name, Force=force)
    detail = wait_settled(target, reporter, want=appcfg.READY, message=f"waiting for '{name}' to stop")
    snapshot = None
    if not force and snaps_enabled:
        new = [s for s in snapshots(target) if s["SnapshotName"] not in before]
        snapshot = new[0]["SnapshotName"] if new else None
        if snapshot is None:
            reporter.warn("the service took no snapshot while stopping")
    reporter.done(f"application '{name}' stopped")
    return StopResult(name, target.region, True, force, snapshot, detail["ApplicationStatus"])


# destroy --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DestroyResult:
    application: str
    region: str
    deleted: bool  # False: there was nothing to delete
    kept: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def destroy(
    settings: Settings,
    *,
    confirm: Callable[[str], bool] | None = None,
    reporter: Reporter = SILENT,
) -> DestroyResult:
    """Delete the application (and with it its snapshots). `confirm` is asked first unless None."""
    target = resolve(settings, "status")
    name = target.aws.application_name
    kept = [f"log group {target.log_group}"]
    if target.aws.code_bucket:
        kept.insert(0, f"code in s3://{target.aws.code_bucket}/{target.code_prefix}")
    detail = describe(target)
    if detail is None:
        reporter.done(f"application '{name}' does not exist in {target.region}; nothing to delete")
        return DestroyResult(name, target.region, False, [])
    if detail["ApplicationStatus"] == "DELETING":
        wait_settled(target, reporter, want="GONE", message=f"waiting for '{name}' to be deleted")
        return DestroyResult(name, target.region, True, kept)
    question = (
        f"Delete Managed Flink application '{name}' in {target.region} "
        f"(status {detail['ApplicationStatus']})? Its snapshots are deleted with it."
    )
    if confirm is not None and not confirm(question):
        raise PipectlError("not deleted", hint="nothing was changed", exit_code=EXIT_INTERRUPTED)
    if detail["ApplicationStatus"] in appcfg.SETTLING:
        detail = wait_settled(
            target, reporter, want=None, message=f"waiting for '{name}' to finish {detail['ApplicationStatus']}"
        )
    client = target.client("kinesisanalyticsv2")
    reporter.step(f"deleting '{name}'")
    with aws_call(f"delete the application '{name}'", not_found=app_not_found(target)):
        client.delete_application(ApplicationName=name, CreateTimestamp=detail["CreateTimestamp"])
    wait_settled(target, reporter, want="GONE", message=f"waiting for '{name}' to be deleted")
    reporter.done(f"application '{name}' deleted")
    return DestroyResult(name, target.region, True, kept)
