"""The randomized operations test (issue 25 §6) in `make test`: a few short sequences from fixed
seeds, and every sequence that once broke an invariant, kept as a fixed regression test.

Each run brings up its own native stack (its own state folder, warehouse and ports: the test
ports + 50), so the kills and downs of a sequence never touch the session's `native_stack`.
A failure prints the seed, the sequence, the log of every command and the replay command:
`.venv/bin/python -m tests.ops --seed N --steps K` (docs/reliability.md). Longer runs over many
seeds: `make soak`.
"""

from __future__ import annotations

import pytest

from tests.ops import generate, parse_sequence, run_sequence

pytestmark = pytest.mark.e2e

# a short sequence from a fixed seed (about 3 minutes on a quiet machine, setup and finale included):
# seed 12 draws a broker restart with a producer riding it out, a `maintain` at the same time as a
# `job stop`, and a `maintain` after the resume. Seed 7 (stop, bursts, down, up, up) ran here too
# until 2026-12-07; test_reliability.py runs those operations, and `make soak` runs many seeds.
FIXED_SEEDS = [(12, 6)]

# sequences that once broke an invariant, shortened to what still breaks it (docs/reliability.md
# records what each found). They fail until the fix named with each is merged. Each run costs a
# stack of its own (one to three minutes), so sequences that can follow one another share one run:
# the next starts from the state the one before leaves (a stopped job and its savepoint).
REGRESSIONS = {
    "up_in_backoff_then_double_job_start_then_stale_savepoint": [
        # issue 25 §2: `local up` 2 s after a kill -9 of the TaskManager, inside its supervisor's
        # back-off, said "taskmanager: found running, reusing it" and returned with no TaskManager alive.
        # Then (seed 417) `job stop` right after it: a task was still placed on the second, dead
        # TaskManager; Flink refused the savepoint ("Not all required tasks are currently running") and
        # `job stop` polled that one refused trigger for 180 s and failed (exit 4). It now waits for the
        # job to recover and triggers again. The check after `up` also compared against a checkpoint id
        # read after the kills (a stale one): it now reads it before the first kill.
        "produce n=2000 seed=902", "up_in_backoff", "job_stop",
        # issue 25 §4: two `job start`s at once on one state folder both exited 0 and left two RUNNING
        # jobs on the cluster, both resumed from the same savepoint (each would store what follows).
        # Then the named sequence "stale_savepoint_refused": a savepoint older than what the table
        # holds is refused in one line and nothing is started.
        "concurrent a=job_start b=job_start", "produce n=1000 seed=2", "job_stop", "job_start_stale",
    ],
    # issue 25 §1, found by seed 1 (10 steps): `maintain --retain-last 1 --older-than 0` after a
    # savepoint expired the snapshot carrying the job's flink.max-committed-checkpoint-id; the restore
    # then re-committed the savepoint's checkpoint from a manifest the committer had deleted, and
    # `job start` gave up after 120 s. Kept as a fixed test in test_maintain_resume.py (the same
    # steps, with the maintenance while the job runs first), on the session's stack.
}


def _check(result) -> None:
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)


@pytest.mark.parametrize(("seed", "steps"), FIXED_SEEDS, ids=[f"seed{s}x{k}" for s, k in FIXED_SEEDS])
def test_random_operations_hold_every_invariant(seed: int, steps: int):
    _check(run_sequence(generate(seed, steps), seed=seed))


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_sequence_that_once_failed(name: str):
    _check(run_sequence(parse_sequence(REGRESSIONS[name])))


def test_the_generator_is_a_function_of_the_seed():
    """The replay promise: the same seed gives the same sequence, printed and parsed back."""
    first, again = generate(7, 12), generate(7, 12)
    assert first == again
    assert parse_sequence([str(s) for s in first]) == first
    assert generate(8, 12) != first
