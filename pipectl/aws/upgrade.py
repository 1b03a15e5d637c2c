"""Can the new release take the running application's state? The check `aws deploy` (and `--plan`)
runs before UpdateApplication, and the rollback after a failed update.

Managed Flink's snapshots cannot be read from outside the service, so the check does not read the
state: it compares operator ids. Every release deploy uploads is built into Flink's JobGraph without
running it (`python -m pipectl.flink.plan_probe`, the release's own jobs/ and jar from the zip), and
its operator ids are recorded next to the code object, `s3://BUCKET/<code key>.operators.json`. On an
update, the record of the code the application runs now (its FileKey) is compared with the new
release's ids:

- every recorded operator has an operator with its id in the new release: **state** path, the update
  restores from the snapshot it takes;
- some do not, and all of those run in the Kafka source's or an Iceberg committer's task (their state
  is the Kafka offsets and the Iceberg commits): **offsets** path, the application is stopped (the
  service takes a snapshot, its savepoint; like Flink's stop with a savepoint, that commits the Iceberg
  files of its final checkpoint: AWS does not document which stop it uses), updated with the job's
  KAFKA_START_OFFSETS, one past the highest offset the tables hold in each partition, and started
  without state: it reads on after the last records the tables hold (deploy._read_on);
- others do not: refused, naming them, before anything changes; `--allow-non-restored-state` drops
  their state on purpose (warned);
- no record of the running release, or the new release's graph cannot be built: **not checked**, said
  so with the reason; the update restores from its snapshot as before, and if Flink cannot map the
  state the job fails and the rollback below brings the previous version back.

The record names operators, not state: which operators hold state is only in the snapshot. An operator
missing from the new release is therefore treated as holding state (the check errs on refusing).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipectl.aws import application as appcfg
from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.app_state import app_not_found, describe
from pipectl.aws.manage import wait_settled
from pipectl.aws.target import Target
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, PipectlError, UnhealthyError
from pipectl.progress import Reporter

PATH_STATE = "state"  # every recorded operator is in the new release: restored from the update's snapshot
PATH_OFFSETS = "offsets"  # stop (snapshot), update, start without state after the tables' last records
PATH_NON_RESTORED = "non-restored"  # --allow-non-restored-state: the state of the missing operators is dropped
PATH_REFUSED = "refused"  # operators that may hold state are missing (deploy raises; --plan shows it)
PATH_NOT_CHECKED = "not-checked"  # no record, or the new release's graph could not be built

RECORD_SUFFIX = ".operators.json"
# tasks whose state the clean stop settles: the Kafka source's offsets, the Iceberg committer's commits
_RECOVERABLE = ("Source: ", "IcebergFilesCommitter")


class StateRefused(PipectlError):
    exit_code = EXIT_USAGE


@dataclass
class UpgradeCheck:
    path: str
    message: str
    running_code: str = ""  # s3://bucket/key the application runs now
    missing: list[dict] = field(default_factory=list)  # recorded operators the new release lacks
    operators: list[dict] | None = None  # the new release's operators (None: not known)
    release_error: str = ""  # why the new release's operators are not known

    def line(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("operators")
        out.pop("release_error")
        return out


def record_key(code_key: str) -> str:
    return code_key.removesuffix(".zip") + RECORD_SUFFIX


# the new release's operators ----------------------------------------------------------------
def release_operators(settings: Settings, zip_path: str | Path, sha256: str) -> tuple[list[dict] | None, str]:
    """(the operators of the release in the zip, why not when None). Cached per zip content hash
    under .pipectl/aws-releases/, so that `--plan` and the deploy after it probe once."""
    cache = settings.state_dir / "aws-releases" / f"{sha256}.json"
    try:
        return json.loads(cache.read_text())["operators"], ""
    except (OSError, ValueError, KeyError):
        pass
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        job = "jobs/order_ingest/job.py"
        if job not in names or b"def build_statement_set" not in zf.read(job):
            return None, f"the release's {job} has no build_statement_set, so its job graph cannot be built"
        if appcfg.DEPENDENCY_JAR not in names:
            return None, f"the release has no {appcfg.DEPENDENCY_JAR}"
        with tempfile.TemporaryDirectory(prefix="pipectl-release-") as tmp:
            for name in names:
                if name.startswith("jobs/") or name == appcfg.DEPENDENCY_JAR:
                    zf.extract(name, tmp)
            ops, why = _probe(settings, Path(tmp))
    if ops is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"sha256": sha256, "operators": ops}))
    return ops, why


def _probe(settings: Settings, release: Path) -> tuple[list[dict] | None, str]:
    """Run plan_probe on the release's own code (cwd: the release, so its `jobs` package is imported),
    with a local job environment: the graph, not the catalog, gives the ids."""
    from pipectl.flink import jobs
    from pipectl.stack.native import java_env

    try:
        env = java_env()
    except PipectlError as exc:
        return None, exc.message
    env.update(jobs.job_environment(settings))
    env["PIPELINE_JARS"] = (release / appcfg.DEPENDENCY_JAR).resolve().as_uri()
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pipectl.flink.plan_probe"],
            capture_output=True,
            text=True,
            env=env,
            cwd=release,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        return None, "building the release's job graph took over 600 s"
    for line in proc.stdout.splitlines():
        if line.startswith("PLAN_PROBE "):
            return json.loads(line[len("PLAN_PROBE ") :])["operators"], ""
    lines = (proc.stderr + "\n" + proc.stdout).splitlines()
    causes = [m.group(0) for ln in lines if (m := re.search(r"(JobConfigError|\w+(?:Exception|Error)): .*", ln))]
    cause = causes[-1] if causes else f"exit {proc.returncode}"
    return None, "could not build the release's job graph: " + cause[:300]


# the record -----------------------------------------------------------------------------------
def save_record(target: Target, key: str, sha256: str, operators: list[dict]) -> str:
    """Record the release's operators next to its code object (kept while the object is)."""
    bucket = target.aws.code_bucket
    body = json.dumps({"sha256": sha256, "operators": operators}, indent=1).encode()
    with aws_call(f"record the release's operators in s3://{bucket}/{record_key(key)}"):
        target.client("s3").put_object(Bucket=bucket, Key=record_key(key), Body=body, ContentType="application/json")
    return f"s3://{bucket}/{record_key(key)}"


