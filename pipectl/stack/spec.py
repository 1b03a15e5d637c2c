"""The docker stack's services, defined once.

pipectl's docker runtime (pipectl/stack/docker.py) builds and starts these services through the
Docker SDK, and compose/docker-compose.yml is rendered from them for people who use Compose:

    python -m pipectl.stack.spec > compose/docker-compose.yml

(tests/unit/test_compose_spec.py fails when the committed file and this module differ.)

The two differ only in their `Layout`: names, where data lives, which host ports are used and
who the Flink containers work for. Both mount the host's warehouse folder at the *same absolute
path* inside the containers, so the Iceberg metadata holds paths that are true on the host too
(pyiceberg and `pipectl verify` read the table there). pipectl also mounts its Flink state folder
that way, so every path it hands the cluster (savepoint target, restore path) means the same on
both sides; Compose keeps Kafka's data and Flink's state in named volumes and names the
containers as the project's flow document does (`kafka`, `flink-jobmanager`, `flink-taskmanager`).

The Flink containers start as root, make the caller's uid known inside the image and run Flink
as the caller (compose/flink/as-caller.sh): PIPECTL_RUN_AS is pipectl's own uid:gid, or for
Compose the project folder, whose owner is the caller. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from pipectl.config import LocalSettings, PipelineSettings, Settings
from pipectl.launch.flink import TASKMANAGER_METASPACE

COMPONENTS = ("kafka", "jobmanager", "taskmanager")

FLINK_IMAGE = "pipectl-flink:local"
KAFKA_IMAGE = "pipectl-kafka:local"
FLINK_DOCKERFILE = "compose/flink/Dockerfile"
KAFKA_DOCKERFILE = "compose/kafka/Dockerfile"
WHEELS_DIR = "compose/wheels"  # the Flink image's offline wheelhouse, inside the build context

# Public defaults for users, pinned by digest (the multi-platform index of the tag, as recorded by
# docker-library/repo-info); the tests build from a local base (PIPECTL_DOCKER_BASE_IMAGE).
FLINK_BASE_IMAGE = "python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02"
KAFKA_BASE_IMAGE = "eclipse-temurin:17-jre@sha256:c6f2875c05ea10f16398bdc5f73405c384991506f2f1ead8bcc6582ae8adea79"
# What the Flink image's Python needs to run the SQL-only job's driver (`flink run -py`), pinned
# in requirements.lock. No Beam: the job never starts Flink's Python worker.
FLINK_PYTHON_PACKAGES = ("apache-flink", "apache-flink-libraries", "py4j", "ruamel-yaml")

USRLIB = "/opt/flink/usrlib"
JOB_PY = f"{USRLIB}/jobs/order_ingest/job.py"
JOB_JAR = f"{USRLIB}/lib/pyflink-dependencies.jar"
PYTHON = "/opt/venv/bin/python"
KAFKA_INTERNAL_PORT = 29092  # kafka:29092 inside the network
KAFKA_HOST_PORT = 9092  # the container port published on 127.0.0.1:<local.kafka_port>
FLINK_REST_PORT = 8081
KAFKA_DATA = "/var/lib/kafka/data"
INTERNAL_BOOTSTRAP = f"kafka:{KAFKA_INTERNAL_PORT}"
# a fixed KRaft cluster id: the data folder is formatted once with it
KAFKA_CLUSTER_ID = "cGlwZWN0bC1sb2NhbC0wMQ"
# The Compose file's container names: the ones the project's flow document uses
# (`docker exec flink-jobmanager python /opt/flink/usrlib/jobs/order_ingest/job.py`).
SEED_CONTAINER_NAMES = {"kafka": "kafka", "jobmanager": "flink-jobmanager", "taskmanager": "flink-taskmanager"}
# Compose: the project folder is the folder Compose runs in (`${PWD}`, the repository root, where
# .env points Compose at compose/docker-compose.yml); it is mounted read-only only to tell its owner.
COMPOSE_PROJECT = "${PWD}"
PROJECT_MOUNT = "/opt/flink/project"


@dataclass(frozen=True)
class Build:
    dockerfile: str  # relative to the project folder, which is the build context
    args: dict[str, str]  # build argument -> public default
    inputs: tuple[str, ...] = ()  # what the Dockerfile copies from the context (pipectl sends only these)


@dataclass(frozen=True)
class Mount:
    source: str  # a host path, or a named volume (Compose only)
    target: str
    volume: bool = False
    read_only: bool = False


@dataclass(frozen=True)
class Service:
    name: str  # kafka | jobmanager | taskmanager: also its DNS name in the network
    container_name: str
    image: str
    build: Build
    command: tuple[str, ...]
    environment: dict[str, str]
    ports: tuple[tuple[str, int | str, int], ...] = ()  # (host ip, host port, container port)
    mounts: tuple[Mount, ...] = ()
    depends_on: tuple[str, ...] = ()
    user: str | None = None  # uid:gid the container runs as; None: the image's (root)


@dataclass(frozen=True)
class Layout:
    """Names, ports and where data lives, on the host and inside the containers."""

    prefix: str  # container names <prefix>-<service>; also the network's name
    kafka_port: int | str  # str: a Compose variable with its default
    flink_port: int | str
    warehouse_host: str
    warehouse: str  # inside the Flink containers
    flink_state_host: str
    flink_state: str  # inside the Flink containers: checkpoints/, savepoints/
    kafka_data_host: str  # a host folder, or a named volume when `volumes`
    volumes: bool = False  # named volumes for Kafka data and Flink state (Compose)
    create_topics: str = ""  # KAFKA_CREATE_TOPICS: Compose has no `pipectl local up` to create it
    run_as: str = "0:0"  # PIPECTL_RUN_AS of the Flink containers: uid:gid, or a path whose owner
    kafka_user: str | None = None  # the Kafka container's uid:gid (None: root)
    project_host: str = ""  # a host folder mounted read-only at PROJECT_MOUNT (Compose)
    seed_names: bool = False  # container names SEED_CONTAINER_NAMES instead of <prefix>-<service>
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    local: LocalSettings = field(default_factory=LocalSettings)

    @property
    def network(self) -> str:
        return self.prefix

    def container(self, service: str) -> str:
        return SEED_CONTAINER_NAMES[service] if self.seed_names else f"{self.prefix}-{service}"


def compose_layout() -> Layout:
    """The Compose file's layout: ./warehouse of the folder Compose runs in (the repository root),
    mounted at the same absolute path; named volumes for Kafka data and Flink state; the default
    ports, which follow the same variables as pipectl's settings (PIPECTL_LOCAL_KAFKA_PORT,
    PIPECTL_LOCAL_FLINK_PORT); the seed's container names; Flink runs as the project's owner."""
    local, pipeline = LocalSettings(), PipelineSettings()
    warehouse = f"{COMPOSE_PROJECT}/warehouse"
    return Layout(
        prefix="pipectl",
        kafka_port="${PIPECTL_LOCAL_KAFKA_PORT:-%d}" % local.kafka_port,
        flink_port="${PIPECTL_LOCAL_FLINK_PORT:-%d}" % local.flink_port,
        warehouse_host=warehouse,
        warehouse=warehouse,
        flink_state_host="flink-state",
        flink_state="/opt/flink/state",
        kafka_data_host="kafka-data",
        volumes=True,
        create_topics=f"{pipeline.topic}:{pipeline.partitions}",
        run_as=PROJECT_MOUNT,
        project_host=COMPOSE_PROJECT,
        seed_names=True,
        pipeline=pipeline,
        local=local,
    )


def runtime_layout(settings: Settings) -> Layout:
    """pipectl's layout: host folders mounted at the same absolute paths, ports from the settings.
    The default state folder gets the plain names (pipectl-kafka, …); any other state folder
    (tests, a second checkout) gets names of its own."""
    state = settings.state_dir.resolve()
    default_state = (settings.project_dir / LocalSettings().state_dir).resolve()
    prefix = "pipectl" if state == default_state else "pipectl-" + hashlib.sha1(str(state).encode()).hexdigest()[:8]
    flink_state = str(state / "flink")
    warehouse = str(settings.warehouse_dir.resolve())
    return Layout(
        prefix=prefix,
        kafka_port=settings.local.kafka_port,
        flink_port=settings.local.flink_port,
        warehouse_host=warehouse,
        warehouse=warehouse,
        flink_state_host=flink_state,
        flink_state=flink_state,
        kafka_data_host=str(state / "docker" / "kafka"),
        run_as=f"{os.getuid()}:{os.getgid()}",
        kafka_user=f"{os.getuid()}:{os.getgid()}",
        pipeline=settings.pipeline,
        local=settings.local,
    )


def flink_properties(layout: Layout) -> str:
    """The Flink configuration both Flink containers start with (flat config.yaml lines)."""
    local, pipeline = layout.local, layout.pipeline
    conf = {
        "jobmanager.rpc.address": "jobmanager",
        "jobmanager.bind-host": "0.0.0.0",
        "jobmanager.memory.process.size": local.jobmanager_memory,
        "taskmanager.bind-host": "0.0.0.0",
        "taskmanager.host": "taskmanager",
        "taskmanager.memory.process.size": local.taskmanager_memory,
        "taskmanager.memory.jvm-metaspace.size": TASKMANAGER_METASPACE,
        "taskmanager.numberOfTaskSlots": local.taskmanager_slots,
        "parallelism.default": pipeline.parallelism,
        "rest.address": "jobmanager",
        "rest.bind-address": "0.0.0.0",
        "rest.port": FLINK_REST_PORT,
        "heartbeat.timeout": 20000,
        "state.checkpoints.dir": f"file://{layout.flink_state}/checkpoints",
        "state.savepoints.dir": f"file://{layout.flink_state}/savepoints",
        "state.checkpoints.num-retained": 3,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": 1000,
        "restart-strategy.fixed-delay.delay": "5 s",
        "python.client.executable": PYTHON,
        "python.executable": PYTHON,
        "web.submit.enable": "false",
        # the UI is served by the REST endpoint the host publishes: no other origin may call the API
        # from a browser (the same address as settings.flink_rest_url)
        "web.access-control-allow-origin": f"http://{local.flink_host}:{local.flink_port}",
        # the client's JVM exits right after a submit; Hadoop's shutdown hook then touches the
        # job's closed class loader, which Flink's leak check turns into a stack trace
        "classloader.check-leaked-classloader": "false",
    }
    return "".join(f"{k}: {v}\n" for k, v in conf.items())


def job_environment(layout: Layout) -> dict[str, str]:
    """What the job needs inside the JobManager container (pipectl adds its other settings).
    SUBMIT_ARGS makes a plain `python job.py` there submit to this cluster: PyFlink then starts
    its Java gateway through `flink run -d -j <dependency jar>` (the cluster of FLINK_CONF_DIR)
    instead of in-process with a mini cluster; `-j` puts the jar on the client's classpath, as
    `pipectl job start` and Managed Flink's `jarfile` do, since the client compiles code that calls
    the job's Java classification function."""
    return {
        "DEPLOYMENT_ENV": "local",
        "KAFKA_BOOTSTRAP_SERVERS": INTERNAL_BOOTSTRAP,
        "ICEBERG_WAREHOUSE": f"file://{layout.warehouse}",
        "PIPELINE_JARS": f"file://{JOB_JAR}",
        "PIPECTL_DETACHED": "1",
        "SUBMIT_ARGS": f"remote -d -j {JOB_JAR}",
    }


