"""The orders.created.v1 contract: every generated event validates; malformed ones do not."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from producer.contract import SCHEMA_PATH, load_schema, validator
from producer.generate import MALFORMED_KINDS, EventClock, OrderGenerator

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _gen(seed: int, **kw) -> OrderGenerator:
    return OrderGenerator(seed, clock=EventClock(START_MS, 1.0), **kw)


def test_contract_file_is_a_valid_json_schema():
    assert Path(__file__).resolve().parents[2] / "producer/contract/orders.created.v1.schema.json" == SCHEMA_PATH
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "orders.created.v1"
    assert set(schema["required"]) == {
        "event_id", "event_type", "schema_version", "event_time", "order_id", "customer",
        "shipping_address", "items", "item_count", "total_amount", "currency",
    }


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_every_generated_event_validates(seed):
    v = validator()
    gen = _gen(seed, late_ratio=0.2)
    for _ in range(3000):
        _, value = gen.next_record()
        event = json.loads(value)
        errors = list(v.iter_errors(event))
        assert not errors, (value, errors[0].message)


def test_bytes_and_dict_renderings_agree():
    a, b = _gen(3, late_ratio=0.3), _gen(3, late_ratio=0.3)
    for _ in range(2000):
        _, value = a.next_record()
        assert json.loads(value) == b.next_event()


def test_amounts_have_two_decimals_and_total_is_the_sum_of_lines():
    gen = _gen(11)
    for _ in range(3000):
        _, value = gen.next_record()
        text = value.decode()
        for price in re.findall(r'"(?:unit_price|total_amount)":([^,}]+)', text):
            assert re.fullmatch(r"[1-9]\d*\.\d{2}|0\.\d{2}", price), price
        event = json.loads(text, parse_float=Decimal)
        total = sum(Decimal(line["quantity"]) * line["unit_price"] for line in event["items"])
        assert event["total_amount"] == total.quantize(Decimal("0.01"))
        assert event["item_count"] == len(event["items"]) >= 1
        assert all(line["quantity"] >= 1 for line in event["items"])


def test_event_time_format_and_ids():
    gen = _gen(5)
    ids, orders = set(), set()
    for _ in range(20000):
        event = json.loads(gen.next_record()[1])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", event["event_time"])
        assert uuid.UUID(event["event_id"]).version == 4
        ids.add(event["event_id"])
        orders.add(event["order_id"])
    assert len(ids) == len(orders) == 20000


def test_realistic_shape_repeat_customers_and_baskets():
    gen = _gen(9)
    events = [gen.next_event() for _ in range(5000)]
    per_customer = Counter(e["customer"]["customer_id"] for e in events)
    assert len(per_customer) < 2000  # customers come back
    assert per_customer.most_common(1)[0][1] >= 10  # some order often
    basket = Counter(e["item_count"] for e in events)
    assert basket[1] > basket[2] > basket[4] > 0 and max(basket) <= 8
    countries = Counter(e["shipping_address"]["country"] for e in events)
    assert set(countries) == {"US", "DE", "GB", "FR", "NL", "ES", "IT"}
    for e in events:
        expected = {"US": "USD", "GB": "GBP"}.get(e["shipping_address"]["country"], "EUR")
        assert e["currency"] == expected
    # the same customer always has the same name and email
    seen = {}
    for e in events:
        c = e["customer"]
        assert seen.setdefault(c["customer_id"], (c["name"], c["email"])) == (c["name"], c["email"])


def test_every_malformed_record_breaks_the_contract_and_is_counted():
    v = validator()
    gen = _gen(21, malformed_ratio=1.0)
    kinds_seen = Counter()
    for _ in range(600):
        _, value = gen.next_record()
        assert b"\n" not in value
        try:
            event = json.loads(value)
        except ValueError:
            kinds_seen["not_json"] += 1
            continue
        assert not v.is_valid(event), value
    assert gen.counters.malformed == 600 and gen.counters.valid == 0
    assert set(gen.counters.malformed_kinds) == set(MALFORMED_KINDS)
    assert all(n > 50 for n in gen.counters.malformed_kinds.values())
    assert kinds_seen["not_json"] == gen.counters.malformed_kinds["not_json"]


def test_malformed_kinds_are_the_ones_the_job_checks():
    gen = _gen(4, malformed_ratio=1.0)
    by_kind = {}
    for _ in range(300):
        before = dict(gen.counters.malformed_kinds)
        _, value = gen.next_record()
        kind = next(k for k, n in gen.counters.malformed_kinds.items() if n != before[k])
        by_kind.setdefault(kind, value)
    assert set(by_kind) == set(MALFORMED_KINDS)
    assert "event_id" not in json.loads(by_kind["missing_event_id"])
    assert "event_time" not in json.loads(by_kind["missing_event_time"])
    bad_time = json.loads(by_kind["bad_event_time"])["event_time"]
    assert isinstance(bad_time, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*Z", bad_time)
    amount = json.loads(by_kind["bad_total_amount"])["total_amount"]
    assert isinstance(amount, str)
    with pytest.raises(ValueError):
        float(amount.replace(",", "."))
    assert not isinstance(json.loads(by_kind["items_not_array"])["items"], list)


@pytest.mark.parametrize("ratio", [0.05, 0.3])
def test_late_and_malformed_ratios(ratio):
    gen = _gen(2, late_ratio=ratio, malformed_ratio=ratio)
    v = validator()
    n = 8000
    late_seen = 0
    for i in range(n):
        _, value = gen.next_record()
        try:
            event = json.loads(value)
        except ValueError:
            continue
        if v.is_valid(event):
            # synthetic clock: event i is due at START + i ms; late ones are >= 5 min behind
            from datetime import datetime

            ms = int(datetime.fromisoformat(event["event_time"].replace("Z", "+00:00")).timestamp() * 1000)
            if ms < START_MS + i - 300_000 + 1:
                late_seen += 1
    c = gen.counters
    assert c.valid + c.malformed == n
    assert c.late == late_seen
    # binomial: well within 5 standard deviations
    for observed, expected_n in ((c.malformed, n), (c.late, c.valid)):
        sd = (expected_n * ratio * (1 - ratio)) ** 0.5
        assert abs(observed - expected_n * ratio) < 5 * sd
