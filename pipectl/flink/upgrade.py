"""`pipectl job upgrade`: replace the running order_ingest job with the checkout's, in place, with its state.

The order (each step must pass before the next; nothing is stopped before the checks):
  1. build (Maven) the jar the new job needs;
  2. check the tables: the new job's columns must be the table's plus new optional ones
     (pipectl.iceberg_schema, read with pyiceberg), else refused with one line;
  3. check the state: the new job's operator ids (its JobGraph, built without running it:
     pipectl.flink.plan_probe) against the operator states in the running job's latest checkpoint
     `_metadata`. Every operator state that maps: the `state` path, restore from the savepoint.
     Some do not map, and all of those are Kafka sources or Iceberg committers: the `offsets` path,
     the new job starts without state and reads on after the last records the tables hold. The clean
     stop commits the Iceberg files of its final checkpoint; the group's offsets, which Flink's Kafka
     source commits asynchronously and can leave behind, are set to one past the tables' last offset
     of each partition first (pipectl/flink/read_on.py), so no record is stored twice.
     Anything else would lose state: refused, naming the operators, unless --allow-non-restored-state
     (warned);
  4. stop with a savepoint; 5. evolve the tables; 6. start the new job (from the savepoint, or from the
     group's offsets); 7. wait until it is healthy: a checkpoint of the new job completed and one of its
     commits landed in the tables; 8. the verify report.
If the new job does not start or does not become healthy, it is cancelled and the previous release is
started again from the same savepoint (a rollback), and the command fails saying so.

The previous release (its jobs/ and jar) is what `--previous DIR` names, or the copy kept under
<state_dir>/releases/ when the running job was started by an upgrade: each upgrade keeps a copy of
the release it starts, so that the next upgrade can roll back to it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipectl import iceberg_schema
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, GaveUpError, NotFoundError, PipectlError, UnhealthyError
from pipectl.flink import jobs
from pipectl.flink.rest import FlinkRest
from pipectl.progress import SILENT, Reporter
from pipectl.wait import wait_until

__all__ = ["StateCheck", "UpgradeReport", "assess", "upgrade"]

PATH_STATE = "state"  # restored from the savepoint: every operator state maps
PATH_OFFSETS = "offsets"  # started without state, reading on after the last records the tables hold
PATH_NON_RESTORED = "non-restored"  # --allow-non-restored-state: state of unmapped operators dropped

# Operators whose state a clean stop-with-savepoint leaves with nothing the tables and the consumer
# group do not already hold: the Kafka source (the tables hold the offset of every record it read, and
# the group's offsets are set after them) and the Iceberg committer (its files are committed to the table). Matched on the vertex names Flink gives them.
_RECOVERABLE = ("Source: ", "IcebergFilesCommitter")


class StateRefused(PipectlError):
    exit_code = EXIT_USAGE


@dataclass
class StateCheck:
    checkpoint: str  # the _metadata checked
    path: str  # PATH_STATE | PATH_OFFSETS | PATH_NON_RESTORED
    mapped: list[str] = field(default_factory=list)  # operator ids whose state the new job takes
    unmapped: list[dict] = field(default_factory=list)  # {id, name, size, recoverable}: state it would not take
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UpgradeReport:
    old_job_id: str
    new_job_id: str | None = None
    path: str | None = None
    savepoint: str | None = None
    state: StateCheck | None = None
    schema: dict | None = None
    evolved: list[str] = field(default_factory=list)
    rolled_back: bool = False
    release: str | None = None  # the copy of the release now running
    warnings: list[str] = field(default_factory=list)
    verify: dict | None = None
    message: str = ""
    # seconds: the checks before the stop (build excluded); from the stop until the new job was healthy
    check_s: float | None = None
    switch_s: float | None = None
    read_from: dict[str, int] | None = None  # the offsets path: where the new job reads on, per partition
    group_was: dict[str, int | None] | None = None  # ... and the group's offsets it replaced

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------ pure logic
def assess(
    operators: list[dict],
    states: list[dict],
    vertex_names: dict[str, str],
    *,
    allow_non_restored: bool = False,
    checkpoint: str = "",
) -> StateCheck:
    """Which of the checkpoint's operator `states` the new job's `operators` take, and the path that follows.
    `vertex_names`: the running job's vertex id -> name (a stateful operator is named by its vertex).
    Raises StateRefused when state would be lost and no exactly-once path remains."""
    new_ids = {op["id"] for op in operators}
    mapped, unmapped = [], []
    for st in states:
        if not st.get("has_state"):
            continue  # Flink skips an operator without state on restore
        if st["id"] in new_ids:
            mapped.append(st["id"])
            continue
        name = vertex_names.get(st["id"])
        recoverable = bool(name) and (name or "").startswith(_RECOVERABLE)
        unmapped.append(
            {
                "id": st["id"],
                "name": name or "an operator chained inside a task",
                "size": st.get("size", 0),
                "recoverable": recoverable,
            }
        )
    if not unmapped:
        return StateCheck(
            checkpoint, PATH_STATE, mapped, [], "every operator state maps to the new job: restored from the savepoint"
        )
    lost = [u for u in unmapped if not u["recoverable"]]
    if not lost:
        return StateCheck(
            checkpoint,
            PATH_OFFSETS,
            mapped,
            unmapped,
            f"{len(unmapped)} operator state(s) do not map ({_names(unmapped)}), all of them Kafka source offsets or "
            "Iceberg commits: the new job starts without state and reads on after the last records the tables hold",
        )
    if allow_non_restored:
        return StateCheck(
            checkpoint,
            PATH_NON_RESTORED,
            mapped,
            unmapped,
            f"--allow-non-restored-state: the state of {_names(lost)} is dropped",
        )
    raise StateRefused(
        f"the new job cannot take the state of {_names(lost)} (no operator with its id; state lost, no exactly-once "
        "path): nothing was stopped",
        hint="keep the running job, or pass --allow-non-restored-state to drop that state on purpose",
    )


def _names(items: list[dict]) -> str:
    return ", ".join(f"{u['name']} [{u['id'][:8]}, {u['size']:,} bytes]" for u in items)


# ------------------------------------------------------------------------------------------ steps
def _rest(settings: Settings) -> FlinkRest:
    return FlinkRest(settings.flink_rest_url)


def _probe(settings: Settings, metadata: Path) -> dict:
    """Run pipectl.flink.plan_probe with the job's environment: the new job's operators and the checkpoint's states."""
    from pipectl.launch.java import java_env

    env = java_env()
    env.update(jobs.job_environment(settings))
    env["PYTHONPATH"] = str(settings.project_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "pipectl.flink.plan_probe", "--metadata", str(metadata)],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.project_dir,
        timeout=600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PLAN_PROBE "):
            return json.loads(line[len("PLAN_PROBE ") :])
    lines = (proc.stderr + "\n" + proc.stdout).splitlines()
    causes = [m.group(0) for ln in lines if (m := re.search(r"(JobConfigError|\w+(?:Exception|Error)): .*", ln))]
    cause = causes[-1] if causes else next((ln for ln in reversed(lines) if ln.strip()), f"exit {proc.returncode}")
    raise PipectlError(
        "could not build the new job's plan to check its state: " + cause[:400],
        hint="nothing was stopped; run 'python jobs/order_ingest/job.py' to see the job's own error",
    )


