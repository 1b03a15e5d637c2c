"""The one place that turns job settings into Flink SQL: catalog, source, tables, inserts.

Pure functions over JobSettings, so the statements for both environments can be rendered and
checked without Flink. Every record is parsed once by a Java table function (no Python UDF on
the record path): a valid order goes to `<namespace>.<table>`, anything else to
`<namespace>.<rejected_table>` with the reason, its Kafka partition and offset.
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
    if s.is_aws:  # the region too, else the catalog's AWS client guesses it (client.region)
        region = {"client.region": s.region} if s.region else {}
        options = {"type": "iceberg", "catalog-impl": S3_TABLES_CATALOG, "warehouse": s.warehouse, **region}
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
        # the state holds the offsets; committing them to the group on every completed checkpoint
        # makes progress visible (consumer lag) and gives `job start --fresh` a place to read on from
        "properties.commit.offsets.on.checkpoint": "true",
        "scan.topic-partition-discovery.interval": "60 s",
        "format": "raw",
    }
    if s.start_offsets:  # a start without state: after the last records the tables hold (pipectl/flink/read_on.py)
        options["scan.startup.mode"] = "specific-offsets"
        options["scan.startup.specific-offsets"] = ";".join(f"partition:{p},offset:{o}" for p, o in s.start_offsets)
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


# The classification: dev.pipectl.flink.ClassifyOrder, a Java table function shipped in
# pyflink-dependencies.jar (assembly/pyflink-dependencies/src). It parses each record once and emits one
# row: `reject_reason` (NULL for a valid order) and, for a valid order, its columns (event_time is
# ISO-8601 UTC with a trailing Z, stored as TIMESTAMP(3) in UTC). Reasons: see Reasons.java.
CLASSIFY_FUNCTION = "classify_order"
CLASSIFY_CLASS = "dev.pipectl.flink.ClassifyOrder"


def classify_function() -> str:
    return (
        f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {CLASSIFY_FUNCTION} AS {quote(CLASSIFY_CLASS)} LANGUAGE JAVA"
    )


def source_table(s: JobSettings) -> str:
    return f"""CREATE TEMPORARY TABLE {SOURCE} (
  `raw` STRING,
  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL
) {with_clause(kafka_options(s))}"""


# The function emits exactly one row per record, and runs once per record for both inserts only if
# their plans share one Correlate. Two things make sure of it:
#  * the view is registered from this query as a Table (job.register_classified_view), not with
#    CREATE VIEW, whose text Flink expands anew, with a new correlation id, for each insert;
#  * LEFT JOIN ... ON TRUE and filters that do not reject NULLs (IS NULL; COALESCE(...) <> ''): with an
#    inner join the planner pushes each insert's WHERE into its own Correlate.
def classified_select() -> str:
    return f"""SELECT s.`raw`, s.`kafka_partition`, s.`kafka_offset`, c.*
