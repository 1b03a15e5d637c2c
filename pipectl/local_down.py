"""`local down`: stop the running job with a savepoint, then the stack.

It sits above pipectl/stack/ (the runtimes) and pipectl/flink/ (the job), so neither reaches into
the other: the stack package does not know about jobs, and the job code only asks the stack to
submit."""

from __future__ import annotations

from collections.abc import Callable

from pipectl import stack
from pipectl.config import Settings
from pipectl.errors import EXIT_INTERRUPTED, PipectlError
from pipectl.flink import jobs
from pipectl.progress import SILENT, Reporter
from pipectl.stack.base import StackBase
from pipectl.stack.model import StackStatus

SAVEPOINT_ON_DOWN_TIMEOUT_S = 90


def _stop_job_first(settings: Settings, stack: StackBase, reporter: Reporter | None) -> list[str]:
    """Stop a running order_ingest job with a savepoint before the stack goes down (bounded wait)."""
    if stack.flink_overview() is None:
        return []
    try:
        if jobs.find_job(settings) is None:
            return []
        info = jobs.stop(settings, savepoint=True, timeout=SAVEPOINT_ON_DOWN_TIMEOUT_S, reporter=reporter or SILENT)
    except PipectlError as exc:
        newest = jobs.newest_point(settings)
        kept = f"the newest retained checkpoint {newest} is still there" if newest else "no retained checkpoint is kept"
        message = f"job: stop with savepoint failed ({exc.message}); {kept}"
        if reporter is not None:
            reporter.warn(message)
        return [message]
    return [f"job {info.job_id}: stopped with savepoint {info.savepoint}"]


def stop_stack(
    settings: Settings,
    purge: bool = False,
    reporter: Reporter | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> StackStatus:
    """`local down`: stop a running job with a savepoint first (unless --purge deletes all state
    anyway), then stop the components; `purge` also deletes data, checkpoints and the warehouse,
    after `confirm` (unless None) said yes to a question naming every folder it deletes."""
    runtime = stack.get_stack(settings, reporter)
    if purge and confirm is not None:
        doomed = [str(p) for p in runtime.purge_paths() if p.exists()]
        question = (
            f"Stop the stack and delete for good: {', '.join(doomed)}?"
            if doomed
            else "Stop the stack (there is no data to delete yet)?"
        )
        if not confirm(question):
            raise PipectlError(
                "nothing deleted, nothing stopped", hint="--purge was not confirmed", exit_code=EXIT_INTERRUPTED
            )
    messages = [] if purge else _stop_job_first(settings, runtime, reporter)
    status = runtime.down(purge=purge)
    status.messages = messages + status.messages
    return status