def _latest_metadata(settings: Settings, job_id: str) -> Path:
    latest = ((_rest(settings).checkpoints(job_id).get("latest") or {}).get("completed")) or {}
    path = latest.get("external_path")
    if not path:
        raise PipectlError(
            f"job {job_id[:8]} has not completed a checkpoint yet: its state cannot be checked",
            hint="wait for a checkpoint ('pipectl job status'), then run the upgrade again; nothing was stopped",
        )
    metadata = Path(str(path).removeprefix("file:").removeprefix("//")) / "_metadata"
    # a copy: the checkpoint folder goes when a newer checkpoint subsumes it (the probe takes a while);
    # the metadata alone is what the check reads (state handles are not opened)
    copy = settings.state_dir / "upgrade" / f"{job_id}-chk-{latest.get('id')}" / "_metadata"
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(metadata, copy)
    except OSError as exc:
        raise PipectlError(
            f"could not read {metadata}: {exc.strerror}", hint="run the upgrade again; nothing was stopped"
        ) from None
    return copy


def _releases(settings: Settings) -> Path:
    return settings.state_dir / "releases"


def _known_release(settings: Settings, job_id: str) -> Path | None:
    try:
        index = json.loads((_releases(settings) / "index.json").read_text())
    except (OSError, ValueError):
        return None
    path = index.get(job_id)
    return Path(path) if path and (Path(path) / "jobs").is_dir() else None


