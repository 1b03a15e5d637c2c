"""What both local runtimes share: addresses, component names, health probes, port checks."""

from __future__ import annotations

from pathlib import Path

from pipectl import kafka_admin, procs
from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter
from pipectl.wait import wait_until

COMPONENTS = ("kafka", "jobmanager", "taskmanager")


class StackBase:
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
            raise PipectlError(f"unknown component {name!r}", hint=f"choose one of {', '.join(COMPONENTS)}", exit_code=2)

    # ------------------------------------------------------------------ health
    def kafka_healthy(self) -> bool:
        try:
            return kafka_admin.ping(self.s.kafka_bootstrap, timeout_s=3)
        except Exception:  # noqa: BLE001 - unhealthy is an answer, not an error
            return False

    def flink_overview(self) -> dict | None:
        from pipectl.flink.rest import FlinkRest

        try:
            return FlinkRest(self.s.flink_rest_url, timeout=3).overview()
        except Exception:  # noqa: BLE001
            return None

    def taskmanager_registered(self) -> bool:
        return (self.flink_overview() or {}).get("taskmanagers", 0) >= 1

    # ------------------------------------------------------------------ preconditions
    def check_kafka_libs(self) -> None:
        libs = self.s.target_dir / "kafka" / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise NotFoundError(
                f"the Kafka broker classpath is missing ({libs})",
                hint="build it with 'make build' (runs mvn -q package)",
            )

    @staticmethod
    def ensure_ports_free(name: str, ports: list[int]) -> None:
        for port in ports:
            owner = procs.port_owner(port)
            if owner is not None:
                pid, command = owner
                held = f"pid {pid} ({command})" if pid else "another process"
                raise PipectlError(
                    f"port {port} needed by {name} is already in use by {held}",
                    hint="stop that process, or change local ports in pipectl.toml",
                    exit_code=2,
                )

    def log_path(self, name: str) -> Path:
        self.check_component(name)
        return self.state / "logs" / f"{name}.log"

    # ------------------------------------------------------------------ per runtime
    def log_source(self, name: str) -> str:
        """Where a component's log comes from, for messages."""
        raise NotImplementedError

    def log_lines(self, name: str, lines: int = 50) -> list[str]:
        """The last `lines` of a component's log."""
        raise NotImplementedError

    def process_state(self, name: str) -> tuple[int, bool] | None:
        """(pid, alive) of the component's process when this runtime runs it as a process of its
        own (native); None otherwise (docker: the engine owns the container's process)."""
        raise NotImplementedError

    def alive_probe(self, name: str):
        """A callable saying whether the component started just now is still running."""
        raise NotImplementedError

    def _wait(self, name: str, check, timeout: float) -> None:
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
