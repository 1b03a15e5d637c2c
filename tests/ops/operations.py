"""The runner: each operation of a sequence done to the real native stack, then its checks.

Every run gets its own state folder, warehouse and ports (the test ports shifted by 50, so that a
session's `native_stack` on the same offset stays untouched), brings the stack up and starts the
job (setup), runs the steps, then the finale: `local up` + `job start` (both idempotent), waits
for consumer lag 0 plus one more completed checkpoint, and compares the counts read from the
Iceberg files with what the producer acknowledged. The first violated invariant stops the run;
the stack is always taken down, and anything left of it is killed by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import (
    TEST_JAVA_OPTS,
    REPO,
    completed_checkpoint_id,
    flink_get,
    iceberg_counts,
    live_jobs,
    records_in_topic,
    wait_checkpoint_after,
    wait_settled,
)
from tests.ops import checks
from tests.ops.generator import AMBIGUOUS, Step

DEADLINE = {"up": 300.0, "down": 300.0, "start": 240.0, "stop": 240.0, "maintain": 420.0, "produce": 300.0,
            "status": 60.0, "verify": 300.0}
FINALE_BURST = 500  # events sent after the finale's start
HEALTHY_WITHIN = 180.0  # a new completed checkpoint after a start, an up or a fault
MALFORMED_RATIO = "0.02"
SHIFT = 50


class OpsFailure(AssertionError):
    """An invariant broke. Its message holds the seed, the whole sequence and the replay command."""


@dataclass
class RunResult:
    seed: int | None
    steps: list[Step]
    log: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failed_step: int | None = None  # index in steps; len(steps) is the finale
    figures: dict = field(default_factory=dict)
    replay_extra: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        lines = [f"seed {self.seed}" if self.seed is not None else "fixed sequence", "sequence:"]
        for i, step in enumerate(self.steps):
            mark = "  <-- FAILED HERE" if i == self.failed_step else ""
            lines.append(f"  {i + 1:2d}. {step}{mark}")
        if self.failed_step == len(self.steps):
            lines.append("  (failed in the finale: up, start, settle, exact counts, verify)")
        lines.append("log:")
        lines += [f"  {entry}" for entry in self.log]
        if self.violations:
            lines.append("violations:")
            lines += [f"  - {v}" for v in self.violations]
        if self.seed is not None:
            lines.append(f"replay: .venv/bin/python -m tests.ops --seed {self.seed} --steps {len(self.steps)}"
                         + self.replay_extra)
        else:
            lines.append("replay: .venv/bin/python -m tests.ops --sequence '" + "; ".join(map(str, self.steps)) + "'")
        return "\n".join(lines)


def ops_env(root: Path) -> dict:
    offset = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0")) + SHIFT
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_") and k != "DEPLOYMENT_ENV"}
    env.update(
        PIPECTL_LOCAL_KAFKA_PORT=str(29092 + offset),
        PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT=str(29093 + offset),
        PIPECTL_LOCAL_FLINK_PORT=str(28081 + offset),
        PIPECTL_LOCAL_FLINK_RPC_PORT=str(26123 + offset),
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",  # the run's folders are its own, under /tmp
        **TEST_JAVA_OPTS,
        PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3",
        PIPECTL_PIPELINE_TOPIC="orders.created.v1",
        PIPECTL_PIPELINE_TABLE="orders",
        PIPECTL_PIPELINE_REJECTED_TABLE="orders_rejected",
        PIPECTL_PIPELINE_CONSUMER_GROUP="pipectl-order-ingest",
    )
    return env


class Violation(Exception):
    pass


class Runner:
    def __init__(self, result: RunResult, root: Path, echo: bool):
        self.r = result
        self.root = root
        self.env = ops_env(root)
        self.state = self.env["PIPECTL_LOCAL_STATE_DIR"]
        self.warehouse = self.env["PIPECTL_LOCAL_WAREHOUSE"]
        self.echo = echo
        self.valid = 0
        self.malformed = 0
        self.exact = True  # False once a burst reports deliveries it could not confirm
        self.savepoints: list[tuple[str, int]] = []  # (path, rows in the table when it was taken)
        self.job_running = False

    # ------------------------------------------------------------------ plumbing
    def note(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        self.r.log.append(line)
        if self.echo:
            print(line, flush=True)

    def cli(self, *args: str, kind: str, must_succeed: bool = True, json_out: bool = True) -> checks.Outcome:
        argv = [*args, "--output", "json"] if json_out else list(args)
        out = checks.run_cli(self.env, REPO, argv, DEADLINE[kind])
        self.note("  " + out.brief())
        self.fail_if(checks.command_violations(out, must_succeed))
        return out

    def fail_if(self, found: list[str]) -> None:
        if found:
            self.r.violations += found
            raise Violation(found[0])

    def rows(self) -> int:
        return iceberg_counts(self.warehouse, "orders")[0]

    def job_id(self) -> str | None:
        running = [j for j in live_jobs(self.env) if j["state"] == "RUNNING"]
        return running[0]["jid"] if running else None

    def checkpoint_now(self) -> tuple[str | None, int | None]:
        """The live job and its latest completed checkpoint, also while it is RESTARTING after a
        fault: "a NEW checkpoint" afterwards must be newer than any taken before the fault
        (seed 417 passed a stale id when only a RUNNING job counted)."""
        try:
            live = live_jobs(self.env)
            jid = live[0]["jid"] if len(live) == 1 else self.job_id()
            return jid, (completed_checkpoint_id(self.env, jid) if jid else None)
        except OSError:
            return None, None

    def expect_job_healthy(self, job_id: str | None, after: int | None, what: str) -> None:
        """The job RUNNING, the only live one, and a NEW completed checkpoint (id > after)."""
        t0 = time.monotonic()
        try:
            jobs = live_jobs(self.env)
        except OSError as exc:
            self.fail_if([f"after {what}: the JobManager does not answer: {exc}"])
            return
        if len(jobs) != 1:
            self.fail_if([f"after {what}: {len(jobs)} live jobs on the cluster: {[(j['jid'], j['state']) for j in jobs]}"])
        jid = job_id or jobs[0]["jid"]
        if after is None:
            # a restored job counts on from its savepoint's id: NEW means greater than the restored one
            try:
                restored = (flink_get(self.env, f"/jobs/{jid}/checkpoints").get("latest") or {}).get("restored")
            except OSError:
                restored = None
            after = restored["id"] if restored else None
        try:
            cp = wait_checkpoint_after(self.env, jid, after, HEALTHY_WITHIN)
        except AssertionError as exc:
            self.fail_if([f"after {what}: job not healthy: {exc}"])
            return
        self.note(f"  job {jid[:8]} healthy: checkpoint {cp} (> {after}) after {time.monotonic() - t0:.1f}s")

    def expect_stack_healthy(self, what: str) -> None:
        status = self.cli("local", "status", kind="status", must_succeed=False)
        self.fail_if([f"after {what}: {v}" for v in checks.stack_violations(self.state, status)])

    def remember_savepoint(self, path: str | None) -> None:
        if path:
            self.savepoints.append((path, self.rows()))
            self.note(f"  savepoint {Path(path).name} taken with {self.savepoints[-1][1]} rows in the table")

    def job_json_savepoint(self) -> str | None:
        try:
            return json.loads((Path(self.state) / "job.json").read_text()).get("savepoint")
        except (OSError, ValueError):
            return None

    def produce(self, n: int, seed: int, background: bool = False):
        argv = [sys.executable, "-m", "pipectl", "produce", "orders", "--count", str(n), "--seed", str(seed),
                "--rate", "1000" if background else "max", "--malformed-ratio", MALFORMED_RATIO,
                "--delivery-timeout", "120s", "--output", "json"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                                cwd=REPO, start_new_session=True)
        return proc if background else self.collect(proc, n)

    def collect(self, proc: subprocess.Popen, n: int) -> None:
        t0 = time.monotonic()
        try:
            out, err = proc.communicate(timeout=DEADLINE["produce"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            self.fail_if([f"produce of {n} hung past its {DEADLINE['produce']:.0f}s deadline"])
            return
        outcome = checks.Outcome(("produce", "orders"), proc.returncode, out, err, time.monotonic() - t0,
                                 DEADLINE["produce"])
        self.fail_if(checks.command_violations(outcome, must_succeed=False))
        summary = outcome.json()
        if proc.returncode == 0 and summary.get("acked") == n and summary.get("failed") == 0:
            self.valid += summary["valid"]
            self.malformed += summary["malformed"]
            self.note(f"  produced {n}: {summary['valid']} valid + {summary['malformed']} malformed, all acknowledged")
        else:
            # which of the unconfirmed ones were valid is unknown: the end compares with the topic
            self.exact = False
            self.note(f"  produced {n}: NOT all acknowledged (exit {proc.returncode}, "
                      f"{ {k: summary.get(k) for k in ('sent', 'acked', 'failed')} }, {outcome.error_line()!r}); "
                      "the end check compares with the topic's records")

    def kill(self, names: tuple[str, ...]) -> None:
        for name in names:
            pid = checks.pid_file(self.state, name)
            if pid and checks.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.note(f"  kill -9 {', '.join(names)}")

    # ------------------------------------------------------------------ the operations
    def op_produce(self, step: Step) -> None:
        self.produce(int(step.arg("n")), int(step.arg("seed")))

    def op_job_stop(self, step: Step) -> None:
        out = self.cli("job", "stop", kind="stop")
        doc = out.json()
        if doc.get("state") != "STOPPED":
            self.fail_if([f"job stop: state {doc.get('state')!r}, expected STOPPED: {doc}"])
        self.job_running = False
        self.remember_savepoint(doc.get("savepoint"))

    def op_job_start(self, step: Step) -> None:
        before_jid, before_cp = self.checkpoint_now()
        out = self.cli("job", "start", kind="start")
        doc = out.json()
        if doc.get("state") != "RUNNING":
            self.fail_if([f"job start: state {doc.get('state')!r}: {doc}"])
        jid = doc.get("job_id")
        self.note(f"  job {str(jid)[:8]} {doc.get('message')}, restored from {doc.get('restored_from')}")
        self.expect_job_healthy(jid, before_cp if jid == before_jid else None, "job start")
        self.job_running = True

    def op_job_start_stale(self, step: Step) -> None:
        if len(self.savepoints) < 2:
            self.note(f"  skipped: {len(self.savepoints)} savepoint(s) taken in this run, a stale start needs 2")
            return
        path, rows_then = self.savepoints[0]
        rows_now = self.rows()
        out = self.cli("job", "start", "--from-savepoint", path.removeprefix("file:"), kind="start",
                       must_succeed=False)
        if rows_now > rows_then:
            # the table holds commits newer than this savepoint: resuming would store them twice
            if out.returncode != 1 or "already holds" not in out.error_line():
                self.fail_if([f"a savepoint older than the table ({rows_then} rows then, {rows_now} now) was not "
                              f"refused: {out.brief()}"])
            try:
                jobs = live_jobs(self.env)
            except OSError:
                jobs = []
            if jobs:
                self.fail_if([f"refused stale start left jobs on the cluster: {jobs}"])
        elif out.returncode == 0:
            # nothing newer in the table: resuming is legitimate; stop again to keep the model's state
            self.note(f"  accepted: the table holds no rows newer than it ({rows_now})")
            self.expect_job_healthy(out.json().get("job_id"), None, "job start --from-savepoint")
            self.op_job_stop(step)

    def op_local_down(self, step: Step) -> None:
        before = self.job_json_savepoint()
        out = self.cli("local", "down", kind="down", json_out=False)
        self.fail_if(checks.down_violations(self.state))
        after = self.job_json_savepoint()
        if "stopped with savepoint" in out.stdout and after and after != before:
            self.remember_savepoint(after)
        self.job_running = False

    def op_local_up(self, step: Step, what: str = "local up") -> None:
        jid, cp = self.checkpoint_now()
        self.cli("local", "up", kind="up", json_out=False)
        self.expect_stack_healthy(what)
        if self.job_running:
            # a job that survived (Kafka or the TaskManager died): it must checkpoint again
            self.expect_job_healthy(None, cp if jid and jid == self.checkpoint_now()[0] else None, what)

    def op_kill(self, step: Step) -> None:
        target = step.arg("target")
        names = {"taskmanager": ("taskmanager",), "jobmanager": ("jobmanager",), "kafka": ("kafka",),
                 "all": ("tm-supervisor", "taskmanager", "jobmanager", "kafka")}[target]
        jid, cp = self.checkpoint_now()
        self.kill(names)
        if target in ("jobmanager", "all"):
            self.job_running = False
        if target == "taskmanager" and jid:
            # the supervisor brings it back and the job recovers by itself
            self.expect_job_healthy(jid, cp, "kill -9 of the TaskManager")

    def op_broker_restart(self, step: Step) -> None:
        n = int(step.arg("n"))
        base = records_in_topic(self.env)
        proc = self.produce(n, int(step.arg("seed")), background=True)
        try:
            # kill the broker once the producer is sending (its records reach the topic)
            deadline = time.monotonic() + 60
            while records_in_topic(self.env) < base + min(300, n // 4) and time.monotonic() < deadline:
                time.sleep(0.3)
            self.kill(("kafka",))
            time.sleep(3)
            self.op_local_up(step, "the broker restart")
        except Violation:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        self.collect(proc, n)

    def op_maintain(self, step: Step) -> None:
        jid, cp = self.checkpoint_now()
        self.cli("maintain", "--retain-last", "1", "--older-than", "0", kind="maintain", must_succeed=False)
        if self.job_running and jid:
            self.expect_job_healthy(jid, cp, "maintain while the job runs")

    def op_up_in_backoff(self, step: Step) -> None:
        """kill -9 of the TaskManager, once more as soon as the supervisor brought it back (a quick
        failure doubles the supervisor's delay to 4 s), then `local up` 1 s later: inside the back-off.
        When `up` returns, the TaskManager's process must be alive (not merely registered)."""
        jid, cp = self.checkpoint_now()  # before the fault: the job must checkpoint after it
        first = checks.pid_file(self.state, "taskmanager")
        self.kill(("taskmanager",))
        deadline = time.monotonic() + 30
        while checks.pid_file(self.state, "taskmanager") == first and time.monotonic() < deadline:
            time.sleep(0.2)
        self.kill(("taskmanager",))
        time.sleep(1)
        up = self.cli("local", "up", kind="up", json_out=False)
        pid = checks.pid_file(self.state, "taskmanager")
        alive = pid is not None and checks.pid_alive(pid)
        java = checks.census(self.state)["taskmanager"]
        said = next((ln.strip() for ln in up.stdout.splitlines() if ln.strip().startswith("taskmanager:")), "")
        self.note(f"  up said {said!r}; when it returned: pid file {pid} ({'alive' if alive else 'dead'}), "
                  f"TaskManager JVMs {java}")
        if not alive or not java:
            self.fail_if([f"local up in the supervisor's back-off returned ({said!r}) with no TaskManager JVM running "
                          f"(its pid file names {pid}, {'alive: the supervisor is only now restarting it' if alive else 'dead'})"])
        self.expect_stack_healthy("local up in the supervisor's back-off")
        if self.job_running:
            self.expect_job_healthy(None, cp if jid and jid == self.checkpoint_now()[0] else None,
                                    "local up in the supervisor's back-off")

    def op_concurrent(self, step: Step) -> None:
        pair = (step.arg("a").replace("_", " "), step.arg("b").replace("_", " "))
        kinds = {"job stop": "stop", "job start": "start", "local up": "up", "local down": "down",
                 "maintain": "maintain"}
        extra = {"maintain": ["--retain-last", "1", "--older-than", "0"]}
        outcomes: list[checks.Outcome] = [None, None]  # type: ignore[list-item]

        def run(i: int, cmd: str) -> None:
            outcomes[i] = checks.run_cli(self.env, REPO, [*cmd.split(), *extra.get(cmd, []), "--output", "json"],
                                         DEADLINE[kinds[cmd]])

        threads = [threading.Thread(target=run, args=(i, cmd)) for i, cmd in enumerate(pair)]
        for t in threads:
            t.start()
            time.sleep(0.3)
        for t in threads:
            t.join()
        found = []
        for out in outcomes:
            self.note("  " + out.brief() + " (at the same time)")
            found += checks.command_violations(out, must_succeed=False)
        self.fail_if(found)
        try:
            jobs = live_jobs(self.env)
        except OSError:
            jobs = []
        if len(jobs) > 1:
            self.fail_if([f"two commands at once left {len(jobs)} live jobs: {[(j['jid'], j['state']) for j in jobs]}"])
        for out in outcomes:
            if out.args[:2] == ("job", "stop"):
                self.remember_savepoint(out.json().get("savepoint"))
        if pair in AMBIGUOUS:
            self.job_running = False  # decided by the two steps below
            self.op_local_up(step, "local up after two commands at once")
            self.op_job_start(step)
        elif "job stop" in pair:
            self.job_running = False
            if jobs:
                self.fail_if([f"after {' and '.join(pair)}: a job still runs: {jobs}"])
        elif "job start" in pair:
            self.job_running = True
            self.expect_job_healthy(None, None, " and ".join(pair))
        else:
            self.expect_stack_healthy(" and ".join(pair))

    # ------------------------------------------------------------------ setup, finale, teardown
    def setup(self) -> None:
        self.note("setup: local up, job start")
        self.op_local_up(Step("local_up"), "setup's local up")
        self.op_job_start(Step("job_start"))

    def finale(self) -> None:
        self.note("finale: local up, job start, settle, exact counts, verify")
        self.op_local_up(Step("local_up"), "the finale's local up")
        self.op_job_start(Step("job_start"))
        # a last burst after the whole sequence: the restored job must still take data in and commit
        # it (RUNNING is not healthy), and `verify` has rows to judge even when the sequence drew no
        # burst (seed 423: verify said "table is empty", exit 3)
        self.produce(FINALE_BURST, (self.r.seed if self.r.seed is not None else 999) * 1000 + 999)
        try:
            settled = wait_settled(self.env, timeout=300)
        except AssertionError as exc:
            self.fail_if([f"finale: {exc}"])
            return
        self.note(f"  settled: lag 0 at checkpoint {settled['lag_zero_checkpoint']}, "
                  f"then checkpoint {settled['settled_checkpoint']} ({settled['waited_s']}s)")
        rows, distinct = iceberg_counts(self.warehouse, "orders")
        quarantined, _ = iceberg_counts(self.warehouse, "orders_rejected")
        got = {"rows": rows, "distinct": distinct, "quarantined": quarantined, "topic_records": records_in_topic(self.env)}
        expect = {"exact": self.exact, "valid": self.valid, "malformed": self.malformed}
        self.r.figures.update(expected=expect, got=got)
        self.note(f"  counts: expected {expect}, read back {got}")
        self.fail_if(checks.end_violations(expect, got))
        out = self.cli("verify", kind="verify")
        if out.json().get("complete") is not True:
            self.fail_if([f"verify does not say complete: {out.stdout[-800:]}"])

    def diagnose(self) -> None:
        """The JobManager's last distinct exception lines, for the report of a failed run."""
        seen: list[str] = []
        for log in sorted((Path(self.state) / "logs" / "flink").glob("*standalonesession*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if "Exception" in line and not line.startswith(("\t", " ")):
                    text = line.split(" - ", 1)[-1][:300]
                    if text in seen:
                        seen.remove(text)
                    seen.append(text)
        for text in seen[-3:]:
            self.note(f"jobmanager log: {text}")

    def teardown(self) -> None:
        if self.r.violations:
            # a job in a restart loop would hold `local down` at its savepoint wait: cancel it first
            out = checks.run_cli(self.env, REPO, ["job", "stop", "--no-savepoint"], 90)
            self.note("teardown: " + out.brief())
        out = checks.run_cli(self.env, REPO, ["local", "down"], DEADLINE["down"])
        self.note("teardown: " + out.brief())
        left = checks.census(self.state)
        for role, pids in left.items():
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                self.note(f"teardown: killed {role} {pid} (left after local down)")


def run_sequence(
    steps: list[Step], seed: int | None = None, echo: bool = False, keep: bool = False, replay_extra: str = ""
) -> RunResult:
    """Run setup, the steps and the finale; never raises for a violation (see RunResult.ok)."""
    result = RunResult(seed, steps, replay_extra=replay_extra)
    root = Path(tempfile.mkdtemp(prefix="pipectl-ops-"))
    runner = Runner(result, root, echo)
    t0 = time.monotonic()
    index = -1
    try:
        runner.setup()
        for index, step in enumerate(steps):
            runner.note(f"step {index + 1}: {step}")
            getattr(runner, f"op_{step.op}")(step)
        index = len(steps)
        runner.finale()
    except Violation:
        result.failed_step = index if index >= 0 else None
        runner.diagnose()
    except Exception as exc:  # noqa: BLE001 - a bug of the harness itself: reported as such, the stack still torn down
        import traceback

        result.violations.append(f"HARNESS ERROR (not a finding): {type(exc).__name__}: {exc}")
        result.failed_step = index if index >= 0 else None
        runner.note("harness error:\n" + traceback.format_exc())
    finally:
        runner.teardown()
        result.figures["seconds"] = round(time.monotonic() - t0, 1)
        if keep or (result.violations and os.environ.get("PIPECTL_OPS_KEEP_FAILED", "1") != "0"):
            # a failed run keeps its state folder (logs of every component) for the diagnosis;
            # PIPECTL_OPS_KEEP_FAILED=0 removes it like a passing one
            runner.note(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return result
