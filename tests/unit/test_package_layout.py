"""Layout of the Managed Flink bundle and of the shaded jar that `mvn package` builds.

The build runs before the tests (Makefile / .ci/run), so a missing artifact is a failure, not a skip.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ZIP = REPO / "target" / "data-pipeline-aws.zip"
JAR = REPO / "target" / "pyflink-dependencies.jar"

FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.Factory"
LEGACY_FACTORY_SERVICE = "META-INF/services/org.apache.flink.table.factories.TableFactory"
# The AWS SDK v2 service clients we ship: S3 Tables catalog (s3tables), its FileIO (s3), role assumption (sts),
# and kms, whose model classes Iceberg's AwsProperties loads when S3FileIO starts (`pipectl aws rehearse`
# failed with NoClassDefFoundError .../kms/model/EncryptionAlgorithmSpec without it).
SDK_SERVICES_ALLOWED = {"kms", "s3", "s3tables", "sts"}


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} is missing: run `mvn -q package` in {REPO} first")
    return path


@pytest.fixture(scope="module")
def zip_names() -> list[str]:
    with zipfile.ZipFile(_require(ZIP)) as zf:
        return zf.namelist()


@pytest.fixture(scope="module")
def jar() -> zipfile.ZipFile:
    with zipfile.ZipFile(_require(JAR)) as zf:
        yield zf


@pytest.fixture(scope="module")
def jar_names(jar: zipfile.ZipFile) -> set[str]:
    return set(jar.namelist())


def _service_entries(jar: zipfile.ZipFile, name: str) -> set[str]:
    text = jar.read(name).decode("utf-8")
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


# ---- data-pipeline-aws.zip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "streaming_job.py",
        "jobs/__init__.py",
        "jobs/order_ingest/__init__.py",
        "jobs/order_ingest/job.py",
        "lib/pyflink-dependencies.jar",
    ],
)
def test_zip_has_entry(zip_names: list[str], entry: str) -> None:
    assert entry in zip_names


def test_zip_has_nothing_else(zip_names: list[str]) -> None:
    stray = [n for n in zip_names if n != "streaming_job.py" and not n.startswith(("jobs/", "lib/"))]
    assert stray == []
    assert [n for n in zip_names if n.startswith("lib/") and not n.endswith("/")] == ["lib/pyflink-dependencies.jar"]
    assert all(n.endswith((".py", "/")) for n in zip_names if n.startswith("jobs/"))


def test_zip_has_no_bytecode(zip_names: list[str]) -> None:
    assert [n for n in zip_names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))] == []


def test_zip_ships_every_job_module(zip_names: list[str]) -> None:
    on_disk = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "jobs").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk <= set(zip_names)


def test_zip_carries_the_jar_that_was_built(zip_names: list[str]) -> None:
    with zipfile.ZipFile(ZIP) as zf:
        assert zf.getinfo("lib/pyflink-dependencies.jar").file_size == JAR.stat().st_size


# ---- pyflink-dependencies.jar -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        "org/apache/iceberg/flink/FlinkCatalogFactory.class",
        "org/apache/iceberg/flink/FlinkDynamicTableFactory.class",
        "org/apache/flink/connector/kafka/source/KafkaSource.class",
        "org/apache/flink/streaming/connectors/kafka/table/KafkaDynamicTableFactory.class",
        # Kafka is not relocated: the connector and the MSK IAM classes share these
        "org/apache/kafka/clients/consumer/KafkaConsumer.class",
        "org/apache/kafka/common/security/auth/AuthenticateCallbackHandler.class",
        "software/amazon/msk/auth/iam/IAMClientCallbackHandler.class",
        "software/amazon/msk/auth/iam/IAMLoginModule.class",
        "software/amazon/s3tables/iceberg/S3TablesCatalog.class",
        "org/apache/iceberg/aws/s3/S3FileIO.class",
        "software/amazon/awssdk/http/apache/ApacheHttpClient.class",
        # Hadoop for the local HadoopCatalog; its conf package is relocated (Managed Flink ships its own)
        "org/apache/hadoop/fs/LocalFileSystem.class",
        "pipectl/shaded/org/apache/hadoop/conf/Configuration.class",
        # the Hadoop-free stand-in that Iceberg's clusterHadoopConf() is redirected to
        "pipectl/shaded/org/apache/flink/runtime/util/HadoopUtils.class",
    ],
)
def test_jar_contains(jar_names: set[str], cls: str) -> None:
    assert cls in jar_names


def test_jar_registers_kafka_and_iceberg_factories(jar: zipfile.ZipFile) -> None:
    factories = _service_entries(jar, FACTORY_SERVICE)
    assert "org.apache.flink.streaming.connectors.kafka.table.KafkaDynamicTableFactory" in factories
    assert "org.apache.iceberg.flink.FlinkDynamicTableFactory" in factories
    # CREATE CATALOG ... 'type'='iceberg' is found through the legacy TableFactory file
    assert "org.apache.iceberg.flink.FlinkCatalogFactory" in _service_entries(jar, LEGACY_FACTORY_SERVICE)


def test_jar_hadoop_filesystem_service_is_present(jar: zipfile.ZipFile) -> None:
    assert "org.apache.hadoop.fs.LocalFileSystem" in _service_entries(
        jar, "META-INF/services/org.apache.hadoop.fs.FileSystem"
    )


def test_jar_ships_only_the_needed_aws_sdk_services(jar_names: set[str]) -> None:
    prefix = "software/amazon/awssdk/services/"
    services = {n[len(prefix):].split("/", 1)[0] for n in jar_names if n.startswith(prefix) and n.count("/") > 4}
    assert services == SDK_SERVICES_ALLOWED
    # no second HTTP client stack (netty) either
    assert not any(n.startswith(("software/amazon/awssdk/http/nio/", "io/netty/")) for n in jar_names)


@pytest.mark.parametrize(
    "prefix",
    [
        "org/apache/flink/table/api/",  # the Flink distribution provides Flink
        "org/apache/flink/runtime/",
        "org/apache/flink/configuration/",
        "org/apache/hadoop/conf/",  # relocated
        "org/slf4j/",  # logging comes from the distribution
        "org/apache/logging/log4j/",
        "org/apache/log4j/",
        "org/projectnessie/",  # unused catalog, stripped
        "win/",  # zstd natives for platforms we never run on
        "aix/",
    ],
)
def test_jar_leaves_out(jar_names: set[str], prefix: str) -> None:
    assert [n for n in jar_names if n.startswith(prefix)][:5] == []


def test_jar_has_no_signature_files(jar_names: set[str]) -> None:
    signatures = [
        n for n in jar_names if n.startswith("META-INF/") and n.count("/") == 1 and n.endswith((".SF", ".DSA", ".RSA", ".EC"))
    ]
    assert signatures == []


def test_jar_is_multi_release_for_iceberg(jar: zipfile.ZipFile) -> None:
    # datasketches / jackson in the Iceberg runtime need their Java 11+ classes
    assert "Multi-Release: true" in jar.read("META-INF/MANIFEST.MF").decode("utf-8")


def test_jar_keeps_zstd_natives_for_linux(jar_names: set[str]) -> None:
    assert any(n.startswith("linux/amd64/libzstd-jni") for n in jar_names)
    assert any(n.startswith("linux/aarch64/libzstd-jni") for n in jar_names)
