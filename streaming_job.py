"""Entry point for Amazon Managed Service for Apache Flink (the root of data-pipeline-aws.zip).

The service runs this file (kinesis.analytics.flink.run.options: python=streaming_job.py,
jarfile=lib/pyflink-dependencies.jar). It puts the zip root on sys.path, makes the job see
DEPLOYMENT_ENV from the application's PipelineConfig property group (the service passes no
environment variables), points pipeline.jars at the jar beside it when run outside the service,
then imports the job and runs it. main() returns on the service, as Managed Flink requires.

When the service's properties file is there but its PipelineConfig group (or DEPLOYMENT_ENV=aws,
or a property the job needs) is missing or malformed, the job stops at start with one line,
`JobConfigError: <which>`, on stderr (CloudWatch, under the PythonDriver logger) and exit code 2:
it never runs in local mode on the service. `pipectl aws deploy`'s settle window shows that line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    from jobs.order_ingest.settings import JobConfigError, read_application_properties

    try:
        return _run(read_application_properties)
    except JobConfigError as exc:
        print(f"JobConfigError: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def _run(read_application_properties):
    properties = read_application_properties()
    if properties is not None and "DEPLOYMENT_ENV" in properties:
        os.environ["DEPLOYMENT_ENV"] = properties["DEPLOYMENT_ENV"]
    jar = ROOT / "lib" / "pyflink-dependencies.jar"
    if properties is None and jar.is_file():
        # Outside the service (e.g. the unzipped package run locally). On the service the
        # jarfile run option already puts this jar on the classpath.
        os.environ.setdefault("PIPELINE_JARS", jar.as_uri())

    from jobs.order_ingest import job

    return job.main()


if __name__ == "__main__":
    main()
