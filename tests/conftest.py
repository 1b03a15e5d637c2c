"""Shared fixtures: the real native stack (Kafka broker + Flink cluster) on test ports.

The stack runs from this checkout (its target/ and jobs/), with its state, data and logs in a
temporary folder and on ports of its own, so a developer's own stack on 9092/8081 is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# PIPECTL_TEST_PORT_OFFSET lets two test runs share a machine (each on its own ports).
_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
TEST_PORTS = {
    "PIPECTL_LOCAL_KAFKA_PORT": str(29092 + _OFFSET),
    "PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT": str(29093 + _OFFSET),
    "PIPECTL_LOCAL_FLINK_PORT": str(28081 + _OFFSET),
    "PIPECTL_LOCAL_FLINK_RPC_PORT": str(26123 + _OFFSET),
}
TEST_BOOTSTRAP = f"127.0.0.1:{29092 + _OFFSET}"
# The JVMs of the tests' stacks compile with C1 only (the setting local.java_opts): a test moves a few
# thousand records, and C2's compilations cost a third of the CPU of a stack's start and of each
# `job start` (measured: 151 -> 100 CPU-seconds for up, two starts, 3,000 records, down). The bench
# leaves it unset, as users do.
TEST_JAVA_OPTS = {"PIPECTL_LOCAL_JAVA_OPTS": "-XX:TieredStopAtLevel=1"}


def run_pipectl(env: dict, *args: str, timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "pipectl", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout, input=input,
    )


def run_json(env: dict, *args: str, timeout: float = 600) -> tuple[int, dict]:
    result = run_pipectl(env, *args, "--output", "json", timeout=timeout)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not JSON (exit {result.returncode}): {result.stdout!r} {result.stderr[-2000:]!r}") from None


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("stack")
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("PIPECTL_") or k == "DEPLOYMENT_ENV"]:
        del env[key]
    env.update(TEST_PORTS)
    env.update(TEST_JAVA_OPTS)
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",  # the stack's folders are the test's own
        PIPECTL_TEST_ROOT=str(root),
    )
    return env


@pytest.fixture(scope="session")
def native_stack(stack_env):
    """`pipectl local up` once for the session; `pipectl local down` at the end."""
    result = run_pipectl(stack_env, "local", "up", timeout=300)
    if result.returncode != 0:
        run_pipectl(stack_env, "local", "down")
        pytest.fail(f"pipectl local up failed ({result.returncode}): {result.stderr[-3000:]}")
    yield stack_env
    down = run_pipectl(stack_env, "local", "down")
    assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def kafka_bootstrap(request) -> str:
    """A real broker with orders.created.v1 (2 partitions). PIPECTL_TEST_KAFKA_BOOTSTRAP overrides it."""
    external = os.environ.get("PIPECTL_TEST_KAFKA_BOOTSTRAP")
    if external:
        return external
    request.getfixturevalue("native_stack")
    return TEST_BOOTSTRAP


def scenario_env(env: dict, name: str, **extra: str) -> dict:
    """`env` with a topic, tables and consumer group of the scenario's own, so that scenarios share
    one stack without reading each other's data."""
    return dict(
        env,
        PIPECTL_PIPELINE_TOPIC=f"orders.{name}.v1",
        PIPECTL_PIPELINE_TABLE=f"orders_{name}",
        PIPECTL_PIPELINE_REJECTED_TABLE=f"orders_{name}_rejected",
        PIPECTL_PIPELINE_CONSUMER_GROUP=name,
        **extra,
    )


def topic_records(bootstrap: str, topic: str, group: str = "test") -> dict[tuple[int, int], bytes]:
    """Every record of the topic as it is now, by (partition, offset), read with a client pipectl does
    not use (confluent-kafka); fails when they cannot all be read within 120 s."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-{time.time()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        out: dict[tuple[int, int], bytes] = {}
        deadline = time.monotonic() + 120
        while len(out) < sum(ends.values()) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                out[(msg.partition(), msg.offset())] = msg.value()
        assert len(out) == sum(ends.values()), (len(out), ends)
        return out
    finally:
        consumer.close()


def wait_for(predicate, timeout: float, what: str):
    """Poll `predicate` each second until it returns something true (returned), or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ------------------------------------------------------------------ independent read-back helpers
# What the tests trust is read here from the real parts, not from pipectl's own report: the Iceberg
# files (pyiceberg), Flink's REST API and Kafka's consumer-group offsets.
def iceberg_counts(warehouse: str | Path, table: str, namespace: str = "analytics") -> tuple[int, int]:
    """(rows, distinct event ids) of a Hadoop-catalog table, read from its files with pyiceberg;
    (0, 0) when the table or its first snapshot does not exist yet."""
    import pyarrow.compute as pc
    from pyiceberg.table import StaticTable

    table_dir = Path(warehouse) / namespace / table
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        return 0, 0
    t = StaticTable.from_metadata(str(table_dir))
    if t.current_snapshot() is None:
        return 0, 0
    arrow = t.scan().to_arrow()
    distinct = pc.count_distinct(arrow["event_id"]).as_py() if "event_id" in arrow.column_names else arrow.num_rows
    return arrow.num_rows, distinct


