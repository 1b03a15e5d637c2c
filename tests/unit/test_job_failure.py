"""A job that fails while it starts: the root exception from Flink's exception history (the 1.20
format), one line; `job start` cancels it and exits 4; `job status` and `status` name it."""

from __future__ import annotations

import pytest

from pipectl.errors import EXIT_UNHEALTHY, GaveUpError
from pipectl.flink import jobs
from pipectl.flink.job_state import innermost_exception, root_exception
from pipectl.status.model import LocalFlinkFacts, LocalJobFacts
from pipectl.status.rules import judge_local_flink

MANIFEST = "file:/w/analytics/orders/metadata/aaaa-dddd-00000-0-6-00004.avro"
TRACE = (
    f"org.apache.iceberg.exceptions.NotFoundException: Failed to open input stream for file: {MANIFEST}\n"
    "\tat org.apache.iceberg.hadoop.HadoopInputFile.newStream(HadoopInputFile.java:187)\n"
    "\tat org.apache.iceberg.flink.sink.IcebergFilesCommitter.initializeState(IcebergFilesCommitter.java:190)\n"
    f"Caused by: java.io.FileNotFoundException: File {MANIFEST} does not exist\n"
    "\tat org.apache.hadoop.fs.RawLocalFileSystem.deprecatedGetFileStatus(RawLocalFileSystem.java:779)\n"
    "\t... 17 more\n"
)
ROOT = f"java.io.FileNotFoundException: File {MANIFEST} does not exist"
# GET /jobs/:id/exceptions of Flink 1.20 (JobExceptionsInfoWithHistory), newest entry not first
EXCEPTIONS = {
    "root-exception": TRACE,
    "timestamp": 1700000009000,
    "all-exceptions": [],
    "truncated": False,
    "exceptionHistory": {
        "entries": [
            {"exceptionName": "java.lang.IllegalStateException", "stacktrace": "java.lang.IllegalStateException: older",
             "timestamp": 1700000001000, "taskName": "Writer (1/1)", "failureLabels": {}, "concurrentExceptions": []},
            {"exceptionName": "org.apache.iceberg.exceptions.NotFoundException", "stacktrace": TRACE,
             "timestamp": 1700000009000, "taskName": "IcebergFilesCommitter (1/1)", "failureLabels": {},
             "concurrentExceptions": []},
        ],
        "truncated": False,
    },
}


@pytest.mark.parametrize(
    "doc, root",
    [
        (EXCEPTIONS, ROOT),
        ({"root-exception": "java.lang.RuntimeException: boom\n\tat x.y(Z.java:1)", "exceptionHistory": {"entries": []}},
         "java.lang.RuntimeException: boom"),
        ({"exceptionHistory": {"entries": []}, "all-exceptions": []}, None),
        ({}, None),
    ],
)
def test_root_exception(doc, root) -> None:
    assert root_exception(doc) == root


def test_innermost_exception_is_one_line_and_bounded() -> None:
    assert innermost_exception("no exception here\nsecond line") == "no exception here"
    assert innermost_exception("java.lang.Error") == "java.lang.Error"
    long = innermost_exception("java.lang.RuntimeException: " + "x" * 1000)
    assert len(long) == 400 and long.endswith("…") and "\n" not in long


class FakeRest:
    """Flink's REST answers for one job that fails on start (the pure part of `job start`'s wait)."""

    def __init__(self, state: str):
        self.state = state
        self.cancelled: list[str] = []

    def job(self, job_id: str) -> dict:
        return {"jid": job_id, "state": "CANCELED" if self.cancelled else self.state, "vertices": []}

    def exceptions(self, job_id: str) -> dict:
        return EXCEPTIONS

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)


@pytest.mark.parametrize("state", ["RESTARTING", "RUNNING", "FAILING"])
def test_a_failing_start_is_cancelled_and_names_the_root_exception(state: str) -> None:
    rest = FakeRest(state)
    err = jobs._failed_start(rest, "f" * 32, state, None)  # type: ignore[arg-type]
    assert rest.cancelled == ["f" * 32]
    assert isinstance(err, GaveUpError) and err.exit_code == EXIT_UNHEALTHY
    assert str(err) == f"job order_ingest failed while starting: {ROOT}"
    assert err.hint == ("cancelled to end its restart loop, checkpoints and savepoints kept; "
                        "the whole trace is in 'pipectl local logs jobmanager'")


def test_a_failed_job_is_not_cancelled() -> None:
    rest = FakeRest("FAILED")
    err = jobs._failed_start(rest, "f" * 32, "FAILED", "java.lang.Error: x")  # type: ignore[arg-type]
    assert rest.cancelled == [] and str(err) == "job order_ingest failed while starting: java.lang.Error: x"


def test_status_names_the_root_exception() -> None:
    job = LocalJobFacts(name="order_ingest", id="f" * 32, state="RESTARTING", restarts=7, root_exception=ROOT)
    facts = LocalFlinkFacts(reachable=True, rest_url="http://127.0.0.1:8081", taskmanagers=1, job=job)
    verdict, reasons = judge_local_flink(facts, interval_s=10)
    assert verdict == "degraded"
    assert reasons[0].startswith(f"job order_ingest is RESTARTING (restarts: 7, failed with {ROOT}); ")
    job.state = "CANCELED"
    verdict, reasons = judge_local_flink(facts, interval_s=10)
    assert verdict == "down"
    assert reasons[0].startswith(f"job order_ingest is not running (last state CANCELED, failed with {ROOT}); ")
    assert job.to_dict()["root_exception"] == ROOT
    assert "root_exception" not in LocalJobFacts(name="order_ingest").to_dict()