def caller_environment(layout: Layout) -> dict[str, str]:
    """Who the Flink containers work for, and the folders that become the caller's."""
    return {
        "PIPECTL_RUN_AS": layout.run_as,
        "PIPECTL_WAREHOUSE_DIR": layout.warehouse,
        "PIPECTL_STATE_DIR": layout.flink_state,
    }


def exec_job_command(layout: Layout) -> str:
    """The one line that submits the job from inside the JobManager container."""
    return f"docker exec {layout.container('jobmanager')} python {JOB_PY}"


def services(layout: Layout) -> list[Service]:
    pipeline, local = layout.pipeline, layout.local
    kafka_env = {
        "KAFKA_ADVERTISED_HOST": f"127.0.0.1:{layout.kafka_port}",
        "KAFKA_INTERNAL_HOST": INTERNAL_BOOTSTRAP,
        "KAFKA_CLUSTER_ID": KAFKA_CLUSTER_ID,
        "KAFKA_HEAP": local.kafka_heap,
        "KAFKA_NUM_PARTITIONS": str(pipeline.partitions),
    }
    if layout.create_topics:
        kafka_env["KAFKA_CREATE_TOPICS"] = layout.create_topics
    flink_build = Build(
        FLINK_DOCKERFILE,
        {"BASE_IMAGE": FLINK_BASE_IMAGE, "PYTHON_PACKAGES": "pypi"},
        inputs=(
            "requirements.lock",
            WHEELS_DIR + "/",
            "target/pyflink-dependencies.jar",
            "compose/flink/entrypoint.sh",
            "compose/flink/as-caller.sh",
            "jobs/",
        ),
    )
    flink_mounts = (
        Mount(layout.warehouse_host, layout.warehouse),
        Mount(layout.flink_state_host, layout.flink_state, volume=layout.volumes),
    ) + ((Mount(layout.project_host, PROJECT_MOUNT, read_only=True),) if layout.project_host else ())
    caller = caller_environment(layout)
    props = flink_properties(layout)
    return [
        Service(
            name="kafka",
            container_name=layout.container("kafka"),
            image=KAFKA_IMAGE,
            build=Build(
                KAFKA_DOCKERFILE,
                {"BASE_IMAGE": KAFKA_BASE_IMAGE},
                inputs=("target/kafka/libs/", "compose/kafka/entrypoint.sh"),
            ),
            command=(),
            environment=kafka_env,
            ports=(("127.0.0.1", layout.kafka_port, KAFKA_HOST_PORT),),
            mounts=(Mount(layout.kafka_data_host, KAFKA_DATA, volume=layout.volumes),),
            user=layout.kafka_user,
        ),
        Service(
            name="jobmanager",
            container_name=layout.container("jobmanager"),
            image=FLINK_IMAGE,
            build=flink_build,
            command=("jobmanager",),
            environment={"FLINK_PROPERTIES": props, **caller, **job_environment(layout)},
            ports=(("127.0.0.1", layout.flink_port, FLINK_REST_PORT),),
            mounts=flink_mounts,
            depends_on=("kafka",),
        ),
        Service(
            name="taskmanager",
            container_name=layout.container("taskmanager"),
            image=FLINK_IMAGE,
            build=flink_build,
            command=("taskmanager",),
            environment={"FLINK_PROPERTIES": props, **caller},
            mounts=flink_mounts,
            depends_on=("jobmanager",),
        ),
    ]