def _keep_release(settings: Settings, job_id: str, source: Settings) -> Path:
    """A copy of the release `source` names (jobs/, the jar), so that the next upgrade can roll back to it."""
    dest = _releases(settings) / job_id
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source.project_dir / "jobs", dest / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "target").mkdir(parents=True)
    shutil.copy2(source.dependency_jar, dest / "target" / source.dependency_jar.name)
    index_file = _releases(settings) / "index.json"
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError):
        index = {}
    index[job_id] = str(dest)
    index_file.write_text(json.dumps(index, indent=2))
    return dest


def _settings_for(settings: Settings, release: Path) -> Settings:
    """The same stack, state and warehouse, with the job code of `release`."""
    local = dataclasses.replace(
        settings.local, state_dir=str(settings.state_dir.resolve()), warehouse=str(settings.warehouse_dir.resolve())
    )
    return settings.replace(project_dir=release.resolve(), local=local)


def _wait_healthy(settings: Settings, job_id: str, timeout: float) -> None:
    """A checkpoint of the new job completed and one of its commits is in the tables."""
    rest = _rest(settings)

    def healthy() -> bool:
        job = rest.job(job_id)
        if job["state"] in ("FAILED", "CANCELED", "FINISHED"):
            raise GaveUpError(f"the new job {job_id[:8]} ended as {job['state']}")
        completed = (rest.checkpoints(job_id).get("counts") or {}).get("completed", 0)
        if not completed:
            return False
        return any(m.job_id == job_id for m in jobs.table_marks(settings))

    wait_until(
        healthy,
        what=f"a checkpoint and a commit of the new job {job_id[:8]}",
        timeout=timeout,
        interval=2,
        hint="see 'pipectl local logs jobmanager'",
    )


def _cancel(settings: Settings, job_id: str) -> None:
    rest = _rest(settings)
    try:
        if rest.job(job_id)["state"] not in ("FAILED", "CANCELED", "FINISHED"):
            rest.cancel(job_id)
            wait_until(lambda: rest.job(job_id)["state"] in ("CANCELED", "FAILED"), what="cancel", timeout=60)
    except PipectlError:
        pass


def upgrade(
    settings: Settings,
    *,
    build: bool = True,
    allow_non_restored_state: bool = False,
    previous: Path | None = None,
    health_timeout: float = 240,
    reporter: Reporter = SILENT,
) -> UpgradeReport:
    rest = _rest(settings)
    rest.overview()  # a clear error when no cluster answers
    running = jobs.find_job(settings)
    if running is None or running.get("state") != "RUNNING":
        raise NotFoundError(
            "no running order_ingest job to upgrade",
            hint="start it with 'pipectl job start' (it runs the checkout's job)",
        )
    old_id = running["jid"]
    report = UpgradeReport(old_id)
    rollback_to = previous.resolve() if previous else _known_release(settings, old_id)
    if rollback_to is not None and previous is not None and not (rollback_to / "jobs/order_ingest/job.py").is_file():
        raise NotFoundError(
            f"--previous {previous} holds no jobs/order_ingest/job.py", hint="name a checkout of the running release"
        )

    # 1. build
    if build:
        from pipectl.build import run_maven

        run_maven(settings.project_dir, reporter)
    if not settings.dependency_jar.is_file():
        raise NotFoundError(
            f"{settings.dependency_jar} is missing", hint="build it with 'make build' (or drop --skip-build)"
        )

    checks_began = time.monotonic()
    # 2. the tables (pyiceberg; changes nothing)
    reporter.step("checking the tables against the new job's columns")
    change = iceberg_schema.check(settings)
    report.schema = change.to_dict()

    # 3. the state
    metadata = _latest_metadata(settings, old_id)
    reporter.step(f"checking the new job's operators against the state in {metadata.parent.name} of {old_id[:8]}")
    probe = _probe(settings, metadata)
    vertex_names = {v["id"]: v.get("name", "") for v in rest.job(old_id).get("vertices", [])}
    check = assess(
        probe["operators"],
        probe.get("states", []),
        vertex_names,
        allow_non_restored=allow_non_restored_state,
        checkpoint=str(metadata),
    )
    report.state, report.path = check, check.path
    reporter.done(check.message)
    if check.path == PATH_NON_RESTORED:
        report.warnings.append(check.message)
        reporter.warn(check.message)
    if rollback_to is None:
        note = (
            "no copy of the running job's release is kept (it was not started by 'job upgrade') and no --previous "
            "was given: if the new job fails, it cannot be rolled back automatically"
        )
        report.warnings.append(note)
        reporter.warn(note)

    # 4. stop with a savepoint
    stop_began = time.monotonic()
    report.check_s = round(stop_began - checks_began, 1)
    stopped = jobs.stop(settings, reporter=reporter)
    report.savepoint = stopped.savepoint
    if not stopped.savepoint:
        raise PipectlError("the job stopped without a savepoint", hint="see 'pipectl local logs jobmanager'")

    try:
        # 5. evolve the tables
        report.evolved = iceberg_schema.apply(settings, change, reporter)
        # 6. start the new job
        extra = {"ALLOW_NON_RESTORED_STATE": "true"} if check.path == PATH_NON_RESTORED else None
        if check.path == PATH_OFFSETS:
            info = jobs.start(settings, fresh=True, reporter=reporter, extra_env=extra)
        else:
            info = jobs.start(settings, from_savepoint=stopped.savepoint, reporter=reporter, extra_env=extra)
        report.new_job_id, report.read_from, report.group_was = info.job_id, info.read_from, info.group_was
        report.warnings += info.warnings  # the offsets path: a partition that cannot read on after the tables
        # 7. healthy
        reporter.step("waiting for a checkpoint and a commit of the new job")
        _wait_healthy(settings, info.job_id or "", health_timeout)
    except PipectlError as exc:
        _rollback(settings, report, exc, rollback_to, reporter)
        raise AssertionError("unreachable") from None  # _rollback always raises

    report.switch_s = round(time.monotonic() - stop_began, 1)
    report.release = str(_keep_release(settings, report.new_job_id or "", settings))
    reporter.done(f"order_ingest upgraded: {old_id[:8]} -> {(report.new_job_id or '')[:8]} ({_path_words(check.path)})")

    # 8. the verify report
    from pipectl import verify

    try:
        report.verify = verify.verify(settings).to_dict()
    except PipectlError as exc:
        report.warnings.append(f"verify: {exc.message}")
    report.message = f"upgraded in place ({_path_words(check.path)})"
    return report


