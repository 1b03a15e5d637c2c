"""The property groups `pipectl aws deploy` sets are exactly what the job reads on Managed Flink."""

import json

from jobs.order_ingest import statements
from jobs.order_ingest.settings import PROPERTY_GROUP, load_job_settings, read_application_properties
from pipectl.aws.application import JOB_GROUP, RUN_OPTIONS_GROUP, _groups_list, property_groups
from pipectl.aws.target import Target
from pipectl.config import load_settings

BUCKET = "arn:aws:s3tables:us-east-1:111122223333:bucket/orders-tables"


def test_the_job_reads_what_deploy_writes(tmp_path):
    settings = load_settings(tmp_path, env="aws", environ={
        "PIPECTL_AWS_REGION": "us-east-1", "PIPECTL_AWS_TABLE_BUCKET_ARN": BUCKET,
        "PIPECTL_AWS_TOPIC": "orders.created.v1",
    })
    groups = property_groups(Target(settings=settings, region="us-east-1"), "b-1.msk:9098,b-2.msk:9098")
    assert JOB_GROUP == PROPERTY_GROUP
    assert groups[RUN_OPTIONS_GROUP] == {"python": "streaming_job.py", "jarfile": "lib/pyflink-dependencies.jar"}

    # what the service writes to /etc/flink/application_properties.json
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps(_groups_list(groups)))
    job = load_job_settings(read_application_properties(path))
    assert job.is_aws
    assert job.bootstrap_servers == "b-1.msk:9098,b-2.msk:9098"
    assert job.warehouse == BUCKET
    assert (job.topic, job.namespace, job.table, job.rejected_table) == (
        "orders.created.v1", "analytics", "orders", "orders_rejected")
    assert job.checkpoint_interval_ms is None  # the service's CheckpointConfiguration rules
    catalog = statements.setup_statements(job)[0]
    assert f"'warehouse' = '{BUCKET}'" in catalog and "S3TablesCatalog" in catalog
    assert "'client.region' = 'us-east-1'" in catalog  # AWS_REGION reaches the catalog, not only the job
