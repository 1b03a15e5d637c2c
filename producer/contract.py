"""The contract of the topic orders.created.v1: JSON Schema files shared by the producer, the job's
tests and the docs, one per contract version (each event says its version in `schema_version`).

Version 1: producer/contract/orders.created.v1.schema.json. Version 2 (backward compatible, the
job accepts both): orders.created.v2.schema.json, version 1 plus an optional `discount_amount`
and `coupon_code`; total_amount = sum of the lines - discount_amount."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

# The pipeline's names, defined once: pipectl's settings (pipectl/config.py) and the producer take
# their defaults from here; jobs/order_ingest/settings.py (stdlib only, it runs from the zip) repeats
# them, and tests/unit/test_defaults.py pins the two to the same values.
TOPIC = "orders.created.v1"
NAMESPACE = "analytics"
TABLE = "orders"
REJECTED_TABLE = "orders_rejected"
CONSUMER_GROUP = "pipectl-order-ingest"
EVENT_TYPE = "order.created"
SCHEMA_VERSION = 1  # the version the producer sends unless told otherwise
SCHEMA_VERSIONS = (1, 2)
CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
SCHEMA_PATH = CONTRACT_DIR / "orders.created.v1.schema.json"
SCHEMA_PATHS = {v: CONTRACT_DIR / f"orders.created.v{v}.schema.json" for v in SCHEMA_VERSIONS}


@lru_cache(maxsize=2)
def load_schema(version: int = 1) -> dict[str, Any]:
    return json.loads(SCHEMA_PATHS[version].read_text())


def validator(version: int = 1) -> Any:
    """A jsonschema validator for one contract version (jsonschema is imported only here)."""
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(version), format_checker=jsonschema.FormatChecker())


def total_rule_holds(event: dict[str, Any]) -> bool:
    """Version 2's rule JSON Schema cannot state: total_amount = sum(quantity * unit_price) - discount_amount,
    in decimals (the job checks the same, dev.pipectl.flink.OrderContract)."""
    lines = sum(Decimal(str(i["quantity"])) * Decimal(str(i["unit_price"])) for i in event["items"])
    discount = Decimal(str(event.get("discount_amount") or 0))
    return lines - discount == Decimal(str(event["total_amount"]))


def is_valid(record: bytes | str) -> bool:
    """True when `record` is JSON that satisfies the contract of the version it says it is."""
    try:
        event = json.loads(record)
    except ValueError:
        return False
    version = event.get("schema_version") if isinstance(event, dict) else None
    if version == 2 and not isinstance(version, bool):
        return validator(2).is_valid(event) and total_rule_holds(event)
    return validator(1).is_valid(event)
