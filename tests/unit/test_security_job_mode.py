"""On the service (its properties file exists) the job refuses to start in the wrong mode, with
one line saying which; the settle window's cause detection recognises that line. The job also
refuses names that would break out of its SQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.order_ingest.settings import JobConfigError, load_job_settings, read_application_properties
from pipectl.aws import causes

REPO = Path(__file__).resolve().parents[2]
GOOD = {"DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b-1:9098", "S3_TABLES_BUCKET_ARN": "arn:aws:s3tables:us-east-1:1:bucket/b"}


def write(path: Path, groups: object) -> Path:
    path.write_text(groups if isinstance(groups, str) else json.dumps(groups))
    return path


def test_no_file_means_not_on_the_service(tmp_path: Path) -> None:
    assert read_application_properties(tmp_path / "absent.json") is None


def test_the_pipeline_group_with_deployment_env_aws_is_read(tmp_path: Path) -> None:
    f = write(tmp_path / "p.json", [{"PropertyGroupId": "other", "PropertyMap": {}}, {"PropertyGroupId": "PipelineConfig", "PropertyMap": GOOD}])
    assert read_application_properties(f) == GOOD


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "{f} (the service's properties) is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ({"PipelineConfig": {}}, "{f} (the service's properties) is not a list of property groups"),
        ([{"PropertyGroupId": "kinesis.analytics.flink.run.options", "PropertyMap": {}}],
         "{f} (the service's properties) has no PipelineConfig property group: the job would run in local mode (pipectl aws deploy sets the group)"),
        ([{"PropertyGroupId": "PipelineConfig", "PropertyMap": {"KAFKA_BOOTSTRAP_SERVERS": "b:9098"}}],
         "the PipelineConfig property group in {f} sets no DEPLOYMENT_ENV; on Managed Flink it must be 'aws' (pipectl aws deploy sets it)"),
        ([{"PropertyGroupId": "PipelineConfig", "PropertyMap": {"DEPLOYMENT_ENV": "local"}}],
         "the PipelineConfig property group in {f} sets DEPLOYMENT_ENV='local'; on Managed Flink it must be 'aws' (pipectl aws deploy sets it)"),
        ([{"PropertyGroupId": "PipelineConfig", "PropertyMap": ["DEPLOYMENT_ENV"]}],
         "the PipelineConfig property group in {f} has no PropertyMap object"),
    ],
)
def test_the_wrong_mode_on_the_service_is_refused(tmp_path: Path, content: object, message: str) -> None:
    f = write(tmp_path / "application_properties.json", content)
    with pytest.raises(JobConfigError) as err:
        read_application_properties(f)
    assert str(err.value) == message.format(f=f)


def test_the_entry_point_stops_at_start_with_one_line(tmp_path: Path) -> None:
    f = write(tmp_path / "application_properties.json", [{"PropertyGroupId": "PipelineConfig", "PropertyMap": {"DEPLOYMENT_ENV": "local"}}])
    env = {"PATH": os.environ["PATH"], "APPLICATION_PROPERTIES_FILE": str(f)}
    result = subprocess.run([sys.executable, str(REPO / "streaming_job.py")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    line = (
        f"JobConfigError: the PipelineConfig property group in {f} sets DEPLOYMENT_ENV='local'; "
        "on Managed Flink it must be 'aws' (pipectl aws deploy sets it)"
    )
    assert result.stderr == line + "\n"

    # what the settle window reads from the log (the driver's line, then Flink's own exception)
    trace = f"{line}\njava.lang.RuntimeException: Python process exits with code: 2\n\tat org.apache.flink.client.python.PythonDriver.main"
    exc = causes.root_exception(trace)
    assert exc == line
    cause = causes.explain(exc, trace)
    assert cause.exception == line
    assert cause.fix.startswith("the job refused to start on the service (its properties say which): deploy with `pipectl aws deploy`")


def test_a_missing_required_property_on_the_service_is_one_line(tmp_path: Path) -> None:
    f = write(tmp_path / "application_properties.json", [{"PropertyGroupId": "PipelineConfig", "PropertyMap": {"DEPLOYMENT_ENV": "aws"}}])
    env = {"PATH": os.environ["PATH"], "APPLICATION_PROPERTIES_FILE": str(f)}
    code = "import streaming_job, sys; sys.argv=['x']; streaming_job.main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "JobConfigError: missing job settings: KAFKA_BOOTSTRAP_SERVERS, S3_TABLES_BUCKET_ARN "
        "(set them in the PipelineConfig property group on Managed Flink, or as environment variables)"
    )


@pytest.mark.parametrize("key", ["ICEBERG_REJECTED_TABLE", "ICEBERG_TABLE", "ICEBERG_NAMESPACE"])
def test_the_job_refuses_a_backtick_in_a_table_name(key: str) -> None:
    with pytest.raises(JobConfigError) as err:
        load_job_settings({key: "orders`; DROP TABLE x; --"})
    assert str(err.value) == f"{key} must be letters, digits, '_' or '-', got 'orders`; DROP TABLE x; --'"


def test_the_job_refuses_a_wildcard_topic() -> None:
    with pytest.raises(JobConfigError) as err:
        load_job_settings({"KAFKA_TOPIC": "*"})
    assert str(err.value) == "KAFKA_TOPIC must be letters, digits, '.', '_' or '-', got '*'"
