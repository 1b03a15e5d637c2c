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

Over 400 lines: the runtime (up, status, down, submit), its image builds and the wheelhouse in
one module, next to spec.py (what the containers are).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from pipectl import kafka_admin
from pipectl.config import Settings
from pipectl.errors import EXIT_UNHEALTHY, EXIT_USAGE, NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter
from pipectl.stack import spec
from pipectl.stack.base import StackBase
from pipectl.stack.model import ComponentStatus, StackStatus

COMPONENTS = spec.COMPONENTS
ENV_BASE_IMAGE = "PIPECTL_DOCKER_BASE_IMAGE"
ENV_WHEELHOUSE = "PIPECTL_DOCKER_WHEELHOUSE"
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


# ---------------------------------------------------------------------------------- wheelhouse
def python_pins(lock: Path) -> list[str]:
    """`name==version` from requirements.lock for the packages the Flink image needs."""
    wanted = set(spec.FLINK_PYTHON_PACKAGES)
    pins = []
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if m and _norm(m.group(1)) in wanted:
            pins.append(f"{_norm(m.group(1))}=={m.group(2)}")
    missing = wanted - {p.split("==")[0] for p in pins}
    if missing:
        raise NotFoundError(f"{lock.name} pins no version of {', '.join(sorted(missing))}", hint="run 'make lock'")
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _has_wheel(folder: Path, pin: str) -> bool:
    name, version = pin.split("==")
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    return any(f.name.lower().startswith(stem) for f in folder.glob("*.whl"))