def s3tables_counts(
    endpoint: str, region: str, key_id: str, secret: str, bucket_arn: str, table: str, namespace: str = "analytics"
) -> tuple[int, int]:
    """(rows, distinct event ids) of an S3 Tables table, read independently of pipectl: boto3 asks
    the s3tables API for the metadata location, pyiceberg reads the files from S3 (an emulator's
    endpoint in tests); (0, 0) before the first commit."""
    import boto3
    import pyarrow.compute as pc
    from pyiceberg.table import StaticTable

    client = boto3.client("s3tables", region_name=region, endpoint_url=endpoint, aws_access_key_id=key_id,
                          aws_secret_access_key=secret)
    location = client.get_table_metadata_location(tableBucketARN=bucket_arn, namespace=namespace, name=table).get(
        "metadataLocation")
    if not location:
        return 0, 0
    t = StaticTable.from_metadata(location, properties={
        "s3.endpoint": endpoint, "s3.region": region, "s3.access-key-id": key_id, "s3.secret-access-key": secret})
    if t.current_snapshot() is None:
        return 0, 0
    arrow = t.scan().to_arrow()
    distinct = pc.count_distinct(arrow["event_id"]).as_py() if "event_id" in arrow.column_names else arrow.num_rows
    return arrow.num_rows, distinct


def flink_get(env: dict, path: str, timeout: float = 10) -> dict:
    """GET on the JobManager's REST API of the stack in `env`."""
    import urllib.request

    port = env.get("PIPECTL_LOCAL_FLINK_PORT", TEST_PORTS["PIPECTL_LOCAL_FLINK_PORT"])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return json.loads(response.read())


LIVE_JOB_STATES = {"RUNNING", "RESTARTING", "CREATED", "INITIALIZING", "FAILING", "RECONCILING", "SUSPENDED"}


def live_jobs(env: dict) -> list[dict]:
    """The cluster's jobs that are not in a terminal state (from /jobs/overview)."""
    return [j for j in flink_get(env, "/jobs/overview")["jobs"] if j["state"] in LIVE_JOB_STATES]


