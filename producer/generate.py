"""Realistic, reproducible orders.created.v1 events, contract version 1 or 2.

A seeded pool of customers, addresses and products is made once with Faker; each order then
only draws from that pool with one `random.Random`, so generation is cheap (no Faker call per
event) and the same seed gives the same bytes.

Records are rendered straight to JSON bytes from pre-encoded fragments (the hot path of
`--rate max`); `OrderGenerator.next_event()` gives the same order as a dict, and the tests
check that both agree and validate against the contract.

Realism, roughly: ~2,000 customers whose order counts follow a long tail (repeat customers),
in seven countries with their own currency; 90 % of orders ship to the customer's home
address; 1-8 lines per order (most have 1-2), quantities mostly 1; ~400 products with
log-normally spread prices ending in .99/.49/.95/.00.

Contract version 2 (producer/contract/orders.created.v2.schema.json) adds an optional discount and
coupon code; the total becomes the sum of the lines minus the discount. Version 2 draws come from
random generators of their own (which events are version 2, and their discounts), so version 1
output is byte-identical to what it always was, and a version 2 event has the same ids, customer and
lines as the version 1 event the same seed gives at that position.

Over 400 lines on purpose: the pools, the JSON fragments and the hot loop that combines them
are one piece of tuned code (docs/benchmarks.md); split, the fragments' layout would be shared
across modules.
"""

from __future__ import annotations

import json
import random
import time
import unicodedata
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

# locale, country (ISO 3166-1 alpha-2), currency (ISO 4217), share of customers
COUNTRIES = (
    ("en_US", "US", "USD", 30),
    ("de_DE", "DE", "EUR", 20),
    ("en_GB", "GB", "GBP", 15),
    ("fr_FR", "FR", "EUR", 15),
    ("nl_NL", "NL", "EUR", 8),
    ("es_ES", "ES", "EUR", 7),
    ("it_IT", "IT", "EUR", 5),
)
N_CUSTOMERS = 2000
N_EXTRA_ADDRESSES = 600  # gift / second addresses, in the customers' countries
N_PRODUCTS = 400

BASKET_SIZES = (1, 2, 3, 4, 5, 6, 7, 8)
BASKET_WEIGHTS = (46, 24, 13, 7, 4, 3, 2, 1)
QUANTITIES = (1, 2, 3, 4, 5, 10)
QUANTITY_WEIGHTS = (76, 14, 5, 3, 1.5, 0.5)
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "apple_pay", "google_pay", "invoice")
PAYMENT_WEIGHTS = (50, 20, 8, 9, 8, 5)
CHANNELS = ("web", "mobile", "store")
CHANNEL_WEIGHTS = (55, 35, 10)
HOME_ADDRESS_SHARE = 0.9

MALFORMED_KINDS = (
    "not_json",  # truncated JSON: not parseable at all
    "missing_event_id",
    "missing_event_time",
    "bad_event_time",  # event_time is a string but not an ISO-8601 timestamp
    "bad_total_amount",  # total_amount is a non-numeric string
    "items_not_array",
)
# Version 2 events are malformed in the version 1 ways or by breaking a version 2 rule.
MALFORMED_KINDS_V2 = (*MALFORMED_KINDS, "total_not_items_minus_discount", "bad_discount_amount")
SCHEMA_VERSIONS = (1, 2)
# coupon code, percent off (0: a fixed amount), fixed cents off; share of version 2 orders
COUPONS = (("WELCOME5", 0, 500, 8), ("SAVE10", 10, 0, 12), ("WINTER15", 15, 0, 6), ("FREESHIP", 0, 499, 9))
NO_COUPON_SHARE = 0.65
_BAD_TIMES = ("yesterday", "27/11/2026 09:30:00", "not-a-timestamp", "2026-13-45T25:61:00Z")
_BAD_AMOUNTS = ("twelve euros", "12,34 EUR", "N/A", "")

