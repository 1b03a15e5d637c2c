"""The one place that turns job settings into Flink SQL: catalog, source, tables, inserts.

Pure functions over JobSettings, so the statements for both environments can be rendered and
checked without Flink. Every record is classified in SQL (no Python UDF on the record path):
a valid order goes to `<namespace>.<table>`, anything else to `<namespace>.<rejected_table>`
with the reason, its Kafka partition and offset.
"""

from __future__ import annotations

from jobs.order_ingest.settings import JobSettings

CATALOG = "lakehouse"
SOURCE = "kafka_orders"
CLASSIFIED = "classified_orders"

MSK_IAM_LOGIN_MODULE = "software.amazon.msk.auth.iam.IAMLoginModule"
MSK_IAM_CALLBACK_HANDLER = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
S3_TABLES_CATALOG = "software.amazon.s3tables.iceberg.S3TablesCatalog"


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def with_clause(options: dict[str, str]) -> str:
    body = ",\n  ".join(f"{quote(k)} = {quote(v)}" for k, v in options.items())
    return f"WITH (\n  {body}\n)"


def catalog_options(s: JobSettings) -> dict[str, str]:
    if s.is_aws:
        options = {"type": "iceberg", "catalog-impl": S3_TABLES_CATALOG, "warehouse": s.warehouse}
        if s.s3_tables_endpoint:
            # Only when set explicitly (S3_TABLES_ENDPOINT): the catalog's s3tables calls and the
            # table data (S3FileIO) go to that endpoint, path-style as emulators need.
            options.update(
                {
                    "s3tables.endpoint": s.s3_tables_endpoint,
                    "s3.endpoint": s.s3_tables_endpoint,
                    "s3.path-style-access": "true",
                }
            )
        return options
    return {"type": "iceberg", "catalog-type": "hadoop", "warehouse": s.warehouse, "property-version": "1"}


def kafka_options(s: JobSettings) -> dict[str, str]:
    options = {
        "connector": "kafka",
        "topic": s.topic,
        "properties.bootstrap.servers": s.bootstrap_servers,
        "properties.group.id": s.group_id,
        # Resume from the offsets committed on the last checkpoint; a new group starts at the beginning.
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        "properties.isolation.level": "read_committed",
        "scan.topic-partition-discovery.interval": "60 s",
        "format": "raw",
    }
    if s.is_aws:
        options.update(
            {
                "properties.security.protocol": "SASL_SSL",
                "properties.sasl.mechanism": "AWS_MSK_IAM",
                "properties.sasl.jaas.config": f"{MSK_IAM_LOGIN_MODULE} required;",
                "properties.sasl.client.callback.handler.class": MSK_IAM_CALLBACK_HANDLER,
            }
        )
    return options


# event_time is ISO-8601 UTC with a trailing Z ("2026-11-27T09:30:00.123Z"); stored as TIMESTAMP(3) in UTC.
_EVENT_TIME_TEXT = "JSON_VALUE(`raw`, '$.event_time')"
_EVENT_TIME = (
    f"TRY_CAST(REPLACE(REPLACE({_EVENT_TIME_TEXT}, 'T', ' '), 'Z', '') AS TIMESTAMP(3))"
)


def source_table(s: JobSettings) -> str:
    # The rowtime may not be NULL in Flink; unparseable times fall back to the epoch and those
    # records are quarantined anyway. Late events are kept: ingest is not windowed.
    return f"""CREATE TEMPORARY TABLE {SOURCE} (
  `raw` STRING,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `event_time` AS COALESCE({_EVENT_TIME}, TIMESTAMP '1970-01-01 00:00:00.000'),
  WATERMARK FOR `event_time` AS `event_time` - INTERVAL '{s.watermark_delay_s}' SECOND
) {with_clause(kafka_options(s))}"""


REJECT_REASON = f"""CASE
    WHEN `raw` IS NULL OR NOT (`raw` IS JSON OBJECT) THEN 'not a JSON object'
    WHEN JSON_VALUE(`raw`, '$.event_id') IS NULL THEN 'missing event_id'
    WHEN {_EVENT_TIME_TEXT} IS NULL THEN 'missing event_time'
    WHEN {_EVENT_TIME} IS NULL THEN 'event_time is not an ISO-8601 timestamp'
    WHEN JSON_VALUE(`raw`, '$.order_id') IS NULL THEN 'missing order_id'
    WHEN JSON_VALUE(`raw`, '$.customer.customer_id') IS NULL THEN 'missing customer.customer_id'
    WHEN COALESCE(JSON_QUERY(`raw`, '$.items'), '') NOT LIKE '[%' THEN 'items is not an array'
    WHEN NOT REGEXP(COALESCE(JSON_QUERY(`raw`, '$.total_amount' WITH WRAPPER), ''), '^\\[-?[0-9]')
      THEN 'total_amount is not a number'
    WHEN COALESCE(CHAR_LENGTH(JSON_VALUE(`raw`, '$.currency')), 0) <> 3 THEN 'currency is not a 3-letter code'
    ELSE CAST(NULL AS STRING)
  END"""


