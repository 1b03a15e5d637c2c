"""The randomized operations test (issue 25 §6).

A seeded generator (generator.py) draws a sequence of what users do to the local pipeline:
produce bursts with malformed records, job stop/start, a stale `--from-savepoint`, local down/up,
kill -9 of the TaskManager, the JobManager, Kafka or all of them, a broker restart, `maintain`
with the tightest retention while running and stopped, `local up` inside the TaskManager
supervisor's back-off, and two commands at once. The runner (operations.py) drives the REAL
native stack through the CLI (`python -m pipectl ...` subprocesses) on a state folder, warehouse
and ports of its own, and checks the invariants (checks.py) after every step and at the end.

Replay: `python -m tests.ops --seed N --steps K` prints the sequence and runs it.
"""

from tests.ops.generator import Step, generate, parse_sequence
from tests.ops.operations import OpsFailure, RunResult, run_sequence

__all__ = ["OpsFailure", "RunResult", "Step", "generate", "parse_sequence", "run_sequence"]