_ADJECTIVES = (
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Ergonomic",
    "Essential",
    "Handmade",
    "Heavy-Duty",
    "Lightweight",
    "Modern",
    "Organic",
    "Portable",
    "Premium",
    "Rustic",
    "Sleek",
    "Smart",
    "Vintage",
    "Wireless",
)
_MATERIALS = (
    "Bamboo",
    "Ceramic",
    "Cotton",
    "Glass",
    "Leather",
    "Linen",
    "Oak",
    "Recycled",
    "Steel",
    "Stoneware",
    "Walnut",
    "Wool",
)
# noun, category code, median price
_NOUNS = (
    ("Backpack", "BAG", 59),
    ("Blanket", "HOM", 45),
    ("Bowl", "KIT", 14),
    ("Chair", "FUR", 129),
    ("Coffee Mug", "KIT", 12),
    ("Desk Lamp", "HOM", 39),
    ("Headphones", "ELC", 89),
    ("Jacket", "APP", 119),
    ("Keyboard", "ELC", 69),
    ("Kettle", "KIT", 35),
    ("Notebook", "OFF", 9),
    ("Pillow", "HOM", 25),
    ("Plant Pot", "GRD", 19),
    ("Running Shoes", "APP", 99),
    ("Scarf", "APP", 29),
    ("Speaker", "ELC", 79),
    ("Sweater", "APP", 65),
    ("Table", "FUR", 249),
    ("Tote Bag", "BAG", 22),
    ("Towel Set", "HOM", 32),
    ("Wallet", "BAG", 39),
    ("Water Bottle", "OUT", 18),
    ("Watch", "ACC", 149),
    ("Yoga Mat", "OUT", 34),
)
_PRICE_ENDINGS = (99, 99, 99, 49, 95, 0)

_FAST_FORMAT = (
    '{"event_id":"%s-%s-%s-%s-%s","event_type":"order.created","schema_version":1,'
    '"event_time":"%s.%03dZ","order_id":"%s","customer":%s,"items":[%s],"item_count":%d,'
    '"total_amount":%d.%02d,"currency":"%s","payment_method":"%s","channel":"%s"}'
)
_V2_TAIL = ',"discount_amount":%d.%02d,"coupon_code":%s}'
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
_TABLE_SIZE = 1000


def _table(values: tuple, weights: tuple) -> tuple:
    """A lookup table: table[int(random() * _TABLE_SIZE)] draws `values` with `weights`."""
    total = float(sum(weights))
    cum = list(accumulate(weights))
    return tuple(values[bisect_right(cum, (i + 0.5) * total / _TABLE_SIZE)] for i in range(_TABLE_SIZE))


_BASKET_TABLE = _table(BASKET_SIZES, BASKET_WEIGHTS)
_QUANTITY_TABLE = _table(QUANTITIES, QUANTITY_WEIGHTS)
_PAYMENT_TABLE = _table(PAYMENT_METHODS, PAYMENT_WEIGHTS)
_CHANNEL_TABLE = _table(CHANNELS, CHANNEL_WEIGHTS)


def _jstr(text: str) -> str:
    """A JSON string literal (UTF-8 kept as is)."""
    return json.dumps(text, ensure_ascii=False)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum() or c in " -").strip()


def _money(cents: int) -> str:
    return "%d.%02d" % divmod(cents, 100)