def classified_view() -> str:
    return f"""CREATE TEMPORARY VIEW {CLASSIFIED} AS
SELECT `raw`, `kafka_partition`, `kafka_offset`, `event_time`,
  {REJECT_REASON} AS `reject_reason`
FROM {SOURCE}"""


ORDERS_COLUMNS = """  `event_id` STRING NOT NULL,
  `event_type` STRING,
  `schema_version` INT,
  `order_id` STRING,
  `customer_id` STRING,
  `customer_name` STRING,
  `customer_email` STRING,
  `ship_city` STRING,
  `ship_country` STRING,
  `items` STRING,
  `item_count` INT,
  `total_amount` DECIMAL(12, 2),
  `currency` STRING,
  `payment_method` STRING,
  `channel` STRING,
  `event_time` TIMESTAMP(3),
  `event_time_day` DATE,
  `kafka_partition` INT,
  `kafka_offset` BIGINT,
  `ingest_time` TIMESTAMP(3)"""

REJECTED_COLUMNS = """  `raw` STRING,
  `reason` STRING,
  `kafka_partition` INT,
  `kafka_offset` BIGINT,
  `ingest_time` TIMESTAMP(3),
  `ingest_day` DATE"""

TABLE_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
}


def qualified(s: JobSettings, table: str) -> str:
    return f"`{CATALOG}`.`{s.namespace}`.`{table}`"


def create_tables(s: JobSettings) -> list[str]:
    return [
        f"CREATE DATABASE IF NOT EXISTS `{CATALOG}`.`{s.namespace}`",
        f"CREATE TABLE IF NOT EXISTS {qualified(s, s.table)} (\n{ORDERS_COLUMNS}\n)"
        f" PARTITIONED BY (`event_time_day`) {with_clause(TABLE_PROPERTIES)}",
        f"CREATE TABLE IF NOT EXISTS {qualified(s, s.rejected_table)} (\n{REJECTED_COLUMNS}\n)"
        f" PARTITIONED BY (`ingest_day`) {with_clause(TABLE_PROPERTIES)}",
    ]


_NOW = "CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3))"

SELECT_VALID = f"""SELECT
  JSON_VALUE(`raw`, '$.event_id'),
  JSON_VALUE(`raw`, '$.event_type'),
  TRY_CAST(JSON_VALUE(`raw`, '$.schema_version') AS INT),
  JSON_VALUE(`raw`, '$.order_id'),
  JSON_VALUE(`raw`, '$.customer.customer_id'),
  JSON_VALUE(`raw`, '$.customer.name'),
  JSON_VALUE(`raw`, '$.customer.email'),
  JSON_VALUE(`raw`, '$.shipping_address.city'),
  JSON_VALUE(`raw`, '$.shipping_address.country'),
  JSON_QUERY(`raw`, '$.items'),
  TRY_CAST(JSON_VALUE(`raw`, '$.item_count') AS INT),
  TRY_CAST(JSON_VALUE(`raw`, '$.total_amount') AS DECIMAL(12, 2)),
  JSON_VALUE(`raw`, '$.currency'),
  JSON_VALUE(`raw`, '$.payment_method'),
  JSON_VALUE(`raw`, '$.channel'),
  `event_time`,
  CAST(`event_time` AS DATE),
  `kafka_partition`,
  `kafka_offset`,
  {_NOW}
FROM {CLASSIFIED}
WHERE `reject_reason` IS NULL"""

SELECT_REJECTED = f"""SELECT `raw`, `reject_reason`, `kafka_partition`, `kafka_offset`, {_NOW}, CAST({_NOW} AS DATE)
FROM {CLASSIFIED}
WHERE `reject_reason` IS NOT NULL"""


def inserts(s: JobSettings) -> list[str]:
    return [
        f"INSERT INTO {qualified(s, s.table)}\n{SELECT_VALID}",
        f"INSERT INTO {qualified(s, s.rejected_table)}\n{SELECT_REJECTED}",
    ]


def blackhole_inserts() -> list[str]:
    """The same parsing into blackhole sinks: the ceiling the benchmark compares against."""
    return [
        f"CREATE TEMPORARY TABLE bh_orders (\n{ORDERS_COLUMNS.replace(' NOT NULL', '')}\n) WITH ('connector' = 'blackhole')",
        f"CREATE TEMPORARY TABLE bh_rejected (\n{REJECTED_COLUMNS}\n) WITH ('connector' = 'blackhole')",
        f"INSERT INTO bh_orders\n{SELECT_VALID}",
        f"INSERT INTO bh_rejected\n{SELECT_REJECTED}",
    ]


def setup_statements(s: JobSettings) -> list[str]:
    """Everything before the inserts, in order."""
    return [
        f"CREATE CATALOG `{CATALOG}` {with_clause(catalog_options(s))}",
        *create_tables(s),
        source_table(s),
        classified_view(),
    ]
