"""The project's flow document, step by step, with Compose and no pipectl in between, as a user
whose uid the images do not know (uid 501, like Docker Desktop on macOS):

    mvn clean package
    docker-compose build
    docker-compose up -d
    docker exec flink-jobmanager python /opt/flink/usrlib/jobs/order_ingest/job.py
    python producer/cli.py produce orders --rate 10
    ls warehouse/analytics.db/orders/

run from the root of the user's own checkout. Where a step differs, it is the documented
equivalent (README, "The flow document's steps"): the build uses the offline base and wheelhouse
(nothing can be pulled here), the ports are the tests' own, so the producer names its broker, and
the table is at warehouse/analytics/orders (Iceberg's Hadoop catalog puts no `.db` on a namespace).
A second producer run adds malformed records. The rows and the quarantined records are read back
from the host's warehouse with pyiceberg after consumer lag 0 and one more completed checkpoint,
and every file there is the user's. The Compose project gets a name of its own
(COMPOSE_PROJECT_NAME, which beats the root's .env), so its `down -v` can only remove the test's
own volumes, never a developer's `pipectl_*` ones."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid

import pyarrow.compute as pc
import pytest
from pyiceberg.table import StaticTable

from pipectl.stack.images import ensure_wheelhouse
from tests.conftest import REPO, iceberg_counts, wait_settled
from tests.docker.conftest import COMPOSE_OFFSET, committed_rows, ports, skip_or_fail

pytestmark = pytest.mark.docker

JOB_PY = "/opt/flink/usrlib/jobs/order_ingest/job.py"
# generous: on a busy shared machine a JVM start alone can take a minute or two
START_TIMEOUT = 300


def compose_command() -> str:
    """`docker-compose` (v1, Debian's package, the flow document's name) when there, else `docker compose`."""
    if shutil.which("docker-compose"):
        return "docker-compose"
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return "docker compose"
    skip_or_fail("no Compose: neither 'docker-compose' nor 'docker compose' (apt-get install docker-compose)")
    return ""


def _summary_number(output: str, label: str) -> int:
    for line in output.splitlines():
        words = line.split()
        if label in words:
            return int(words[words.index(label) + 1].replace(",", ""))
    raise AssertionError(f"no '{label}' in the producer's summary: {output!r}")


def test_the_flow_documents_steps_as_a_user_the_images_do_not_know(caller, base_image):
    compose = compose_command()
    checkout = caller.checkout
    # the offline wheelhouse, filled as `pipectl local up --runtime docker` fills it (this test may run first)
    wheelhouse = ensure_wheelhouse(REPO / "target" / "docker" / "wheels", REPO / "requirements.lock")
    for wheel in wheelhouse.glob("*.whl"):
        shutil.copy2(wheel, checkout / "compose" / "wheels" / wheel.name)
    subprocess.run(["chown", "-R", f"{caller.uid}:{caller.gid}", str(checkout / "compose" / "wheels")], check=True)
    env = caller.env(**ports(COMPOSE_OFFSET), PIPECTL_DOCKER_BASE_IMAGE=base_image, PIPECTL_DOCKER_PYTHON_PACKAGES="wheels",
                     COMPOSE_PROJECT_NAME=f"pipectl-test-{uuid.uuid4().hex[:8]}")
    kafka = "127.0.0.1:" + env["PIPECTL_LOCAL_KAFKA_PORT"]

    def step(line: str, timeout: float = 900) -> subprocess.CompletedProcess:
        result = caller.run(line, env, timeout=timeout)
        assert result.returncode == 0, f"{line}: exit {result.returncode}\n{(result.stdout + result.stderr)[-4000:]}"
        return result

    try:
        step("mvn clean package")
        assert (checkout / "target" / "pyflink-dependencies.jar").is_file()
        step(f"{compose} build")
        step(f"{compose} up -d")

        from pipectl import kafka_admin
        from pipectl.flink.rest import FlinkRest
        from pipectl.wait import wait_until

        rest = FlinkRest("http://127.0.0.1:" + env["PIPECTL_LOCAL_FLINK_PORT"], timeout=3)
        wait_until(lambda: kafka_admin.ping(kafka, 3), what="kafka", timeout=START_TIMEOUT)
        wait_until(lambda: sum(1 for _ in kafka_admin.topic_offsets(kafka, "orders.created.v1")[1]) == 2,
                   what="topic orders.created.v1 with 2 partitions", timeout=START_TIMEOUT)
        wait_until(lambda: rest.overview().get("taskmanagers", 0) >= 1, what="flink", timeout=START_TIMEOUT)

        # the flow document's submit, verbatim: submitted to the cluster of the container, no stack trace
        submit = step(f"docker exec flink-jobmanager python {JOB_PY}", timeout=600)
        output = submit.stdout + submit.stderr
        assert "Job has been submitted with JobID" in output, output[-4000:]
        assert "Exception" not in output and "Traceback" not in output, output[-4000:]
        wait_until(lambda: [(j["name"], j["state"]) for j in rest.jobs()] == [("order_ingest", "RUNNING")],
                   what="order_ingest RUNNING on the Compose cluster", timeout=START_TIMEOUT)

        # the producer, verbatim but for the tests' port, stopped with Ctrl-C after a few seconds
        producer = caller.popen(f"python producer/cli.py produce orders --rate 10 --bootstrap-servers {kafka}", env)
        started = []
        for line in producer.stderr:  # progress goes to stderr; sending starts once it is connected
            started.append(line)
            if "connected" in line:
                break
        time.sleep(6)
        producer.send_signal(signal.SIGINT)
        out, err = producer.communicate(timeout=60)
        err = "".join(started) + err
        acked, valid = _summary_number(out, "acknowledged"), _summary_number(out, "valid")
        assert acked >= 30 and _summary_number(out, "failed") == 0, out + err

        # then records that break the contract, which the job quarantines
        bad = step(f"python producer/cli.py produce orders --rate max --count 100 --malformed-ratio 0.2 --seed 5 "
                   f"--bootstrap-servers {kafka}")
        assert _summary_number(bad.stdout, "acknowledged") == 100 and _summary_number(bad.stdout, "failed") == 0
        valid += _summary_number(bad.stdout, "valid")
        malformed = _summary_number(bad.stdout, "malformed")
        assert malformed > 0, bad.stdout

        table_dir = checkout / "warehouse" / "analytics" / "orders"
        deadline = time.monotonic() + 240
        while committed_rows(table_dir) < valid and time.monotonic() < deadline:
            time.sleep(2)
        wait_settled(env, timeout=240)  # lag 0, then one more checkpoint: a late duplicate would show

        listing = step("ls warehouse/analytics/orders/").stdout.split()
        assert listing == ["data", "metadata"]
        assert caller.run("ls warehouse/analytics.db/orders/", env).returncode != 0

        # read back on the host by an independent reader: the metadata holds host paths
        arrow = StaticTable.from_metadata(str(table_dir)).scan().to_arrow()
        assert arrow.num_rows == valid
        assert pc.count_distinct(arrow["event_id"]).as_py() == valid
        assert iceberg_counts(checkout / "warehouse", "orders_rejected")[0] == malformed
        assert caller.files_not_owned(checkout / "warehouse") == []
    finally:
        logs = caller.run(f"{compose} logs --tail 30", env, timeout=120)
        down = caller.run(f"{compose} down -v --remove-orphans", env, timeout=300)
        if down.returncode != 0:
            print(logs.stdout[-3000:])
    assert down.returncode == 0, down.stderr[-2000:]
    assert caller.run(f"{compose} ps -q", env).stdout.strip() == ""