def _id(rng: random.Random, prefix: str, bits: int) -> str:
    return prefix + format(rng.getrandbits(bits), "0%dx" % (bits // 4))


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    postal_code: str
    country: str
    json: str  # "{...}" encoded once

    def to_dict(self) -> dict[str, str]:
        return {"street": self.street, "city": self.city, "postal_code": self.postal_code, "country": self.country}


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    currency: str
    home: Address
    json: str
    key: bytes  # customer_id, UTF-8
    home_json: str  # '{customer},"shipping_address":{home}'

    def to_dict(self) -> dict[str, str]:
        return {"customer_id": self.customer_id, "name": self.name, "email": self.email}


@dataclass(frozen=True)
class Product:
    sku: str
    product_name: str
    price_cents: int
    line_prefix: str  # '{"sku":...,"product_name":...,"quantity":'


@dataclass
class Pools:
    customers: list[Customer]
    customer_cum_weights: list[float]
    addresses_by_country: dict[str, list[Address]]
    products: list[Product]
    product_cum_weights: list[float]
    # line_text[product][quantity] -> '{"sku":...,"unit_price":12.99}'; line_cents likewise
    line_text: list[dict[int, str]] = field(default_factory=list)
    line_cents: list[dict[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for p in self.products:
            self.line_text.append(
                {q: '%s%d,"unit_price":%s}' % (p.line_prefix, q, _money(p.price_cents)) for q in QUANTITIES}
            )
            self.line_cents.append({q: p.price_cents * q for q in QUANTITIES})


def _address(fake: Any, country: str) -> Address:
    street, city, postal = fake.street_address(), fake.city(), fake.postcode()
    body = {"street": street, "city": city, "postal_code": postal, "country": country}
    return Address(street, city, postal, country, json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def _stable_lists(fake: Any) -> None:
    """Some Faker providers build a list from a set (it_IT's cities), so its order, and the city
    a seed picks, changes with PYTHONHASHSEED. Sort those lists on this instance."""
    for factory in fake.factories:
        for provider in factory.providers:
            cities = getattr(provider, "cities", None)
            if isinstance(cities, list):
                provider.cities = sorted(cities)


def build_pools(seed: int) -> Pools:
    """The seeded pool of customers, addresses and products (the only place Faker is used)."""
    from faker import Faker  # imported here: it is slow to import and only needed once

    rng = random.Random(f"pools:{seed}")
    fakers = {}
    for i, (locale, _, _, _) in enumerate(COUNTRIES):
        fake = Faker(locale)
        _stable_lists(fake)
        fake.seed_instance(seed * 31 + i)
        fakers[locale] = fake
    weights = [c[3] for c in COUNTRIES]

    customers: list[Customer] = []
    addresses: dict[str, list[Address]] = {c[1]: [] for c in COUNTRIES}
    seen_ids: set[str] = set()
    for _ in range(N_CUSTOMERS):
        locale, country, currency, _ = rng.choices(COUNTRIES, weights)[0]
        fake = fakers[locale]
        name = fake.name()
        parts = _ascii(name).replace("-", " ").split() or ["customer"]
        local = ".".join(parts[:1] + parts[-1:]) if len(parts) > 1 else parts[0]
        if rng.random() < 0.4:
            local += str(rng.randint(1, 99))
        email = f"{local}@{fake.free_email_domain()}"
        cid = _id(rng, "cus-", 48)
        while cid in seen_ids:
            cid = _id(rng, "cus-", 48)
        seen_ids.add(cid)
        home = _address(fake, country)
        addresses[country].append(home)
        body = json.dumps({"customer_id": cid, "name": name, "email": email}, ensure_ascii=False, separators=(",", ":"))
        home_json = body + ',"shipping_address":' + home.json
        customers.append(Customer(cid, name, email, currency, home, body, cid.encode(), home_json))
    for _ in range(N_EXTRA_ADDRESSES):
        locale, country, _, _ = rng.choices(COUNTRIES, weights)[0]
        addresses[country].append(_address(fakers[locale], country))
    # A long tail: a few customers order often, most order rarely.
    customer_cum = list(accumulate(1.0 / (rank + 1) ** 0.85 for rank in range(N_CUSTOMERS)))

    products: list[Product] = []
    names: set[str] = set()
    while len(products) < N_PRODUCTS:
        noun, category, median = rng.choice(_NOUNS)
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_MATERIALS)} {noun}"
        if name in names:
            continue
        names.add(name)
        euros = max(1, int(median * rng.lognormvariate(0, 0.45)))
        ending = rng.choice(_PRICE_ENDINGS)
        cents = euros * 100 + ending if ending else euros * 100
        if ending and euros > 1:
            cents -= 100  # 24.99 rather than 25.99 for a "25" product
        sku = f"{category}-{rng.randint(0, 999_999):06d}"
        prefix = '{"sku":%s,"product_name":%s,"quantity":' % (_jstr(sku), _jstr(name))
        products.append(Product(sku, name, cents, prefix))
    product_cum = list(accumulate(1.0 / (rank + 1) ** 0.6 for rank in range(N_PRODUCTS)))
    return Pools(customers, customer_cum, addresses, products, product_cum)


_POOL_CACHE: dict[int, Pools] = {}


def pools_for(seed: int) -> Pools:
    if seed not in _POOL_CACHE:
        _POOL_CACHE[seed] = build_pools(seed)
    return _POOL_CACHE[seed]


class EventClock:
    """event_time source, in milliseconds since the epoch.

    `start_ms=None`: the wall clock at generation time. Otherwise synthetic: event i gets
    start_ms + i * step_ms, so the output does not depend on when it is generated.
    """

    def __init__(self, start_ms: int | None = None, step_ms: float = 1.0):
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.i = 0

    def next_ms(self) -> int:
        if self.start_ms is None:
            return int(time.time() * 1000)
        ms = self.start_ms + int(self.i * self.step_ms)
        self.i += 1
        return ms


@dataclass
class Counters:
    valid: int = 0
    malformed: int = 0
    late: int = 0
    malformed_kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MALFORMED_KINDS, 0))
    # records per contract version (valid and malformed)
    versions: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCHEMA_VERSIONS, 0))


