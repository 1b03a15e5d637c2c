"""The SQL the job runs, rendered for both environments without Flink."""

import re

from jobs.order_ingest import statements
from jobs.order_ingest.settings import load_job_settings

BUCKET = "arn:aws:s3tables:us-east-1:111122223333:bucket/orders-lake"


def local():
    return load_job_settings({"ICEBERG_WAREHOUSE": "file:///data/warehouse"})


def aws():
    return load_job_settings(
        {"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9098,b-2.msk:9098", "S3_TABLES_BUCKET_ARN": BUCKET}
    )


def all_sql(s):
    return "\n".join(statements.setup_statements(s) + statements.inserts(s))


def test_local_uses_the_hadoop_catalog_on_the_warehouse():
    sql = statements.setup_statements(local())[0]
    assert sql == (
        "CREATE CATALOG `lakehouse` WITH (\n  'type' = 'iceberg',\n  'catalog-type' = 'hadoop',\n"
        "  'warehouse' = 'file:///data/warehouse',\n  'property-version' = '1'\n)"
    )


def test_aws_uses_the_s3_tables_catalog_with_the_bucket_arn():
    sql = statements.setup_statements(aws())[0]
    assert "'catalog-impl' = 'software.amazon.s3tables.iceberg.S3TablesCatalog'" in sql
    assert f"'warehouse' = '{BUCKET}'" in sql
    assert "hadoop" not in sql


def test_s3_tables_endpoint_only_when_set_explicitly():
    assert statements.catalog_options(aws()) == {
        "type": "iceberg",
        "catalog-impl": "software.amazon.s3tables.iceberg.S3TablesCatalog",
        "warehouse": BUCKET,
    }
    rehearsal = load_job_settings(
        {"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9098", "S3_TABLES_BUCKET_ARN": BUCKET,
         "S3_TABLES_ENDPOINT": "http://127.0.0.1:5055", "AWS_ENDPOINT_URL": "http://ignored"}
    )
    options = statements.catalog_options(rehearsal)
    assert {k: options[k] for k in ("s3tables.endpoint", "s3.endpoint", "s3.path-style-access")} == {
        "s3tables.endpoint": "http://127.0.0.1:5055",
        "s3.endpoint": "http://127.0.0.1:5055",
        "s3.path-style-access": "true",
    }
    # locally the setting means nothing: the Hadoop catalog has no such option
    local_settings = load_job_settings({"ICEBERG_WAREHOUSE": "file:///w", "S3_TABLES_ENDPOINT": "http://x"})
    assert "endpoint" not in str(statements.catalog_options(local_settings))


def test_iam_options_only_for_aws():
    local_sql, aws_sql = all_sql(local()), all_sql(aws())
    for option in ("SASL_SSL", "AWS_MSK_IAM", "IAMLoginModule", "IAMClientCallbackHandler"):
        assert option not in local_sql
        assert option in aws_sql
    assert "'properties.bootstrap.servers' = 'b-1.msk:9098,b-2.msk:9098'" in aws_sql


def test_no_secrets_in_any_statement():
    for sql in (all_sql(local()), all_sql(aws())):
        assert not re.search(r"secret|password|access[._-]?key|session[._-]?token", sql, re.IGNORECASE)


def test_tables_are_created_idempotently_and_partitioned_by_day():
    ddl = statements.create_tables(local())
    assert ddl[0] == "CREATE DATABASE IF NOT EXISTS `lakehouse`.`analytics`"
    assert ddl[1].startswith("CREATE TABLE IF NOT EXISTS `lakehouse`.`analytics`.`orders` (")
    assert "PARTITIONED BY (`event_time_day`)" in ddl[1]
    assert "'write.format.default' = 'parquet'" in ddl[1]
    assert ddl[2].startswith("CREATE TABLE IF NOT EXISTS `lakehouse`.`analytics`.`orders_rejected` (")


def test_tables_are_created_with_the_writers_settings():
    ddl = statements.create_tables(local())
    assert "'write.parquet.dict-size-bytes' = '65536'" in ddl[1]
    assert "'write.parquet.stats-enabled.column.items' = 'false'" in ddl[1]
    assert "'write.parquet.stats-enabled.column.event_id' = 'false'" in ddl[1]
    assert "'write.parquet.stats-enabled.column.ship_city'" not in ddl[1]
    assert "'write.parquet.dict-size-bytes' = '65536'" in ddl[2]
    assert "'write.parquet.stats-enabled.column.raw' = 'false'" in ddl[2]
    assert "items" not in ddl[2].split("WITH", 1)[1]


