"""The rehearsal's pure parts: properties from deploy's request, the error lines, the state file
the aws environment reads (and that `aws deploy` never reads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipectl.aws import application as appcfg
from pipectl.config import load_settings
from pipectl.rehearse import health, properties, state

BUCKET = "arn:aws:s3tables:us-east-1:123456789012:bucket/pipectl-rehearsal"
TRACE_17 = (
    "org.apache.flink.util.FlinkException: Global failure triggered by OperatorCoordinator\n"
    "\tat org.apache.flink.runtime...\n"
    "Caused by: java.lang.UnsupportedClassVersionError: software/amazon/msk/auth/iam/IAMClientCallbackHandler "
    "has been compiled by a more recent version of the Java Runtime (class file version 61.0), this version of "
    "the Java Runtime only recognizes class file versions up to 55.0\n"
)


def _settings(tmp_path: Path, **environ: str):
    """The settings as `--env aws` commands load them (aimed at a running rehearsal)."""
    loaded = load_settings(tmp_path, env="aws", environ={"PIPECTL_CONFIG": str(tmp_path / "none.toml"), **environ})
    return state.point_at_rehearsal(loaded)


def test_properties_are_deploys_request_plus_only_the_endpoint(tmp_path):
    settings = properties.rehearsal_settings(_settings(tmp_path), "us-east-1", "127.0.0.1:9098", BUCKET)
    rendered = properties.render(settings, "http://127.0.0.1:5055")
    request = properties.create_request(settings)
    sent = {g["PropertyGroupId"]: g["PropertyMap"] for g in request["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    written = {g["PropertyGroupId"]: g["PropertyMap"] for g in rendered.groups}
    assert set(written) == set(sent) == {appcfg.RUN_OPTIONS_GROUP, appcfg.JOB_GROUP}
    assert written[appcfg.RUN_OPTIONS_GROUP] == sent[appcfg.RUN_OPTIONS_GROUP]
    assert written[appcfg.JOB_GROUP] == {**sent[appcfg.JOB_GROUP], "S3_TABLES_ENDPOINT": "http://127.0.0.1:5055"}
    assert "S3_TABLES_ENDPOINT" not in sent[appcfg.JOB_GROUP]
    assert written[appcfg.JOB_GROUP]["DEPLOYMENT_ENV"] == "aws"
    assert written[appcfg.JOB_GROUP]["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9098"
    assert written[appcfg.JOB_GROUP]["S3_TABLES_BUCKET_ARN"] == BUCKET
    assert (rendered.python, rendered.jarfile) == ("streaming_job.py", "lib/pyflink-dependencies.jar")
    assert rendered.checkpoint_interval_ms == 60_000  # aws.checkpoint_interval_s, as deploy sends it


def test_the_job_reads_the_written_file(tmp_path, monkeypatch):
    from jobs.order_ingest.job import resolve_settings

    settings = properties.rehearsal_settings(_settings(tmp_path), "us-east-1", "127.0.0.1:9098", BUCKET)
    path = properties.write(properties.render(settings, "http://127.0.0.1:5055"), tmp_path / "props.json")
    for key in ("DEPLOYMENT_ENV", "S3_TABLES_ENDPOINT", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("APPLICATION_PROPERTIES_FILE", str(path))
    job = resolve_settings()
    assert (job.is_aws, job.bootstrap_servers, job.warehouse, job.s3_tables_endpoint) == (
        True, "127.0.0.1:9098", BUCKET, "http://127.0.0.1:5055"
    )


def test_java_17_class_is_named_in_one_line():
    err = health.class_version_error(TRACE_17)
    assert err is not None
    assert err.message == (
        "software.amazon.msk.auth.iam.IAMClientCallbackHandler is Java 17 bytecode (class file version 61.0); "
        "Managed Flink runs Java 11 (up to 55.0): the job fails with UnsupportedClassVersionError, as a deploy would"
    )
    assert "\n" not in err.message
    assert health.class_version_error("java.lang.RuntimeException: boom") is None


def test_submit_error_prefers_the_jobs_own_message():
    out = "Traceback ...\nerror: missing job settings: KAFKA_BOOTSTRAP_SERVERS\nProgramAbortException"
    assert health.submit_error(out, 1).message == "the job did not start: missing job settings: KAFKA_BOOTSTRAP_SERVERS"
    trace = "py4j.Py4JJavaError: An error\nCaused by: java.lang.ClassNotFoundException: software.amazon.x.Y\n\tat a.b"
    assert health.submit_error(trace, 1).message == "the job did not start: java.lang.ClassNotFoundException: software.amazon.x.Y"
    submitted = "Job has been submitted with JobID 0123456789abcdef0123456789abcdef"
    assert health.submit_error(submitted, -1, timeout=300).message == (
        "streaming_job.py submitted the job but did not return within 300s: main() must return on Managed Flink"
    )
    assert health.submit_error("starting", -1, timeout=300).message == "streaming_job.py did not submit the job within 300s"
    assert health.job_id("Job has been submitted with JobID 0123456789abcdef0123456789abcdef") == "0123456789abcdef0123456789abcdef"


def _fake_rehearsal(state_dir: Path) -> subprocess.Popen[bytes]:
    """A state file and a live process standing in for the emulator (its pid file marker matches)."""
    rehearsal = state.Rehearsal(
        "us-east-1", "http://127.0.0.1:5055", "127.0.0.1:9098", "/x/ca.pem", BUCKET, "AKIATEST", "s3cr3t",
        "http://127.0.0.1:8091", "0" * 32, "11.0.13", 60.0,
    )
    state.write(state_dir, rehearsal)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "moto.server"])
    run_dir = state.folder(state_dir) / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "moto.json").write_text(json.dumps({"pid": proc.pid, "marker": "moto.server", "log": "x"}))
    return proc


def test_env_aws_points_at_a_running_rehearsal_and_deploy_settings_never_do(tmp_path):
    proc = _fake_rehearsal(tmp_path / ".pipectl")
    try:
        s = _settings(tmp_path)
        assert s.rehearsal == state.path(tmp_path / ".pipectl")
        assert (s.aws.endpoint_url, s.aws.bootstrap_servers, s.aws.table_bucket_arn, s.aws.region) == (
            "http://127.0.0.1:5055", "127.0.0.1:9098", BUCKET, "us-east-1"
        )
        service = load_settings(tmp_path, env="aws", environ={"PIPECTL_CONFIG": str(tmp_path / "x")})
        assert service.rehearsal is None and service.aws.endpoint_url == "" and service.aws.bootstrap_servers == ""
        local = load_settings(tmp_path, env="local", environ={"PIPECTL_CONFIG": str(tmp_path / "x")})
        assert local.rehearsal is None
        assert "s3cr3t" not in json.dumps(state.read(tmp_path / ".pipectl").public())
        assert oct(state.path(tmp_path / ".pipectl").stat().st_mode & 0o777) == "0o600"
    finally:
        proc.kill()
        proc.wait()
    # the emulator is gone: the state file is stale and ignored
    assert _settings(tmp_path).rehearsal is None


@pytest.mark.parametrize("args", [["aws", "rehearse", "--help"]])
def test_rehearse_has_help(args):
    out = subprocess.run([sys.executable, "-m", "pipectl", *args], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0
    assert "--down" in out.stdout and "--zip" in out.stdout


def test_a_busy_port_is_named_before_anything_starts(tmp_path):
    import socket

    from pipectl.errors import ConfigError
    from pipectl.rehearse import run

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        settings = _settings(tmp_path, PIPECTL_REHEARSE_FLINK_PORT=str(port))
        with pytest.raises(ConfigError) as err:
            run._check_ports(settings)
        assert err.value.message.startswith(f"port {port} (rehearse.flink_port) is in use by pid {os.getpid()} (")
    finally:
        sock.close()