def ensure_wheelhouse(dest: Path, lock: Path, reporter: Reporter = SILENT) -> Path:
    """Wheels of the pinned packages (and of pip, which a base without pip installs them with)
    in `dest`, made on the host with `pip wheel` when missing."""
    import importlib.metadata

    try:
        pip_version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        raise NotFoundError(
            f"pip is not installed in {sys.executable}; it fetches the Flink image's wheels",
            hint=f"install it ({sys.executable} -m ensurepip), or fill {ENV_WHEELHOUSE} with the wheels",
        ) from None
    pins = python_pins(lock) + [f"pip=={pip_version}"]
    dest.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not _has_wheel(dest, p)]
    if missing:
        reporter.step(f"fetching Python wheels for the Flink image into {dest}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--wheel-dir",
                str(dest),
                *missing,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not all(_has_wheel(dest, p) for p in pins):
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PipectlError(
                f"could not fetch the Flink image's Python wheels: {last[0]}",
                hint=f"check the package index is reachable, or fill {dest} with wheels of {', '.join(pins)}",
            )
        reporter.done(f"wheels ready in {dest}")
    return dest


# ---------------------------------------------------------------------------------- the stack
class DockerStack(StackBase):
    runtime = "docker"

    def __init__(self, settings: Settings, reporter: Reporter = SILENT):
        super().__init__(settings, reporter)
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
    def up(self) -> StackStatus:
        messages: list[str] = []
        self._check_artifacts()
        for d in (
            self.state / "logs",
            Path(self.layout.kafka_data_host),
            Path(self.layout.flink_state_host),
            Path(self.layout.warehouse_host),
        ):
            d.mkdir(parents=True, exist_ok=True)
        client = self.client
        self._ensure_network()

        states = {n: self._state(self.container(n)) for n in COMPONENTS}
        # a container in its restart policy's back-off comes back by itself: wait for it
        missing = [n for n in COMPONENTS if states[n] not in ("running", "restarting")]
        if missing:
            self._build_images({self.services[n].image for n in missing})

        for name in COMPONENTS:
            svc = self.services[name]
            if name in missing:
                self._ensure_ports_free(name)
                old = self.container(name)
                if old is not None:
                    old.remove(force=True)
                self.r.step(f"starting {name} ({svc.container_name})")
                self._create(client, svc).start()
                messages.append(f"{name}: started")
            elif states[name] == "restarting":
                container = self.container(name)
                restarts = container.attrs.get("RestartCount", 0) if container is not None else 0
                message = (
                    f"{name}: not running; Docker's restart policy starts it again (restart {restarts + 1}), "
                    "waiting for it"
                )
                self.r.step(message)
                messages.append(message)
            elif name == "taskmanager" and not self.taskmanager_registered():
                message = "taskmanager: container running, its TaskManager not registered yet, waiting for it"
                self.r.step(message)
                messages.append(message)
            else:
                messages.append(f"{name}: found running, reusing it")
            if name == "kafka":
                self._wait("kafka", self.kafka_healthy, timeout=self.s.local.start_timeout_s)
                self.r.done(f"Kafka answers on {self.s.kafka_bootstrap}")
                created = kafka_admin.ensure_topic(
                    self.s.kafka_bootstrap, self.s.pipeline.topic, self.s.pipeline.partitions
                )
                messages.append(
                    f"topic {self.s.pipeline.topic}: "
                    + (f"created with {self.s.pipeline.partitions} partitions" if created else "exists")
                )
            elif name == "jobmanager":
                self._wait("jobmanager", self.flink_overview, timeout=self.s.local.start_timeout_s)
                self.r.done(f"Flink JobManager answers on {self.s.flink_rest_url}")
            else:
                self._wait("taskmanager", self.taskmanager_registered, timeout=self.s.local.start_timeout_s)
                self.r.done("Flink TaskManager registered")
        status = self.status()
        status.messages = messages
        return status

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

    # ------------------------------------------------------------------ images
    def _build_images(self, images: set[str]) -> None:
        base = os.environ.get(ENV_BASE_IMAGE, "").strip()
        wheelhouse = Path(os.environ.get(ENV_WHEELHOUSE) or self.s.target_dir / "docker" / "wheels")
        built: set[str] = set()
        for svc in self.services.values():
            if svc.image not in images or svc.image in built:
                continue
            built.add(svc.image)
            args = dict(svc.build.args)
            if base:
                args["BASE_IMAGE"] = base
            self._ensure_base_image(args["BASE_IMAGE"])
            extra: dict[str, Path] = {}
            if "PYTHON_PACKAGES" in args:
                ensure_wheelhouse(wheelhouse, self.s.project_dir / "requirements.lock", self.r)
                args["PYTHON_PACKAGES"] = "wheels"
                extra[spec.WHEELS_DIR + "/"] = wheelhouse
            self._build(svc, args, extra)

    def _ensure_base_image(self, image: str) -> None:
        """The base image is in the engine, or is pulled now; else one line naming the offline build."""
        from docker.errors import APIError, ImageNotFound

        try:
            self.client.images.get(image)
            return
        except ImageNotFound:
            pass
        if "@" in image:  # pinned by digest: the SDK splits name and digest itself
            name, tag = image, None
        else:
            name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        self.r.step(f"pulling base image {image}")
        try:
            self.client.images.pull(name, tag=tag)
        except APIError as exc:
            reason = (exc.explanation or str(exc)).strip().splitlines()[-1][:160]
            raise PipectlError(
                f"the base image {image} is not in the Docker engine and cannot be pulled ({reason})",
                hint=f"build offline from a local base: set {ENV_BASE_IMAGE} (the BASE_IMAGE build argument) "
                "to an image the engine has, see 'Offline build' in docs/docker.md",
            ) from None
        self.r.done(f"base image {image} pulled")

    def _context(self, svc: spec.Service, replace: dict[str, Path]):
        """The build context as a tar file: the Dockerfile and the inputs the spec lists."""
        root = self.s.project_dir
        f = tempfile.TemporaryFile()
        with tarfile.open(fileobj=f, mode="w") as tar:

            def add(path: Path, arcname: str) -> None:
                info = tar.gettarinfo(str(path), arcname)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isdir():
                    tar.addfile(info)
                    return
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)

            add(root / svc.build.dockerfile, svc.build.dockerfile)
            for item in svc.build.inputs:
                src = replace.get(item, root / item.rstrip("/"))
                if not src.exists():
                    raise NotFoundError(f"{src} is missing (needed to build {svc.image})", hint="run 'make build'")
                if src.is_dir():
                    add(src, item.rstrip("/"))
                    for p in sorted(src.rglob("*")):
                        if "__pycache__" in p.parts or p.suffix == ".pyc" or p.name == ".gitignore":
                            continue
                        add(p, item.rstrip("/") + "/" + p.relative_to(src).as_posix())
                else:
                    add(src, item)
        f.seek(0)
        return f

    def _build(self, svc: spec.Service, args: dict[str, str], replace: dict[str, Path]) -> None:
        from docker.errors import APIError

        log = self.state / "logs" / f"build-{svc.image.split(':')[0]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.r.step(f"building image {svc.image} (base {args['BASE_IMAGE']})")
        started = time.monotonic()
        error = None
        context = self._context(svc, replace)
        try:
            with open(log, "w") as out:
                stream = self.client.api.build(
                    fileobj=context,
                    custom_context=True,
                    dockerfile=svc.build.dockerfile,
                    tag=svc.image,
                    buildargs=args,
                    rm=True,
                    forcerm=True,
                    decode=True,
                )
                for chunk in stream:
                    if "stream" in chunk:
                        out.write(chunk["stream"])
                    if "error" in chunk:
                        error = chunk["error"].strip()
                        out.write(error + "\n")
        except APIError as exc:
            error = exc.explanation or str(exc)
        finally:
            context.close()
        if error:
            hint = f"full build log in {log}"
            raise PipectlError(f"building {svc.image} failed: {error.splitlines()[-1][:300]}", hint=hint)
        self.r.done(f"image {svc.image} built in {time.monotonic() - started:.0f}s")

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

    def down(self, purge: bool = False) -> StackStatus:
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
        if purge:
            for path in (
                Path(self.layout.kafka_data_host).parent,
                Path(self.layout.flink_state_host) / "checkpoints",
                Path(self.layout.flink_state_host) / "savepoints",
                self.s.warehouse_dir,
                self.state / "job.json",
            ):
                if path.is_dir():
                    shutil.rmtree(path)
                    messages.append(f"deleted {path}")
                elif path.exists():
                    path.unlink()
        status = self.status()
        status.messages = messages
        return status