FROM {SOURCE} AS s LEFT JOIN LATERAL TABLE({CLASSIFY_FUNCTION}(s.`raw`)) AS c ON TRUE"""


VALID = "`reject_reason` IS NULL"
REJECTED = "COALESCE(`reject_reason`, '') <> ''"  # = IS NOT NULL (a reason is never empty), see above


# The columns of <namespace>.<table>: (name, Flink SQL type, NOT NULL). The table only ever gains optional
# columns at the end (Iceberg schema evolution, see evolve_statements): old rows read them as NULL.
ORDERS_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("event_id", "STRING", True),
    ("event_type", "STRING", False),
    ("schema_version", "INT", False),
    ("order_id", "STRING", False),
    ("customer_id", "STRING", False),
    ("customer_name", "STRING", False),
    ("customer_email", "STRING", False),
    ("ship_city", "STRING", False),
    ("ship_country", "STRING", False),
    ("items", "STRING", False),
    ("item_count", "INT", False),
    ("total_amount", "DECIMAL(12, 2)", False),
    ("currency", "STRING", False),
    ("payment_method", "STRING", False),
    ("channel", "STRING", False),
    ("event_time", "TIMESTAMP(3)", False),
    ("event_time_day", "DATE", False),
    ("kafka_partition", "INT", False),
    ("kafka_offset", "BIGINT", False),
    ("ingest_time", "TIMESTAMP(3)", False),
    # contract version 2 (NULL for version 1 events and for rows written before the table gained them)
    ("discount_amount", "DECIMAL(12, 2)", False),
    ("coupon_code", "STRING", False),
)
V2_COLUMNS = ("discount_amount", "coupon_code")


def _columns(fields) -> str:
    return ",\n".join(f"  `{name}` {sql_type}{' NOT NULL' if required else ''}" for name, sql_type, required in fields)


ORDERS_COLUMNS = _columns(ORDERS_FIELDS)

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

# The Parquet writer's settings of each table (measured: docs/benchmarks.md, "Into Iceberg: the writer's settings").
# - A dictionary of at most 64 KB per column chunk, not 2 MB: a column of unique values (ids, offsets,
#   times, items) leaves dictionary encoding after a few thousand values instead of hashing them until
#   2 MB are full; a column of few values (currency, channel, the customers) keeps it. The same bytes on
#   disk, 11-21 % less of the TaskManager's CPU per record into Iceberg.
# - No Parquet statistics (and so no bounds in Iceberg's manifests) for the texts whose bounds prune
#   nothing: the long JSON texts (items, raw) and the random ids, names and emails, which every data file
#   holds from end to end of their range. Keeping them compares every row's text with the column's
#   minimum and maximum (about 3 % of the TaskManager's CPU for all string columns in a profile).
# A table made by an older release is given them when the job starts (writer_settings_statements).
NO_STATISTICS = {
    "orders": ("event_id", "order_id", "customer_id", "customer_name", "customer_email", "items"),
    "rejected": ("raw",),
}
WRITER_PROPERTIES = {
    kind: {
        "write.parquet.dict-size-bytes": "65536",
        **{f"write.parquet.stats-enabled.column.{column}": "false" for column in columns},
    }
    for kind, columns in NO_STATISTICS.items()
}


def qualified(s: JobSettings, table: str) -> str:
    return f"`{CATALOG}`.`{s.namespace}`.`{table}`"


def create_tables(s: JobSettings) -> list[str]:
    return [
        f"CREATE DATABASE IF NOT EXISTS `{CATALOG}`.`{s.namespace}`",
        f"CREATE TABLE IF NOT EXISTS {qualified(s, s.table)} (\n{ORDERS_COLUMNS}\n)"
        f" PARTITIONED BY (`event_time_day`) {with_clause({**TABLE_PROPERTIES, **WRITER_PROPERTIES['orders']})}",
        f"CREATE TABLE IF NOT EXISTS {qualified(s, s.rejected_table)} (\n{REJECTED_COLUMNS}\n)"
        f" PARTITIONED BY (`ingest_day`) {with_clause({**TABLE_PROPERTIES, **WRITER_PROPERTIES['rejected']})}",
    ]


def writer_settings_statements(s: JobSettings, kind: str, existing: dict[str, str]) -> list[str]:
    """`ALTER TABLE ... SET` giving the `kind` table ("orders" or "rejected") the writer's settings it
    lacks, from its `existing` properties; empty when it has them all (idempotent: no metadata commit)."""
    table = s.table if kind == "orders" else s.rejected_table
    changed = {k: v for k, v in WRITER_PROPERTIES[kind].items() if existing.get(k) != v}
    if not changed:
        return []
    body = ", ".join(f"{quote(k)} = {quote(v)}" for k, v in changed.items())
    return [f"ALTER TABLE {qualified(s, table)} SET ({body})"]


# The processing time of each record, in UTC (table.local-time-zone): LOCALTIMESTAMP is
# CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)) in the session's time zone, evaluated per record in streaming, and
# made from the epoch milliseconds and the zone's offset, where the cast went through a LocalDateTime
# (about 2 % of the job's CPU in a profile).
_NOW = "LOCALTIMESTAMP"

SELECT_VALID = f"""SELECT
  `event_id`, `event_type`, `schema_version`, `order_id`, `customer_id`, `customer_name`, `customer_email`,
  `ship_city`, `ship_country`, `items`, `item_count`, `total_amount`, `currency`, `payment_method`, `channel`,
  `event_time`,
  CAST(`event_time` AS DATE),
  `kafka_partition`,
  `kafka_offset`,
  {_NOW},
  `discount_amount`,
  `coupon_code`
