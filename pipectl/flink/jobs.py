"""The order_ingest job on the local Flink cluster: start (submit), status, stop (with savepoint)."""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jobs.order_ingest.settings import format_start_offsets
from pipectl import kafka_admin, statefile
from pipectl.config import Settings
from pipectl.errors import GaveUpError, NotFoundError, PipectlError, UnhealthyError
from pipectl.flink import read_on, resume
from pipectl.flink.job_state import ACTIVE_STATES, FAILING_STATES, JOB_NAME, latest_checkpoint, root_exception
from pipectl.flink.rest import FlinkRest
from pipectl.iceberg import load_local_table, totals
from pipectl.progress import SILENT, Reporter
from pipectl.stack import get_stack
from pipectl.wait import wait_until

__all__ = ["ACTIVE_STATES", "JOB_NAME", "JobInfo", "find_job", "start", "status", "stop"]


@dataclass
class JobInfo:
    name: str
    job_id: str | None
    state: str
    started_at: float | None = None
    duration_s: float | None = None
    restarts: int | None = None
    last_checkpoint: dict | None = None
    restored_from: str | None = None
    read_from: dict[str, int] | None = None  # started without state: the offset it reads on from, per partition
    group_was: dict[str, int | None] | None = None  # ... and the group's offsets it replaced (None: none committed)
    savepoint: str | None = None
    root_exception: str | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _state_file(settings: Settings) -> Path:
    return settings.state_dir / "job.json"


def read_state(settings: Settings) -> dict:
    """job.json: {} when there is none yet; a StateFileError (never {}) when it cannot be read,
    because it holds the lineage the resume check relies on."""
    path = _state_file(settings)
    data = statefile.read_json(
        path,
        way_out=f"it holds this pipeline's job lineage (which job and checkpoint each table commit came from): "
        f"restore it from a backup or repair its JSON; to go on without it, move it aside "
        f"(mv {path} {path}.broken) and run 'pipectl job start' -- the resume check may then ask for "
        "--from-savepoint or --fresh",
    )
    return data if data is not None else {}


def _write_state(settings: Settings, **changes) -> None:
    state = read_state(settings)
    state.update(changes)
    statefile.write_json(_state_file(settings), state)


def _rest(settings: Settings) -> FlinkRest:
    return FlinkRest(settings.flink_rest_url)


def find_job(settings: Settings, active_only: bool = True) -> dict | None:
    """The newest job called order_ingest (active ones first)."""
    jobs = [j for j in _rest(settings).jobs() if j.get("name") == JOB_NAME]
    jobs.sort(key=lambda j: j.get("start-time", 0), reverse=True)
    for j in jobs:
        if j.get("state") in ACTIVE_STATES:
            return j
    return None if active_only or not jobs else jobs[0]


def job_environment(settings: Settings) -> dict[str, str]:
    """The job's settings as the environment variables jobs/order_ingest/settings.py reads."""
    p = settings.pipeline
    return {
        "DEPLOYMENT_ENV": "local",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
        "KAFKA_TOPIC": p.topic,
        "KAFKA_GROUP_ID": p.consumer_group,
        "ICEBERG_WAREHOUSE": settings.warehouse_dir.resolve().as_uri(),
        "ICEBERG_NAMESPACE": p.namespace,
        "ICEBERG_TABLE": p.table,
        "ICEBERG_REJECTED_TABLE": p.rejected_table,
        "CHECKPOINT_INTERVAL_MS": str(p.checkpoint_interval_s * 1000),
        "PARALLELISM": str(p.parallelism),
        "PIPELINE_JARS": settings.dependency_jar.resolve().as_uri(),
        # bench/ingest_throughput.py's readers: the same job file into another sink (jobs/order_ingest/settings.py)
        **({"ORDER_INGEST_SINK": os.environ["ORDER_INGEST_SINK"]} if os.environ.get("ORDER_INGEST_SINK") else {}),
    }


def _submit_error(output: str) -> str:
    """The most telling line of a failed `flink run`."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in (r"JobConfigError: (.*)", r"^error: (.*)", r"Caused by: (.*)", r"(\w+(?:Exception|Error): .*)"):
        hits = [m.group(1) for line in lines if (m := re.search(pattern, line))]
        if hits:
            return hits[-1][:400]
    return lines[-1][:400] if lines else "no output"


def _table_rows(settings: Settings) -> int:
    """Rows in the orders table from its current snapshot's summary (0 when there is no table)."""
    try:
        return totals(load_local_table(settings)).rows
    except NotFoundError:
        return 0


