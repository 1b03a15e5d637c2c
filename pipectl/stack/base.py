"""What both local runtimes share (addresses, component names, health probes, port checks), and
the abstract methods each runtime (native, docker) implements."""

from __future__ import annotations

import re
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from collections.abc import Callable

from pipectl import kafka_admin, procs
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.flink.rest import FlinkRest
from pipectl.progress import SILENT, Reporter
from pipectl.stack.model import StackStatus
from pipectl.wait import wait_until

COMPONENTS = ("kafka", "jobmanager", "taskmanager")


def rpc_port(path: str) -> int | None:
    """The port of a TaskManager's RPC address, e.g. pekko.tcp://flink@127.0.0.1:36111/user/rpc/taskmanager_0."""
    m = re.search(r"@[^/]*:(\d+)/", path or "")
    return int(m.group(1)) if m else None


def match_taskmanager(registered: list[dict], ports: set[int]) -> dict | None:
    """The registered TaskManager that is the live process: the one whose data port or RPC port
    the live process listens on (both are chosen at random at each start, so a dead TaskManager
    that the JobManager still lists never matches its successor)."""
    for tm in registered:
        if tm.get("dataPort") in ports or rpc_port(tm.get("path", "")) in ports:
            return tm
    return None


class StackBase(ABC):
    runtime = "?"

    def __init__(self, settings: Settings, reporter: Reporter = SILENT):
        self.s = settings
        self.r = reporter
        self.state = settings.state_dir

    def address(self, name: str) -> str:
        if name == "kafka":
            return self.s.kafka_bootstrap
        if name == "jobmanager":
            return self.s.flink_rest_url
        return "-"

    @staticmethod
    def check_component(name: str) -> None:
        if name not in COMPONENTS:
            raise PipectlError(
                f"unknown component {name!r}", hint=f"choose one of {', '.join(COMPONENTS)}", exit_code=EXIT_USAGE
            )

    # ------------------------------------------------------------------ health
    def kafka_healthy(self) -> bool:
        try:
            return kafka_admin.ping(self.s.kafka_bootstrap, timeout_s=3)
        except kafka_admin.errors():  # unhealthy is an answer, not an error
            return False

    def flink_overview(self) -> dict | None:
        try:
            return FlinkRest(self.s.flink_rest_url, timeout=3).overview()
        except PipectlError:  # FlinkRest turns every failure into one: no answer is an answer
            return None

    def taskmanager_registered(self) -> bool:
        return (self.flink_overview() or {}).get("taskmanagers", 0) >= 1

    def registered_taskmanagers(self) -> list[dict] | None:
        """The JobManager's REST /taskmanagers list; None when it does not answer. After a crash it
        still lists the dead TaskManager until its heartbeat times out (heartbeat.timeout)."""
        try:
            return FlinkRest(self.s.flink_rest_url, timeout=3).taskmanagers()
        except PipectlError:
            return None

    # ------------------------------------------------------------------ preconditions
    def check_kafka_libs(self) -> None:
        libs = self.s.target_dir / "kafka" / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise NotFoundError(
                f"the Kafka broker classpath is missing ({libs})",
                hint="build it with 'make build' (runs mvn -q package)",
            )

    @staticmethod
    def ensure_ports_free(name: str, ports: list[int] | list[int | str]) -> None:
        for port in map(int, ports):  # the Compose layout may name a port "${VAR:-9092}"; ours are numbers
            owner = procs.port_owner(port)
            if owner is not None:
                pid, command = owner
                held = f"pid {pid} ({command})" if pid else "another process"
                raise PipectlError(
                    f"port {port} needed by {name} is already in use by {held}",
                    hint="stop that process, or change local ports in pipectl.toml",
                    exit_code=EXIT_USAGE,
                )

    def purge_paths(self) -> list[Path]:
        """What `down(purge=True)` deletes: Kafka's data, checkpoints, savepoints, the warehouse and
        the job record. Settings keep each of them inside the project folder (or an allowed one), never
        `/`, the home folder or the project itself (pipectl.config)."""
        return [*self.data_paths(), self.s.warehouse_dir, self.state / "job.json"]

    def data_paths(self) -> list[Path]:
        """Kafka's data and Flink's checkpoints and savepoints, as this runtime lays them out."""
        flink = self.state / "flink"
        return [self.state / "kafka", flink / "checkpoints", flink / "savepoints"]

    def log_path(self, name: str) -> Path:
        self.check_component(name)
        return self.state / "logs" / f"{name}.log"

    # ------------------------------------------------------------------ up / down (the same sequence for both runtimes)
    def up(self) -> StackStatus:
        """Start (or reuse) Kafka, the JobManager and a TaskManager, in that order; return only when
        each answers. What "start" and "reuse" mean is the runtime's (`_prepare`, `_bring`)."""
        self._check_artifacts()
        self._prepare()
        messages: list[str] = []
        for name in COMPONENTS:
            messages.append(self._bring(name))
            messages += self._await(name)
        status = self.status()
        status.messages = messages
        return status

    def _await(self, name: str) -> list[str]:
        """Wait until the component answers: Kafka (then its topic exists), the JobManager's REST API,
        the TaskManager registered as the live process."""
        timeout = self.s.local.start_timeout_s
        if name == "kafka":
            self._wait("kafka", self.kafka_healthy, timeout=timeout)
            self.r.done(f"Kafka answers on {self.s.kafka_bootstrap}")
            p = self.s.pipeline
            created = kafka_admin.ensure_topic(self.s.kafka_bootstrap, p.topic, p.partitions)
            return [f"topic {p.topic}: " + (f"created with {p.partitions} partitions" if created else "exists")]
        if name == "jobmanager":
            self._wait("jobmanager", self.flink_overview, timeout=timeout)
            self.r.done(f"Flink JobManager answers on {self.s.flink_rest_url}")
            return []
        self._wait("taskmanager", self.taskmanager_registered, timeout=timeout)
        live = self.live_taskmanager() or {}
        self.r.done(f"Flink TaskManager registered ({live.get('slotsNumber', '?')} slots)")
        return []

    def down(self, purge: bool = False) -> StackStatus:
        """Stop everything (the runtime's `_stop_components`); `purge` also deletes what
        `purge_paths` names: data, checkpoints, savepoints, the warehouse and the job record."""
        messages = self._stop_components()
        if purge:
            for path in self.purge_paths():
                if path.is_dir():
                    shutil.rmtree(path)
                    messages.append(f"deleted {path}")
                elif path.exists():
                    path.unlink()
        status = self.status()
        status.messages = messages
        return status

    # ------------------------------------------------------------------ per runtime
    @abstractmethod
    def _check_artifacts(self) -> None:
        """Refuse, in one line, when what the runtime needs is not built."""

    @abstractmethod
    def _prepare(self) -> None:
        """Before the components: folders, and whatever else the runtime needs (conf, network, images)."""

    @abstractmethod
    def _bring(self, name: str) -> str:
        """Start the component, reuse it when it runs, or wait for the runtime's own restart of it;
        return what was done, for the messages of `up`."""

    @abstractmethod
    def _stop_components(self) -> list[str]:
        """Stop the TaskManager, the JobManager and Kafka; one message each."""

    @abstractmethod
    def live_taskmanager(self) -> dict | None:
        """The JobManager's entry of the TaskManager that is the live process now, if any."""

    @abstractmethod
    def status(self) -> StackStatus:
        """Each component: pid (or container), address, healthy."""

    @abstractmethod
    def any_running(self) -> bool:
        """Whether any component of this runtime's stack is running."""

    @abstractmethod
    def start_taskmanager(self) -> None:
        """Start a TaskManager (again) and wait until it registers."""

    @abstractmethod
    def submit_job(self, job_env: dict[str, str], restore: str | None) -> tuple[int, str]:
        """`flink run` the job with its environment, from the savepoint `restore` if given:
        (exit code, output)."""

    @abstractmethod
    def log_source(self, name: str) -> str:
        """Where a component's log comes from, for messages."""

    @abstractmethod
    def log_lines(self, name: str, lines: int = 50) -> list[str]:
        """The last `lines` of a component's log."""

    @abstractmethod
    def alive_probe(self, name: str) -> Callable[[], bool]:
        """A callable saying whether the component started just now is still running."""

    @abstractmethod
    def process_state(self, name: str) -> tuple[int, bool] | None:
        """(pid, alive) of the component's process when this runtime runs it as a process of its
        own (native); None otherwise (docker: the engine owns the container's process)."""

    def _wait(self, name: str, check: Callable[[], object], timeout: float) -> None:
        """Wait until `check` passes; fail at once when the component dies, with its last log lines."""
        wait_until(
            check,
            what=name,
            timeout=timeout,
            interval=0.5,
            hint=f"see 'pipectl local logs {name}'",
            log_tail=lambda: self.log_lines(name, 15),
            alive=self.alive_probe(name),
        )
