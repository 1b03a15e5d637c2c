"""The rehearsal's MSK IAM broker, against real clients: a KRaft broker (target/kafka/libs) whose SASL_SSL listener
runs assembly/msk-iam-broker's checks, started by pipectl.rehearse.broker.

Accepted: the job's own client classes (aws-msk-iam-auth 2.3.4 from pyflink-dependencies.jar, AWS_MSK_IAM) and
aws-msk-iam-sasl-signer-python's token (OAUTHBEARER), with the rehearsal's credentials; records go in and are
read back. Refused, each with the broker's reason in its log: an unsigned payload, a wrong secret, a tampered
or expired signature, another region, an unsigned or non-IAM OAUTHBEARER token, and PLAIN / SCRAM.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import pytest

from pipectl.rehearse.broker import IamBroker, IamCredentials, read_iam_broker, start_iam_broker, stop_iam_broker
from tests.conftest import TEST_JAVA_OPTS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "target" / "pyflink-dependencies.jar"
# 29120-29122 (+ offset): apart from the rehearsal test's 29100-29103, so the two never meet on a port
PORT = 29120 + int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
REGION = "us-east-1"
CREDS = IamCredentials("AKIAREHEARSAL0000001", "rehearsal/Secret+Key0123456789abcdefghij")
TOPIC = "iam.check"
ORDERS = "orders.created.v1"
FAILED = re.compile(r"Failed authentication with \S+ \(channelId=[^)]*\) \((.*)\) \(org\.apache\.kafka")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamBroker]:
    workdir = tmp_path_factory.mktemp("iam-broker")
    started = start_iam_broker(workdir, PORT, CREDS, REGION, topics=[TOPIC, ORDERS], partitions=1,
                               target_dir=REPO / "target", java_opts=TEST_JAVA_OPTS["PIPECTL_LOCAL_JAVA_OPTS"])
    try:
        yield started
    finally:
        stop_iam_broker(workdir)


@pytest.fixture(scope="module")
def java_check(broker: IamBroker, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs tests/build/MskIamClientCheck.java on the job jar's classes: one record over AWS_MSK_IAM."""
    spec = importlib.util.find_spec("pyflink")
    assert spec is not None and spec.submodule_search_locations
    classpath = f"{JAR}:{Path(next(iter(spec.submodule_search_locations))) / 'lib'}/*"
    classes = tmp_path_factory.mktemp("iam-client")
    javac, java = shutil.which("javac"), shutil.which("java")
    assert javac and java, "a JDK is needed on PATH"
    compiled = subprocess.run([javac, "-d", str(classes), "-cp", classpath, str(REPO / "tests/build/MskIamClientCheck.java")],
                              capture_output=True, text=True, timeout=180)
    assert compiled.returncode == 0, compiled.stderr

    def run(secret: str, value: str, region: str = REGION) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return subprocess.run(
            [java, f"-Daws.accessKeyId={CREDS.access_key_id}", f"-Daws.secretAccessKey={secret}",
             f"-Daws.region={region}", "-cp", f"{classes}:{classpath}", "MskIamClientCheck",
             broker.bootstrap, TOPIC, str(broker.truststore), "", value],  # "": read without a password
            capture_output=True, text=True, timeout=120, env=env,
        )

    return run


def _read_values(broker: IamBroker, topic: str = TOPIC) -> list[str]:
    """Every value in `topic`, read over the IAM listener with an OAUTHBEARER token (the producer's way)."""
    from kafka import KafkaConsumer

    from pipectl.rehearse.broker import static_token_provider

    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=static_token_provider(CREDS, REGION), ssl_cafile=str(broker.ca_pem),
        auto_offset_reset="earliest", consumer_timeout_ms=8000, group_id=None,
    )
    try:
        return [m.value.decode() for m in consumer]
    finally:
        consumer.close()


def _refusals(broker: IamBroker, attempt: Callable[[], Any]) -> list[str]:
    """Run a client attempt that must fail; return the broker's new 'Failed authentication' reasons."""
    start = broker.log.stat().st_size
    with pytest.raises(Exception):  # noqa: B017 - kafka-python reports a refused login as a bootstrap timeout
        attempt()
    deadline = time.monotonic() + 15
    while True:
        with broker.log.open("rb") as fh:
            fh.seek(start)
            new = fh.read().decode(errors="replace")
        reasons = [m.group(1) for m in FAILED.finditer(new)]
        if reasons or time.monotonic() > deadline:
            return reasons
        time.sleep(0.5)