def _pipeline_key(settings: Settings) -> str:
    p = settings.pipeline
    return f"{p.topic}>{p.namespace}.{p.table}+{p.rejected_table}@{p.consumer_group}"


def lineage(settings: Settings) -> dict[str, dict]:
    """The jobs of this pipeline (topic, tables, group) and where each was restored from."""
    return read_state(settings).get("lineage", {}).get(_pipeline_key(settings), {})


def _record_job(
    settings: Settings, job_id: str, point: resume.ResumePoint | None, marks: list[resume.TableMark]
) -> None:
    state = read_state(settings)
    jobs_of = state.setdefault("lineage", {}).setdefault(_pipeline_key(settings), {})
    entry: dict = {"started_at": time.time(), "restored_from": None}
    if point is not None:
        entry["restored_from"] = {
            "job_id": point.job_id,
            "checkpoint_id": point.checkpoint_id,
            "path": point.path,
            "kind": point.kind,
        }
    else:
        entry["baseline"] = {m.table: [m.job_id, m.checkpoint_id] for m in marks}
    jobs_of[job_id] = entry
    _write_state(
        settings,
        lineage=state["lineage"],
        job_id=job_id,
        restored_from=point.path if point else None,
        started_at=entry["started_at"],
    )


def table_chains(settings: Settings) -> list[resume.Chain]:
    """Each of the pipeline's tables as the sink's committer walks it on restore (missing tables left out)."""
    chains = []
    for name in (settings.pipeline.table, settings.pipeline.rejected_table):
        try:
            table = load_local_table(settings, name)
        except NotFoundError:
            continue
        summaries, truncated = resume.ancestry(table)
        metadata_dir = os.path.normpath(resume.plain_path(table.metadata.location) + "/metadata")
        chains.append(resume.Chain(f"{settings.pipeline.namespace}.{name}", metadata_dir, summaries, truncated))
    return chains


def table_marks(settings: Settings, chains: list[resume.Chain] | None = None) -> list[resume.TableMark]:
    """The newest Flink commit in each of the pipeline's tables (tables without one are left out)."""
    marks = []
    for chain in table_chains(settings) if chains is None else chains:
        mark = resume.mark_from_summaries(chain.table, chain.summaries)
        if mark is not None:
            marks.append(mark)
    return marks


def _state_dirs(settings: Settings) -> tuple[Path, Path]:
    flink = settings.state_dir / "flink"
    return flink / "checkpoints", flink / "savepoints"


def newest_point(settings: Settings) -> str | None:
    """The newest complete checkpoint or savepoint of this pipeline (unchecked), for messages."""
    points = resume.points_of(list(lineage(settings)), *_state_dirs(settings))
    return points[0].path if points else None


def resume_point(
    settings: Settings, from_savepoint: str | None = None
) -> tuple[resume.ResumePoint | None, list[resume.TableMark]]:
    """The point `job start` resumes from (None: nothing kept) after checking it against the tables;
    raises when resuming from it would store records twice."""
    chains = table_chains(settings)
    marks = table_marks(settings, chains)
    known = lineage(settings)
    if from_savepoint is not None:
        point = resume.point_at(from_savepoint)
        if point is None:
            raise NotFoundError(
                f"{from_savepoint} holds no complete checkpoint or savepoint (no readable _metadata)",
                hint="name a chk-N or savepoint-... folder, or run 'pipectl job start' to resume from the newest one",
            )
        hint = "run 'pipectl job start' to resume from the newest checkpoint or savepoint"
    else:
        points = resume.points_of(list(known), *_state_dirs(settings))
        if not points:
            return None, marks
        point = points[0]
        hint = (
            "nothing newer is kept; 'pipectl job start --fresh' starts without state and reads on after the last "
            "records the tables hold"
        )
    stale = resume.stale_marks(point, marks, known)
    if stale:
        raise PipectlError(resume.stale_message(point, stale), hint=hint)
    problems = resume.committer_problems(point, chains, resume.manifests_in(Path(point.path)), os.path.exists)
    if problems:
        raise PipectlError(
            resume.committer_message(point, problems),
            hint="'pipectl job start --fresh' starts without state and reads on after the last records the tables hold",
        )
    return point, marks


