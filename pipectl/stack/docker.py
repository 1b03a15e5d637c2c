"""The docker local stack: the services of pipectl/stack/spec.py as containers, through the
Docker SDK (docker-py). Same interface and messages as the native stack.

The images are built from compose/*/Dockerfile with a build context pipectl assembles from the
project (only the files a Dockerfile copies), so a build sends no virtualenv or warehouse.
Where things come from:
  PIPECTL_DOCKER_BASE_IMAGE   the base of both images (default: the public ones in spec.py);
                              the tests use a local debootstrap image, since nothing can be pulled
  PIPECTL_DOCKER_WHEELHOUSE   the Flink image's Python packages (default target/docker/wheels),
                              filled on the host with `pip wheel` from requirements.lock: the image
                              build itself never downloads Python packages.
Host folders (warehouse, <state>/flink) are mounted at the same absolute paths in the Flink
containers; Kafka's data lives in <state>/docker/kafka. Kafka runs as the host user; the Flink
containers start as root, make the user's uid known inside the image and run Flink as the user
(compose/flink/as-caller.sh), so everything they write stays the user's, whatever the uid.

The images and the wheelhouse are built by images.py; what the containers are is spec.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipectl.config import Settings
from pipectl.errors import EXIT_UNHEALTHY, EXIT_USAGE, NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter
from pipectl.stack import images, spec
from pipectl.stack.base import StackBase
from pipectl.stack.model import ComponentStatus, StackStatus

COMPONENTS = spec.COMPONENTS
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
LABEL = "io.pipectl.component"
STATE_LABEL = "io.pipectl.state-dir"  # the state folder a container belongs to


def engine_address(environ=None) -> str:
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST") or DEFAULT_SOCKET


def engine_answers(timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers at DOCKER_HOST (or the default socket)."""
    address = engine_address()
    if address.startswith("unix://") and not Path(address.removeprefix("unix://")).exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - "no engine" is an answer
        return False


def connect(timeout: float = 600.0):
    """A Docker SDK client, or a clear error when no engine answers."""
    import docker
    from docker.errors import DockerException

    try:
        probe = docker.from_env(timeout=10)  # a quick answer first; builds and `flink run` take longer
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=timeout)
    except DockerException as exc:
        raise PipectlError(
            f"no Docker engine answers at {engine_address()} ({type(exc).__name__})",
            hint="start Docker or set DOCKER_HOST, or use 'pipectl local up --runtime native'",
            exit_code=EXIT_UNHEALTHY,
        ) from None


