"""Replay and soak: `python -m tests.ops --seed N --steps K` prints the sequence and runs it.

  --sequence 'produce n=2000 seed=1; maintain; job_stop'   runs a given sequence instead
  --runs R --first-seed S                                   runs seeds S..S+R-1 (the soak)
  --exclude up_in_backoff,maintain                          draws without these operations
  --print-only                                              prints the sequence(s), runs nothing
  --results FILE                                            appends one JSON line per run
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from tests.ops.generator import generate, parse_sequence
from tests.ops.operations import run_sequence


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C or a TERM (also when started in the background, where SIGINT is ignored) ends the
    # run through its `finally`: the stack of the current run is taken down
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m tests.ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sequence", help="steps separated by ';' (as printed), instead of a seed")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--first-seed", type=int)
    parser.add_argument("--exclude", default="", help="operations the generator leaves out, comma-separated")
    parser.add_argument("--print-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the run's state folder and warehouse")
    parser.add_argument("--results", help="append one JSON line per run to this file")
    args = parser.parse_args(argv)

    if args.sequence:
        plans = [(None, parse_sequence(args.sequence.replace(";", "\n")))]
    else:
        first = args.first_seed if args.first_seed is not None else args.seed
        if first is None:
            first = int(time.time()) % 100_000
        exclude = frozenset(o for o in args.exclude.split(",") if o)
        plans = [(seed, generate(seed, args.steps, exclude)) for seed in range(first, first + args.runs)]

    failed = 0
    for seed, steps in plans:
        print(f"== seed {seed}: {len(steps)} steps" if seed is not None else f"== sequence: {len(steps)} steps")
        for i, step in enumerate(steps):
            print(f"  {i + 1:2d}. {step}")
        if args.print_only:
            continue
        result = run_sequence(steps, seed=seed, echo=True, keep=args.keep, replay_extra=(
            f" --exclude {args.exclude}" if args.exclude else ""))
        verdict = "ok" if result.ok else "FAILED"
        print(f"== seed {seed}: {verdict} in {result.figures.get('seconds')}s")
        if not result.ok:
            failed += 1
            print(result.report())
        if args.results:
            with open(args.results, "a") as fh:
                fh.write(json.dumps({"seed": seed, "exclude": args.exclude, "steps": [str(s) for s in steps], "ok": result.ok,
                                     "failed_step": result.failed_step, "violations": result.violations,
                                     "figures": result.figures}) + "\n")
    if len(plans) > 1 and not args.print_only:
        print(f"== {len(plans) - failed} of {len(plans)} runs held every invariant")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