def start(
    settings: Settings,
    *,
    fresh: bool = False,
    from_savepoint: str | None = None,
    reporter: Reporter = SILENT,
    extra_env: dict[str, str] | None = None,  # added to the job's environment (job upgrade)
) -> JobInfo:
    rest = _rest(settings)
    rest.overview()  # raises a clear error when no cluster answers
    running = find_job(settings)
    if running:
        return _existing(rest, running, reporter)
    if not settings.dependency_jar.is_file():
        raise NotFoundError(f"dependency jar {settings.dependency_jar} is missing", hint="build it with 'make build'")

    warnings = []
    point: resume.ResumePoint | None = None
    if fresh:
        marks = table_marks(settings)
    else:
        point, marks = resume_point(settings, from_savepoint)
    table_rows = _table_rows(settings) if point is None and not fresh else 0
    if table_rows:
        raise PipectlError(
            f"no checkpoint or savepoint of this pipeline is kept, but {settings.pipeline.namespace}."
            f"{settings.pipeline.table} holds {table_rows} rows",
            hint="'pipectl job start --fresh' starts without state and reads on after the last records the tables hold",
        )
    read_from = group_was = None
    job_env = {**job_environment(settings), **(extra_env or {})}
    if point is None:  # no state: read on after the tables' last records (pipectl/flink/read_on.py)
        alignment = _align_group(settings)
        warnings += alignment.warnings
        if alignment.changed:
            reporter.step(alignment.describe())
        if alignment.read_from:
            read_from = {str(p): o for p, o in sorted(alignment.read_from.items())}
            group_was = {str(p): old for p, (old, _) in sorted(alignment.changed.items())}
            job_env["KAFKA_START_OFFSETS"] = format_start_offsets(alignment.read_from)
    for w in warnings:
        reporter.warn(w)

    restore = point.path if point else None
    reporter.step(
        "submitting order_ingest to the Flink cluster" + (f" from {point.describe()} ({point.path})" if point else "")
    )
    returncode, output = get_stack(settings).submit_job(job_env, restore)
    match = re.search(r"JobID ([0-9a-f]{32})", output)
    if returncode != 0 or not match:
        log = settings.state_dir / "logs" / "job-submit.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
        raise PipectlError(f"job submission failed: {_submit_error(output)}", hint=f"full output in {log}")
    job_id = match.group(1)
    _record_job(settings, job_id, point, marks)

    def running_state() -> dict | None:
        job = rest.job(job_id)
        if job["state"] in ("CANCELED", "FINISHED"):
            raise GaveUpError(f"job {job_id} ended as {job['state']}", hint="see 'pipectl local logs jobmanager'")
        failure = root_exception(rest.exceptions(job_id))
        if job["state"] in FAILING_STATES or failure:
            raise _failed_start(rest, job_id, job["state"], failure)
        return job if _all_running(job) else None

    job = wait_until(
        running_state,
        what="job order_ingest",
        timeout=120,
        interval=1,
        hint="see 'pipectl job status' and 'pipectl local logs jobmanager'",
    )
    reporter.done(f"order_ingest is RUNNING ({job_id})" + (f", resumed from {point.describe()}" if point else ""))
    return JobInfo(
        JOB_NAME,
        job_id,
        job["state"],
        started_at=job.get("start-time", 0) / 1000,
        restored_from=restore,
        read_from=read_from,
        group_was=group_was,
        message="started",
        warnings=warnings,
    )


def _align_group(settings: Settings) -> read_on.Alignment:
    try:
        return read_on.align_group(settings)
    except PipectlError:
        raise
    except kafka_admin.errors() as exc:
        raise UnhealthyError(
            f"cannot set the consumer group's offsets on Kafka at {settings.kafka_bootstrap} "
            f"({kafka_admin.describe_error(exc)})",
            hint="is the stack up? 'pipectl local up', then start the job again",
        ) from None


def _all_running(job: dict) -> bool:
    return job["state"] == "RUNNING" and all(v.get("status") == "RUNNING" for v in job.get("vertices", []))