def test_a_table_without_the_writers_settings_is_given_those_it_lacks():
    older = {"format-version": "2", "write.parquet.compression-codec": "zstd"}
    assert statements.writer_settings_statements(local(), "orders", older) == [
        "ALTER TABLE `lakehouse`.`analytics`.`orders` SET ('write.parquet.dict-size-bytes' = '65536', "
        "'write.parquet.stats-enabled.column.event_id' = 'false', 'write.parquet.stats-enabled.column.order_id' = 'false', "
        "'write.parquet.stats-enabled.column.customer_id' = 'false', "
        "'write.parquet.stats-enabled.column.customer_name' = 'false', "
        "'write.parquet.stats-enabled.column.customer_email' = 'false', "
        "'write.parquet.stats-enabled.column.items' = 'false')"
    ]
    half = {**older, "write.parquet.dict-size-bytes": "65536", "write.parquet.stats-enabled.column.raw": "true"}
    assert statements.writer_settings_statements(local(), "rejected", half) == [
        "ALTER TABLE `lakehouse`.`analytics`.`orders_rejected` SET ('write.parquet.stats-enabled.column.raw' = 'false')"
    ]


def test_a_table_with_the_writers_settings_is_left_alone():
    for kind in ("orders", "rejected"):
        current = {"format-version": "2", **statements.WRITER_PROPERTIES[kind]}
        assert statements.writer_settings_statements(local(), kind, current) == []


def test_source_reads_raw_records_with_partition_and_offset():
    src = statements.source_table(local())
    assert "'format' = 'raw'" in src
    assert "METADATA FROM 'partition'" in src and "METADATA FROM 'offset'" in src
    assert "'scan.startup.mode' = 'group-offsets'" in src
    assert "JSON_VALUE" not in src and "WATERMARK" not in src  # parsing happens once, in the function


def test_a_start_without_state_reads_on_from_the_offsets_it_is_given():
    for env in ({}, {"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9098", "S3_TABLES_BUCKET_ARN": BUCKET}):
        options = statements.kafka_options(load_job_settings({**env, "KAFKA_START_OFFSETS": "1:3983,0:3790"}))
        assert options["scan.startup.mode"] == "specific-offsets"
        assert options["scan.startup.specific-offsets"] == "partition:0,offset:3790;partition:1,offset:3983"
        assert options["properties.group.id"] == "pipectl-order-ingest"  # other partitions: the group's offsets
    assert "scan.startup.specific-offsets" not in statements.kafka_options(local())


def test_every_record_is_classified_by_the_java_function_once():
    setup = statements.setup_statements(local())
    assert setup[4] == ("CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS classify_order "
                        "AS 'dev.pipectl.flink.ClassifyOrder' LANGUAGE JAVA")
    assert statements.classified_select().endswith(
        "FROM kafka_orders AS s LEFT JOIN LATERAL TABLE(classify_order(s.`raw`)) AS c ON TRUE")
    for sql in (all_sql(local()), all_sql(aws())):
        assert "JSON_VALUE" not in sql and "JSON_QUERY" not in sql and "LANGUAGE PYTHON" not in sql
    assert statements.setup_statements(aws())[4] == setup[4]  # the same in both environments


def test_the_json_ceiling_reads_the_contracts_fields():
    import json
    from pathlib import Path

    contract = json.loads((Path(__file__).resolve().parents[2] / "producer/contract/orders.created.v1.schema.json").read_text())
    columns = re.findall(r"^  `(\w+)`", statements.CONTRACT_COLUMNS, re.MULTILINE)
    assert columns == list(contract["properties"])
    ddl, inserts = statements.bench_statements(local(), "json")
    assert "'format' = 'json'" in ddl[0] and inserts == ["INSERT INTO bh_json SELECT * FROM kafka_orders_json"]


def test_the_naive_reader_writes_the_json_columns_to_a_day_partitioned_iceberg_table():
    ddl, inserts = statements.bench_statements(local(), "naive")
    table = "`lakehouse`.`analytics`.`orders`"
    assert ddl[0].startswith("CREATE CATALOG `lakehouse`")
    assert ddl[2].startswith(f"CREATE TABLE IF NOT EXISTS {table} (\n{statements.CONTRACT_COLUMNS},\n")
    assert ddl[2].endswith("`event_time_day` DATE\n) PARTITIONED BY (`event_time_day`)")
    assert "'format' = 'json'" in ddl[3]
    assert inserts == [f"INSERT INTO {table} SELECT *, CAST(`event_time` AS DATE) FROM kafka_orders_json"]


def test_inserts_split_valid_and_rejected():
    valid, rejected = statements.inserts(local())
    assert valid.startswith("INSERT INTO `lakehouse`.`analytics`.`orders`")
    assert valid.endswith("WHERE `reject_reason` IS NULL")
    assert rejected.startswith("INSERT INTO `lakehouse`.`analytics`.`orders_rejected`")
    assert rejected.endswith("WHERE COALESCE(`reject_reason`, '') <> ''")


def test_string_literals_are_escaped():
    assert statements.quote("it's") == "'it''s'"
