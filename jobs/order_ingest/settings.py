"""The job's settings: where they come from and what they must contain.

Locally they come from environment variables. On Amazon Managed Service for Apache Flink the
job gets no environment of ours: its settings are the property group `PipelineConfig` in
/etc/flink/application_properties.json, with the same keys. Stdlib only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping

APPLICATION_PROPERTIES = Path("/etc/flink/application_properties.json")
# Where the properties file is read from instead (`pipectl aws rehearse` sets it; unset on the service).
APPLICATION_PROPERTIES_ENV = "APPLICATION_PROPERTIES_FILE"
PROPERTY_GROUP = "PipelineConfig"


class JobConfigError(Exception):
    """A setting the job needs is missing or invalid. The message names it."""


# Names the job pastes into its SQL (inside backticks) and Kafka settings: letters, digits, '_',
# '-' (tables and namespaces), also '.' (topics, groups). A backtick or a quote is never a name.
TABLE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
KAFKA_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _service_file(path: Path) -> str:
    return f"{path} (the service's properties)"


def read_application_properties(path: Path | None = None) -> dict[str, str] | None:
    """The PipelineConfig group from Managed Flink's properties file, or None when there is no file.

    When the file exists the job runs on the service (or in `pipectl aws rehearse`): the file must
    be a list of property groups with a PipelineConfig group setting DEPLOYMENT_ENV=aws, else
    JobConfigError says which, so the job never runs in local mode there."""
    path = path or Path(os.environ.get(APPLICATION_PROPERTIES_ENV) or APPLICATION_PROPERTIES)
    if not path.is_file():
        return None
    try:
        groups = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise JobConfigError(f"{_service_file(path)} is not valid JSON: {exc}") from None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise JobConfigError(f"{_service_file(path)} is not a list of property groups")
    for group in groups:
        if group.get("PropertyGroupId") == PROPERTY_GROUP:
            values = group.get("PropertyMap", {})
            if not isinstance(values, dict):
                raise JobConfigError(f"the {PROPERTY_GROUP} property group in {path} has no PropertyMap object")
            properties = {str(k): str(v) for k, v in values.items()}
            deployment_env = properties.get("DEPLOYMENT_ENV", "").strip().lower()
            if deployment_env != "aws":
                got = (
                    f"sets DEPLOYMENT_ENV={properties['DEPLOYMENT_ENV']!r}"
                    if "DEPLOYMENT_ENV" in properties
                    else "sets no DEPLOYMENT_ENV"
                )
                raise JobConfigError(
                    f"the {PROPERTY_GROUP} property group in {path} {got}; on Managed Flink it must be 'aws' "
                    "(pipectl aws deploy sets it)"
                )
            return properties
    raise JobConfigError(
        f"{_service_file(path)} has no {PROPERTY_GROUP} property group: the job would run in local mode "
        "(pipectl aws deploy sets the group)"
    )


def is_aws_environment(environ: Mapping[str, str] | None = None) -> bool:
    """The one test for which environment the job runs in: DEPLOYMENT_ENV == "aws"."""
    env = os.environ if environ is None else environ
    return env.get("DEPLOYMENT_ENV", "local").strip().lower() == "aws"


@dataclass(frozen=True)
class JobSettings:
    deployment_env: str
    bootstrap_servers: str
    topic: str
    group_id: str
    namespace: str
    table: str
    rejected_table: str
    warehouse: str  # local: file:// URI of the Hadoop warehouse; aws: the S3 Tables bucket ARN
    checkpoint_interval_ms: int | None  # None on Managed Flink: the service configures it
    region: str = ""
    # aws only, an explicit setting: the S3 Tables and S3 endpoint to use instead of AWS's (an
    # emulator, as in `pipectl aws rehearse`). Empty on the service: the SDK's own endpoints.
    s3_tables_endpoint: str = ""
    # how this run is submitted (locally; set by pipectl, the benchmark or the user)
    pipeline_name: str = "order_ingest"  # PIPELINE_NAME: the Flink job's name
    parallelism: int | None = None  # PARALLELISM: parallelism.default (None: the cluster's)
    sink: str = "iceberg"  # ORDER_INGEST_SINK: iceberg (the job) | raw | json | blackhole | naive (the benchmark's)
    detached: bool = False  # PIPECTL_DETACHED=1: main() submits and returns (`flink run -d`)
    pipeline_jars: str = ""  # PIPELINE_JARS: pipeline.jars for local runs (empty: the Maven build output)
    allow_non_restored_state: bool = False  # ALLOW_NON_RESTORED_STATE=true: `pipectl job upgrade --allow-...`
    # KAFKA_START_OFFSETS "0:3790,1:3983": where a start without state reads each partition from (pipectl sets it
    # to one past the last offset the tables hold); other partitions: the group's offsets. Ignored on a restore.
    start_offsets: tuple[tuple[int, int], ...] = ()

    @property
    def is_aws(self) -> bool:
        return self.deployment_env == "aws"


# The pipeline's names when the environment gives none. The one source is producer/contract.py;
# this module runs from the zip with the standard library only, so it repeats them, and
# tests/unit/test_defaults.py pins the two to the same values.
DEFAULT_TOPIC = "orders.created.v1"
DEFAULT_GROUP_ID = "pipectl-order-ingest"
DEFAULT_NAMESPACE = "analytics"
DEFAULT_TABLE = "orders"
DEFAULT_REJECTED_TABLE = "orders_rejected"


def _required(values: Mapping[str, str], key: str, missing: list[str]) -> str:
    value = values.get(key, "").strip()
    if not value:
        missing.append(key)
    return value


def load_job_settings(values: Mapping[str, str]) -> JobSettings:
    """Build the settings from a flat mapping (the environment, or the property group)."""
    deployment_env = "aws" if is_aws_environment(values) else "local"
    missing: list[str] = []
    if deployment_env == "aws":
        bootstrap = _required(values, "KAFKA_BOOTSTRAP_SERVERS", missing)
        warehouse = _required(values, "S3_TABLES_BUCKET_ARN", missing)
        if warehouse and not warehouse.startswith("arn:aws"):
            raise JobConfigError(f"S3_TABLES_BUCKET_ARN must be a table bucket ARN, got {warehouse!r}")
        checkpoint_ms = None
    else:
        bootstrap = values.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        raw_warehouse = values.get("ICEBERG_WAREHOUSE", "warehouse")
        warehouse = raw_warehouse if "://" in raw_warehouse else Path(raw_warehouse).resolve().as_uri()
        try:
            checkpoint_ms = int(values.get("CHECKPOINT_INTERVAL_MS", "10000"))
        except ValueError:
            raise JobConfigError("CHECKPOINT_INTERVAL_MS must be a whole number of milliseconds") from None
    names = {
        "KAFKA_TOPIC": (values.get("KAFKA_TOPIC", DEFAULT_TOPIC), KAFKA_NAME_RE),
        "KAFKA_GROUP_ID": (values.get("KAFKA_GROUP_ID", DEFAULT_GROUP_ID), KAFKA_NAME_RE),
        "ICEBERG_NAMESPACE": (values.get("ICEBERG_NAMESPACE", DEFAULT_NAMESPACE), TABLE_NAME_RE),
        "ICEBERG_TABLE": (values.get("ICEBERG_TABLE", DEFAULT_TABLE), TABLE_NAME_RE),
        "ICEBERG_REJECTED_TABLE": (values.get("ICEBERG_REJECTED_TABLE", DEFAULT_REJECTED_TABLE), TABLE_NAME_RE),
    }
    for key, (value, pattern) in names.items():
        if not pattern.fullmatch(value):
            allowed = "'.', '_' or '-'" if pattern is KAFKA_NAME_RE else "'_' or '-'"
            raise JobConfigError(f"{key} must be letters, digits, {allowed}, got {value!r}")
    if missing:
        raise JobConfigError(
            "missing job settings: "
            + ", ".join(missing)
            + f" (set them in the {PROPERTY_GROUP} property group on Managed Flink, or as environment variables)"
        )
    return JobSettings(
        deployment_env=deployment_env,
        bootstrap_servers=bootstrap,
        topic=values.get("KAFKA_TOPIC", DEFAULT_TOPIC),
        group_id=values.get("KAFKA_GROUP_ID", DEFAULT_GROUP_ID),
        namespace=values.get("ICEBERG_NAMESPACE", DEFAULT_NAMESPACE),
        table=values.get("ICEBERG_TABLE", DEFAULT_TABLE),
        rejected_table=values.get("ICEBERG_REJECTED_TABLE", DEFAULT_REJECTED_TABLE),
        warehouse=warehouse,
        checkpoint_interval_ms=checkpoint_ms,
        region=values.get("AWS_REGION", ""),
        s3_tables_endpoint=values.get("S3_TABLES_ENDPOINT", "").strip() if deployment_env == "aws" else "",
        **_run_settings(values),
    )


SINKS = ("iceberg", "raw", "json", "blackhole", "naive")


def _run_settings(values: Mapping[str, str]) -> dict:
    """How this run is submitted: the job's name, parallelism, sink and jars, read with the rest."""
    sink = values.get("ORDER_INGEST_SINK", "iceberg").strip() or "iceberg"
    if sink not in SINKS:
        raise JobConfigError(f"ORDER_INGEST_SINK must be one of {', '.join(SINKS)}, got {sink!r}")
    raw_parallelism = values.get("PARALLELISM", "").strip()
    parallelism = None
    if raw_parallelism:
        try:
            parallelism = int(raw_parallelism)
        except ValueError:
            parallelism = 0
        if parallelism < 1:
            raise JobConfigError(f"PARALLELISM must be a whole number of at least 1, got {raw_parallelism!r}")
    return {
        "pipeline_name": values.get("PIPELINE_NAME", "").strip() or "order_ingest",
        "parallelism": parallelism,
        "sink": sink,
        "detached": values.get("PIPECTL_DETACHED") == "1",
        "pipeline_jars": values.get("PIPELINE_JARS", "").strip(),
        "allow_non_restored_state": values.get("ALLOW_NON_RESTORED_STATE") == "true",
        "start_offsets": parse_start_offsets(values.get("KAFKA_START_OFFSETS", "")),
    }


START_OFFSETS_RE = re.compile(r"(\d{1,9}):(\d{1,19})")


def parse_start_offsets(text: str) -> tuple[tuple[int, int], ...]:
    """KAFKA_START_OFFSETS, `partition:offset` pairs separated by commas, into sorted pairs."""
    pairs: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = START_OFFSETS_RE.fullmatch(item)
        if match is None or int(match.group(1)) in pairs:
            raise JobConfigError(
                f"KAFKA_START_OFFSETS must be partition:offset pairs separated by commas, each partition once "
                f"(e.g. 0:3790,1:3983), got {text!r}"
            )
        pairs[int(match.group(1))] = int(match.group(2))
    return tuple(sorted(pairs.items()))


def format_start_offsets(offsets: Mapping[int, int]) -> str:
    """The KAFKA_START_OFFSETS value for `offsets` (partition -> offset)."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))
