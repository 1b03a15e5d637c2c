"""The classification the job ran before dev.pipectl.flink.ClassifyOrder: Flink SQL with about 25
JSON_VALUE / JSON_QUERY calls per record (each one parses the record again). Kept, verbatim, as the
reference the Java function is compared with (tests/unit/test_classify_order.py and
bench/compare_classification.py); the job no longer uses it."""

from __future__ import annotations

from jobs.order_ingest.settings import JobSettings
from jobs.order_ingest.statements import (
    CATALOG,
    _NOW,
    catalog_options,
    create_tables,
    kafka_options,
    qualified,
    with_clause,
)

SOURCE = "legacy_kafka_orders"
CLASSIFIED = "legacy_classified_orders"

_EVENT_TIME_TEXT = "JSON_VALUE(`raw`, '$.event_time')"
_EVENT_TIME = f"TRY_CAST(REPLACE(REPLACE({_EVENT_TIME_TEXT}, 'T', ' '), 'Z', '') AS TIMESTAMP(3))"

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

# the columns of analytics.orders up to event_time, as the SQL computed them
VALUE_COLUMNS = """  JSON_VALUE(`raw`, '$.event_id'),
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
  JSON_VALUE(`raw`, '$.channel')"""


def classify_select(source: str) -> str:
    """reject_reason and the valid-row columns of every record of `source` (a table with `raw`)."""
    return f"SELECT {REJECT_REASON} AS `reject_reason`,\n{VALUE_COLUMNS},\n  {_EVENT_TIME} AS `event_time`\nFROM {source}"


def statements(s: JobSettings) -> tuple[list[str], list[str]]:
    """(DDL, inserts) of the job as it was, into the tables of `s`."""
    source = f"""CREATE TEMPORARY TABLE {SOURCE} (
  `raw` STRING,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `event_time` AS COALESCE({_EVENT_TIME}, TIMESTAMP '1970-01-01 00:00:00.000'),
  WATERMARK FOR `event_time` AS `event_time` - INTERVAL '60' SECOND
) {with_clause(kafka_options(s))}"""
    view = f"""CREATE TEMPORARY VIEW {CLASSIFIED} AS
SELECT `raw`, `kafka_partition`, `kafka_offset`, `event_time`,
  {REJECT_REASON} AS `reject_reason`
FROM {SOURCE}"""
    select_valid = f"""SELECT
{VALUE_COLUMNS},
  `event_time`,
  CAST(`event_time` AS DATE),
  `kafka_partition`,
  `kafka_offset`,
  {_NOW}
FROM {CLASSIFIED}
WHERE `reject_reason` IS NULL"""
    select_rejected = f"""SELECT `raw`, `reject_reason`, `kafka_partition`, `kafka_offset`, {_NOW}, CAST({_NOW} AS DATE)
FROM {CLASSIFIED}
WHERE `reject_reason` IS NOT NULL"""
    ddl = [f"CREATE CATALOG `{CATALOG}` {with_clause(catalog_options(s))}", *create_tables(s), source, view]
    inserts = [f"INSERT INTO {qualified(s, s.table)}\n{select_valid}",
               f"INSERT INTO {qualified(s, s.rejected_table)}\n{select_rejected}"]
    return ddl, inserts