def running_record(target: Target, detail: dict) -> tuple[list[dict] | None, str, str]:
    """(the recorded operators of the code the application runs, its s3 url, why not when None)."""
    bucket_arn, key = appcfg.code_location(detail)
    bucket = bucket_arn.rsplit(":", 1)[-1]
    url = f"s3://{bucket}/{key}"
    if not key:
        return None, url, "the application has no code location"
    try:
        with aws_call(f"read s3://{bucket}/{record_key(key)}"):
            try:
                body = target.client("s3").get_object(Bucket=bucket, Key=record_key(key))["Body"].read()
            except Exception as exc:
                if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                    return (
                        None,
                        url,
                        f"no record of the running release's operators (s3://{bucket}/{record_key(key)}): it was "
                        "deployed without one, or its job graph could not be built",
                    )
                raise
    except PipectlError as exc:
        return None, url, f"cannot read the running release's record ({exc.message})"
    return json.loads(body)["operators"], url, ""


# the comparison (pure) ---------------------------------------------------------------------------
def compare(old: list[dict], new: list[dict], *, allow_non_restored: bool, running_code: str = "") -> UpgradeCheck:
    new_ids = {op["id"] for op in new}
    missing = [op for op in old if op["id"] not in new_ids]
    if not missing:
        return UpgradeCheck(
            PATH_STATE,
            f"state kept: all {len(old)} operators of the running release are in the new one "
            "(restored from the snapshot the update takes)",
            running_code,
        )
    lost = [op for op in missing if not op.get("vertex", "").startswith(_RECOVERABLE)]
    if not lost:
        return UpgradeCheck(
            PATH_OFFSETS,
            f"{len(missing)} operator(s) of the running release are not in the new one ({_names(missing)}), all in "
            "the Kafka source's or an Iceberg committer's task: stop with a snapshot (commits the Iceberg files), "
            "then start without state, reading on after the last records the tables hold",
            running_code,
            missing,
        )
    if allow_non_restored:
        return UpgradeCheck(
            PATH_NON_RESTORED,
            f"--allow-non-restored-state: the state of {_names(lost)} is dropped",
            running_code,
            missing,
        )
    return UpgradeCheck(
        PATH_REFUSED,
        f"the new release cannot take the state of {_names(lost)} (no operator with its id in the new release; "
        "its state would be dropped): nothing was changed",
        running_code,
        missing,
    )


def _names(ops: list[dict]) -> str:
    by_vertex: dict[str, list[str]] = {}
    for op in ops:
        by_vertex.setdefault(_short(op.get("vertex", "?")), []).append(op["id"][:8])
    return "; ".join(f"{v} (operator {', '.join(ids)})" for v, ids in by_vertex.items())