def _existing(rest: FlinkRest, found: dict, reporter: Reporter) -> JobInfo:
    """`job start` while the job is already on the cluster: nothing to submit. A job that is
    recovering (RESTARTING or its tasks not all RUNNING yet, e.g. after a TaskManager was lost) is
    waited for, as a new one would be; Flink's restart strategy does the recovery, so the job is not
    cancelled here. It returns when every task runs, or says why not."""
    jid = found["jid"]
    job = rest.job(jid)
    message = "already running, nothing to do"
    if not _all_running(job):
        reporter.step(f"order_ingest ({jid}) is {job['state']}: waiting for its tasks to run again")
        job = _wait_recovered(rest, jid, timeout=120, doing="")
        message = "already running (it recovered), nothing to do"
        reporter.done(f"order_ingest is RUNNING again ({jid})")
    return JobInfo(JOB_NAME, jid, job["state"], started_at=job.get("start-time", 0) / 1000, message=message)


def _wait_recovered(rest: FlinkRest, jid: str, *, timeout: float, doing: str) -> dict:
    """Wait until every task of a live job runs (Flink's restart strategy recovers it; it is never
    cancelled here). A job that ends meanwhile, or is still recovering at the deadline, is one line
    with its root exception. `doing` names what waits ("cannot take a savepoint: ")."""

    def recovered() -> dict | None:
        current = rest.job(jid)
        if current["state"] in ("FAILED", "CANCELED", "FINISHED"):
            failure = root_exception(rest.exceptions(jid)) or "no exception recorded"
            raise GaveUpError(
                f"{doing}job {JOB_NAME} ended as {current['state']} while recovering: {failure}",
                hint="'pipectl job start' resumes it from its newest checkpoint",
            )
        return current if _all_running(current) else None

    try:
        return wait_until(recovered, what=f"job {JOB_NAME} to recover", timeout=timeout, interval=1)
    except GaveUpError:
        raise
    except UnhealthyError as exc:
        failure = root_exception(rest.exceptions(jid))
        raise UnhealthyError(
            f"{doing}job {JOB_NAME} is still {rest.job(jid)['state']} after {timeout:.0f}s"
            + (f": {failure}" if failure else ""),
            hint="see 'pipectl local status' (is a TaskManager up?) and 'pipectl local logs jobmanager'"
            + (
                "; 'pipectl job stop --no-savepoint' cancels it and the next start resumes from its newest checkpoint"
                if doing
                else ""
            ),
        ) from exc


def _failed_start(rest: FlinkRest, job_id: str, state: str, failure: str | None) -> GaveUpError:
    """End the restart loop of a job that fails while it starts (cancel it: its retained
    checkpoints and the point it was restored from are kept) and say why, in one line."""
    if failure is None:
        failure = root_exception(rest.exceptions(job_id)) or "no exception recorded"
    if state != "FAILED":
        rest.cancel(job_id)
        wait_until(
            lambda: rest.job(job_id)["state"] in ("CANCELED", "FAILED", "FINISHED"), what="job cancel", timeout=60
        )
    return GaveUpError(
        f"job {JOB_NAME} failed while starting: {failure}",
        hint="cancelled to end its restart loop, checkpoints and savepoints kept; "
        "the whole trace is in 'pipectl local logs jobmanager'",
    )


# Flink refuses a savepoint while a task is not running (CheckpointFailureReason
# NOT_ALL_REQUIRED_TASKS_RUNNING), and fails its trigger while a task still runs, as far as the
# JobManager knows, on a TaskManager that died (RecipientUnreachableException until the heartbeat
# times out): the job recovers and a new trigger works (found by the randomized test, seed 417, and
# by its regression in CI).
_TASKS_NOT_RUNNING = (
    "Not all required tasks are currently running",
    "is not being executed at the moment",
    "RecipientUnreachableException",
    "is no longer reachable",
)


def _savepoint_outcome(rest: FlinkRest, jid: str, trigger: str) -> tuple[str | None, str | None] | None:
    """None while the stop-with-savepoint runs; (location, None) when it is done; (None, cause) when
    Flink refused it because a task is not running (worth a new trigger); any other failure ends the
    wait at once (GaveUpError) with its cause in one line."""
    st = rest.savepoint_status(jid, trigger)
    if st.get("status", {}).get("id") != "COMPLETED":
        return None
    op = st.get("operation", {})
    if "failure-cause" not in op:
        return op.get("location"), None
    trace = op["failure-cause"].get("stack-trace", "")
    if any(marker in trace for marker in _TASKS_NOT_RUNNING):
        return None, "not all of its tasks are running or reachable"
    cause = op["failure-cause"].get("class", "") + ": " + (trace.splitlines() or [""])[0]
    raise GaveUpError(f"stop with savepoint failed: {cause}", hint="retry, or 'pipectl job stop --no-savepoint'")


