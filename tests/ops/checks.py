"""The invariants, each a function that returns what it found wrong (an empty list: holds).

- every command either succeeds or refuses with one `error: ...` line and a documented exit code
  (docs/operations.md), never hangs past its deadline, never prints a traceback;
- after every `up`: each component's process is alive, exactly one of each runs on this state
  folder, `local status` says healthy; after every `start`: the job RUNNING on the cluster, only
  one, and a NEW completed checkpoint;
- at the end: rows = distinct event ids = valid events the producer confirmed; quarantined rows =
  malformed events confirmed; `pipectl verify` says complete. Counts come from the Iceberg files
  (pyiceberg), Flink's REST API and the broker, not from pipectl.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8}  # docs/operations.md; 70 is "an unexpected internal error": a bug
ROLES = {  # a process of this state folder, told apart by its command line
    "kafka": "server.properties",
    "jobmanager": "StandaloneSessionClusterEntrypoint",
    "taskmanager": "TaskManagerRunner",
    "tm-supervisor": "pipectl.stack.supervise",
}


@dataclass
class Outcome:
    """One pipectl command run by the harness."""

    args: tuple[str, ...]
    returncode: int | None  # None: killed at its deadline
    stdout: str
    stderr: str
    seconds: float
    deadline: float

    @property
    def label(self) -> str:
        return "pipectl " + " ".join(a for a in self.args if a not in ("--output", "json"))

    def json(self) -> dict:
        try:
            doc = json.loads(self.stdout)
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def error_line(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]
        return lines[-1] if lines else ""

    def brief(self) -> str:
        if self.returncode is None:
            return f"{self.label}: HUNG (killed at its {self.deadline:.0f}s deadline)"
        tail = f": {self.error_line()}" if self.returncode else ""
        return f"{self.label}: exit {self.returncode} in {self.seconds:.1f}s{tail}"


def command_violations(out: Outcome, must_succeed: bool) -> list[str]:
    found = []
    if out.returncode is None:
        return [f"{out.label} hung past its {out.deadline:.0f}s deadline; stderr tail: {out.stderr[-600:]!r}"]
    if "Traceback (most recent call last)" in out.stdout + out.stderr:
        found.append(f"{out.label} printed a traceback: {out.stderr[-1500:]!r}")
    if out.returncode not in DOCUMENTED_EXIT_CODES:
        found.append(f"{out.label} exited {out.returncode}, not a documented exit code: {out.stderr[-800:]!r}")
    elif out.returncode != 0:
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        if not errors:
            # a result that decides its own exit code (verify, status) says why in one reason line
            errors = [ln for ln in out.stderr.splitlines() if ln.startswith("warning:")][-1:]
        if len(errors) != 1:
            found.append(f"{out.label} exited {out.returncode} without exactly one 'error:' line: {out.stderr[-800:]!r}")
        elif must_succeed:
            found.append(f"{out.label} failed (exit {out.returncode}): {errors[0]}")
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as dead
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def census(state_dir: str) -> dict[str, list[int]]:
    """The processes of this state folder per role, from /proc (independent of pipectl's pid files)."""
    found: dict[str, list[int]] = {role: [] for role in ROLES}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        cmdline = " ".join(argv)
        if state_dir not in cmdline or not pid_alive(int(entry.name)):
            continue
        java = Path(argv[0]).name == "java"
        for role, marker in ROLES.items():
            # the JVMs themselves, not the scripts that start them (whose command lines name them too)
            if marker in cmdline and (java or role == "tm-supervisor") and not (java and role == "tm-supervisor"):
                found[role].append(int(entry.name))
    return found


def pid_file(state_dir: str, name: str) -> int | None:
    try:
        return int(json.loads((Path(state_dir) / "run" / f"{name}.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def stack_violations(state_dir: str, status: Outcome) -> list[str]:
    """After an `up`: every component alive (pid file and /proc agree), exactly one process per
    role on this state folder, and `local status` says healthy."""
    found = command_violations(status, must_succeed=True)
    doc = status.json()
    unhealthy = [c["name"] for c in doc.get("components", []) if not c.get("healthy")]
    if unhealthy:
        found.append(f"local status after up: not healthy: {unhealthy}")
    procs = census(state_dir)
    for role, pids in procs.items():
        if len(pids) != 1:
            found.append(f"{len(pids)} {role} processes run on this state folder after up: {pids}")
    for name in ("kafka", "jobmanager", "taskmanager"):
        pid = pid_file(state_dir, name)
        if pid is None or not pid_alive(pid):
            found.append(f"{name}: its pid file names {pid}, which is not alive after up")
    return found


def down_violations(state_dir: str) -> list[str]:
    left = {role: pids for role, pids in census(state_dir).items() if pids}
    return [f"processes left running after local down: {left}"] if left else []


def end_violations(expect: dict, got: dict) -> list[str]:
    """Exactly once, from the independent counts."""
    found = []
    if got["rows"] != got["distinct"]:
        found.append(f"duplicates: {got['rows']} rows but {got['distinct']} distinct event ids")
    if expect.get("exact"):
        if got["distinct"] != expect["valid"]:
            lost = expect["valid"] - got["distinct"]
            found.append(f"{'lost' if lost > 0 else 'extra'} {abs(lost)} events: {got['distinct']} distinct ids stored, "
                         f"{expect['valid']} valid events acknowledged")
        if got["rows"] != expect["valid"]:
            found.append(f"rows {got['rows']} != valid events acknowledged {expect['valid']}")
        if got["quarantined"] != expect["malformed"]:
            found.append(f"quarantined {got['quarantined']} != malformed acknowledged {expect['malformed']}")
        if got["topic_records"] != expect["valid"] + expect["malformed"]:
            found.append(f"the topic holds {got['topic_records']} records, the producer acknowledged "
                         f"{expect['valid'] + expect['malformed']}")
    elif got["rows"] + got["quarantined"] != got["topic_records"]:
        found.append(f"rows {got['rows']} + quarantined {got['quarantined']} != {got['topic_records']} records in the topic")
    return found


def run_cli(env: dict, cwd: Path, args: list[str], deadline: float) -> Outcome:
    """One pipectl command as a user runs it; killed (with its children) at its deadline."""
    import sys
    import time

    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipectl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=cwd, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=deadline)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        code = None
    return Outcome(tuple(args), code, out, err, time.monotonic() - t0, deadline)
