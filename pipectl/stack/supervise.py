"""A small supervisor that keeps one process running: the native stack's TaskManager.

    python -m pipectl.stack.supervise RUN_DIR NAME MARKER -- ARGV...

Starts ARGV, records its pid in RUN_DIR/NAME.json (as pipectl.procs does) and, when it dies
without being asked to, starts it again after a short delay, counting the restarts in
RUN_DIR/NAME-restarts.json (with the time of the next start, while it backs off). Both files
are written atomically (pipectl.statefile). SIGTERM (what `pipectl local down` sends to the supervisor's process
group) stops the child and then the supervisor, without a restart. Standard library (and
pipectl.statefile, itself stdlib only) only.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from pipectl import statefile

RESTART_DELAY_S = 2.0
MAX_DELAY_S = 30.0
STABLE_AFTER_S = 60.0


def restarts_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}-restarts.json"


def read_restarts(run_dir: Path, name: str) -> dict:
    """{"restarts": n, "last_restart_at": epoch seconds, "last_exit": code, "next_start_at": epoch
    seconds}; {} when never restarted; a StateFileError when the file cannot be read."""
    path = restarts_file(run_dir, name)
    data = statefile.read_json(
        path, way_out=f"it only counts the restarts of {name} by its supervisor: delete it ({path})"
    )
    return data or {}


def supervise(run_dir: Path, name: str, marker: str, argv: list[str]) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        restarts = int(read_restarts(run_dir, name).get("restarts", 0))
    except (statefile.StateFileError, ValueError, TypeError):  # a count is not worth refusing to start
        restarts = 0
    quick_failures = 0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # stdout/stderr: the supervisor's log
        statefile.write_json(run_dir / f"{name}.json", {"pid": child.pid, "marker": marker, "log": ""})
        code = child.wait()
        if stopping:
            break
        restarts += 1
        quick_failures = 0 if time.monotonic() - started > STABLE_AFTER_S else quick_failures + 1
        delay = min(RESTART_DELAY_S * 2 ** max(quick_failures - 1, 0), MAX_DELAY_S)
        print(f"[pipectl supervisor] {name} exited with {code}; restart {restarts} in {delay:.0f}s", flush=True)
        now = time.time()
        statefile.write_json(
            restarts_file(run_dir, name),
            {"restarts": restarts, "last_restart_at": now, "last_exit": code, "next_start_at": now + delay},
        )
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
    if child is not None and child.poll() is None:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


def main(args: list[str]) -> int:
    if len(args) < 5 or args[3] != "--":
        print("usage: python -m pipectl.stack.supervise RUN_DIR NAME MARKER -- ARGV...", file=sys.stderr)
        return 2
    return supervise(Path(args[0]), args[1], args[2], args[4:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