class RecoveringRest(FakeRest):
    """A job already on the cluster that Flink is restarting (a TaskManager was lost): its states
    over successive polls, then the last one stays."""

    def __init__(self, states: list[str]):
        super().__init__(states[0])
        self.states = list(states)

    def job(self, job_id: str) -> dict:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"jid": job_id, "state": state, "vertices": [{"status": "RUNNING" if state == "RUNNING" else "CREATED"}]}


def test_start_waits_for_a_recovering_job_and_does_not_cancel_it() -> None:
    rest = RecoveringRest(["RESTARTING", "RESTARTING", "RUNNING"])
    info = jobs._existing(rest, {"jid": "j1", "state": "RESTARTING"}, jobs.SILENT)  # type: ignore[arg-type]
    assert (info.state, info.message) == ("RUNNING", "already running (it recovered), nothing to do")
    assert rest.cancelled == []


def test_start_on_a_running_job_changes_nothing() -> None:
    rest = RecoveringRest(["RUNNING"])
    info = jobs._existing(rest, {"jid": "j1", "state": "RUNNING"}, jobs.SILENT)  # type: ignore[arg-type]
    assert (info.state, info.message) == ("RUNNING", "already running, nothing to do")


def test_a_job_that_fails_while_recovering_says_why() -> None:
    rest = RecoveringRest(["RESTARTING", "FAILED"])
    with pytest.raises(GaveUpError) as err:
        jobs._existing(rest, {"jid": "j1", "state": "RESTARTING"}, jobs.SILENT)  # type: ignore[arg-type]
    assert str(err.value) == f"job order_ingest ended as FAILED while recovering: {ROOT}"
    assert rest.cancelled == []


NOT_RUNNING_TRACE = (
    "java.util.concurrent.CompletionException: java.util.concurrent.CompletionException: "
    "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint triggering task Source: kafka_orders[1] "
    "(1/1) of job j1 is not being executed at the moment. Aborting checkpoint. "
    "Failure reason: Not all required tasks are currently running.\n\tat x.y(Z.java:1)"
)


class SavepointRest(RecoveringRest):
    """A job recovering from a lost TaskManager while `job stop` runs: Flink refuses the first
    stop-with-savepoint (a task is not running), the next one completes."""

    def __init__(self, states: list[str], outcomes: list[dict]):
        super().__init__(states)
        self.outcomes = list(outcomes)
        self.triggers: list[str] = []

    def stop_with_savepoint(self, job_id: str, target: str) -> str:
        self.triggers.append(target)
        return f"t{len(self.triggers)}"

    def savepoint_status(self, job_id: str, trigger: str) -> dict:
        return {"status": {"id": "COMPLETED"}, "operation": self.outcomes[int(trigger[1:]) - 1]}


def _stop_with(monkeypatch, rest, tmp_path):
    from types import SimpleNamespace

    written: dict = {}
    monkeypatch.setattr(jobs, "_rest", lambda settings: rest)
    monkeypatch.setattr(jobs, "find_job", lambda settings: {"jid": "j1", "state": "RUNNING"})
    monkeypatch.setattr(jobs, "_write_state", lambda settings, **kw: written.update(kw))
    monkeypatch.setattr(jobs.time, "sleep", lambda s: None)
    info = jobs.stop(SimpleNamespace(state_dir=tmp_path), timeout=30)  # type: ignore[arg-type]
    return info, written


def test_stop_waits_for_a_recovering_job_and_triggers_again(monkeypatch, tmp_path) -> None:
    # seed 417 of the randomized operations test: the job RUNNING with a task on a TaskManager that
    # died, Flink refuses the savepoint; the stop waits for the recovery and triggers again
    refused = {"failure-cause": {"class": "java.util.concurrent.CompletionException", "stack-trace": NOT_RUNNING_TRACE}}
    rest = SavepointRest(["RUNNING", "RESTARTING", "RESTARTING", "RUNNING", "FINISHED"],
                         [refused, {"location": "file:/s/savepoint-1"}])
    info, written = _stop_with(monkeypatch, rest, tmp_path)
    assert (info.state, info.savepoint) == ("STOPPED", "file:/s/savepoint-1")
    assert len(rest.triggers) == 2 and written["savepoint"] == "file:/s/savepoint-1"
    assert rest.cancelled == []


def test_stop_fails_at_once_on_another_savepoint_failure(monkeypatch, tmp_path) -> None:
    broken = {"failure-cause": {"class": "java.io.IOException", "stack-trace": "java.io.IOException: disk full\n\tat a"}}
    rest = SavepointRest(["RUNNING"], [broken])
    with pytest.raises(GaveUpError) as err:
        _stop_with(monkeypatch, rest, tmp_path)
    assert str(err.value) == "stop with savepoint failed: java.io.IOException: java.io.IOException: disk full"
    assert len(rest.triggers) == 1


def test_stop_triggers_again_when_a_task_is_on_a_dead_taskmanager(monkeypatch, tmp_path) -> None:
    # the regression of seed 417 in CI: the JobManager still listed the tasks RUNNING on the killed
    # TaskManager; the trigger failed with RecipientUnreachableException until the heartbeat timed out
    unreachable = {"failure-cause": {"class": "java.util.concurrent.CompletionException", "stack-trace": (
        "org.apache.flink.runtime.checkpoint.CheckpointException: Trigger checkpoint failure.\n"
        "Caused by: org.apache.flink.runtime.rpc.exceptions.RecipientUnreachableException: Could not send message")}}
    rest = SavepointRest(["RUNNING", "RUNNING", "RESTARTING", "RUNNING", "FINISHED"],
                         [unreachable, {"location": "file:/s/savepoint-2"}])
    info, _ = _stop_with(monkeypatch, rest, tmp_path)
    assert (info.state, info.savepoint, len(rest.triggers)) == ("STOPPED", "file:/s/savepoint-2", 2)
