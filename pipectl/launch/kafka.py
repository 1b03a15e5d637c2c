"""The KRaft broker's launch steps that the native stack (pipectl/stack/native.py) and the
rehearsal's IAM broker (pipectl/rehearse/broker.py) share."""

from __future__ import annotations

import base64
import shlex
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from pipectl.errors import PipectlError

FORMAT_TIMEOUT_S = 120

# the broker's log4j 1 configuration: everything on stdout (its log file), the chatty loggers at WARN
LOG4J = (
    "log4j.rootLogger=INFO, stdout\n"
    "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
    "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
    "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
    "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
    "log4j.logger.kafka.request.logger=WARN\nlog4j.logger.state.change.logger=WARN\n"
)


def single_node_properties(data: Path, partitions: int) -> list[str]:
    """The server.properties lines every one-node KRaft broker of ours shares: its log folder, the
    topics' default partitions, one replica of the internal topics, no topic made by a client."""
    return [
        f"log.dirs={data}",
        f"num.partitions={partitions}",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
    ]


def write_log4j(path: Path) -> Path:
    """The broker's log4j.properties at `path`."""
    path.write_text(LOG4J)
    return path


def broker_argv(heap: str, log4j: Path, classpath: str, props: Path, java_opts: str = "") -> list[str]:
    """`kafka.Kafka server.properties` on the system Java, with a fixed heap and G1 (and `java_opts`, the
    setting local.java_opts, after them)."""
    return [
        "java",
        f"-Xmx{heap}",
        f"-Xms{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        *shlex.split(java_opts),
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        classpath,
        "kafka.Kafka",
        str(props),
    ]


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def format_storage(classpath: str, log4j: Path, props: Path, env: Mapping[str, str], *, what: str, hint: str) -> None:
    """`kafka.tools.StorageTool format` with a new cluster id, once per data folder. A failure, even
    one without a word of output, and a format that outlives its deadline are one line each."""
    argv = [
        "java",
        "-cp",
        classpath,
        f"-Dlog4j.configuration=file:{log4j}",
        "kafka.tools.StorageTool",
        "format",
        f"--cluster-id={cluster_id()}",  # "=": an id may start with "-"
        "-c",
        str(props),
    ]
    try:
        fmt = subprocess.run(argv, capture_output=True, text=True, env=dict(env), timeout=FORMAT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PipectlError(f"formatting {what} did not finish within {FORMAT_TIMEOUT_S}s", hint=hint) from None
    if fmt.returncode != 0:
        last = (fmt.stderr or fmt.stdout).strip().splitlines()[-1:] or [f"exit {fmt.returncode}, no output"]
        raise PipectlError(f"could not format {what}: {last[0]}", hint=hint)
