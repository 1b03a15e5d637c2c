"""The seeded generator of operation sequences, over a small model of the stack.

The model tracks what the user would believe after each operation (is Kafka up, is Flink up, is
the job running, how many savepoints were taken), so that every drawn operation's precondition
holds (`job stop` only while a job runs, a stale `--from-savepoint` only once two savepoints
exist, ...). The sequence depends on the seed alone: `generate(seed, steps)` is a pure function,
and each Step prints as one line that `parse_sequence` reads back (regression tests keep their
minimal sequences as such lines).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# every operation the generator draws, with its weight
WEIGHTS: dict[str, int] = {
    "produce": 6,
    "job_stop": 3,
    "job_start": 3,
    "job_start_stale": 2,
    "local_down": 2,
    "local_up": 2,
    "kill": 3,
    "broker_restart": 2,
    "maintain": 3,
    "up_in_backoff": 2,
    "concurrent": 2,
}
KILL_TARGETS = ("taskmanager", "jobmanager", "kafka", "all")
# pairs of commands run at the same time; `normalize` means the end state is not decided by the
# pair, so the operation runs `local up` + `job start` after it (both idempotent)
PAIRS_RUNNING = (("job stop", "job stop"), ("local up", "local up"), ("local down", "local up"), ("maintain", "job stop"))
PAIRS_STOPPED = (("job start", "job start"), ("local up", "local down"), ("job start", "maintain"))
AMBIGUOUS = {("local down", "local up"), ("local up", "local down")}


@dataclass(frozen=True)
class Step:
    op: str
    args: tuple[tuple[str, str], ...] = ()

    def arg(self, name: str, default: str = "") -> str:
        return dict(self.args).get(name, default)

    def __str__(self) -> str:
        return " ".join([self.op, *(f"{k}={v}" for k, v in self.args)])

    @classmethod
    def of(cls, op: str, **args: object) -> Step:
        return cls(op, tuple((k, str(v)) for k, v in args.items()))


def parse_sequence(lines: list[str] | str) -> list[Step]:
    """Steps from their printed form, one per line (or a list of lines): `produce n=1200 seed=7`."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    steps = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] not in WEIGHTS:
            raise ValueError(f"unknown operation {words[0]!r} in {line!r}")
        steps.append(Step(words[0], tuple(tuple(w.split("=", 1)) for w in words[1:])))  # type: ignore[misc]
    return steps


@dataclass
class Model:
    kafka: bool = True
    flink: bool = True
    job: str = "running"  # running | stopped (a crashed job counts as stopped: it needs `job start`)
    savepoints: int = 0
    bursts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.kafka and self.flink

    def allowed(self, op: str) -> bool:
        if op == "produce":
            return self.kafka
        if op == "job_stop":
            return self.up and self.job == "running"
        if op == "job_start":
            return self.up and self.job != "running"
        if op == "job_start_stale":
            return self.up and self.job != "running" and self.savepoints >= 2
        if op in ("kill", "broker_restart", "up_in_backoff", "concurrent"):
            return self.up
        if op == "local_up":
            return True
        if op == "local_down":
            return self.kafka or self.flink
        return op == "maintain"

    def apply(self, step: Step) -> None:
        op = step.op
        if op == "produce":
            self.bursts += 1
        elif op == "job_stop":
            self.job, self.savepoints = "stopped", self.savepoints + 1
        elif op == "job_start":
            self.job = "running"
        elif op == "local_down":
            if self.up and self.job == "running":
                self.savepoints += 1
            self.kafka = self.flink = False
            self.job = "stopped"
        elif op == "local_up":
            self.kafka = self.flink = True
        elif op == "kill":
            target = step.arg("target")
            if target in ("jobmanager", "all"):
                self.flink, self.job = False, "stopped"
            if target in ("kafka", "all"):
                self.kafka = False
        elif op == "concurrent":
            pair = (step.arg("a").replace("_", " "), step.arg("b").replace("_", " "))
            if pair in AMBIGUOUS:
                self.kafka = self.flink = True
                self.job = "running"
            elif "job stop" in pair:
                self.job, self.savepoints = "stopped", self.savepoints + 1
            elif "job start" in pair:
                self.job = "running"


def draw(rng: random.Random, model: Model, index: int, seed: int, exclude: frozenset[str] = frozenset()) -> Step:
    ops = [op for op in WEIGHTS if model.allowed(op) and op not in exclude]
    op = rng.choices(ops, weights=[WEIGHTS[o] for o in ops])[0]
    if op == "produce":
        # a seed of its own per burst: the producer's event ids come from it
        return Step.of("produce", n=rng.choice((500, 1000, 2000, 3000)), seed=seed * 1000 + index)
    if op == "kill":
        return Step.of("kill", target=rng.choice(KILL_TARGETS))
    if op == "broker_restart":
        return Step.of("broker_restart", n=rng.choice((2000, 4000)), seed=seed * 1000 + index)
    if op == "concurrent":
        a, b = rng.choice(PAIRS_RUNNING if model.job == "running" else PAIRS_STOPPED)
        return Step.of("concurrent", a=a.replace(" ", "_"), b=b.replace(" ", "_"))
    return Step.of(op)


def generate(seed: int, steps: int, exclude: frozenset[str] = frozenset()) -> list[Step]:
    """`steps` operations drawn from random.Random(seed). The stack starts up with the job running
    (the runner's setup) and the runner's finale brings both back before the final checks.
    `exclude` leaves operations out (e.g. while a known defect makes them fail every run); the
    same seed and the same exclude give the same sequence."""
    unknown = set(exclude) - set(WEIGHTS)
    if unknown:
        raise ValueError(f"unknown operations to exclude: {sorted(unknown)}")
    rng = random.Random(seed)
    model = Model()
    sequence: list[Step] = []
    for index in range(steps):
        step = draw(rng, model, index, seed, exclude)
        model.apply(step)
        sequence.append(step)
    return sequence