# ---------------------------------------------------------------------------------- Compose
def _q(value) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(str(value))


def _block(value: str, indent: str) -> list[str]:
    return ["|"] + [indent + line for line in value.rstrip("\n").split("\n")]


def render_compose(layout: Layout | None = None) -> str:
    """compose/docker-compose.yml, deterministically (no YAML library needed)."""
    layout = layout or compose_layout()
    out = [
        "# Generated from pipectl/stack/spec.py -- do not edit by hand. Regenerate with:",
        "#   python -m pipectl.stack.spec > compose/docker-compose.yml",
        "#",
        "# Kafka (KRaft) on 127.0.0.1:9092 (kafka:29092 inside the network), the Flink UI on",
        "# http://127.0.0.1:8081 (PIPECTL_LOCAL_KAFKA_PORT and PIPECTL_LOCAL_FLINK_PORT change them), tables",
        "# in ./warehouse of the folder Compose runs in. From the repository root (its .env points",
        "# Compose here), after `mvn clean package`:",
        "#   docker-compose build && docker-compose up -d",
        "#   " + exec_job_command(layout),
        "#   docker-compose down",
        "# Flink runs as the owner of the project folder. The base images and where Python packages",
        "# come from are build arguments (docs/docker.md).",
        "services:",
    ]
    for svc in services(layout):
        out.append(f"  {svc.name}:")
        out.append(f"    image: {_q(svc.image)}")
        out.append("    build:")
        out.append(f"      context: {_q('..')}")
        out.append(f"      dockerfile: {_q(svc.build.dockerfile)}")
        out.append("      args:")
        for arg, default in svc.build.args.items():
            out.append(f"        {arg}: {_q('${PIPECTL_DOCKER_' + arg + ':-' + default + '}')}")
        out.append(f"    container_name: {_q(svc.container_name)}")
        out.append(f"    hostname: {_q(svc.name)}")
        if svc.user:
            out.append(f"    user: {_q(svc.user)}")
        if svc.command:
            out.append(f"    command: [{', '.join(_q(c) for c in svc.command)}]")
        out.append("    environment:")
        for key, value in svc.environment.items():
            if "\n" in value:
                out.append(f"      {key}: " + "\n".join(_block(value, "        ")))
            else:
                out.append(f"      {key}: {_q(value)}")
        if svc.ports:
            out.append("    ports:")
            for ip, host_port, container_port in svc.ports:
                out.append(f"      - {_q(f'{ip}:{host_port}:{container_port}')}")
        if svc.mounts:
            out.append("    volumes:")
            for m in svc.mounts:
                out.append(f"      - {_q(f'{m.source}:{m.target}' + (':ro' if m.read_only else ''))}")
        if svc.depends_on:
            out.append(f"    depends_on: [{', '.join(_q(d) for d in svc.depends_on)}]")
        out.append("    networks:")
        out.append(f"      {layout.network}:")
        out.append(f"        aliases: [{_q(svc.name)}]")
    out.append("networks:")
    out.append(f"  {layout.network}:")
    out.append(f"    name: {_q(layout.network)}")
    named = sorted({m.source for s in services(layout) for m in s.mounts if m.volume})
    if named:
        out.append("volumes:")
        for name in named:
            out.append(f"  {name}: {{}}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_compose())
