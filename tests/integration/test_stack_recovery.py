"""`local up` after a crash, and commands that run at the same time (issue 25, sections 2 and 4),
on a real native stack of this module's own: its own state folder and ports (the session's
stack is left alone, and `local down` here cannot stop it).

(a) issue 25 scenario 2 exactly: kill -9 of the TaskManager while the job runs, `local up` two
    seconds later, inside the supervisor's back-off: it never says "found running" for the dead
    TaskManager, returns 0 only once a live TaskManager is registered, the job completes a
    checkpoint with a new id afterwards, and the counts read back from the Iceberg files are exact.
(b) two `job start`s at once: exactly one job is submitted.
(c) `local up` while `local down` runs: afterwards every process of the stack has a pid file and
    every pid file names a live process (no orphan, no stale record).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import (
    REPO,
    TEST_JAVA_OPTS,
    TEST_PORTS,
    iceberg_counts,
    run_json,
    run_pipectl,
    scenario_env,
    wait_for,
)

pytestmark = pytest.mark.e2e

OWN_PORTS = {key: str(int(value) + 50) for key, value in TEST_PORTS.items()}  # beside the session's stack
RUN_FILES = ("kafka", "jobmanager", "tm-supervisor", "taskmanager")


# ---------------------------------------------------------------------------------- fixture, helpers
@pytest.fixture(scope="module")
def own_stack(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("recovery")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("PIPECTL_") or k == "DEPLOYMENT_ENV")}
    env.update(OWN_PORTS)
    env.update(TEST_JAVA_OPTS)
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",  # the stack's folders are the test's own
        PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S="3",
    )
    up = run_pipectl(env, "local", "up", timeout=400)
    if up.returncode != 0:
        run_pipectl(env, "local", "down")
        pytest.fail(f"local up failed ({up.returncode}): {up.stderr[-3000:]}")
    try:
        yield env
    finally:
        down = run_pipectl(env, "local", "down", timeout=400)
        assert down.returncode == 0, down.stderr
        assert not stack_processes(env), "processes left after local down"


def rest(env: dict, path: str):
    url = f"http://127.0.0.1:{env['PIPECTL_LOCAL_FLINK_PORT']}{path}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def active_jobs(env: dict) -> list[dict]:
    return [
        j for j in rest(env, "/jobs/overview")["jobs"]
        if j["name"] == "order_ingest" and j["state"] not in ("FINISHED", "CANCELED", "FAILED")
    ]


def latest_checkpoint_id(env: dict, job_id: str) -> int:
    completed = (rest(env, f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed")
    return int(completed["id"]) if completed else 0


def run_dir(env: dict) -> Path:
    return Path(env["PIPECTL_LOCAL_STATE_DIR"]) / "run"


def pid_of(env: dict, name: str) -> int:
    return json.loads((run_dir(env) / f"{name}.json").read_text())["pid"]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stack_processes(env: dict) -> dict[int, str]:
    """Every live process whose command line names this module's state folder (Kafka's
    server.properties, Flink's log files, the supervisor's run folder)."""
    state = str(Path(env["PIPECTL_LOCAL_STATE_DIR"]).resolve())
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state in line and alive(int(proc.name)):
            found[int(proc.name)] = line[:160]
    return found


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on, from /proc (its socket inodes in /proc/net/tcp*)."""
    inodes = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] == "0A":
                inodes[f"socket:[{cols[9]}]"] = int(cols[1].rsplit(":", 1)[1], 16)
    ports = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link in inodes:
            ports.add(inodes[link])
    return ports


def produce(env: dict, count: int, seed: int, rate: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipectl", "produce", "orders", "--count", str(count), "--rate", rate,
         "--malformed-ratio", "0.02", "--seed", str(seed), "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )


def read_table(env: dict, table: str) -> tuple[int, int]:
    """(rows, distinct event ids) of a table, read from its files with pyiceberg."""
    return iceberg_counts(env["PIPECTL_LOCAL_WAREHOUSE"], table)


def stop_jobs(env: dict) -> None:
    for job in active_jobs(env):
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{env['PIPECTL_LOCAL_FLINK_PORT']}/jobs/{job['jid']}?mode=cancel", method="PATCH"
            ),
            timeout=10,
        ).close()
    wait_for(lambda: not active_jobs(env), 120, "no active order_ingest job")


