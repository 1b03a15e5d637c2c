"""Correctness of the classification function: the job's output tables with dev.pipectl.flink.ClassifyOrder
vs. with the SQL it replaced (tests/legacy_classification.py), on the same Kafka records.

It starts its own native stack (state under bench/out/compare/, ports 39192/38181 plus
PIPECTL_TEST_PORT_OFFSET), fills a topic with `--events` producer events (`--malformed-ratio` of
them malformed in the producer's ways) plus a set of hand-made edge records (not UTF-8, a BOM,
duplicate keys, numbers as strings, nested nulls, unicode, ~900 KB records, a null record, and
records that break only rules of the contract the SQL did not check), then runs both versions of
the job's statements on a Flink mini cluster (in-process, batch, Kafka read up to the latest
offset) into two pairs of Iceberg tables, and compares them row by row with pyiceberg, keyed by
Kafka partition and offset, every column but ingest_time / ingest_day.

Expected: every row identical, except records that the contract rejects and the SQL accepted
(counted by reason). Anything else is printed and the exit code is 1.

  .venv/bin/python bench/compare_classification.py [--events 100000] [--malformed-ratio 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.order_ingest import statements  # noqa: E402
from jobs.order_ingest.settings import load_job_settings  # noqa: E402
from tests import legacy_classification as legacy  # noqa: E402

OUT = ROOT / "bench" / "out" / "compare"
_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
KAFKA_PORT = 39192 + _OFFSET
PORTS = {"PIPECTL_LOCAL_KAFKA_PORT": str(KAFKA_PORT), "PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT": str(39193 + _OFFSET),
         "PIPECTL_LOCAL_FLINK_PORT": str(38181 + _OFFSET), "PIPECTL_LOCAL_FLINK_RPC_PORT": str(36223 + _OFFSET)}
TOPIC = "orders.compare.v1"
SQL_REASONS = {
    "not a JSON object", "missing event_id", "missing event_time", "event_time is not an ISO-8601 timestamp",
    "missing order_id", "missing customer.customer_id", "items is not an array", "total_amount is not a number",
    "currency is not a 3-letter code",
}


def pipectl(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pipectl", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"pipectl {' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def edge_records() -> list[bytes | None]:
    """The unit test's cases, plus what only raw bytes can carry, plus big records."""
    from tests.unit.test_classify_order import CASES, record

    out: list[bytes | None] = [None if raw is None else raw.encode() for _, raw, _ in CASES if raw is None or len(raw) < 500_000]
    valid = record().encode()
    out += [
        valid.replace("Köln".encode(), b"K\xf6ln"),        # Latin-1 byte in a valid record: not UTF-8
        valid.replace("Köln".encode(), b"K\xc3("),          # cut sequence
        valid.replace("Köln".encode(), b"K\xed\xa0\x80ln"),  # encoded surrogate
        b'{"event_id":"\xff',                               # not UTF-8 and not JSON
        record(note="x" * 900_000).encode(),                # ~900 KB (the broker takes up to 1 MB)
        record(note="\u00e9" * 450_000).encode(),
        record(note="x" * 900_000).encode()[:-5],
    ]
    return out


def fill(events: int, malformed_ratio: float, env: dict[str, str]) -> tuple[int, int]:
    produced = json.loads(pipectl(env, "produce", "orders", "--rate", "max", "--count", str(events), "--seed", "5",
                                  "--malformed-ratio", str(malformed_ratio), "--output", "json"))
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": f"127.0.0.1:{KAFKA_PORT}", "message.max.bytes": 1_000_000,
                         "enable.idempotence": True})
    edges = edge_records()
    for value in edges:
        producer.produce(TOPIC, value=value)
    if producer.flush(60) != 0:
        raise SystemExit("edge records not delivered")
    return produced["acked"], len(edges)


