"""When the rehearsed job can move data, and the one line that says why it cannot.

RUNNING is not healthy. The rehearsal passes when the job runs without a single failure, its
Kafka source has its partitions assigned (the enumerator reached the broker through IAM auth)
and its consumer authenticated, and a checkpoint completed after that (the Iceberg committer
ran against S3 Tables). A failure ends the wait at once: on the service Flink would restart
the job forever while the application shows RUNNING.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipectl.errors import PipectlError, UnhealthyError
from pipectl.flink.rest import FlinkRest
from pipectl.wait import wait_until

JOB_ID_RE = re.compile(r"JobID ([0-9a-f]{32})")
CLASS_VERSION_RE = re.compile(
    r"UnsupportedClassVersionError: (?P<cls>\S+) has been compiled by a more recent version of the Java Runtime "
    r"\(class file version (?P<found>[\d.]+)\), this version of the Java Runtime only recognizes class file "
    r"versions up to (?P<max>[\d.]+)"
)
JAVA_RELEASE = {"55.0": "Java 11", "61.0": "Java 17", "65.0": "Java 21", "52.0": "Java 8"}
CAUSE_RE = re.compile(r"^(?:Caused by: )?([\w.$]+(?:Exception|Error)\b.*)$")
ASSIGNED = "KafkaConsumer.assigned-partitions"
AUTHENTICATED = "KafkaConsumer.successful-authentication-total"


class JavaVersionError(PipectlError):
    """A class in the artifact is newer than the Java 11 that Managed Flink runs."""


@dataclass
class Flowing:
    """Evidence that data can flow."""

    job_id: str
    checkpoint_id: int
    assigned_partitions: int
    authentications: int
    vertices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "checkpoint_id": self.checkpoint_id,
            "assigned_partitions": self.assigned_partitions,
            "authentications": self.authentications,
        }


def class_version_error(text: str) -> JavaVersionError | None:
    m = CLASS_VERSION_RE.search(text)
    if m is None:
        return None
    cls = m.group("cls").replace("/", ".")
    found = m.group("found")
    release = JAVA_RELEASE.get(found, f"class file version {found}")
    return JavaVersionError(
        f"{cls} is {release} bytecode (class file version {found}); Managed Flink runs Java 11 "
        f"(up to {m.group('max')}): the job fails with UnsupportedClassVersionError, as a deploy would",
        hint="build every class for Java 11 (major 55): pin a dependency version built for Java 11 and rebuild",
    )


def root_cause(trace: str) -> str:
    """The deepest 'Caused by' line of a Java stack trace (or its first line)."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by: ")]
    line = causes[-1].removeprefix("Caused by: ") if causes else (lines[0] if lines else "unknown failure")
    return line[:400]


def submit_error(output: str, returncode: int, log: str = "", timeout: float = 0) -> PipectlError:
    """The one line for a failed `flink run` of the entry point."""
    found = class_version_error(output)
    if found is not None:
        return found
    if returncode == -1 and job_id(output):
        return UnhealthyError(
            f"streaming_job.py submitted the job but did not return within {timeout:.0f}s: main() must return on Managed Flink",
            hint="do not wait on the TableResult when DEPLOYMENT_ENV=aws",
        )
    if returncode == -1:
        return UnhealthyError(
            f"streaming_job.py did not submit the job within {timeout:.0f}s",
            hint=f"the machine may be busy: raise rehearse.start_timeout_s; its output so far is in {log or 'the submit log'}",
        )
    job_errors = [
        line.removeprefix("error: ").removeprefix("JobConfigError: ")
        for line in output.splitlines()
        if line.startswith(("error: ", "JobConfigError: "))
    ]
    reason = job_errors[-1] if job_errors else root_cause(output)
    return PipectlError(
        f"the job did not start: {reason}",
        hint=f"the same would happen on Managed Flink; the whole output is in {log or 'the submit log'}",
    )


def job_id(output: str) -> str | None:
    m = JOB_ID_RE.search(output)
    return m.group(1) if m else None


def _failure(rest: FlinkRest, job: str, logs: str) -> PipectlError | None:
    exc = rest.exceptions(job)
    history = (exc.get("exceptionHistory") or {}).get("entries") or []
    traces = [e.get("stacktrace") or "" for e in history]
    if exc.get("root-exception"):
        traces.insert(0, exc["root-exception"])
    if not traces:
        return None
    for trace in traces:
        found = class_version_error(trace)
        if found is not None:
            return found
    return UnhealthyError(
        f"the job failed (Managed Flink would restart it forever): {root_cause(traces[0])}",
        hint=f"the JobManager and TaskManager logs are in {logs or 'the rehearsal logs folder'}",
    )


def _metric_sum(rest: FlinkRest, job: str, vertex: str, suffix: str) -> int:
    ids = [str(m.get("id", "")) for m in rest.subtask_metrics(job, vertex)]
    wanted = [i for i in ids if i.endswith(suffix)]
    if not wanted:
        return 0
    return int(sum(float(v.get("sum") or 0) for v in rest.subtask_metrics(job, vertex, wanted)))


def probe(rest: FlinkRest, job: str, logs: str = "") -> Flowing | PipectlError | None:
    """One look: Flowing when data can flow, an error when the job failed, None when not yet."""
    failure = _failure(rest, job, logs)
    if failure is not None:
        return failure
    detail = rest.job(job)
    if detail.get("state") in ("FAILED", "CANCELED", "FINISHED"):
        return UnhealthyError(
            f"the job is {detail['state']}", hint=f"see the JobManager log in {logs or 'the rehearsal logs folder'}"
        )
    vertices = detail.get("vertices", [])
    if detail.get("state") != "RUNNING" or any(v.get("status") != "RUNNING" for v in vertices):
        return None
    sources = [v["id"] for v in vertices if "Source" in v.get("name", "")]
    assigned = sum(_metric_sum(rest, job, v, ASSIGNED) for v in sources)
    auths = sum(_metric_sum(rest, job, v, AUTHENTICATED) for v in sources)
    completed = rest.checkpoints(job).get("latest", {}).get("completed") or {}
    if assigned < 1 or auths < 1 or not completed:
        return None
    return Flowing(job, int(completed.get("id", 0)), assigned, auths, [v.get("name", "") for v in vertices])


def wait_flowing(rest: FlinkRest, job: str, timeout: float, logs: str, log_tail: Any = None) -> Flowing:
    result = wait_until(
        lambda: probe(rest, job, logs),
        what="the rehearsed job (partitions assigned, consumer authenticated, a checkpoint completed)",
        timeout=timeout,
        interval=2,
        hint=f"see the JobManager and TaskManager logs in {logs}",
        log_tail=log_tail,
    )
    if isinstance(result, PipectlError):
        raise result
    assert isinstance(result, Flowing)  # probe returns a Flowing, a PipectlError or None (keep waiting)
    return result
