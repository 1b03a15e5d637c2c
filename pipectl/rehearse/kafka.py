"""The seam to the rehearsal's Kafka broker: MSK IAM auth on a SASL_SSL listener, checked
against the rehearsal's credentials (pipectl/rehearse/broker.py, issue 12b). The rest of the
rehearsal sees only `Broker`: where it listens, the CA to trust, and how to stop it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipectl.config import Settings
from pipectl.errors import NotFoundError
from pipectl.rehearse.flink import Trust


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    ca_file: str
    trust: Trust
    handle: Any


def _module() -> Any:
    try:
        return importlib.import_module("pipectl.rehearse.broker")
    except ImportError:
        raise NotFoundError(
            "the rehearsal's IAM-auth Kafka broker (pipectl/rehearse/broker.py) is not available",
            hint="it comes with the MSK IAM broker work (issue 12b)",
        ) from None


def start(settings: Settings, folder: Path, access_key_id: str, secret_access_key: str, java_home: Path) -> Broker:
    raise NotFoundError("not wired yet", hint="issue 12b")


def stop(folder: Path) -> bool:
    return False