def run_both(warehouse: Path) -> None:
    """Both versions in one batch job each, bounded at the latest offsets."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.order_ingest.job import register_classified_view

    for name, build in (("old", legacy.statements), ("new", lambda s: (statements.setup_statements(s), statements.inserts(s)))):
        settings = load_job_settings({
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}", "KAFKA_TOPIC": TOPIC, "KAFKA_GROUP_ID": f"compare-{name}",
            "ICEBERG_WAREHOUSE": warehouse.as_uri(), "ICEBERG_TABLE": f"orders_{name}",
            "ICEBERG_REJECTED_TABLE": f"orders_{name}_rejected"})
        t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
        config = t_env.get_config()
        config.set("pipeline.jars", (ROOT / "target" / "pyflink-dependencies.jar").as_uri())
        config.set("table.local-time-zone", "UTC")
        config.set("parallelism.default", "2")
        config.set("pipeline.object-reuse", "true")  # as the job runs
        ddl, inserts = build(settings)
        if name == "old":  # the SQL wrote the columns of contract version 1; the tables have version 2's too
            v1 = ", ".join(f"`{c}`" for c, _, _ in statements.ORDERS_FIELDS if c not in statements.V2_COLUMNS)
            target = f"INSERT INTO {statements.qualified(settings, settings.table)}\n"
            inserts = [sql.replace(target, f"INSERT INTO {statements.qualified(settings, settings.table)} ({v1})\n")
                       for sql in inserts]
        started = time.monotonic()
        for sql in ddl:
            t_env.execute_sql(sql.replace("'format' = 'raw'", "'format' = 'raw',\n  'scan.bounded.mode' = 'latest-offset'"))
        if name == "new":
            register_classified_view(t_env)
        stmt_set = t_env.create_statement_set()
        for sql in inserts:
            stmt_set.add_insert_sql(sql)
        stmt_set.execute().wait()
        print(f"{name}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def read(warehouse: Path, table: str, drop: list[str]) -> dict[tuple[int, int], tuple]:
    import pyarrow as pa
    from pyiceberg.table import StaticTable

    arrow = StaticTable.from_metadata(str(warehouse / "analytics" / table)).scan().to_arrow().drop_columns(drop)
    if "raw" in arrow.column_names:  # compare the bytes (a not-UTF-8 record is stored as it came)
        arrow = arrow.set_column(arrow.column_names.index("raw"), "raw", arrow["raw"].cast(pa.binary()))
    names = arrow.column_names
    rows = {}
    for row in arrow.to_pylist():
        rows[(row["kafka_partition"], row["kafka_offset"])] = tuple(row[n] for n in names)
    return rows


def read_names(warehouse: Path, table: str) -> list[str]:
    from pyiceberg.table import StaticTable

    return [f.name for f in StaticTable.from_metadata(str(warehouse / "analytics" / table)).schema().fields]


def compare(warehouse: Path) -> int:
    old_valid = read(warehouse, "orders_old", ["ingest_time", "discount_amount", "coupon_code"])
    # the columns of contract version 2 exist only in the new table (NULL for version 1 events): compared apart
    v2 = read(warehouse, "orders_new", [])
    new_valid = read(warehouse, "orders_new", ["ingest_time", "discount_amount", "coupon_code"])
    old_rej = read(warehouse, "orders_old_rejected", ["ingest_time", "ingest_day"])
    new_rej = read(warehouse, "orders_new_rejected", ["ingest_time", "ingest_day"])
    total_old, total_new = len(old_valid) + len(old_rej), len(new_valid) + len(new_rej)
    same_valid = sum(1 for k, v in new_valid.items() if old_valid.get(k) == v)
    same_rejected = sum(1 for k, v in new_rej.items() if old_rej.get(k) == v)
    tightened: Counter[str] = Counter()
    problems: list[str] = []
    for key, row in new_rej.items():
        if key in old_rej:
            if old_rej[key] != row:
                problems.append(f"{key}: rejected as {old_rej[key][1]!r} before, now {row[1]!r}")
        elif key in old_valid and row[1] not in SQL_REASONS - {"event_time is not an ISO-8601 timestamp",
                                                              "currency is not a 3-letter code"}:
            tightened[row[1]] += 1  # the SQL accepted it; a rule it did not check stops it
        else:
            problems.append(f"{key}: rejected as {row[1]!r}, was {'valid' if key in old_valid else 'missing'} before")
    for key, row in new_valid.items():
        if old_valid.get(key) != row:
            problems.append(f"{key}: valid row differs: before {old_valid.get(key)}, now {row}")
    names = read_names(warehouse, "orders_new")
    at_version, at_discount, at_coupon = (names.index(n) for n in ("schema_version", "discount_amount", "coupon_code"))
    v2_rows = 0
    for key, row in v2.items():
        if row[at_version] == 2:
            v2_rows += 1
        elif (row[at_discount], row[at_coupon]) != (None, None):
            problems.append(f"{key}: a version 1 row with version 2 columns {row[at_discount]!r}, {row[at_coupon]!r}")
    missing = (set(old_valid) | set(old_rej)) - (set(new_valid) | set(new_rej))
    problems += [f"{key}: in the old tables only" for key in sorted(missing)]

    print(f"records               {total_old:,} before, {total_new:,} now")
    print(f"orders                {len(old_valid):,} before, {len(new_valid):,} now; {same_valid:,} identical rows")
    print(f"orders_rejected       {len(old_rej):,} before, {len(new_rej):,} now; {same_rejected:,} identical rows")
    print(f"reasons now           {dict(Counter(r[1] for r in new_rej.values()).most_common())}")
    print(f"accepted before, rejected now by a contract rule: {sum(tightened.values())} {dict(tightened)}")
    print(f"version 2 rows        {v2_rows:,} (their discount_amount, coupon_code compared apart; NULL in every version 1 row)")
    print(f"other differences     {len(problems)}")
    for p in problems[:20]:
        print("  " + p[:400])
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--malformed-ratio", type=float, default=0.05)
    a = ap.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    warehouse = OUT / "warehouse"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_")}
    env.update(PORTS, PIPECTL_PROJECT_DIR=str(ROOT), PIPECTL_LOCAL_STATE_DIR=str(OUT / "state"),
               PIPECTL_LOCAL_WAREHOUSE=str(warehouse), PIPECTL_PIPELINE_TOPIC=TOPIC, PIPECTL_PIPELINE_PARTITIONS="2")
    try:
        pipectl(env, "local", "up")
        events, edges = fill(a.events, a.malformed_ratio, env)
        print(f"input                 {events:,} producer events ({a.malformed_ratio:.0%} malformed) + {edges} edge records",
              flush=True)
        run_both(warehouse)
        return compare(warehouse)
    finally:
        subprocess.run([sys.executable, "-m", "pipectl", "local", "down"], env=env, cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
