"""dev.pipectl.flink.ClassifyOrder, run by Flink (a batch job on PyFlink's mini cluster, the function
from target/pyflink-dependencies.jar registered with the job's own DDL), side by side with the SQL it
replaces (tests/legacy_classification.py) on the same records.

For every record: the function's reason is the expected one; where the old SQL rejected, it gave the
same reason; where the old SQL accepted, the function either accepts with exactly the same columns or
rejects for a rule of the contract the SQL did not check (never the other way round).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from jobs.order_ingest import statements
from tests import legacy_classification as legacy

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "target" / "pyflink-dependencies.jar"

SQL_REASONS = {
    "not a JSON object", "missing event_id", "missing event_time", "event_time is not an ISO-8601 timestamp",
    "missing order_id", "missing customer.customer_id", "items is not an array", "total_amount is not a number",
    "currency is not a 3-letter code",
}
ITEM = {"sku": "KIT-1", "product_name": "Coffee Mug", "quantity": 2, "unit_price": 12.5}
VALID = {
    "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "event_type": "order.created", "schema_version": 1,
    "event_time": "2026-11-27T09:30:00.123Z", "order_id": "ord-0a1b2c",
    "customer": {"customer_id": "cus-00ff", "name": "Zoë Ångström", "email": "zoe@example.com"},
    "shipping_address": {"street": "1 Main St", "city": "Köln", "postal_code": "50667", "country": "DE"},
    "items": [ITEM], "item_count": 1, "total_amount": 25.0, "currency": "EUR", "payment_method": "card",
    "channel": "web",
}


def record(**changes) -> str:
    """VALID with fields replaced (value ...) or removed (value None given as `drop`)."""
    event = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


DROP = object()
BASE = record()


def v2(**changes) -> str:
    """A valid contract version 2 event (2 * 12.50 - 5.00 = 20.00) with fields replaced or removed."""
    base = {"schema_version": 2, "total_amount": 20.0, "discount_amount": 5.0, "coupon_code": "WINTER5"}
    return record(**{**base, **changes})


V2_TOTAL = "total_amount is not the sum of quantity * unit_price over items minus discount_amount"

# (name, raw record, the function's reason; None = valid)
CASES: list[tuple[str, str | None, str | None]] = [
    ("valid", BASE, None),
    ("null record", None, "not a JSON object"),
    ("empty", "", "not a JSON object"),
    ("cut short", BASE[:40], "not a JSON object"),
    ("an array", "[1, 2]", "not a JSON object"),
    ("a string", '"text"', "not a JSON object"),
    ("text after the object is ignored", BASE + " trailing", None),
    ("BOM before the object", "\ufeff" + BASE, "not a JSON object"),
    ("missing event_id", record(event_id=DROP), "missing event_id"),
    ("event_id null", record(event_id=None), "missing event_id"),
    ("event_id an object", record(event_id={"id": 1}), "missing event_id"),
    ("missing event_time", record(event_time=DROP), "missing event_time"),
    ("event_time a word", record(event_time="yesterday"), "event_time is not an ISO-8601 timestamp"),
    ("event_time out of range", record(event_time="2026-13-45T25:61:00Z"), "event_time is not an ISO-8601 timestamp"),
    ("event_time a number", record(event_time=20261127), "event_time is not an ISO-8601 timestamp"),
    ("missing order_id", record(order_id=DROP), "missing order_id"),
    ("customer null", record(customer=None), "missing customer.customer_id"),
    ("customer an array", record(customer=[VALID["customer"]]), "missing customer.customer_id"),
    ("customer_id nested null", record(customer={"customer_id": None, "name": "x", "email": "a@b"}),
     "missing customer.customer_id"),
    ("items a string", record(items="see attachment"), "items is not an array"),
    ("items an object", record(items=ITEM), "items is not an array"),
    ("items null", record(items=None), "items is not an array"),
    ("total a word", record(total_amount="twelve euros"), "total_amount is not a number"),
    ("total a numeric string", record(total_amount="25.00"), "total_amount is not a number"),
    ("total empty", record(total_amount=""), "total_amount is not a number"),
    ("total null", record(total_amount=None), "total_amount is not a number"),
    ("total an array", record(total_amount=[25]), "total_amount is not a number"),
    ("total infinite", BASE.replace('"total_amount":25.0', '"total_amount":1e400'), "total_amount is not a number"),
    ("currency too long", record(currency="EURO"), "currency is not a 3-letter code"),
    ("currency missing", record(currency=DROP), "currency is not a 3-letter code"),
    ("currency 3 code points", record(currency="€€😀"), "currency is not a 3-letter code"),
    # accepted by the SQL, stopped by the contract
    ("event_id a number", record(event_id=12345), "event_id is not a lower-case UUID v4"),
    ("event_type other", record(event_type="order.cancelled"), "event_type is not order.created"),
    ("schema_version as string", record(schema_version="1"), "schema_version is not 1"),
    ("event_time without millis", record(event_time="2026-11-27T09:30:00Z"), "event_time is not an ISO-8601 timestamp"),
    ("order_id upper case", record(order_id="ORD-1"), "order_id does not match ^ord-[0-9a-z]+$"),
    ("customer_id bad", record(customer={"customer_id": "c1", "name": "x", "email": "a@b"}),
     "customer.customer_id does not match ^cus-[0-9a-z]+$"),
    ("name empty", record(customer={"customer_id": "cus-1", "name": "", "email": "a@b"}), "missing customer.name"),
    ("email bad", record(customer={"customer_id": "cus-1", "name": "x", "email": "a b@c"}),
     "customer.email is not an email address"),
    ("no shipping_address", record(shipping_address=DROP), "missing shipping_address"),
    ("street missing", record(shipping_address={"city": "K", "postal_code": "1", "country": "DE"}),
     "missing shipping_address.street"),
    ("city empty", record(shipping_address={"street": "s", "city": "", "postal_code": "1", "country": "DE"}),
     "missing shipping_address.city"),
    ("postal_code a number", record(shipping_address={"street": "s", "city": "K", "postal_code": 1, "country": "DE"}),
     "missing shipping_address.postal_code"),
    ("country lower case", record(shipping_address={"street": "s", "city": "K", "postal_code": "1", "country": "de"}),
     "shipping_address.country is not an ISO 3166-1 alpha-2 code"),
    ("items empty", record(items=[]), "items is empty"),
    ("item quantity 0", record(items=[dict(ITEM, quantity=0)]),
     "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0"),
    ("item_count a string", record(item_count="1"), "item_count is not an integer >= 1"),
    ("total negative", record(total_amount=-25.0), "total_amount is not positive"),
    ("currency numeric", record(currency=978), "currency is not a 3-letter code"),
    ("currency lower case", record(currency="eur"), "currency is not a 3-letter code"),
    ("payment_method other", record(payment_method="cash"),
     "payment_method is not one of card, paypal, bank_transfer, apple_pay, google_pay, invoice"),
    ("channel null", record(channel=None), "channel is not one of web, mobile, store"),
    # edge values of valid records: the same columns as the SQL gave
    ("schema_version 1.0", record(schema_version=1.0), None),
    ("amount rounded", record(total_amount=0.125), None),
    ("amount exponent", BASE.replace('"total_amount":25.0', '"total_amount":1E2'), None),
    ("amount overflows DECIMAL(12,2)", record(total_amount=12345678901.5), None),
    ("amount a huge integer", BASE.replace('"total_amount":25.0', '"total_amount":123456789012345678901234567890'), None),
    ("optional fields absent", record(payment_method=DROP, channel=DROP), None),
    ("unicode and escapes in items", record(items=[dict(ITEM, product_name='Café "Mug" / \t\u0001 😀 \u2028')]), None),
    ("a lone surrogate in items", BASE.replace('"Coffee Mug"', '"Mug \\ud800"'), None),
    ("nulls nested in items", record(items=[dict(ITEM, note=None, tags=[None, {}])]), None),
    ("duplicate keys: last wins", BASE.replace('"event_type"', '"event_id":"0f8fad5b-d9cb-469f-a165-70867728950f","event_type"'), None),
    ("duplicate keys: a later null", BASE.replace('"event_type"', '"event_id":null,"event_type"'), "missing event_id"),
    ("duplicate keys in an item", BASE.replace('"quantity":2', '"quantity":9,"sku":"KIT-2","quantity":2'), None),
    ("duplicate customer object", BASE.replace('"item_count"', '"customer":{"name":"x"},"item_count"'),
     "missing customer.customer_id"),
    ("1 MB record", record(note="x" * (1 << 20)), None),
    ("1 MB record cut short", record(note="x" * (1 << 20))[:-3], "not a JSON object"),
    # contract version 2: accepted by the SQL (it checked none of this), the function applies version 2's rules
    ("v2 valid", v2(), None),
    ("v2 without discount and coupon", v2(total_amount=25.0, discount_amount=DROP, coupon_code=DROP), None),
    ("v2 coupon null", v2(coupon_code=None), None),
    ("v2 total without the discount", v2(total_amount=25.0), V2_TOTAL),
    ("v2 discount not taken off", v2(discount_amount=DROP), V2_TOTAL),
    ("v2 negative discount", v2(discount_amount=-5.0, total_amount=30.0),
     "discount_amount is not a number >= 0 with at most two fractional digits"),
    ("v2 discount in tenths of cents", v2(discount_amount=4.999),
     "discount_amount is not a number >= 0 with at most two fractional digits"),
    ("v2 coupon a number", v2(coupon_code=5), "coupon_code is not a string or null"),
    ("v2 breaking a v1 rule", v2(channel="fax"), "channel is not one of web, mobile, store"),
    ("schema_version 3", v2(schema_version=3), "schema_version is not 1"),
]


@pytest.fixture(scope="module")
def results():
    if not JAR.is_file():
        pytest.fail(f"{JAR} is missing: build it with `make build`")
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    t_env.get_config().set("pipeline.jars", JAR.as_uri())
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.get_config().set("parallelism.default", "1")
    t_env.execute_sql(statements.classify_function())
    from pyflink.table import DataTypes

    records = t_env.from_elements(
        [(i, raw) for i, (_, raw, _) in enumerate(CASES)],
        DataTypes.ROW([DataTypes.FIELD("id", DataTypes.INT()), DataTypes.FIELD("raw", DataTypes.STRING())]))
    t_env.create_temporary_view("records", records)
    new = t_env.execute_sql(
        f"SELECT s.id, c.* FROM records AS s, LATERAL TABLE({statements.CLASSIFY_FUNCTION}(s.`raw`)) AS c")
    old = t_env.execute_sql(legacy.classify_select("records").replace("SELECT ", "SELECT id, ", 1))
    with new.collect() as it:
        new_rows = {r[0]: tuple(r)[1:] for r in it}
    with old.collect() as it:
        old_rows = {r[0]: tuple(r)[1:] for r in it}
    return new_rows, old_rows


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_function_against_the_sql_it_replaces(results, index):
    new_rows, old_rows = results
    name, raw, expected = CASES[index]
    new, old = new_rows[index], old_rows[index]
    assert new[0] == expected
    if expected in SQL_REASONS and old[0] is not None:
        assert old[0] == expected
    elif expected is None:
        assert old[0] is None
        assert new[1:17] == old[1:]  # the columns of version 1, as the SQL gave them
        if raw is not None and '"schema_version":2' not in raw:
            assert new[17:] == (None, None)  # a version 1 event has no version 2 columns
    else:  # a contract rule the SQL did not check: the SQL accepted it
        assert old[0] is None, f"the SQL rejected {name!r} with {old[0]!r}"


def test_every_reason_is_covered(results):
    java = (REPO / "assembly/pyflink-dependencies/src/main/java/dev/pipectl/flink/Reasons.java").read_text()
    import re

    declared = set(re.findall(r'= "([^"]+)";', java)) | {
        "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0",
        "payment_method is not one of card, paypal, bank_transfer, apple_pay, google_pay, invoice"}
    declared -= {"not UTF-8"}  # needs raw bytes: tests through Kafka (bench/compare_classification.py) and in Java
    covered = {c[2] for c in CASES if c[2]}
    assert declared - covered == set()


def test_the_exact_columns_of_a_valid_row(results):
    new_rows, _ = results
    assert new_rows[0] == (
        None, "0f8fad5b-d9cb-469f-a165-70867728950e", "order.created", 1, "ord-0a1b2c", "cus-00ff",
        "Zoë Ångström", "zoe@example.com", "Köln", "DE",
        '[{"sku":"KIT-1","product_name":"Coffee Mug","quantity":2,"unit_price":12.5}]', 1, Decimal("25.00"),
        "EUR", "card", "web", dt.datetime(2026, 11, 27, 9, 30, 0, 123000), None, None,
    )
    names = [n for n, _, _ in CASES]
    assert new_rows[names.index("amount rounded")][12] == Decimal("0.13")
    assert new_rows[names.index("amount overflows DECIMAL(12,2)")][12] is None
    assert new_rows[names.index("schema_version 1.0")][3] == 1
    assert new_rows[0][17:] == (None, None)
    assert new_rows[names.index("v2 valid")][3] == 2
    assert new_rows[names.index("v2 valid")][12:13] + new_rows[names.index("v2 valid")][17:] == (
        Decimal("20.00"), Decimal("5.00"), "WINTER5")
    assert new_rows[names.index("v2 without discount and coupon")][17:] == (None, None)


def test_the_job_runs_the_function_once_per_record_for_both_tables():
    """Both inserts share one Correlate (see statements.classified_select): one parse per record."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.order_ingest.job import build_statement_set
    from jobs.order_ingest.settings import load_job_settings

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("pipeline.jars", JAR.as_uri())
    settings = load_job_settings({"ICEBERG_WAREHOUSE": (REPO / "target" / "explain-warehouse").as_uri()})
    plan = build_statement_set(t_env, settings).explain()
    optimized = plan.split("== Optimized Execution Plan ==")[1]
    assert optimized.count("Correlate(invocation=[classify_order(") == 1
    assert optimized.count("Reused(reference_id=[1])") == 2