class OrderGenerator:
    """Makes records (key, value bytes). `counters` tells how many were valid, malformed, late."""

    def __init__(
        self,
        seed: int,
        *,
        key: str = "customer_id",
        clock: EventClock | None = None,
        late_ratio: float = 0.0,
        max_lateness_ms: int = 600_000,
        malformed_ratio: float = 0.0,
        schema_version: int = 1,
        v2_share: float | None = None,
    ):
        """`schema_version`: the contract version of every event; `v2_share` (0-1): instead, that share
        of the events is version 2 and the rest version 1 (drawn per event from the seed)."""
        if key not in ("customer_id", "order_id", "none"):
            raise ValueError(f"unknown key {key!r}")
        if schema_version not in SCHEMA_VERSIONS:
            raise ValueError(f"unknown schema version {schema_version!r}")
        self.pools = pools_for(seed)
        self.rng = random.Random(f"events:{seed}")
        self.key = key
        self.clock = clock or EventClock()
        self.late_ratio = late_ratio
        self.max_lateness_ms = max_lateness_ms
        self.malformed_ratio = malformed_ratio
        self.counters = Counters()
        self._sec = -1
        self._sec_text = ""
        self.schema_version = schema_version
        self.v2_share = v2_share
        self._mix_rng = random.Random(f"versions:{seed}")
        self._v2_rng = random.Random(f"v2:{seed}")
        self._coupon_cum = list(accumulate(c[3] for c in COUPONS))

    # -- contract version 2 ----------------------------------------------------------------
    def _next_version(self) -> int:
        if self.v2_share is None:
            return self.schema_version
        return 2 if self._mix_rng.random() < self.v2_share else 1

    def _discount(self, total_cents: int) -> tuple[int, str | None]:
        """(discount in cents, coupon code or None) of a version 2 order worth `total_cents`."""
        rng = self._v2_rng
        if rng.random() < NO_COUPON_SHARE:
            return 0, None
        code, percent, fixed, _ = COUPONS[bisect_right(self._coupon_cum, rng.random() * self._coupon_cum[-1])]
        cents = total_cents * percent // 100 if percent else fixed
        if cents >= total_cents:  # never a free order: the total stays > 0
            return 0, None
        return cents, code

    # -- parts ---------------------------------------------------------------------------
    def _time_text(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._sec_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return "%s.%03dZ" % (self._sec_text, milli)

    def _event_ms(self, random_) -> tuple[int, bool]:
        """The next event time in ms; a share (late_ratio) is moved back by half to all of max_lateness."""
        ms = self.clock.next_ms()
        if self.late_ratio and random_() < self.late_ratio:
            half = self.max_lateness_ms // 2
            return ms - (half + int(random_() * (self.max_lateness_ms - half)) + 1), True
        return ms, False

    def _order(self) -> tuple:
        """Draw one order: the values both renderers share."""
        rng = self.rng
        random_ = rng.random
        pools = self.pools
        bits = rng.getrandbits(128)
        # uuid4 from the seeded RNG: set version 4 and the RFC 4122 variant.
        h = "%032x" % (bits & _UUID_CLEAR | _UUID_SET)
        event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        order_id = "ord-%020x" % rng.getrandbits(80)
        cum = pools.customer_cum_weights
        customer = pools.customers[bisect_right(cum, random_() * cum[-1])]
        if random_() < HOME_ADDRESS_SHARE:
            address = customer.home
        else:
            choices = pools.addresses_by_country[customer.home.country]
            address = choices[int(random_() * len(choices))]
        n_lines = _BASKET_TABLE[int(random_() * _TABLE_SIZE)]
        pcum = pools.product_cum_weights
        total = pcum[-1]
        picked: list[int] = []
        while len(picked) < n_lines:
            idx = bisect_right(pcum, random_() * total)
            if idx not in picked:
                picked.append(idx)
        lines = [(i, _QUANTITY_TABLE[int(random_() * _TABLE_SIZE)]) for i in picked]
        payment = _PAYMENT_TABLE[int(random_() * _TABLE_SIZE)]
        channel = _CHANNEL_TABLE[int(random_() * _TABLE_SIZE)]
        ms, late = self._event_ms(random_)
        return event_id, order_id, customer, address, lines, payment, channel, ms, late

    def _as_dict(self, order: tuple, version: int = 1) -> dict[str, Any]:
        event_id, order_id, customer, address, lines, payment, channel, ms, _ = order
        products = self.pools.products
        total = sum(products[i].price_cents * q for i, q in lines)
        discount, coupon = self._discount(total) if version == 2 else (0, None)
        event = {
            "event_id": event_id,
            "event_type": "order.created",
            "schema_version": version,
            "event_time": self._time_text(ms),
            "order_id": order_id,
            "customer": customer.to_dict(),
            "shipping_address": address.to_dict(),
            "items": [
                {
                    "sku": products[i].sku,
                    "product_name": products[i].product_name,
                    "quantity": q,
                    "unit_price": products[i].price_cents / 100,
                }
                for i, q in lines
            ],
            "item_count": len(lines),
            "total_amount": (total - discount) / 100,
            "currency": customer.currency,
            "payment_method": payment,
            "channel": channel,
        }
        if version == 2:
            event["discount_amount"] = discount / 100
            event["coupon_code"] = coupon
        return event

    def _malform(self, text: str, version: int = 1) -> str:
        kinds = MALFORMED_KINDS if version == 1 else MALFORMED_KINDS_V2
        kind = kinds[int(self.rng.random() * len(kinds))]
        self.counters.malformed_kinds[kind] = self.counters.malformed_kinds.get(kind, 0) + 1
        if kind == "not_json":
            # Cut the record short: an unclosed object is never valid JSON.
            return text[: 20 + int(self.rng.random() * (len(text) - 40))]
        event = json.loads(text)
        if kind == "missing_event_id":
            del event["event_id"]
        elif kind == "missing_event_time":
            del event["event_time"]
        elif kind == "bad_event_time":
            event["event_time"] = self.rng.choice(_BAD_TIMES)
        elif kind == "bad_total_amount":
            event["total_amount"] = self.rng.choice(_BAD_AMOUNTS)
        elif kind == "total_not_items_minus_discount":  # version 2: the discount is not taken off
            event["total_amount"] = round(event["total_amount"] + event["discount_amount"] + 1, 2)
        elif kind == "bad_discount_amount":  # version 2: a negative discount
            event["discount_amount"] = -1.5
        else:  # items_not_array
            event["items"] = event["items"][0] if self.rng.random() < 0.5 else "see attachment"
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))

    # -- public --------------------------------------------------------------------------
    def next_record(self) -> tuple[bytes | None, bytes]:
        """The next record to send: (key, value), value is UTF-8 JSON (or, if malformed, maybe not).

        The hot path of --rate max: the same draws, in the same order, as `_order` + `_render`
        (the tests check both give the same events), inlined to halve the cost per event.
        """
        rng = self.rng
        random_ = rng.random
        pools = self.pools
        h = "%032x" % (rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET)
        order_id = "ord-%020x" % rng.getrandbits(80)
        cum = pools.customer_cum_weights
        customer = pools.customers[bisect_right(cum, random_() * cum[-1])]
        if random_() < HOME_ADDRESS_SHARE:
            who = customer.home_json
        else:
            choices = pools.addresses_by_country[customer.home.country]
            who = customer.json + ',"shipping_address":' + choices[int(random_() * len(choices))].json
        n_lines = _BASKET_TABLE[int(random_() * _TABLE_SIZE)]
        pcum = pools.product_cum_weights
        ptotal = pcum[-1]
        if n_lines == 1:
            i = bisect_right(pcum, random_() * ptotal)
            q = _QUANTITY_TABLE[int(random_() * _TABLE_SIZE)]
            items = pools.line_text[i][q]
            total = pools.line_cents[i][q]
        else:
            picked: list[int] = []
            while len(picked) < n_lines:
                idx = bisect_right(pcum, random_() * ptotal)
                if idx not in picked:
                    picked.append(idx)
            line_text, line_cents = pools.line_text, pools.line_cents
            qs = [_QUANTITY_TABLE[int(random_() * _TABLE_SIZE)] for _ in picked]
            items = ",".join([line_text[i][q] for i, q in zip(picked, qs, strict=True)])
            total = sum([line_cents[i][q] for i, q in zip(picked, qs, strict=True)])
        payment = _PAYMENT_TABLE[int(random_() * _TABLE_SIZE)]
        channel = _CHANNEL_TABLE[int(random_() * _TABLE_SIZE)]
        ms, late = self._event_ms(random_)
        version = self._next_version() if self.v2_share is not None or self.schema_version != 1 else 1
        if version == 2:
            discount, coupon = self._discount(total)
            total -= discount
        sec, milli = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._sec_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        text = _FAST_FORMAT % (
            h[:8],
            h[8:12],
            h[12:16],
            h[16:20],
            h[20:],
            self._sec_text,
            milli,
            order_id,
            who,
            items,
            n_lines,
            total // 100,
            total % 100,
            customer.currency,
            payment,
            channel,
        )
        if version == 2:
            text = text.replace('"schema_version":1,', '"schema_version":2,', 1)[:-1] + _V2_TAIL % (
                discount // 100,
                discount % 100,
                '"%s"' % coupon if coupon else "null",
            )
        counters = self.counters
        counters.versions[version] += 1
        if self.malformed_ratio and random_() < self.malformed_ratio:
            text = self._malform(text, version)
            counters.malformed += 1
        else:
            counters.valid += 1
            if late:
                counters.late += 1
        key = self.key
        if key == "customer_id":
            return customer.key, text.encode()
        return (order_id.encode() if key == "order_id" else None), text.encode()

    def next_event(self) -> dict[str, Any]:
        """The next valid event as a dict (same draws as next_record; ignores malformed_ratio)."""
        order = self._order()
        version = self._next_version()
        self.counters.valid += 1
        self.counters.versions[version] += 1
        if order[8]:
            self.counters.late += 1
        return self._as_dict(order, version)

    def records(self, n: int) -> list[tuple[bytes | None, bytes]]:
        return [self.next_record() for _ in range(n)]


def new_seed() -> int:
    """A random seed for runs without --seed (ids stay unique across runs)."""
    return uuid.uuid4().int >> 64