def completed_checkpoint_id(env: dict, job_id: str) -> int | None:
    """The id of the job's latest completed checkpoint (Flink REST), None before the first."""
    latest = (flink_get(env, f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed")
    return latest["id"] if latest else None


def consumer_lag(env: dict) -> int | None:
    """Records of the pipeline's topic after its consumer group's committed offsets (kafka-python,
    straight from the broker); None while the group has committed nothing on some partition."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    bootstrap = f"127.0.0.1:{env.get('PIPECTL_LOCAL_KAFKA_PORT', TEST_PORTS['PIPECTL_LOCAL_KAFKA_PORT'])}"
    topic = env.get("PIPECTL_PIPELINE_TOPIC", "orders.created.v1")
    group = env.get("PIPECTL_PIPELINE_CONSUMER_GROUP", "pipectl-order-ingest")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        end = consumer.end_offsets(tps)
        # kafka-python 3: {group: {TopicPartition: OffsetAndMetadata}}
        offsets = admin.list_group_offsets(group).get(group, {})
        committed = {tp: m.offset for tp, m in offsets.items() if tp.topic == topic}
    finally:
        consumer.close()
        admin.close()
    lag = 0
    for tp, last in end.items():
        if last == 0:
            continue
        if committed.get(tp, -1) < 0:
            return None
        lag += max(0, last - committed[tp])
    return lag


def records_in_topic(env: dict) -> int:
    """How many records the pipeline's topic holds (end minus beginning offsets; kafka-python)."""
    from kafka import KafkaConsumer, TopicPartition

    bootstrap = f"127.0.0.1:{env.get('PIPECTL_LOCAL_KAFKA_PORT', TEST_PORTS['PIPECTL_LOCAL_KAFKA_PORT'])}"
    topic = env.get("PIPECTL_PIPELINE_TOPIC", "orders.created.v1")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        consumer.close()


def _transient() -> tuple[type[BaseException], ...]:
    """What a REST or Kafka call may raise while a component is still coming back."""
    from kafka.errors import KafkaError

    return (OSError, ValueError, KeyError, KafkaError)


def wait_settled(env: dict, timeout: float = 300) -> dict:
    """Wait until the running job has consumed the whole topic (consumer lag 0, committed with a
    checkpoint) and then one MORE checkpoint has completed, so that whatever the job would commit
    late (a duplicate, a pending commit) is in the table before a test reads it.
    Returns {job_id, lag_zero_checkpoint, settled_checkpoint, waited_s}."""
    import time

    t0 = time.monotonic()
    deadline = t0 + timeout
    last = "nothing"
    while time.monotonic() < deadline:
        try:
            jobs = [j for j in live_jobs(env) if j["state"] == "RUNNING"]
            if len(jobs) == 1 and consumer_lag(env) == 0:
                job_id = jobs[0]["jid"]
                at_zero = completed_checkpoint_id(env, job_id) or 0
                while time.monotonic() < deadline:
                    now = completed_checkpoint_id(env, job_id) or 0
                    if now > at_zero:
                        return {"job_id": job_id, "lag_zero_checkpoint": at_zero, "settled_checkpoint": now,
                                "waited_s": round(time.monotonic() - t0, 1)}
                    time.sleep(0.5)
            last = f"running jobs {[j['jid'] for j in jobs]}, lag {consumer_lag(env)}"
        except _transient() as exc:  # the stack may still be coming back; keep polling until the deadline
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    raise AssertionError(f"not settled (lag 0 plus one more checkpoint) within {timeout}s: {last}")


def wait_checkpoint_after(env: dict, job_id: str, after: int | None, timeout: float = 180) -> int:
    """Wait for a completed checkpoint of `job_id` with an id greater than `after` (None: any);
    returns its id. Compares checkpoint ids, never rounded ages."""
    import time

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = completed_checkpoint_id(env, job_id)
            if last is not None and (after is None or last > after):
                return last
        except _transient() as exc:  # the JobManager may be restarting the job
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise AssertionError(f"no checkpoint of job {job_id} after id {after} within {timeout}s (last: {last})")


def kill_process(proc: subprocess.Popen | None) -> None:
    """For `finally`: end a test's producer (or other) subprocess if it still runs."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass


# the release users run today -------------------------------------------------------------------
OLD_RELEASE = "438bbda"  # the release before contract version 2: what users run today
_OLD_CLASSES = "dev/pipectl/flink/"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, check=False)


@pytest.fixture(scope="session")
def old_release(tmp_path_factory) -> Path:
    """A checkout-like folder of the old release (OLD_RELEASE, contract version 1, no compiled plan):
    its jobs/ and streaming_job.py as they were, and target/pyflink-dependencies.jar: this checkout's
    jar with its dev.pipectl.flink classes replaced by that commit's, compiled here (Java 11 bytecode).
    The rest of the jar is the same: the dependencies in pom.xml did not change since that commit.
    `old_release_zip` packs it as `aws package` does."""
    root = tmp_path_factory.mktemp("old-release")
    if _git("cat-file", "-e", f"{OLD_RELEASE}^{{commit}}").returncode != 0:
        pytest.fail(f"commit {OLD_RELEASE} (the release before contract version 2) is not in this clone's history")
    archive = _git("archive", OLD_RELEASE, "jobs", "streaming_job.py", "assembly/pyflink-dependencies/src/main/java")
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    new_jar = REPO / "target" / "pyflink-dependencies.jar"
    if not new_jar.is_file():
        pytest.fail(f"{new_jar} is missing: run `make build` first (make test does)")
    classes = root / "classes"
    sources = sorted(str(p) for p in (root / "assembly/pyflink-dependencies/src/main/java" / _OLD_CLASSES).glob("*.java"))
    import pyflink

    flink_lib = Path(pyflink.__file__).parent / "lib" / "*"  # Flink's table API (provided, not in the jar)
    subprocess.run(["javac", "--release", "11", "-nowarn", "-cp", f"{new_jar}:{flink_lib}", "-d", str(classes), *sources],
                   check=True)
    (root / "target").mkdir()
    with zipfile.ZipFile(new_jar) as src, zipfile.ZipFile(root / "target" / new_jar.name, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if not item.filename.startswith(_OLD_CLASSES):
                dst.writestr(item, src.read(item.filename))
        for cls in (classes / _OLD_CLASSES).glob("*.class"):
            dst.write(cls, _OLD_CLASSES + cls.name)
    shutil.rmtree(root / "assembly")
    shutil.rmtree(classes)
    assert "discount" not in (root / "jobs/order_ingest/statements.py").read_text()
    return root


def old_release_zip(release: Path, dst: Path) -> Path:
    """The old release as data-pipeline-aws.zip (the layout of `aws package`: streaming_job.py,
    jobs/, lib/pyflink-dependencies.jar)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(release / "streaming_job.py", "streaming_job.py")
        for path in sorted((release / "jobs").rglob("*.py")):
            zf.write(path, path.relative_to(release).as_posix())
        zf.write(release / "target" / "pyflink-dependencies.jar", "lib/pyflink-dependencies.jar")
    return dst