def status(settings: Settings) -> JobInfo:
    rest = _rest(settings)
    job = find_job(settings, active_only=False)
    state = read_state(settings)
    if job is None:
        return JobInfo(
            JOB_NAME,
            None,
            "NOT RUNNING",
            savepoint=state.get("savepoint"),
            message="no order_ingest job on the cluster; start it with 'pipectl job start'",
        )
    jid = job["jid"]
    info = JobInfo(
        JOB_NAME,
        jid,
        job["state"],
        started_at=job.get("start-time", 0) / 1000,
        duration_s=job.get("duration", 0) / 1000,
        savepoint=state.get("savepoint"),
        restored_from=state.get("restored_from") if state.get("job_id") == jid else None,
    )
    try:
        cps = rest.checkpoints(jid)
        latest = latest_checkpoint(cps)
        if latest:
            info.last_checkpoint = latest.to_dict()
        counts = cps.get("counts") or {}
        info.message = f"{counts.get('completed', 0)} checkpoints completed, {counts.get('failed', 0)} failed"
    except PipectlError:
        pass
    if info.state != "RUNNING":
        try:
            info.root_exception = root_exception(rest.exceptions(jid))
        except PipectlError:
            pass
        if info.root_exception:
            info.message = f"{info.state.lower()}: {info.root_exception}" + (
                f"; {info.message}" if info.message else ""
            )
    return info


def stop(settings: Settings, *, savepoint: bool = True, timeout: float = 180, reporter: Reporter = SILENT) -> JobInfo:
    rest = _rest(settings)
    job = find_job(settings)
    if job is None:
        return JobInfo(
            JOB_NAME,
            None,
            "NOT RUNNING",
            savepoint=read_state(settings).get("savepoint"),
            message="no running order_ingest job, nothing to stop",
        )
    jid = job["jid"]
    if not savepoint:
        reporter.step(f"cancelling {jid} without a savepoint")
        rest.cancel(jid)
        wait_until(lambda: rest.job(jid)["state"] == "CANCELED", what="job cancel", timeout=60)
        return JobInfo(JOB_NAME, jid, "CANCELED", message="cancelled without a savepoint")
    target = (settings.state_dir / "flink" / "savepoints").resolve()
    deadline = time.monotonic() + timeout
    while True:
        if not _all_running(rest.job(jid)):
            # a savepoint needs every task running: a job recovering from a lost TaskManager is
            # waited for (found by the randomized operations test, seed 417)
            reporter.step(f"order_ingest ({jid}) is recovering: waiting for its tasks to run before the savepoint")
            _wait_recovered(rest, jid, timeout=max(1.0, deadline - time.monotonic()), doing="cannot take a savepoint: ")
        reporter.step(f"stopping {jid} with a savepoint")
        trigger = rest.stop_with_savepoint(jid, target.as_uri())
        outcome = functools.partial(_savepoint_outcome, rest, jid, trigger)
        location, retry = wait_until(
            outcome, what="stop with savepoint", timeout=max(1.0, deadline - time.monotonic()), interval=1
        )
        if location:
            break
        if time.monotonic() >= deadline:
            raise UnhealthyError(
                f"cannot take a savepoint: {retry}",
                hint="see 'pipectl local status'; 'pipectl job stop --no-savepoint' cancels the job "
                "and the next start resumes from its newest checkpoint",
            )
        reporter.step(f"the savepoint was refused ({retry}): trying again once every task runs")
        time.sleep(2)  # the JobManager notices a lost TaskManager within its heartbeat timeout
    wait_until(lambda: rest.job(jid)["state"] in ("FINISHED", "CANCELED"), what="job stop", timeout=60)
    _write_state(settings, savepoint=location, stopped_job_id=jid, stopped_at=time.time())
    reporter.done(f"savepoint written to {location}")
    return JobInfo(JOB_NAME, jid, "STOPPED", savepoint=location, message="stopped with a savepoint")