# ---------------------------------------------------------------------------------- (a)
def test_local_up_inside_the_supervisors_backoff_brings_back_a_live_taskmanager(own_stack):
    env = scenario_env(own_stack, "tmbackoff")
    figures: dict = {}
    stop_jobs(env)
    assert run_pipectl(env, "local", "up").returncode == 0  # this scenario's topic
    code, started = run_json(env, "job", "start")
    assert code == 0 and started["message"] == "started", started
    job_id = started["job_id"]
    producer = produce(env, 12_000, 2501, "400")
    try:
        wait_for(lambda: read_table(env, env["PIPECTL_PIPELINE_TABLE"])[0] >= 1500, 240, "1,500 rows")
        old_tm, supervisor = pid_of(env, "taskmanager"), pid_of(env, "tm-supervisor")
        assert alive(old_tm) and alive(supervisor)
        checkpoint_before = latest_checkpoint_id(env, job_id)
        assert checkpoint_before >= 1

        os.kill(old_tm, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: not alive(old_tm), 10, "the TaskManager to die")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - killed)))
        # the JobManager still lists the dead TaskManager: its heartbeat has not timed out (20 s)
        figures["registered_at_up"] = len(rest(env, "/taskmanagers")["taskmanagers"])

        up = run_pipectl(env, "local", "up", timeout=300)
        figures["up_s"] = round(time.monotonic() - killed - 2, 1)
        assert up.returncode == 0, up.stderr
        assert "taskmanager: found running" not in up.stdout, up.stdout
        tm_lines = [line for line in up.stdout.splitlines() if "taskmanager:" in line]
        figures["up_said"] = tm_lines
        assert any(
            "its supervisor starts it again" in line or "runs but has not registered yet, waiting for it" in line
            for line in tm_lines
        ), up.stdout + up.stderr
        assert "kafka: found running, reusing it" in up.stdout and "jobmanager: found running, reusing it" in up.stdout

        # what up returned on: a live TaskManager, the one the JobManager has registered, with slots
        new_tm = pid_of(env, "taskmanager")
        assert new_tm != old_tm and alive(new_tm) and pid_of(env, "tm-supervisor") == supervisor
        ports = listening_ports(new_tm)
        live = [tm for tm in rest(env, "/taskmanagers")["taskmanagers"] if tm["dataPort"] in ports]
        assert len(live) == 1 and live[0]["slotsNumber"] >= 1, (ports, rest(env, "/taskmanagers"))
        code, status = run_json(env, "local", "status")
        tm = next(c for c in status["components"] if c["name"] == "taskmanager")
        assert code == 0 and tm["healthy"] is True and tm["pid"] == new_tm, status

        # the job recovers on it: a checkpoint with a new id completes after the restart
        at_up = latest_checkpoint_id(env, job_id)
        newer = wait_for(
            lambda: (cid := latest_checkpoint_id(env, job_id)) > max(at_up, checkpoint_before) and cid,
            240,
            "a checkpoint after the restart",
        )
        figures.update(checkpoint_before=checkpoint_before, checkpoint_at_up=at_up, checkpoint_after=newer)
        assert [j["jid"] for j in active_jobs(env)] == [job_id]

        out, err = producer.communicate(timeout=300)
        assert producer.returncode == 0, err[-2000:]
        sent = json.loads(out)
        assert sent["acked"] == 12_000 and sent["failed"] == 0, sent
        valid, malformed = sent["valid"], sent["malformed"]
        code, report = run_json(env, "verify", "--expect-rows", str(valid), "--timeout", "240")
        assert code == 0 and report["complete"] is True, report
        # one more checkpoint after all rows are in: a duplicate committed late would show
        last = latest_checkpoint_id(env, job_id)
        wait_for(lambda: latest_checkpoint_id(env, job_id) > last, 120, "one more checkpoint")
        rows, distinct = read_table(env, env["PIPECTL_PIPELINE_TABLE"])
        quarantined, _ = read_table(env, env["PIPECTL_PIPELINE_REJECTED_TABLE"])
        figures.update(valid=valid, malformed=malformed, rows=rows, distinct=distinct, quarantined=quarantined)
        assert (rows, distinct, quarantined) == (valid, valid, malformed), figures
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
        stop_jobs(env)
    print(f"\n[tmbackoff] {json.dumps(figures)}")


