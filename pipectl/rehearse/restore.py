"""`pipectl aws rehearse --stop` and the restore that `pipectl aws rehearse` makes after it: what
`pipectl aws stop` and a later `pipectl aws deploy` do on the service, on the rehearsal's own
Flink cluster and emulated S3 Tables.

- stop: the job stops with a savepoint (the snapshot the service takes on a stop); Flink, the
  broker and the emulator keep running, so the tables can be maintained meanwhile.
- restore: first deploy's own check (`pipectl.aws.tables.check_restore_lineage`: S3 Tables'
  snapshot expiry must not have cut the Iceberg sink's commit lineage), then `job start`'s finer
  one (`pipectl.flink.resume.committer_problems`: the savepoint's pending committer manifests
  against the tables' snapshots and the files still in S3), then the job is submitted with
  `-s <savepoint>` and the wait until data flows. A refusal is one line, before anything is
  submitted.

Checks and commits are read through the emulated S3 Tables API (boto3) and the table files
(pyiceberg), as on the service.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError
from pipectl.flink import resume
from pipectl.flink.rest import FlinkRest
from pipectl.progress import SILENT, Reporter
from pipectl.rehearse import state
from pipectl.wait import wait_until

HINT = (
    "in the rehearsal, start again without state: `pipectl aws rehearse --down`, then `pipectl aws rehearse`; "
    "on the service: `pipectl aws deploy --restore none` (docs/aws.md#s3-tables-maintenance)"
)


@dataclass
class StopResult:
    job_id: str
    savepoint: str
    stopped: bool  # False: it was already stopped

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def active(settings: Settings) -> state.Rehearsal:
    running = state.read_active(settings.state_dir)
    if running is None:
        raise NotFoundError("no rehearsal is running", hint="start one with `pipectl aws rehearse`")
    return running


def pointed(settings: Settings) -> Settings:
    """The aws settings aimed at the running rehearsal, its credentials in this process's environment."""
    aimed = state.point_at_rehearsal(settings)
    state.use_credentials(aimed)
    return aimed


def stop(settings: Settings, *, timeout: float = 180, reporter: Reporter = SILENT) -> StopResult:
    """Stop the rehearsed job with a savepoint, as `pipectl aws stop` has the service take a snapshot."""
    running = active(settings)
    if running.savepoint:
        reporter.done(f"the rehearsed job is already stopped (savepoint {running.savepoint})")
        return StopResult(running.job_id, running.savepoint, False)
    rest = FlinkRest(running.flink_url)
    job = running.job_id
    target = (state.folder(settings.state_dir) / "flink" / "savepoints").resolve().as_uri()
    reporter.step(f"stopping job {job} with a savepoint (the snapshot `aws stop` takes)")
    trigger = rest.stop_with_savepoint(job, target)

    def done() -> str | None:
        status = rest.savepoint_status(job, trigger)
        if (status.get("status") or {}).get("id") != "COMPLETED":
            return None
        op = status.get("operation") or {}
        if "failure-cause" in op:
            cause = op["failure-cause"]
            first = (str(cause.get("stack-trace", "")).splitlines() or [""])[0]
            raise PipectlError(
                f"stop with savepoint failed: {cause.get('class', '')}: {first}",
                hint="see the JobManager log in the rehearsal's logs folder; `pipectl aws rehearse --down` stops it all",
            )
        return str(op.get("location") or "") or None

    location = wait_until(done, what="the rehearsed job's stop with a savepoint", timeout=timeout, interval=1)
    wait_until(
        lambda: rest.job(job).get("state") in ("FINISHED", "CANCELED"), what="the rehearsed job's stop", timeout=60
    )
    state.write(settings.state_dir, dataclasses.replace(running, savepoint=str(location)))
    reporter.done(f"savepoint written to {location}")
    return StopResult(job, str(location), True)


def _s3_exists(aimed: Settings) -> Any:
    """exists(path) for the savepoint's manifest paths: s3:// through the emulator, others on disk."""
    import boto3

    client = boto3.client("s3", region_name=aimed.aws.region, endpoint_url=aimed.aws.endpoint_url or None)

    def exists(path: str) -> bool:
        if not path.startswith(("s3://", "s3a://")):
            return Path(path).exists()
        bucket, _, key = path.split("://", 1)[1].partition("/")
        try:
            client.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:  # a 404 is "gone"; anything else is not a yes either
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    return exists


def check(aimed: Settings, savepoint: str) -> resume.ResumePoint:
    """Refuse, in one line, a restore that the sink's committer would turn into a loop or a double commit."""
    from pipectl.aws import tables

    point = resume.point_at(savepoint)
    if point is None:
        raise NotFoundError(f"{savepoint} holds no complete savepoint (no readable _metadata)", hint=HINT)
    try:
        tables.check_restore_lineage(aimed)  # what `aws deploy` checks before StartApplication
    except PipectlError as exc:
        raise PipectlError(exc.message, hint=HINT) from None
    names = aimed.names
    chains = []
    for name in (names.table, names.rejected_table):
        try:
            table = tables.load_table(aimed, names.namespace, name)
        except NotFoundError:
            continue
        summaries, truncated = resume.ancestry(table)
        metadata_dir = posixpath.normpath(table.metadata.location.rstrip("/") + "/metadata")
        chains.append(resume.Chain(f"{names.namespace}.{name}", metadata_dir, summaries, truncated))
    problems = resume.committer_problems(point, chains, resume.manifests_in(Path(point.path)), _s3_exists(aimed))
    if problems:
        raise PipectlError(resume.committer_message(point, problems), hint=HINT)
    return point


__all__ = ["StopResult", "active", "check", "pointed", "stop"]
