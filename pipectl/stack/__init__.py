"""Local runtimes behind one interface: native (processes) or docker (containers).

`local up` chooses the runtime (--runtime, else local.runtime; `auto` means docker when a Docker
engine answers, native otherwise) and records it in <state_dir>/runtime; every later command
(status, logs, down, job start) uses the recorded one. Stopping the job before the stack goes
down is pipectl/local_down.py's, above both this package and pipectl/flink/.
"""

from __future__ import annotations

from pipectl import statefile
from pipectl.config import Settings
from pipectl.files import private_dir
from pipectl.errors import EXIT_USAGE, PipectlError
from pipectl.progress import SILENT, Reporter
from pipectl.stack.base import StackBase
from pipectl.stack.docker import DockerStack, engine_address, engine_answers
from pipectl.stack.model import ComponentLog, StackStatus
from pipectl.stack.native import NativeStack

RUNTIMES = ("native", "docker", "auto")


def _record_file(settings: Settings):
    return settings.state_dir / "runtime"


def recorded_runtime(settings: Settings) -> str | None:
    """The runtime the last `local up` used in this state folder; None when none was recorded; a
    StateFileError when the record cannot be read or names no runtime."""
    path = _record_file(settings)
    way_out = (
        "it records which runtime runs this state folder's stack: write 'native' or 'docker' into it, "
        "or delete it and run 'pipectl local up --runtime native|docker'"
    )
    text = statefile.read_text(path, way_out)
    if text is None:
        return None
    value = text.strip()
    if value not in ("native", "docker"):
        raise statefile.StateFileError(path, f"it names no runtime ({value[:40]!r})", way_out)
    return value


def resolve_runtime(requested: str) -> tuple[str, str]:
    """(runtime, why): `auto` becomes docker when an engine answers, native otherwise."""
    if requested not in RUNTIMES:
        raise PipectlError(f"unknown runtime {requested!r}", hint="choose native, docker or auto", exit_code=EXIT_USAGE)
    if requested != "auto":
        return requested, ""
    if engine_answers():
        return "docker", f"auto: a Docker engine answers at {engine_address()}"
    return "native", "auto: no Docker engine answers"


def _make(runtime: str, settings: Settings, reporter: Reporter | None) -> StackBase:
    if runtime == "docker":
        return DockerStack(settings, reporter or SILENT)
    return NativeStack(settings, reporter or SILENT)


def get_stack(settings: Settings, reporter: Reporter | None = None, runtime: str | None = None) -> StackBase:
    """The stack of `runtime`, else of the runtime `local up` recorded, else of local.runtime."""
    chosen: str = runtime or recorded_runtime(settings) or settings.local.runtime
    if chosen == "auto":
        chosen, _ = resolve_runtime(chosen)
    return _make(chosen, settings, reporter)


def start_stack(settings: Settings, runtime: str | None = None, reporter: Reporter | None = None) -> StackStatus:
    """`local up`: choose the runtime (`runtime`, else the recorded one while its stack runs, so
    `up` twice reuses it, else local.runtime), refuse to start a second stack beside a running one
    of the other runtime, record the choice, start (or reuse) the stack."""
    previous = recorded_runtime(settings)
    previous_running = previous is not None and _make(previous, settings, None).any_running()
    if runtime is None and previous is not None and previous_running:
        chosen, why = previous, ""
    else:
        chosen, why = resolve_runtime(runtime or settings.local.runtime)
    if previous_running and previous != chosen:
        raise PipectlError(
            f"the {previous} stack of {settings.state_dir} is running",
            hint=f"stop it with 'pipectl local down' first, or use --runtime {previous}",
            exit_code=EXIT_USAGE,
        )
    if reporter is not None and why:
        reporter.done(f"runtime {chosen} ({why})")
    private_dir(settings.state_dir)  # Kafka's data, logs and checkpoints: for this user only
    exposed = settings.exposure_warnings  # a non-loopback host that local.allow_remote let through
    for warning in exposed:
        if reporter is not None:
            reporter.warn(warning)
    statefile.write_text(_record_file(settings), chosen + "\n")
    status = _make(chosen, settings, reporter).up()
    status.messages[:0] = [f"warning: {w}" for w in exposed]
    if why:
        status.messages.insert(0, f"runtime: {chosen} ({why})")
    return status


def component_log(settings: Settings, component: str, lines: int) -> ComponentLog:
    """The last `lines` of a component's log, from the recorded runtime: a file (native) or the
    container's log (docker)."""
    stack = get_stack(settings)
    return ComponentLog(component, stack.log_source(component), stack.log_lines(component, lines))