def _path_words(path: str) -> str:
    return {
        PATH_STATE: "state restored from the savepoint",
        PATH_OFFSETS: "without state, read on after the last records the tables hold",
        PATH_NON_RESTORED: "from the savepoint, unmapped state dropped",
    }[path]


def _rollback(
    settings: Settings, report: UpgradeReport, cause: PipectlError, release: Path | None, reporter: Reporter
) -> None:
    """Cancel the new job, start the previous release from the same savepoint; always raises."""
    if report.new_job_id:
        _cancel(settings, report.new_job_id)
    else:  # the submission may have created a job before failing
        job = jobs.find_job(settings)
        if job is not None:
            _cancel(settings, job["jid"])
    schema_id = (report.schema or {}).get("schema_id")
    if release is not None and schema_id is not None and iceberg_schema.restore_schema(settings, schema_id):
        # the previous release writes the columns it knows: the table's schema goes back with it
        reporter.warn(f"{(report.schema or {}).get('table')}: schema {schema_id} is current again (rollback)")
    if release is None:
        raise PipectlError(
            f"the new job failed ({cause.message}) and the previous release is not known, so it was not rolled back",
            hint=f"start the previous release from {report.savepoint} with 'pipectl job start --from-savepoint "
            f"{report.savepoint}' in its checkout",
            exit_code=cause.exit_code,
        )
    reporter.warn(f"the new job failed ({cause.message}): rolling back to {release} from {report.savepoint}")
    try:
        info = jobs.start(_settings_for(settings, release), from_savepoint=report.savepoint, reporter=reporter)
        _keep_release(settings, info.job_id or "", _settings_for(settings, release))
    except PipectlError as exc:
        raise PipectlError(
            f"the new job failed ({cause.message}) and the rollback failed too ({exc.message})",
            hint=f"the savepoint {report.savepoint} holds the state; start a release from it with 'pipectl job start "
            "--from-savepoint'",
        ) from None
    report.rolled_back = True
    raise UnhealthyError(
        f"the new job failed ({cause.message}); rolled back: the previous release runs again as {info.job_id} "
        f"from {report.savepoint}",
        hint="fix the new release and run 'pipectl job upgrade' again",
    )