def _admin(broker: IamBroker, mechanism: str, **extra: Any) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, security_protocol="SASL_SSL", sasl_mechanism=mechanism,
                             ssl_cafile=str(broker.ca_pem), request_timeout_ms=4000, bootstrap_timeout_ms=6000, **extra)
    admin.close()


def _iam_payload_attempt(broker: IamBroker, monkeypatch: pytest.MonkeyPatch, *, secret: str = CREDS.secret_access_key,
                         region: str = REGION, age_s: int = 0,
                         edit: Callable[[dict[str, str]], None] = lambda m: None) -> Callable[[], None]:
    """An AWS_MSK_IAM client (kafka-python's payload writer) whose payload is signed, aged and edited as asked."""
    import datetime

    import kafka.net.sasl as sasl
    from kafka.net.sasl.msk import AwsMskIamClient, SaslMechanismAwsMskIam

    class Variant(SaslMechanismAwsMskIam):  # type: ignore[misc]
        def auth_bytes(self) -> bytes:
            client = AwsMskIamClient(host=self.host, access_key=CREDS.access_key_id, secret_key=secret, region=region)
            then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=age_s)
            client.datestamp, client.timestamp = then.strftime("%Y%m%d"), then.strftime("%Y%m%dT%H%M%SZ")
            message = json.loads(client.first_message())
            edit(message)
            return json.dumps(message).encode()

    monkeypatch.setitem(sasl.SASL_MECHANISMS, "AWS_MSK_IAM", Variant)
    return lambda: _admin(broker, "AWS_MSK_IAM")


# ------------------------------------------------------------------------------------------ accepted
def test_job_client_classes_authenticate_with_aws_msk_iam(broker: IamBroker, java_check: Callable[..., Any]) -> None:
    value = f"java-{uuid.uuid4()}"
    result = java_check(CREDS.secret_access_key, value)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK: AWS_MSK_IAM record acknowledged on {TOPIC}-0 at offset" in result.stdout
    assert value in _read_values(broker)


def test_the_python_signer_token_is_accepted_and_records_flow(broker: IamBroker) -> None:
    from kafka import KafkaProducer

    from pipectl.rehearse.broker import static_token_provider

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, security_protocol="SASL_SSL",
                             sasl_mechanism="OAUTHBEARER", ssl_cafile=str(broker.ca_pem),
                             sasl_oauth_token_provider=static_token_provider(CREDS, REGION))
    value = f"oauth-{uuid.uuid4()}"
    producer.send(TOPIC, value.encode()).get(timeout=30)
    producer.close()
    assert value in _read_values(broker)


def test_start_is_idempotent_and_the_broker_is_recorded(broker: IamBroker) -> None:
    again = start_iam_broker(broker.workdir, PORT, CREDS, REGION, topics=[TOPIC, ORDERS], partitions=1,
                             target_dir=REPO / "target")
    assert again.pid == broker.pid
    recorded = read_iam_broker(broker.workdir)
    assert recorded is not None and recorded.bootstrap == broker.bootstrap and recorded.pid == broker.pid
    assert "rehearsal/Secret" not in repr(CREDS)


# ------------------------------------------------------------------------------------------ refused
def test_wrong_secret_is_refused(broker: IamBroker, java_check: Callable[..., Any]) -> None:
    result = java_check("not-the-secret", "never-stored")
    assert result.returncode == 1
    assert ("REFUSED: | org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: "
            "signature does not match (wrong secret, or the request was changed after signing)") in result.stdout
    assert "never-stored" not in _read_values(broker)