def _short(vertex: str) -> str:
    return vertex if len(vertex) <= 60 else vertex[:57] + "..."


def check(target: Target, detail: dict, zip_path: str | Path, sha256: str, *, allow_non_restored: bool) -> UpgradeCheck:
    """The check for replacing the code `detail` runs with the zip (never raises for a refusal)."""
    new, why_new = release_operators(target.settings, zip_path, sha256)
    old, url, why_old = running_record(target, detail)
    if old is None:
        return UpgradeCheck(PATH_NOT_CHECKED, f"not checked: {why_old}", url, operators=new, release_error=why_new)
    if new is None:
        return UpgradeCheck(PATH_NOT_CHECKED, f"not checked: {why_new}", url, release_error=why_new)
    result = compare(old, new, allow_non_restored=allow_non_restored, running_code=url)
    result.operators = new
    return result


def refuse(result: UpgradeCheck) -> StateRefused:
    return StateRefused(
        result.message,
        hint="keep the running release, or pass --allow-non-restored-state to drop that state on purpose",
    )


def settle(result: UpgradeCheck, reporter: Reporter) -> UpgradeCheck:
    """Act on a check as deploy and the rehearsal do: a refusal is raised (one line, nothing
    changed); a warned path is warned; a kept state is said."""
    if result.path == PATH_REFUSED:
        raise refuse(result)
    if result.path in (PATH_NON_RESTORED, PATH_NOT_CHECKED):
        reporter.warn(result.message)
    else:
        reporter.done(result.message)
    return result


# the rollback ------------------------------------------------------------------------------------
def rollback(target: Target, cause: PipectlError, reporter: Reporter) -> UnhealthyError:
    """RollbackApplication after a failed update: the previous application version, from the
    service's last snapshot (the one the update took). Returns the error deploy raises."""
    name = target.aws.application_name
    detail = describe(target)
    if detail is None:
        raise app_not_found(target)
    status = detail["ApplicationStatus"]
    if status not in ("RUNNING", "UPDATING", "AUTOSCALING"):
        return UnhealthyError(
            f"the new release failed ({cause.message}); not rolled back: the application is {status} and "
            "RollbackApplication needs it RUNNING",
            hint="deploy the previous release (`pipectl aws deploy` in its checkout) or fix this one",
            log_tail=getattr(cause, "log_tail", None),
        )
    failed_version = detail["ApplicationVersionId"]
    reporter.warn(f"the new release failed ({cause.message}): rolling back '{name}' (version {failed_version})")
    client = target.client("kinesisanalyticsv2")
    try:
        with aws_call(f"roll back the application '{name}'", not_found=app_not_found(target)):
            client.rollback_application(ApplicationName=name, CurrentApplicationVersionId=failed_version)
        after = wait_settled(
            target,
            reporter,
            want=appcfg.RUNNING,
            message=f"waiting for '{name}' to roll back",
            min_version=failed_version + 1,
        )
    except PipectlError as exc:
        return UnhealthyError(
            f"the new release failed ({cause.message}) and the rollback failed too ({exc.message})",
            hint="see `pipectl aws status`; deploy the previous release from its checkout",
            log_tail=getattr(cause, "log_tail", None),
        )
    to = after.get("ApplicationVersionRolledBackTo") or "the previous"
    bucket_arn, key = appcfg.code_location(after)
    return UnhealthyError(
        f"the new release failed ({cause.message}); rolled back: '{name}' runs version {to}'s code again "
        f"(s3://{bucket_arn.rsplit(':', 1)[-1]}/{key}, now version {after['ApplicationVersionId']}) from its "
        "last snapshot",
        hint="fix the new release and deploy again; `pipectl aws logs` shows why it failed",
        log_tail=getattr(cause, "log_tail", None),
    )


def forget_cache(settings: Settings) -> None:  # pragma: no cover - a convenience for users
    shutil.rmtree(settings.state_dir / "aws-releases", ignore_errors=True)


__all__ = [
    "PATH_NON_RESTORED",
    "PATH_NOT_CHECKED",
    "PATH_OFFSETS",
    "PATH_REFUSED",
    "PATH_STATE",
    "StateRefused",
    "UpgradeCheck",
    "check",
    "compare",
    "record_key",
    "release_operators",
    "rollback",
    "save_record",
]
