"""Which state a (re)started application resumes from.

The rule (the same as `pipectl job start` locally): resume from the newest state, always. On
Managed Flink that is the latest snapshot; the service takes one on every stop and update
(https://docs.aws.amazon.com/managed-flink/latest/java/how-snapshots.html). An older snapshot, or
none at all, is used only when asked for explicitly (`--restore NAME|none`), and then with a
warning: everything after that point is read from Kafka again and stored a second time.

The choice goes to StartApplication as RunConfiguration and to UpdateApplication as
RunConfigurationUpdate, so an update of a RUNNING application restores from the snapshot the
update takes, never from whatever the application was first started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipectl.aws.app_state import snapshots
from pipectl.aws.tables import check_restore_lineage, report_lineage_keeping
from pipectl.aws.target import Target
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.progress import Reporter

RESTORE_LATEST = "latest"
RESTORE_NONE = "none"


@dataclass(frozen=True)
class RestorePlan:
    restore: dict[str, str]  # ApplicationRestoreConfiguration
    allow_non_restored: bool
    snapshot: str | None  # the snapshot it resumes from (None: without state, or the one an update takes)
    explicit: bool  # the user asked for something other than the latest

    def run_configuration(self) -> dict[str, Any]:
        return {
            "FlinkRunConfiguration": {"AllowNonRestoredState": self.allow_non_restored},
            "ApplicationRestoreConfiguration": dict(self.restore),
        }


def _when(snap: dict) -> str:
    ts = snap.get("SnapshotCreationTimestamp")
    return ts.strftime("%Y-%m-%d %H:%M:%SZ") if isinstance(ts, datetime) else str(ts or "?")


def plan(
    target: Target, restore: str, allow_non_restored: bool, reporter: Reporter, *, updating: bool, read_on: bool = False
) -> RestorePlan:
    """The restore configuration for a start (`updating` False) or an update of a RUNNING
    application (True: the service snapshots it first, so the latest is that snapshot). `read_on`: a start
    without state reads on after the last records the tables hold (deploy gave the job KAFKA_START_OFFSETS)."""
    ready = [s for s in snapshots(target) if s.get("SnapshotStatus") == "READY"]
    latest = ready[0] if ready else None
    if restore != RESTORE_NONE and (latest is not None or updating):
        check_restore_lineage(target.settings)  # S3 Tables' own expiry may have cut the sink's lineage
        report_lineage_keeping(target, reporter, apply=False)  # and whether it keeps it from now on
    if restore == RESTORE_LATEST:
        if latest is None and not updating:
            return RestorePlan(
                {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}, allow_non_restored, None, False
            )
        return RestorePlan(
            {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            allow_non_restored,
            None if updating else latest["SnapshotName"],  # type: ignore[index]
            False,
        )
    if restore == RESTORE_NONE:
        if latest is not None or updating:
            reporter.warn(
                "starting without state (--restore none)"
                + (f" although snapshot {latest['SnapshotName']} ({_when(latest)}) exists" if latest else "")
                + (
                    ": the job reads on after the last records the tables hold"
                    if read_on
                    else ": the job reads the topic again from the consumer group's committed offsets (or the start), "
                    "and rows already in the table may be stored twice"
                )
            )
        return RestorePlan({"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}, allow_non_restored, None, True)
    chosen = next((s for s in ready if s["SnapshotName"] == restore), None)
    if chosen is None:
        raise NotFoundError(
            f"snapshot '{restore}' does not exist (or is not READY) for application '{target.aws.application_name}'",
            hint=(f"the latest is {latest['SnapshotName']}; " if latest else "there are no snapshots; ")
            + "list them with `aws kinesisanalyticsv2 list-application-snapshots`, or use --restore latest",
        )
    if updating or chosen is not latest:
        newest = (
            "the snapshot this update takes"
            if updating or latest is None
            else f"the latest, {latest['SnapshotName']} ({_when(latest)})"
        )
        reporter.warn(
            f"restoring from snapshot {restore} ({_when(chosen)}), older than {newest}: "
            "everything after it is read from Kafka again and stored a second time"
        )
    return RestorePlan(
        {"ApplicationRestoreType": "RESTORE_FROM_CUSTOM_SNAPSHOT", "SnapshotName": restore},
        allow_non_restored,
        restore,
        chosen is not latest or updating,
    )


def cannot_apply(restore: str, allow_non_restored: bool, status: str) -> PipectlError | None:
    """The error for restore flags given to a deploy that neither starts nor updates the app."""
    flags = [f"--restore {restore}"] if restore != RESTORE_LATEST else []
    if allow_non_restored:
        flags.append("--allow-non-restored-state")
    if not flags:
        return None
    return PipectlError(
        f"{' and '.join(flags)} cannot apply: the application is {status} and this deploy changes nothing, "
        "so it neither starts nor restarts it",
        hint=f"stop it first (`pipectl aws stop`), then `pipectl aws deploy {' '.join(flags)}`",
        exit_code=EXIT_USAGE,
    )


__all__ = ["RESTORE_LATEST", "RESTORE_NONE", "RestorePlan", "cannot_apply", "plan"]