def test_unsigned_aws_msk_iam_payload_is_refused(broker: IamBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    attempt = _iam_payload_attempt(broker, monkeypatch, edit=lambda m: m.pop("x-amz-signature"))
    assert "Authentication failed: unsigned request: no X-Amz-Signature" in _refusals(broker, attempt)


def test_tampered_and_expired_signatures_are_refused(broker: IamBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    def tamper(message: dict[str, str]) -> None:
        message["host"] = "another-host"  # signed for one host, presented for another

    assert ("Authentication failed: signature does not match (wrong secret, or the request was changed after signing)"
            in _refusals(broker, _iam_payload_attempt(broker, monkeypatch, edit=tamper)))
    expired = _refusals(broker, _iam_payload_attempt(broker, monkeypatch, age_s=3600))
    assert expired and expired[0].startswith("Authentication failed: expired: signed at ")
    other_region = _refusals(broker, _iam_payload_attempt(broker, monkeypatch, region="eu-west-1"))
    assert ("Authentication failed: credential scope region eu-west-1 is not this cluster's region us-east-1"
            in other_region)


def test_unsigned_and_foreign_oauthbearer_tokens_are_refused(broker: IamBroker) -> None:
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    from botocore.credentials import CredentialProvider, Credentials
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Static(CredentialProvider):  # type: ignore[misc]
        def load(self) -> Credentials:
            return Credentials(CREDS.access_key_id, CREDS.secret_access_key)

    signed, _ = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(REGION, Static())
    url = base64.urlsafe_b64decode(signed + "=" * (-len(signed) % 4)).decode()
    unsigned_url = "&".join(p for p in url.split("&") if not p.startswith("X-Amz-Signature="))
    unsigned = base64.urlsafe_b64encode(unsigned_url.encode()).decode().rstrip("=")
    # what Kafka's own unsecured OAUTHBEARER login would send: an unsigned JWT
    jwt = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
                   for p in ({"alg": "none"}, {"sub": "admin", "exp": time.time() + 600})) + "."

    def attempt(token: str) -> Callable[[], None]:
        class Fixed(AbstractTokenProvider):  # type: ignore[misc]
            def token(self) -> str:
                return token

        return lambda: _admin(broker, "OAUTHBEARER", sasl_oauth_token_provider=Fixed())

    assert any("invalid_token (unsigned request: no X-Amz-Signature)" in r for r in _refusals(broker, attempt(unsigned)))
    assert any("invalid_token (the token is not base64url" in r for r in _refusals(broker, attempt(jwt)))


def test_other_mechanisms_are_refused(broker: IamBroker) -> None:
    plain = _refusals(broker, lambda: _admin(broker, "PLAIN", sasl_plain_username="admin", sasl_plain_password="admin"))
    assert "Unsupported SASL mechanism PLAIN" in plain
    scram = _refusals(broker, lambda: _admin(broker, "SCRAM-SHA-512", sasl_plain_username="admin",
                                               sasl_plain_password="admin"))
    assert "Unsupported SASL mechanism SCRAM-SHA-512" in scram


# ------------------------------------------------------------------------------------------ the producer
def _aws_env(broker: IamBroker, tmp_path: Path, **aws: str) -> dict[str, str]:
    from tests.conftest import TEST_PORTS

    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PIPECTL_") or k.startswith("AWS_") or k == "DEPLOYMENT_ENV")}
    env.update(TEST_PORTS)
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO), PIPECTL_CONFIG=str(tmp_path / "none.toml"), HOME=str(tmp_path),
        AWS_EC2_METADATA_DISABLED="true", PIPECTL_AWS_REGION=REGION, PIPECTL_AWS_BOOTSTRAP_SERVERS=broker.bootstrap,
        PIPECTL_AWS_KAFKA_CA_FILE=str(broker.ca_pem), AWS_ACCESS_KEY_ID=CREDS.access_key_id,
        AWS_SECRET_ACCESS_KEY=CREDS.secret_access_key,
    )
    env.update(aws)
    return env


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_pipectl_env_aws_produce_goes_through_iam_auth(broker: IamBroker, tmp_path: Path, client: str) -> None:
    from tests.conftest import run_json

    before = len(_read_values(broker, ORDERS))
    code, summary = run_json(_aws_env(broker, tmp_path), "--env", "aws", "produce", "orders", "--count", "300",
                             "--rate", "max", "--client", client, "--seed", "7", timeout=300)
    assert code == 0, summary
    assert (summary["client"], summary["bootstrap"], summary["sent"], summary["acked"], summary["failed"]) == (
        client, broker.bootstrap, 300, 300, 0)
    values = _read_values(broker, ORDERS)
    assert len(values) - before == 300
    assert all(json.loads(v)["event_type"] == "order.created" for v in values[before:])


def test_pipectl_produce_without_credentials_says_so(broker: IamBroker, tmp_path: Path) -> None:
    from tests.conftest import run_pipectl

    env = _aws_env(broker, tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = run_pipectl(env, "--env", "aws", "produce", "orders", "--count", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no AWS credentials found for MSK IAM auth -- set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "(or AWS_PROFILE / aws.profile) for an identity allowed kafka-cluster:Connect"
    )


def test_pipectl_produce_with_a_wrong_secret_fails_in_one_line(broker: IamBroker, tmp_path: Path) -> None:
    from tests.conftest import run_pipectl

    env = _aws_env(broker, tmp_path, AWS_SECRET_ACCESS_KEY="wrong-secret")
    result = run_pipectl(env, "--env", "aws", "produce", "orders", "--count", "1", "--client", "kafka-python",
                         "--connect-timeout", "5s")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot reach Kafka at {broker.bootstrap} with MSK IAM auth (SASL_SSL) within 5s -- "
    )
    assert "wrong-secret" not in result.stdout + result.stderr
