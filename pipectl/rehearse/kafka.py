"""The seam to the rehearsal's Kafka broker (pipectl/rehearse/broker.py): MSK IAM auth on a
SASL_SSL listener, checked against the rehearsal's credentials. The rest of the rehearsal sees
only `Broker`: where it listens, the CA to trust, and how to stop it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipectl.config import Settings
from pipectl.rehearse.broker import IamCredentials, start_iam_broker, stop_iam_broker
from pipectl.rehearse.flink import Trust

FOLDER = "kafka"


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    ca_file: str
    trust: Trust


def start(
    settings: Settings, folder: Path, access_key_id: str, secret_access_key: str, region: str, timeout: float
) -> Broker:
    """Start the broker with the topic the job reads; returns when an IAM-signed client lists it."""
    broker = start_iam_broker(
        folder / FOLDER,
        settings.rehearse.kafka_port,
        IamCredentials(access_key_id, secret_access_key),
        region,
        topics=[settings.aws.topic],
        partitions=settings.pipeline.partitions,
        target_dir=settings.target_dir,
        timeout_s=timeout,
        java_opts=settings.local.java_opts,
    )
    return Broker(broker.bootstrap, str(broker.ca_pem), Trust(str(broker.truststore), "JKS"))


def stop(folder: Path) -> bool:
    return stop_iam_broker(folder / FOLDER)
