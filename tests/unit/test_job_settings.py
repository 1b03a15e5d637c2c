import json

import pytest

from jobs.order_ingest.settings import (
    JobConfigError,
    is_aws_environment,
    load_job_settings,
    read_application_properties,
)


@pytest.mark.parametrize(
    "value, expected",
    [("aws", True), ("AWS", True), (" aws ", True), ("local", False), ("", False), ("prod", False)],
)
def test_is_aws_environment_reads_deployment_env(value, expected):
    assert is_aws_environment({"DEPLOYMENT_ENV": value}) is expected


def test_is_aws_environment_defaults_to_local():
    assert is_aws_environment({}) is False


def test_local_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_job_settings({})
    assert s.deployment_env == "local"
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.topic == "orders.created.v1"
    assert (s.namespace, s.table, s.rejected_table) == ("analytics", "orders", "orders_rejected")
    assert s.warehouse == (tmp_path / "warehouse").as_uri()
    assert s.checkpoint_interval_ms == 10_000


def test_aws_requires_bootstrap_and_bucket_all_at_once():
    with pytest.raises(JobConfigError) as err:
        load_job_settings({"DEPLOYMENT_ENV": "aws"})
    assert str(err.value).startswith("missing job settings: KAFKA_BOOTSTRAP_SERVERS, S3_TABLES_BUCKET_ARN")


def test_aws_rejects_a_bucket_name_instead_of_an_arn():
    with pytest.raises(JobConfigError, match="S3_TABLES_BUCKET_ARN must be a table bucket ARN"):
        load_job_settings({"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b:9098", "S3_TABLES_BUCKET_ARN": "mybucket"})


def test_aws_leaves_checkpointing_to_the_service():
    s = load_job_settings(
        {"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b-1:9098",
         "S3_TABLES_BUCKET_ARN": "arn:aws:s3tables:us-east-1:111122223333:bucket/orders"}
    )
    assert s.is_aws and s.checkpoint_interval_ms is None


def test_application_properties_group(tmp_path):
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps([
        {"PropertyGroupId": "kinesis.analytics.flink.run.options", "PropertyMap": {"python": "streaming_job.py"}},
        {"PropertyGroupId": "PipelineConfig", "PropertyMap": {"DEPLOYMENT_ENV": "aws", "KAFKA_TOPIC": "t"}},
    ]))
    assert read_application_properties(path) == {"DEPLOYMENT_ENV": "aws", "KAFKA_TOPIC": "t"}
    assert read_application_properties(tmp_path / "missing.json") is None


def test_bad_checkpoint_interval_is_named():
    with pytest.raises(JobConfigError, match="CHECKPOINT_INTERVAL_MS must be a whole number"):
        load_job_settings({"CHECKPOINT_INTERVAL_MS": "10s"})


def test_how_the_run_is_submitted_is_part_of_the_settings():
    from jobs.order_ingest.settings import load_job_settings

    s = load_job_settings(
        {
            "PIPELINE_NAME": "order_ingest_bench",
            "PARALLELISM": "2",
            "ORDER_INGEST_SINK": "json",
            "PIPECTL_DETACHED": "1",
            "PIPELINE_JARS": "file:///x/pyflink-dependencies.jar",
            "ALLOW_NON_RESTORED_STATE": "true",
        }
    )
    assert (s.pipeline_name, s.parallelism, s.sink, s.detached, s.pipeline_jars, s.allow_non_restored_state) == (
        "order_ingest_bench",
        2,
        "json",
        True,
        "file:///x/pyflink-dependencies.jar",
        True,
    )
    d = load_job_settings({})
    assert (d.pipeline_name, d.parallelism, d.sink, d.detached, d.pipeline_jars, d.allow_non_restored_state) == (
        "order_ingest",
        None,
        "iceberg",
        False,
        "",
        False,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ORDER_INGEST_SINK": "kafka"}, "ORDER_INGEST_SINK must be one of iceberg, raw, json, blackhole, naive, got 'kafka'"),
        ({"PARALLELISM": "two"}, "PARALLELISM must be a whole number of at least 1, got 'two'"),
        ({"PARALLELISM": "0"}, "PARALLELISM must be a whole number of at least 1, got '0'"),
        ({"KAFKA_START_OFFSETS": "0=12"}, "KAFKA_START_OFFSETS must be partition:offset pairs separated by commas, "
         "each partition once (e.g. 0:3790,1:3983), got '0=12'"),
        ({"KAFKA_START_OFFSETS": "0:1,0:2"}, "KAFKA_START_OFFSETS must be partition:offset pairs separated by commas, "
         "each partition once (e.g. 0:3790,1:3983), got '0:1,0:2'"),
        ({"KAFKA_START_OFFSETS": "0:-1"}, "KAFKA_START_OFFSETS must be partition:offset pairs separated by commas, "
         "each partition once (e.g. 0:3790,1:3983), got '0:-1'"),
    ],
)
def test_bad_run_settings_are_one_line(values, message):
    from jobs.order_ingest.settings import JobConfigError, load_job_settings

    with pytest.raises(JobConfigError) as err:
        load_job_settings(values)
    assert str(err.value) == message


def test_start_offsets_are_read_sorted_and_written_back_the_same():
    from jobs.order_ingest.settings import format_start_offsets, load_job_settings

    s = load_job_settings({"KAFKA_START_OFFSETS": " 1:3983, 0:3790 "})
    assert s.start_offsets == ((0, 3790), (1, 3983))
    assert format_start_offsets(dict(s.start_offsets)) == "0:3790,1:3983"
    assert load_job_settings({}).start_offsets == ()
    assert load_job_settings({"KAFKA_START_OFFSETS": ""}).start_offsets == ()
