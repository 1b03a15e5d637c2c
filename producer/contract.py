"""The orders.created.v1 contract (a JSON Schema file shared by the producer, the job's tests
and the docs)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

TOPIC = "orders.created.v1"
EVENT_TYPE = "order.created"
SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "contract" / "orders.created.v1.schema.json"


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validator() -> Any:
    """A jsonschema validator for the contract (jsonschema is imported only here)."""
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())


def is_valid(record: bytes | str) -> bool:
    """True when `record` is JSON that satisfies the contract."""
    try:
        event = json.loads(record)
    except ValueError:
        return False
    return validator().is_valid(event)