def test_local_up_waits_for_a_supervisor_that_backs_off_and_says_so(own_stack):
    """The supervisor's back-off made long (SIGSTOP, as if it slept on): `local up` finds the
    TaskManager dead and its supervisor alive, says it waits for the supervisor's restart, and
    does not return before the TaskManager the supervisor starts has registered."""
    env = own_stack
    stop_jobs(env)
    old_tm, supervisor = pid_of(env, "taskmanager"), pid_of(env, "tm-supervisor")
    restarts_file = run_dir(env) / "taskmanager-restarts.json"
    before = json.loads(restarts_file.read_text())["restarts"] if restarts_file.is_file() else 0
    os.kill(old_tm, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while not (restarts_file.is_file() and json.loads(restarts_file.read_text())["restarts"] == before + 1):
        assert time.monotonic() < deadline, "the supervisor did not see the crash"
        time.sleep(0.02)
    os.kill(supervisor, signal.SIGSTOP)  # within its back-off (2 s at least): the TaskManager stays dead
    assert not alive(pid_of(env, "taskmanager"))
    up = subprocess.Popen(
        [sys.executable, "-m", "pipectl", "local", "up"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        said = []
        assert up.stderr is not None
        for line in up.stderr:
            said.append(line.rstrip())
            if "taskmanager:" in line:
                break
        expected = re.compile(
            rf"… taskmanager: not running; its supervisor starts it again( in \d+s)? \(restart {before + 1}\), "
            "waiting for it"
        )
        assert said and expected.fullmatch(said[-1]), said
        time.sleep(3)
        assert up.poll() is None, "local up returned while no TaskManager ran"
    finally:
        os.kill(supervisor, signal.SIGCONT)
    out, err = up.communicate(timeout=300)
    assert up.returncode == 0, err
    assert "taskmanager: not running; its supervisor starts it again" in out, out
    new_tm = pid_of(env, "taskmanager")
    assert new_tm != old_tm and alive(new_tm) and pid_of(env, "tm-supervisor") == supervisor
    ports = listening_ports(new_tm)
    assert [tm["dataPort"] for tm in rest(env, "/taskmanagers")["taskmanagers"] if tm["dataPort"] in ports]


# ---------------------------------------------------------------------------------- (b)
def test_two_job_starts_at_once_submit_one_job(own_stack):
    env = scenario_env(own_stack, "twostarts")
    stop_jobs(env)
    assert run_pipectl(env, "local", "up").returncode == 0
    try:
        starts = [
            subprocess.Popen(
                [sys.executable, "-m", "pipectl", "job", "start", "--output", "json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=400), *p.communicate()) for p in starts]
        for code, out, err in results:
            assert code == 0 or (code == 7 and "is in use by `pipectl job start`" in err), (code, out, err)
        done = [json.loads(out) for code, out, _ in results if code == 0]
        messages = sorted(d["message"] for d in done)
        assert messages in (["already running, nothing to do", "started"], ["started"]), results
        jobs = active_jobs(env)
        assert len(jobs) == 1, jobs
        assert all(d["job_id"] == jobs[0]["jid"] for d in done), (done, jobs)
        # the one that came second waited for the first, and said so
        second = next(err for code, out, err in results if code == 7 or "already running" in out)
        assert "waiting for `pipectl job start` (pid " in second or "is in use by" in second, second
    finally:
        stop_jobs(env)


# ---------------------------------------------------------------------------------- (c)
def test_local_up_while_local_down_runs_leaves_no_orphan(own_stack):
    env = own_stack
    stop_jobs(env)
    lock_file = Path(env["PIPECTL_LOCAL_STATE_DIR"]) / ".lock"
    down = subprocess.Popen(
        [sys.executable, "-m", "pipectl", "local", "down"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    up = None
    try:
        wait_for(lambda: "pipectl local down" in lock_file.read_text(), 60, "local down to hold the lock")
        # `down` is paused while it holds the lock, so that `up` surely comes while it runs (without the
        # pause, a quick `down` could be done before `up` has started, and the test would prove nothing)
        os.kill(down.pid, signal.SIGSTOP)
        up = subprocess.Popen(
            [sys.executable, "-m", "pipectl", "local", "up"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        up_err: list[str] = []
        reader = threading.Thread(target=lambda: up_err.extend(up.stderr), daemon=True)
        reader.start()
        wait_for(lambda: any("waiting for `pipectl local down`" in line for line in up_err), 120,
                 "local up to wait for local down")
        os.kill(down.pid, signal.SIGCONT)
        down_out, down_err = down.communicate(timeout=300)
        up_out = up.stdout.read()
        up.wait(timeout=600)
        reader.join(timeout=30)
    finally:
        for proc in (down, up):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait()
    assert down.returncode == 0, down_err
    for name in ("taskmanager", "jobmanager", "kafka"):
        assert f"{name}: stopped" in down_out, down_out
    stderr = "".join(up_err)
    assert up.returncode == 0, stderr
    assert f"waiting for `pipectl local down` (pid {down.pid}" in stderr, stderr
    for name in ("kafka", "jobmanager", "taskmanager"):  # up ran after down had finished
        assert f"{name}: started" in up_out, up_out

    recorded = {pid_of(env, name): name for name in RUN_FILES}
    assert all(alive(pid) for pid in recorded), recorded  # no stale pid file
    running = stack_processes(env)
    assert set(running) == set(recorded), (running, recorded)  # no orphan: every process is recorded
    code, status = run_json(env, "local", "status")
    assert code == 0 and all(c["healthy"] for c in status["components"]), status
