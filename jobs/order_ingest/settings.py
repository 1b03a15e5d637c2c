"""The job's settings: where they come from and what they must contain.

Locally they come from environment variables. On Amazon Managed Service for Apache Flink the
job gets no environment of ours: its settings are the property group `PipelineConfig` in
/etc/flink/application_properties.json, with the same keys. Stdlib only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping

APPLICATION_PROPERTIES = Path("/etc/flink/application_properties.json")
# Where the properties file is read from instead (`pipectl aws rehearse` sets it; unset on the service).
APPLICATION_PROPERTIES_ENV = "APPLICATION_PROPERTIES_FILE"
PROPERTY_GROUP = "PipelineConfig"


class JobConfigError(Exception):
    """A setting the job needs is missing or invalid. The message names it."""


def read_application_properties(path: Path | None = None) -> dict[str, str] | None:
    """The PipelineConfig group from Managed Flink's properties file, or None when not there."""
    path = path or Path(os.environ.get(APPLICATION_PROPERTIES_ENV) or APPLICATION_PROPERTIES)
    if not path.is_file():
        return None
    groups = json.loads(path.read_text())
    for group in groups:
        if group.get("PropertyGroupId") == PROPERTY_GROUP:
            return {str(k): str(v) for k, v in group.get("PropertyMap", {}).items()}
    return {}


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

    @property
    def is_aws(self) -> bool:
        return self.deployment_env == "aws"


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
    if missing:
        raise JobConfigError(
            "missing job settings: "
            + ", ".join(missing)
            + f" (set them in the {PROPERTY_GROUP} property group on Managed Flink, or as environment variables)"
        )
    return JobSettings(
        deployment_env=deployment_env,
        bootstrap_servers=bootstrap,
        topic=values.get("KAFKA_TOPIC", "orders.created.v1"),
        group_id=values.get("KAFKA_GROUP_ID", "pipectl-order-ingest"),
        namespace=values.get("ICEBERG_NAMESPACE", "analytics"),
        table=values.get("ICEBERG_TABLE", "orders"),
        rejected_table=values.get("ICEBERG_REJECTED_TABLE", "orders_rejected"),
        warehouse=warehouse,
        checkpoint_interval_ms=checkpoint_ms,
        region=values.get("AWS_REGION", ""),
        s3_tables_endpoint=values.get("S3_TABLES_ENDPOINT", "").strip() if deployment_env == "aws" else "",
    )