# ---------------------------------------------------------------------------------- the stack
class DockerStack(StackBase):
    runtime = "docker"

    def __init__(self, settings: Settings, reporter: Reporter = SILENT):
        super().__init__(settings, reporter)
        self._states: dict[str, str] = {}  # each container's state when `up` began
        self.layout = spec.runtime_layout(settings)
        self.services = {svc.name: svc for svc in spec.services(self.layout)}
        self._client = None

    # ------------------------------------------------------------------ engine, containers
    @property
    def client(self):
        if self._client is None:
            self._client = connect()
        return self._client

    def container(self, name: str):
        """This state folder's container of `name`; None when there is none. A container of that
        name whose io.pipectl.state-dir label names another folder (or that has no label) is never
        used, stopped or removed: that is an error naming its owner."""
        from docker.errors import NotFound

        try:
            container = self.client.containers.get(self.services[name].container_name)
        except NotFound:
            return None
        self._check_owner(container)
        return container

    def _check_owner(self, container) -> None:
        mine = str(self.state.resolve())
        owner = (container.labels or {}).get(STATE_LABEL)
        if owner == mine:
            return
        whose = f"the pipectl state folder {owner}" if owner else f"no pipectl state folder (no {STATE_LABEL} label)"
        raise PipectlError(
            f"container {container.name} belongs to {whose}, not to {mine}; pipectl leaves it alone",
            hint="stop it from where it was started ('pipectl local down' with that state folder), "
            "or use another local.state_dir here (its containers get names of their own)",
            exit_code=EXIT_USAGE,
        )

    @staticmethod
    def _state(container) -> str:
        """The container's status now ("running", "restarting", "exited", ...; "gone" when removed)."""
        if container is None:
            return "gone"
        try:
            container.reload()
        except Exception:  # noqa: BLE001 - gone meanwhile
            return "gone"
        return str(container.status)

    @classmethod
    def _running(cls, container) -> bool:
        return cls._state(container) == "running"

    def log_source(self, name: str) -> str:
        self.check_component(name)
        return f"docker logs {self.services[name].container_name}"

    def log_lines(self, name: str, lines: int = 50) -> list[str]:
        self.check_component(name)
        container = self.container(name)
        if container is None:
            return []
        raw = container.logs(tail=lines, stdout=True, stderr=True)
        return raw.decode(errors="replace").splitlines()[-lines:]

    def process_state(self, name: str) -> tuple[int, bool] | None:
        return None  # the engine owns the container's process; status() reports the container

    def alive_probe(self, name: str):
        container = self.container(name)
        # "restarting": the restart policy's back-off between a crash and the next start
        return lambda: self._state(container) in ("running", "restarting")

    def live_taskmanager(self) -> dict | None:
        """The JobManager's entry of the TaskManager that runs in the container now: matched by a
        port listened on in the container's network namespace (a TaskManager that crashed, and
        that the JobManager lists until its heartbeat times out, listens on nothing any more)."""
        from pipectl import procs
        from pipectl.stack.base import match_taskmanager

        container = self.container("taskmanager")
        if not self._running(container):
            return None
        registered = self.registered_taskmanagers()
        if not registered:
            return None
        pid = container.attrs.get("State", {}).get("Pid") or 0
        ports = procs.namespace_listening_ports(pid) if pid else set()
        if not ports:  # the host cannot read the container's tables: ask inside it
            result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
            ports = procs.parse_listening(result.output.decode(errors="replace")) if result.exit_code == 0 else set()
        return match_taskmanager(registered, ports)

    def taskmanager_registered(self) -> bool:
        """The TaskManager running in the container is registered with the JobManager and offers slots."""
        return int((self.live_taskmanager() or {}).get("slotsNumber", 0)) >= 1

    # ------------------------------------------------------------------ up
    def _prepare(self) -> None:
        for d in (
            self.state / "logs",
            Path(self.layout.kafka_data_host),
            Path(self.layout.flink_state_host),
            Path(self.layout.warehouse_host),
        ):
            d.mkdir(parents=True, exist_ok=True)
        self._ensure_network()
        self._states = {n: self._state(self.container(n)) for n in COMPONENTS}
        # a container in its restart policy's back-off comes back by itself: wait for it
        missing = {self.services[n].image for n in COMPONENTS if self._states[n] not in ("running", "restarting")}
        if missing:
            images.build(self.client, self.s, list(self.services.values()), missing, self.r)

    def _bring(self, name: str) -> str:
        """A running container is reused; one in its restart policy's back-off is waited for."""
        state = self._states[name]
        if state not in ("running", "restarting"):
            svc = self.services[name]
            self._ensure_ports_free(name)
            old = self.container(name)
            if old is not None:
                old.remove(force=True)
            self.r.step(f"starting {name} ({svc.container_name})")
            self._create(self.client, svc).start()
            return f"{name}: started"
        if state == "restarting":
            container = self.container(name)
            restarts = container.attrs.get("RestartCount", 0) if container is not None else 0
            message = (
                f"{name}: not running; Docker's restart policy starts it again (restart {restarts + 1}), waiting for it"
            )
            self.r.step(message)
            return message
        if name == "taskmanager" and not self.taskmanager_registered():
            message = "taskmanager: container running, its TaskManager not registered yet, waiting for it"
            self.r.step(message)
            return message
        return f"{name}: found running, reusing it"

    def start_taskmanager(self) -> None:
        """Start (or restart) only the TaskManager; used after a crash."""
        container = self.container("taskmanager")
        if container is None:
            self._create(self.client, self.services["taskmanager"]).start()
        elif self._state(container) not in ("running", "restarting"):
            container.start()
        self._wait("taskmanager", self.taskmanager_registered, timeout=self.s.local.start_timeout_s)

    def _check_artifacts(self) -> None:
        if not self.s.dependency_jar.is_file():
            raise NotFoundError(f"dependency jar {self.s.dependency_jar} is missing", hint="build it with 'make build'")
        self.check_kafka_libs()

    def _ensure_ports_free(self, name: str) -> None:
        self.ensure_ports_free(name, [port for _ip, port, _cport in self.services[name].ports])

    def _ensure_network(self) -> None:
        from docker.errors import NotFound

        try:
            self.client.networks.get(self.layout.network)
        except NotFound:
            self.client.networks.create(self.layout.network, driver="bridge", labels={LABEL: "network"})

    def _create(self, client, svc: spec.Service):
        net = self.layout.network
        return client.containers.create(
            svc.image,
            command=list(svc.command) or None,
            name=svc.container_name,
            hostname=svc.name,
            environment=svc.environment,
            ports={f"{cport}/tcp": (ip, port) for ip, port, cport in svc.ports},
            volumes={m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in svc.mounts},
            network=net,
            networking_config={net: client.api.create_endpoint_config(aliases=[svc.name])},
            labels={LABEL: svc.name, STATE_LABEL: str(self.state.resolve())},
            user=svc.user,  # None for Flink: it starts as root and runs Flink as PIPECTL_RUN_AS
            # a TaskManager that dies comes back by itself (as the native stack's supervisor does)
            restart_policy={"Name": "on-failure"} if svc.name == "taskmanager" else None,
        )

    # ------------------------------------------------------------------ job submission
    def submit_job(self, job_env: dict[str, str], restore: str | None) -> tuple[int, str]:
        """`flink run -d -py` inside the JobManager container: (exit code, output)."""
        container = self.container("jobmanager")
        if not self._running(container):
            raise PipectlError(
                "the JobManager container is not running",
                hint="start it with 'pipectl local up --runtime docker'",
                exit_code=EXIT_UNHEALTHY,
            )
        env = dict(job_env)
        # what differs inside the network; the warehouse path is the same on both sides
        env.update(spec.job_environment(self.layout))
        # -j: the job's Java function must be on the program's class path (as with Managed Flink's jarfile)
        argv = ["flink", "run", "-d", "-j", spec.JOB_JAR, "-py", spec.JOB_PY]
        if restore:
            argv += ["-s", restore]
        result = container.exec_run(argv, environment=env, workdir=spec.USRLIB, user=f"{os.getuid()}:{os.getgid()}")
        return result.exit_code, (result.output or b"").decode(errors="replace")

    # ------------------------------------------------------------------ status / down
    def status(self) -> StackStatus:
        try:
            self.client
        except PipectlError as exc:
            rows = [ComponentStatus(n, None, self.address(n), False, detail=exc.message) for n in COMPONENTS]
            return StackStatus(
                runtime=self.runtime, components=rows, state_dir=str(self.state), topic=self.s.pipeline.topic
            )
        overview = self.flink_overview()
        rows = []
        for name in COMPONENTS:
            container = self.container(name)
            running = self._running(container)
            pid = (container.attrs.get("State", {}).get("Pid") or None) if running else None
            if running:
                detail = f"container {container.name}"
            else:
                detail = "no container" if container is None else f"container {container.name} {container.status}"
            if name == "kafka":
                healthy = running and self.kafka_healthy()
            elif name == "jobmanager":
                healthy = running and overview is not None
                if overview and running:
                    detail = f"flink {overview.get('flink-version', '?')}"
            else:
                live = self.live_taskmanager() if overview and running else None
                healthy = live is not None and int(live.get("slotsNumber", 0)) >= 1
                if live is not None:
                    detail = f"{live.get('slotsNumber', 0)} slots, {live.get('freeSlots', 0)} free"
                elif running:
                    detail = f"container {container.name}, TaskManager not registered with the JobManager"
                if container is not None and container.attrs.get("RestartCount"):
                    detail += f", restarted {container.attrs['RestartCount']} time(s) by Docker"
            rows.append(ComponentStatus(name, pid, self.address(name), healthy, detail=detail))
        return StackStatus(
            runtime=self.runtime,
            components=rows,
            state_dir=str(self.state),
            topic=self.s.pipeline.topic,
            submit_command=spec.exec_job_command(self.layout),
        )

    def any_running(self) -> bool:
        if not engine_answers():
            return False
        return any(self._running(self.container(n)) for n in COMPONENTS)

    def data_paths(self) -> list[Path]:
        flink = Path(self.layout.flink_state_host)
        return [Path(self.layout.kafka_data_host).parent, flink / "checkpoints", flink / "savepoints"]

    def _stop_components(self) -> list[str]:
        from docker.errors import APIError, NotFound

        messages = []
        for name in ("taskmanager", "jobmanager", "kafka"):
            container = self.container(name)
            if self._running(container):
                container.stop(timeout=30 if name == "kafka" else 20)
                messages.append(f"{name}: stopped")
            else:
                messages.append(f"{name}: not running")
            if container is not None:
                try:
                    container.remove(force=True)
                except NotFound:
                    pass
        try:
            self.client.networks.get(self.layout.network).remove()
        except (NotFound, APIError):
            pass
        return messages
