"""The docker stack's services, defined once.

pipectl's docker runtime (pipectl/stack/docker.py) builds and starts these services through the
Docker SDK, and compose/docker-compose.yml is rendered from them for people who use Compose:

    python -m pipectl.stack.spec > compose/docker-compose.yml

(tests/unit/test_compose_spec.py fails when the committed file and this module differ.)

The two differ only in their `Layout`: where data lives and which host ports are used. The
Compose file keeps data in ./warehouse and named volumes, on the default ports. pipectl mounts
the host's warehouse and Flink state folders at the *same absolute paths* inside the
containers, so every path pipectl hands the cluster (warehouse URI, savepoint target, restore
path) means the same on both sides. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pipectl.config import LocalSettings, PipelineSettings, Settings

COMPONENTS = ("kafka", "jobmanager", "taskmanager")

FLINK_IMAGE = "pipectl-flink:local"
KAFKA_IMAGE = "pipectl-kafka:local"
FLINK_DOCKERFILE = "compose/flink/Dockerfile"
KAFKA_DOCKERFILE = "compose/kafka/Dockerfile"
WHEELS_DIR = "compose/wheels"  # the Flink image's offline wheelhouse, inside the build context

# Public defaults for users; the tests build from a local base (PIPECTL_DOCKER_BASE_IMAGE).
FLINK_BASE_IMAGE = "python:3.11-slim-bookworm"
KAFKA_BASE_IMAGE = "eclipse-temurin:17-jre"
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
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    local: LocalSettings = field(default_factory=LocalSettings)

    @property
    def network(self) -> str:
        return self.prefix

    def container(self, service: str) -> str:
        return f"{self.prefix}-{service}"


def compose_layout() -> Layout:
    """The Compose file's layout: ./warehouse on the host (paths relative to compose/), named
    volumes for Kafka data and Flink state, the default ports. The ports follow the same
    variables as pipectl's settings (PIPECTL_LOCAL_KAFKA_PORT, PIPECTL_LOCAL_FLINK_PORT), the
    warehouse folder PIPECTL_COMPOSE_WAREHOUSE (relative to compose/)."""
    local, pipeline = LocalSettings(), PipelineSettings()
    return Layout(
        prefix="pipectl",
        kafka_port="${PIPECTL_LOCAL_KAFKA_PORT:-%d}" % local.kafka_port,
        flink_port="${PIPECTL_LOCAL_FLINK_PORT:-%d}" % local.flink_port,
        warehouse_host="${PIPECTL_COMPOSE_WAREHOUSE:-../warehouse}",
        warehouse="/opt/flink/warehouse",
        flink_state_host="flink-state",
        flink_state="/opt/flink/state",
        kafka_data_host="kafka-data",
        volumes=True,
        create_topics=f"{pipeline.topic}:{pipeline.partitions}",
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
    }
    return "".join(f"{k}: {v}\n" for k, v in conf.items())


def job_environment(layout: Layout) -> dict[str, str]:
    """What the job needs inside the JobManager container (pipectl adds its other settings)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": INTERNAL_BOOTSTRAP,
        "ICEBERG_WAREHOUSE": f"file://{layout.warehouse}",
        "PIPELINE_JARS": f"file://{JOB_JAR}",
        "PIPECTL_DETACHED": "1",
    }


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
        inputs=("requirements.lock", WHEELS_DIR + "/", "target/pyflink-dependencies.jar",
                "compose/flink/entrypoint.sh", "jobs/"),
    )
    flink_mounts = (
        Mount(layout.warehouse_host, layout.warehouse),
        Mount(layout.flink_state_host, layout.flink_state, volume=layout.volumes),
    )
    props = flink_properties(layout)
    return [
        Service(
            name="kafka",
            container_name=layout.container("kafka"),
            image=KAFKA_IMAGE,
            build=Build(KAFKA_DOCKERFILE, {"BASE_IMAGE": KAFKA_BASE_IMAGE},
                        inputs=("target/kafka/libs/", "compose/kafka/entrypoint.sh")),
            command=(),
            environment=kafka_env,
            ports=(("127.0.0.1", layout.kafka_port, KAFKA_HOST_PORT),),
            mounts=(Mount(layout.kafka_data_host, KAFKA_DATA, volume=layout.volumes),),
        ),
        Service(
            name="jobmanager",
            container_name=layout.container("jobmanager"),
            image=FLINK_IMAGE,
            build=flink_build,
            command=("jobmanager",),
            environment={"FLINK_PROPERTIES": props, **job_environment(layout)},
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
            environment={"FLINK_PROPERTIES": props},
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
        "# http://127.0.0.1:8081, tables in ./warehouse (PIPECTL_LOCAL_KAFKA_PORT, PIPECTL_LOCAL_FLINK_PORT",
        "# and PIPECTL_COMPOSE_WAREHOUSE change them). From the project folder, after `make build`:",
        "#   docker compose -f compose/docker-compose.yml up -d --build",
        "#   docker compose -f compose/docker-compose.yml exec jobmanager flink run -d -j " + JOB_JAR + " -py " + JOB_PY,
        "#   docker compose -f compose/docker-compose.yml down",
        "# The base images and where Python packages come from are build arguments (docs/docker.md).",
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
