"""pipectl --env aws produce: which brokers, which auth (pipectl.aws.msk.producer_endpoint), and the clients'
IAM settings (producer.iam). The end-to-end path through a real IAM broker is tests/integration/test_iam_broker.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipectl.aws.msk import producer_endpoint
from pipectl.config import load_settings
from pipectl.errors import ConfigError
from producer.iam import IamAuth, confluent_settings, kafka_python_settings

ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/orders-msk/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2"


def _settings(tmp_path: Path, **aws: str):  # type: ignore[no-untyped-def]
    environ = {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    environ.update({f"PIPECTL_AWS_{k.upper()}": v for k, v in aws.items()})
    return load_settings(tmp_path, env="aws", environ=environ)


def test_explicit_bootstrap_and_iam_from_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = _settings(tmp_path, bootstrap_servers="b-1.example:9098", region="us-east-1", kafka_ca_file="ca.pem",
                         profile="")
    assert producer_endpoint(settings, explicit_bootstrap=None, need_broker=True) == (
        "b-1.example:9098", IamAuth(region="us-east-1", profile="", ca_file=str(ca)))
    assert producer_endpoint(settings, explicit_bootstrap="x:1", need_broker=True)[0] == "x:1"


def test_region_comes_from_the_cluster_arn(tmp_path: Path) -> None:
    settings = _settings(tmp_path, bootstrap_servers="b-1.example:9098", msk_cluster_arn=ARN)
    _, iam = producer_endpoint(settings, explicit_bootstrap=None, need_broker=True)
    assert iam == IamAuth(region="eu-west-1")


def test_kafka_auth_none_is_plaintext(tmp_path: Path) -> None:
    settings = _settings(tmp_path, bootstrap_servers="b-1.example:9092", kafka_auth="none")
    assert producer_endpoint(settings, explicit_bootstrap=None, need_broker=True) == ("b-1.example:9092", None)


def test_every_missing_setting_is_named(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_ca_file="missing.pem")
    with pytest.raises(ConfigError) as err:
        producer_endpoint(settings, explicit_bootstrap=None, need_broker=True)
    assert err.value.problems == [
        "neither aws.bootstrap_servers nor aws.msk_cluster_arn is set (or pass --bootstrap-servers)",
        "aws.region is not set (nor AWS_REGION, a profile region or aws.msk_cluster_arn)",
        "aws.kafka_ca_file 'missing.pem' does not exist",
    ]


def test_nothing_is_needed_for_stdout_or_dry_run(tmp_path: Path) -> None:
    assert producer_endpoint(_settings(tmp_path), explicit_bootstrap=None, need_broker=False) == ("127.0.0.1:9092", None)


def test_kafka_auth_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"aws\.kafka_auth must be one of iam, none, got 'sasl'"):
        _settings(tmp_path, kafka_auth="sasl")


def test_client_settings_are_sasl_ssl_oauthbearer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    auth = IamAuth(region="us-east-1", ca_file="/ca.pem")
    kp = kafka_python_settings(auth)
    assert (kp["security_protocol"], kp["sasl_mechanism"], kp["ssl_cafile"]) == ("SASL_SSL", "OAUTHBEARER", "/ca.pem")
    token = kp["sasl_oauth_token_provider"].token()
    import base64

    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url.startswith("https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect&")
    assert "X-Amz-Credential=AKIAEXAMPLE%2F" in url and "X-Amz-Signature=" in url
    ck = confluent_settings(auth)
    assert (ck["security.protocol"], ck["sasl.mechanism"], ck["ssl.ca.location"]) == ("SASL_SSL", "OAUTHBEARER", "/ca.pem")
    value, expiry_s = ck["oauth_cb"]("")
    assert value.startswith("aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEu")  # base64url of https://kafka.us-east-1.
    assert expiry_s > 0
