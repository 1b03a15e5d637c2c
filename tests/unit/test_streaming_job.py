"""streaming_job.py, run from the unzipped data-pipeline-aws.zip as Managed Flink would."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ZIP = REPO / "target" / "data-pipeline-aws.zip"

PROBE = r"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
import jobs.order_ingest.settings as settings
settings.APPLICATION_PROPERTIES = Path(sys.argv[1])
import jobs.order_ingest.job as job
job.main = lambda: job.resolve_settings()   # everything but starting Flink
import streaming_job
s = streaming_job.main()
print(json.dumps({"env": os.environ.get("DEPLOYMENT_ENV"), "is_aws": s.is_aws, "warehouse": s.warehouse,
                  "bootstrap": s.bootstrap_servers, "checkpoint": s.checkpoint_interval_ms,
                  "jars": os.environ.get("PIPELINE_JARS"), "job_file": job.__file__}))
"""


def test_entry_point_takes_deployment_env_from_the_property_group(tmp_path):
    if not ZIP.is_file():
        pytest.fail(f"{ZIP} is missing: run 'make build' first")
    root = tmp_path / "app"
    zipfile.ZipFile(ZIP).extractall(root)
    props = tmp_path / "application_properties.json"
    props.write_text(json.dumps([
        {"PropertyGroupId": "kinesis.analytics.flink.run.options",
         "PropertyMap": {"python": "streaming_job.py", "jarfile": "lib/pyflink-dependencies.jar"}},
        {"PropertyGroupId": "PipelineConfig", "PropertyMap": {
            "DEPLOYMENT_ENV": "aws", "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9098",
            "S3_TABLES_BUCKET_ARN": "arn:aws:s3tables:us-east-1:111122223333:bucket/lake"}},
    ]))
    env = {"PATH": "/usr/bin:/bin"}  # no DEPLOYMENT_ENV of ours: it must come from the properties
    result = subprocess.run([sys.executable, "-c", PROBE, str(props)], cwd=root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == {
        "env": "aws", "is_aws": True, "warehouse": "arn:aws:s3tables:us-east-1:111122223333:bucket/lake",
        "bootstrap": "b-1.msk:9098", "checkpoint": None, "jars": None,
        "job_file": str(root / "jobs" / "order_ingest" / "job.py"),
    }


def test_outside_the_service_it_points_pipeline_jars_at_the_jar_beside_it(tmp_path):
    if not ZIP.is_file():
        pytest.fail(f"{ZIP} is missing: run 'make build' first")
    root = tmp_path / "app"
    zipfile.ZipFile(ZIP).extractall(root)
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "none.json")], cwd=root,
                            env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["env"] is None and out["is_aws"] is False
    assert out["jars"] == (root / "lib" / "pyflink-dependencies.jar").as_uri()
