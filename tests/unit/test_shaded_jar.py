"""The MSK IAM classes in pyflink-dependencies.jar fit the Kafka client classes the Flink connector uses.

Compiles tests/build/MskIamShadingCheck.java and runs it on the class path the job gets: the shaded jar
plus the Flink distribution the apache-flink wheel ships. The check starts from the connector's own Kafka
consumer type (relocated or not), asserts IAMClientCallbackHandler implements that Kafka's
AuthenticateCallbackHandler, has Kafka's ConsumerConfig instantiate the handler, and builds a real
KafkaConsumer with SASL_SSL / AWS_MSK_IAM. A jar that relocates Kafka for the connector only (what
flink-sql-connector-kafka does) fails it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "target" / "pyflink-dependencies.jar"
CHECK_SOURCE = REPO / "tests" / "build" / "MskIamShadingCheck.java"


def _flink_lib() -> Path:
    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("apache-flink is not installed in this environment (pyflink not importable)")
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    if not any(lib.glob("flink-dist-*.jar")):
        pytest.fail(f"no flink-dist jar under {lib}")
    return lib


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` (a JDK 11+) is needed on PATH for this test")
    return path


@pytest.fixture(scope="module")
def classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not JAR.is_file():
        pytest.fail(f"{JAR.relative_to(REPO)} is missing: run `mvn -q package` in {REPO} first")
    deps = f"{JAR}:{_flink_lib()}/*"
    classes = tmp_path_factory.mktemp("msk-check")
    compiled = subprocess.run(
        [_tool("javac"), "-d", str(classes), "-cp", deps, str(CHECK_SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compiled.returncode == 0, f"javac failed:\n{compiled.stderr}"
    return f"{classes}:{deps}"


def test_msk_iam_handler_matches_connector_kafka_classes(classpath: str) -> None:
    result = subprocess.run(
        [_tool("java"), "-cp", classpath, "MskIamShadingCheck"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "connector uses Kafka package org.apache.kafka." in result.stdout
    assert "ConsumerConfig made a software.amazon.msk.auth.iam.IAMClientCallbackHandler" in result.stdout
    assert "OK: KafkaConsumer with AWS_MSK_IAM created and closed" in result.stdout
