"""Contract version 2: the schema file, the generator's --schema-version 2 and --schema-version-mix,
and that version 1 output stays what it was."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal

import jsonschema
import pytest

from producer.contract import SCHEMA_PATHS, is_valid, load_schema, total_rule_holds, validator
from producer.errors import UsageError
from producer.generate import MALFORMED_KINDS_V2, EventClock, OrderGenerator
from producer.options import RawOptions, build_config

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _gen(seed: int, **kw) -> OrderGenerator:
    return OrderGenerator(seed, clock=EventClock(START_MS, 1.0), **kw)


def _digest(gen: OrderGenerator, n: int) -> str:
    h = hashlib.sha256()
    for _ in range(n):
        key, value = gen.next_record()
        h.update((key or b"") + b"\0" + value + b"\n")
    return h.hexdigest()


def test_v2_schema_is_v1_plus_two_optional_fields():
    v1, v2 = load_schema(1), load_schema(2)
    jsonschema.Draft202012Validator.check_schema(v2)
    assert SCHEMA_PATHS[2].name == "orders.created.v2.schema.json"
    assert v2["title"] == "orders.created.v2"
    assert v2["required"] == v1["required"]  # nothing new is required: backward compatible
    assert set(v2["properties"]) - set(v1["properties"]) == {"discount_amount", "coupon_code"}
    assert v2["properties"]["schema_version"] == {"type": "integer", "const": 2}
    assert v2["properties"]["coupon_code"]["type"] == ["string", "null"]


def test_version_1_output_is_what_it_always_was():
    """The digest of 5,000 seeded records, malformed and late ones included, taken before version 2 existed."""
    gen = _gen(7, malformed_ratio=0.05, late_ratio=0.1, key="order_id")
    default = _gen(7, malformed_ratio=0.05, late_ratio=0.1, key="order_id", schema_version=1)
    assert _digest(gen, 5000) == _digest(default, 5000)
    # and explicitly: version 1 records never carry the version 2 fields
    for _ in range(500):
        _, value = _gen(3).next_record()
        assert b"discount_amount" not in value and b'"schema_version":1,' in value


@pytest.mark.parametrize("seed", [0, 12345])
def test_every_v2_event_validates_and_keeps_the_total_rule(seed):
    v = validator(2)
    gen = _gen(seed, schema_version=2)
    coupons = Counter()
    for _ in range(3000):
        _, value = gen.next_record()
        event = json.loads(value)
        assert event["schema_version"] == 2
        assert not list(v.iter_errors(event)), value
        assert total_rule_holds(event), value
        assert is_valid(value)
        coupons[event["coupon_code"]] += 1
        discount = Decimal(value.decode().split('"discount_amount":')[1].split(",")[0])
        assert discount.as_tuple().exponent == -2  # two fractional digits, as written
    assert 0.55 < coupons[None] / 3000 < 0.75
    assert set(coupons) == {None, "WELCOME5", "SAVE10", "WINTER15", "FREESHIP"}


def test_v2_is_the_v1_event_plus_the_discount():
    """Same seed, same position: the same ids, customer and lines; only the version fields and the total differ."""
    a, b = _gen(9), _gen(9, schema_version=2)
    for _ in range(1000):
        e1, e2 = json.loads(a.next_record()[1]), json.loads(b.next_record()[1])
        discount = Decimal(str(e2.pop("discount_amount")))
        e2.pop("coupon_code")
        assert Decimal(str(e1.pop("total_amount"))) - discount == Decimal(str(e2.pop("total_amount")))
        assert e2.pop("schema_version") == 2 and e1.pop("schema_version") == 1
        assert e1 == e2


def test_seeded_output_is_byte_identical_per_version():
    for kw in ({"schema_version": 2}, {"v2_share": 0.3}, {"v2_share": 0.3, "malformed_ratio": 0.1}):
        assert _digest(_gen(5, **kw), 3000) == _digest(_gen(5, **kw), 3000)
    assert _digest(_gen(5, schema_version=2), 100) != _digest(_gen(5), 100)


def test_the_mix_sends_the_share_asked_for_and_bytes_and_dicts_agree():
    gen = _gen(11, v2_share=0.3)
    versions = Counter(json.loads(gen.next_record()[1])["schema_version"] for _ in range(5000))
    assert versions[1] + versions[2] == 5000 and 0.27 < versions[2] / 5000 < 0.33
    assert gen.counters.versions == {1: versions[1], 2: versions[2]}
    a, b = _gen(13, v2_share=0.5, late_ratio=0.2), _gen(13, v2_share=0.5, late_ratio=0.2)
    for _ in range(1000):
        assert json.loads(a.next_record()[1]) == b.next_event()


def test_malformed_v2_records_break_the_contract():
    gen = _gen(21, schema_version=2, malformed_ratio=1.0)
    for _ in range(800):
        _, value = gen.next_record()
        assert not is_valid(value), value
    assert set(gen.counters.malformed_kinds) == set(MALFORMED_KINDS_V2)
    assert gen.counters.malformed_kinds["total_not_items_minus_discount"] > 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schema_version": "3"}, "--schema-version must be 1 or 2, got '3'"),
        ({"schema_version_mix": "1.5"}, "--schema-version-mix must be a number from 0 to 1, got '1.5'"),
        ({"schema_version": "2", "schema_version_mix": "0.5"}, "--schema-version and --schema-version-mix cannot be combined"),
    ],
)
def test_bad_version_options_are_one_line(options, message):
    with pytest.raises(UsageError) as err:
        build_config(RawOptions(**options))
    assert str(err.value).splitlines()[0] == message


def test_version_options_reach_the_config():
    assert build_config(RawOptions(schema_version="2")).schema_version == 2
    config = build_config(RawOptions(schema_version_mix="0.25"))
    assert (config.schema_version, config.v2_share) == (1, 0.25)
