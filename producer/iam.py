"""Amazon MSK IAM auth for the producer's Kafka clients: SASL_SSL + OAUTHBEARER, with the token made by AWS's
`aws-msk-iam-sasl-signer-python` (a SigV4-presigned `kafka-cluster:Connect` URL, base64url, valid 15 minutes).

    from producer.iam import IamAuth
    auth = IamAuth(region="us-east-1")                  # credentials: the default AWS chain (or profile=...)
    ProduceConfig(bootstrap_servers="b-1...:9098", iam=auth)

`kafka_python_settings(auth)` and `confluent_settings(auth)` give each client's settings; both fetch a new
token whenever the client asks (at every connection and before the token expires).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from producer.errors import EXIT_USAGE, ProducerError

NO_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE / aws.profile) for an identity "
    "allowed kafka-cluster:Connect"
)


@dataclass(frozen=True)
class IamAuth:
    """How to sign: the cluster's region, an optional AWS named profile (else the default credential
    chain) and an optional PEM CA file to trust for the brokers' TLS (else the system's CAs)."""

    region: str
    profile: str = ""
    ca_file: str = ""


def auth_token(auth: IamAuth) -> tuple[str, int]:
    """A fresh MSK IAM token and its expiry (epoch milliseconds). Raises ProducerError without credentials."""
    import botocore.session
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    from botocore.exceptions import BotoCoreError

    if not auth.region:
        raise ProducerError("MSK IAM auth needs the cluster's region", hint="set aws.region", exit_code=EXIT_USAGE)
    try:
        session = botocore.session.Session(profile=auth.profile or None)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. the profile does not exist
        raise ProducerError(
            f"cannot load AWS credentials: {exc}", hint=NO_CREDENTIALS_HINT, exit_code=EXIT_USAGE
        ) from None
    if credentials is None or not credentials.access_key or not credentials.secret_key:
        raise ProducerError("no AWS credentials found for MSK IAM auth", hint=NO_CREDENTIALS_HINT, exit_code=EXIT_USAGE)
    if auth.profile:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_profile(auth.region, auth.profile)
    else:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(auth.region)
    return token, int(expiry_ms)


def _kafka_python_provider(auth: IamAuth) -> Any:
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class MskIamTokenProvider(AbstractTokenProvider):
        """kafka-python asks for a token at every connection; reuse one until a minute before expiry."""

        def __init__(self) -> None:
            super().__init__()
            self._token = ""
            self._expiry_ms = 0

        def token(self) -> str:
            if time.time() * 1000 > self._expiry_ms - 60_000:
                self._token, self._expiry_ms = auth_token(auth)
            return self._token

    return MskIamTokenProvider()


def kafka_python_settings(auth: IamAuth) -> dict[str, Any]:
    """KafkaProducer keyword arguments for SASL_SSL + OAUTHBEARER with MSK IAM tokens."""
    auth_token(auth)  # fail here, with one clear line, when there are no credentials
    settings: dict[str, Any] = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": _kafka_python_provider(auth),
    }
    if auth.ca_file:
        settings["ssl_cafile"] = auth.ca_file
    return settings


def confluent_settings(auth: IamAuth) -> dict[str, Any]:
    """confluent_kafka.Producer settings for SASL_SSL + OAUTHBEARER with MSK IAM tokens."""
    auth_token(auth)

    def oauth_cb(_config: str) -> tuple[str, float]:
        token, expiry_ms = auth_token(auth)
        return token, expiry_ms / 1000.0

    settings: dict[str, Any] = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": oauth_cb,
    }
    if auth.ca_file:
        settings["ssl.ca.location"] = auth.ca_file
    return settings
