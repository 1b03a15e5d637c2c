"""S3 Tables: `pipectl --env aws verify` reads a table written into emulated S3 Tables."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.aws.conftest import REGION

HINT = "the job creates them on its first run; check aws.table_bucket_arn, aws.namespace and aws.table"


@pytest.fixture
def orders(world, moto_url):
    """analytics.orders with 4 rows over two days, committed via s3tables."""
    import pyarrow as pa
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import DateType, LongType, NestedField, StringType

    from tests.aws.s3tables_writer import S3TablesTestCatalog

    schema = Schema(
        NestedField(1, "event_id", StringType(), required=False),
        NestedField(2, "amount_cents", LongType(), required=False),
        NestedField(3, "event_time_day", DateType(), required=False),
    )
    spec = PartitionSpec(PartitionField(3, 1000, IdentityTransform(), "event_time_day"))
    catalog = S3TablesTestCatalog(world.table_bucket_arn, REGION, moto_url)
    table = catalog.create_table(("analytics", "orders"), schema, partition_spec=spec)
    d1, d2 = datetime.date(2024, 5, 1), datetime.date(2024, 5, 2)
    table.append(
        pa.table(
            {"event_id": ["a", "b", "c", "d"], "amount_cents": [100, 250, 990, 75], "event_time_day": [d1, d1, d2, d2]},
            schema=schema.as_arrow(),
        )
    )
    return world


def test_verify_env_aws_reads_the_table(orders):
    proc = orders.run("--env", "aws", "verify", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["table"] == "analytics.orders"
    assert doc["rows"] == 4
    assert doc["distinct_event_ids"] == 4
    assert doc["partitions"] == [
        {"partition": "event_time_day=2024-05-01", "rows": 2},
        {"partition": "event_time_day=2024-05-02", "rows": 2},
    ]
    assert doc["snapshots"] == 1
    assert doc["location"].startswith("s3://") and doc["location"].endswith("--table-s3")


def test_describe_catalog_lists_buckets_namespaces_tables(orders):
    from pipectl.aws.tables import describe_catalog
    from pipectl.config import load_settings

    catalog = describe_catalog(load_settings(orders.dir, env="aws"))
    assert catalog["region"] == REGION
    [bucket] = catalog["table_buckets"]
    assert (bucket["name"], bucket["arn"]) == ("orders-tables", orders.table_bucket_arn)
    assert [(ns["name"], [t["name"] for t in ns["tables"]]) for ns in bucket["namespaces"]] == [("analytics", ["orders"])]


def test_load_table_names_what_is_missing(world):
    from pipectl.aws.tables import load_table
    from pipectl.config import load_settings
    from pipectl.errors import NotFoundError

    settings = load_settings(world.dir, env="aws")
    with pytest.raises(NotFoundError) as missing_ns:
        load_table(settings, "analytics", "orders")
    assert missing_ns.value.message == f"namespace 'analytics' does not exist in table bucket {world.table_bucket_arn}"
    assert missing_ns.value.hint == HINT

    import boto3

    boto3.client("s3tables").create_namespace(tableBucketARN=world.table_bucket_arn, namespace=["analytics"])
    proc = world.run("--env", "aws", "verify")
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        f"error: table 'analytics.orders' does not exist in table bucket {world.table_bucket_arn} -- {HINT}"
    )

    boto3.client("s3tables").create_table(
        tableBucketARN=world.table_bucket_arn, namespace="analytics", name="orders", format="ICEBERG"
    )
    with pytest.raises(NotFoundError) as no_metadata:
        load_table(settings, "analytics", "orders")
    assert no_metadata.value.message == "table 'analytics.orders' has no committed metadata yet"