FROM {CLASSIFIED}
WHERE {VALID}"""

SELECT_REJECTED = f"""SELECT `raw`, `reject_reason`, `kafka_partition`, `kafka_offset`, {_NOW}, CAST({_NOW} AS DATE)
FROM {CLASSIFIED}
WHERE {REJECTED}"""


class SchemaChangeRefused(ValueError):
    """The table's columns cannot become the job's by adding optional columns. The message is one line
    that names the column and the rule."""


# Type promotions Iceberg's schema evolution allows (everything else is refused by Iceberg itself).
_ICEBERG_PROMOTIONS = {("int", "long"), ("float", "double")}


def iceberg_type(sql_type: str) -> str:
    """The Iceberg type of a Flink SQL type as the Iceberg Flink catalog maps it ('decimal(12,2)', 'timestamp',
    'string', ...): the one vocabulary in which the job's columns and a table's columns are compared."""
    t = sql_type.upper().replace(" NOT NULL", "").replace(" ", "")
    if t.startswith(("VARCHAR", "CHAR")) or t == "STRING":
        return "string"
    if t.startswith("DECIMAL"):
        return t.lower()
    if t.startswith("TIMESTAMP_LTZ") or "WITHLOCALTIMEZONE" in t:
        return "timestamptz"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return {
        "INT": "int",
        "INTEGER": "int",
        "BIGINT": "long",
        "SMALLINT": "int",
        "TINYINT": "int",
        "FLOAT": "float",
        "DOUBLE": "double",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "BYTES": "binary",
    }.get(t, t.lower())


def _type_rule(name: str, old: str, new: str) -> str:
    if (old, new) in _ICEBERG_PROMOTIONS or (
        old.startswith("decimal(") and new.startswith("decimal(") and old.split(",")[1] == new.split(",")[1]
    ):
        return (
            f"column {name} would change type from {old} to {new}: Iceberg allows this promotion, but "
            "an upgrade in place only adds optional columns"
        )
    return (
        f"column {name} would change type from {old} to {new}: Iceberg allows only int->long, "
        "float->double and a wider decimal precision"
    )


def evolve_statements(s: JobSettings, existing: list[tuple[str, str, bool]]) -> list[str]:
    """ALTER TABLE statements that give <namespace>.<table> the job's columns, from its `existing`
    (name, Iceberg type, required) columns: only new optional columns, added after the others
    (Iceberg schema evolution: a metadata change, no data file is rewritten, old rows read NULL).
    Empty when nothing is missing (idempotent). Raises SchemaChangeRefused for anything else."""
    want = {name: (iceberg_type(sql_type), required) for name, sql_type, required in ORDERS_FIELDS}
    have = set()
    for name, old_type, old_required in existing:
        have.add(name)
        if name not in want:
            raise SchemaChangeRefused(
                f"column {name} of {s.namespace}.{s.table} is not among the job's columns: "
                "a renamed or dropped column is not an additive change"
            )
        new_type, new_required = want[name]
        old_type = old_type.replace(" ", "").lower()
        if old_type != new_type:
            raise SchemaChangeRefused(_type_rule(name, old_type, new_type))
        if new_required and not old_required:
            raise SchemaChangeRefused(f"column {name} would become required: rows in the table may hold NULL")
    missing = [(name, sql_type, required) for name, sql_type, required in ORDERS_FIELDS if name not in have]
    for name, _, required in missing:
        if required:
            raise SchemaChangeRefused(
                f"column {name} is new and required: the rows already in the table have no value for it"
            )
    if not missing:
        return []
    body = ", ".join(f"`{name}` {sql_type}" for name, sql_type, _ in missing)
    return [f"ALTER TABLE {qualified(s, s.table)} ADD ({body})"]


def inserts(s: JobSettings) -> list[str]:
    return [
        f"INSERT INTO {qualified(s, s.table)}\n{SELECT_VALID}",
        f"INSERT INTO {qualified(s, s.rejected_table)}\n{SELECT_REJECTED}",
    ]


# The contract (producer/contract/orders.created.v1.schema.json) as Flink columns, for the benchmark's
# parse-once ceiling: Flink's own `json` format reading the topic into these.
CONTRACT_COLUMNS = """  `event_id` STRING,
  `event_type` STRING,
  `schema_version` INT,
  `event_time` TIMESTAMP_LTZ(3),
  `order_id` STRING,
  `customer` ROW<`customer_id` STRING, `name` STRING, `email` STRING>,
  `shipping_address` ROW<`street` STRING, `city` STRING, `postal_code` STRING, `country` STRING>,
  `items` ARRAY<ROW<`sku` STRING, `product_name` STRING, `quantity` INT, `unit_price` DECIMAL(12, 2)>>,
  `item_count` INT,
  `total_amount` DECIMAL(12, 2),
  `currency` STRING,
  `payment_method` STRING,
  `channel` STRING"""

BENCH_SINKS = ("raw", "json", "blackhole", "naive")


def _blackhole(name: str, columns: str) -> str:
    return f"CREATE TEMPORARY TABLE {name} (\n{columns}\n) WITH ('connector' = 'blackhole')"


# The blackhole readers stop at the offsets that are the latest when they start: the job ends (FINISHED)
# when it has read the pre-filled topic, and its end time is when the read ended (Flink's own clock).
BOUNDED = {"scan.bounded.mode": "latest-offset"}


def bench_statements(s: JobSettings, sink: str) -> tuple[list[str], list[str]]:
    """(DDL, inserts) of the benchmark's readers of the job's topic (the blackhole ones bounded, see BOUNDED):
    `raw`: the records as text, no parsing; `json`: Flink's json format with the contract's columns
    (one parse per record); `blackhole`: the job's own classification (after the DDL, register
    the view with job.register_classified_view); `naive`: Flink's json format into a day-partitioned
    Iceberg table `<namespace>.<table>` with Iceberg's default writer settings."""
    partition_offset = "  `kafka_partition` INT,\n  `kafka_offset` BIGINT"
    json_options = dict(
        kafka_options(s),
        **{"format": "json", "json.ignore-parse-errors": "true", "json.timestamp-format.standard": "ISO-8601"},
        **({} if sink == "naive" else BOUNDED),
    )
    bounded_source = source_table(s).replace(
        with_clause(kafka_options(s)), with_clause({**kafka_options(s), **BOUNDED})
    )
    json_source = (
        f"CREATE TEMPORARY TABLE {SOURCE}_json (\n{CONTRACT_COLUMNS},\n"
        "  `kafka_partition` INT METADATA FROM 'partition' VIRTUAL,\n"
        f"  `kafka_offset` BIGINT METADATA FROM 'offset' VIRTUAL\n) {with_clause(json_options)}"
    )
    if sink == "raw":
        return (
            [bounded_source, _blackhole("bh_raw", f"  `raw` STRING,\n{partition_offset}")],
            [f"INSERT INTO bh_raw SELECT `raw`, `kafka_partition`, `kafka_offset` FROM {SOURCE}"],
        )
    if sink == "json":
        return (
            [json_source, _blackhole("bh_json", f"{CONTRACT_COLUMNS},\n{partition_offset}")],
            [f"INSERT INTO bh_json SELECT * FROM {SOURCE}_json"],
        )
    if sink == "naive":  # what a user writes without pipectl: json format -> a day-partitioned Iceberg table
        naive = qualified(s, s.table)
        return (
            [
                f"CREATE CATALOG `{CATALOG}` {with_clause(catalog_options(s))}",
                f"CREATE DATABASE IF NOT EXISTS `{CATALOG}`.`{s.namespace}`",
                f"CREATE TABLE IF NOT EXISTS {naive} (\n{CONTRACT_COLUMNS},\n{partition_offset},\n"
                "  `event_time_day` DATE\n) PARTITIONED BY (`event_time_day`)",
                json_source,
            ],
            [f"INSERT INTO {naive} SELECT *, CAST(`event_time` AS DATE) FROM {SOURCE}_json"],
        )
    if sink == "blackhole":
        return (
            [
                classify_function(),
                bounded_source,
                _blackhole("bh_orders", ORDERS_COLUMNS.replace(" NOT NULL", "")),
                _blackhole("bh_rejected", REJECTED_COLUMNS),
            ],
            [f"INSERT INTO bh_orders\n{SELECT_VALID}", f"INSERT INTO bh_rejected\n{SELECT_REJECTED}"],
        )
    raise ValueError(f"unknown benchmark sink {sink!r}: one of {', '.join(BENCH_SINKS)}")


def setup_statements(s: JobSettings) -> list[str]:
    """Everything before the inserts, in order; then the view `classified_orders` over
    classified_select() (see job.register_classified_view)."""
    return [
        f"CREATE CATALOG `{CATALOG}` {with_clause(catalog_options(s))}",
        *create_tables(s),
        classify_function(),
        source_table(s),
    ]
