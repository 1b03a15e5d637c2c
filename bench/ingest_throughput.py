"""Ingest benchmark: the order_ingest job into Iceberg vs. the same job into a blackhole sink,
and freshness (produce time -> visible in Iceberg) at a steady rate.

It starts its own native stack (state under bench/out/, ports 39092/38081, so a running stack
is left alone), pre-fills a topic, and runs the job twice at the same parallelism:
  1. blackhole: same source, same SQL classification, sinks = blackhole  (the parse ceiling)
  2. iceberg:   the real job, committing to Iceberg on every checkpoint
Each run uses a consumer group of its own, so both read the whole topic from the beginning.
Throughput = events / (time from the job's first record to the last one processed (blackhole)
or committed (iceberg)).

Freshness: with the iceberg job running at the given checkpoint interval, produce at a steady
rate; for every row, freshness = commit time of the snapshot that made it visible - its
event_time (set by the producer at send time). p50/p95 over all rows.

  .venv/bin/python bench/ingest_throughput.py [--events 1000000] [--parallelism 2]
      [--checkpoint-s 10] [--freshness-rate 200 --freshness-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PORTS = {"PIPECTL_LOCAL_KAFKA_PORT": "39092", "PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT": "39093",
         "PIPECTL_LOCAL_FLINK_PORT": "38081", "PIPECTL_LOCAL_FLINK_RPC_PORT": "36123"}
REST = "http://127.0.0.1:38081"


def pipectl(env, *args, check=True, timeout=1800):
    r = subprocess.run([sys.executable, "-m", "pipectl", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise SystemExit(f"pipectl {' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r


def rest(path):
    with urllib.request.urlopen(REST + path, timeout=10) as resp:
        return json.loads(resp.read())


def source_records(job_id: str) -> int:
    """Records the Kafka source has emitted so far (sum over its subtasks; the source is chained
    to the sinks, so the vertex's own network counters stay 0)."""
    import urllib.parse

    job = rest(f"/jobs/{job_id}")
    source = next(v for v in job["vertices"] if v["name"].startswith("Source"))
    metric = urllib.parse.quote("Source__kafka_orders[1].numRecordsOut")
    values = rest(f"/jobs/{job_id}/vertices/{source['id']}/subtasks/metrics?get={metric}&agg=sum")
    return int(values[0]["sum"]) if values else 0


def committed_rows(warehouse: Path, table: str) -> int:
    from pyiceberg.table import StaticTable

    table_dir = warehouse / "analytics" / table
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        return 0
    snap = StaticTable.from_metadata(str(table_dir)).current_snapshot()
    return int(snap.summary["total-records"]) if snap else 0


def run_job(env, sink: str, events: int, warehouse: Path, valid: int) -> float:
    job_env = dict(env, ORDER_INGEST_SINK=sink, PIPECTL_PIPELINE_CONSUMER_GROUP=f"bench-{sink}-{time.time_ns()}")
    started = json.loads(pipectl(job_env, "job", "start", "--fresh", "--output", "json").stdout)
    job_id = started["job_id"]
    t0 = None
    while True:
        n = source_records(job_id)
        if t0 is None and n > 0:
            t0 = time.monotonic()
        done = n >= events if sink == "blackhole" else committed_rows(warehouse, "orders_bench") >= valid
        if done:
            elapsed = time.monotonic() - t0
            break
        time.sleep(0.2)
    pipectl(job_env, "job", "stop", "--no-savepoint", "--output", "json")
    return elapsed


def freshness(env, warehouse: Path, rate: int, seconds: int) -> list[float]:
    import pyarrow.parquet as pq
    from pyiceberg.table import StaticTable

    table = "orders_fresh"
    fenv = dict(env, PIPECTL_PIPELINE_TOPIC="orders.fresh.v1", PIPECTL_PIPELINE_TABLE=table,
                PIPECTL_PIPELINE_REJECTED_TABLE="orders_fresh_rejected", PIPECTL_PIPELINE_CONSUMER_GROUP="bench-fresh")
    pipectl(fenv, "local", "up")
    pipectl(fenv, "job", "start", "--fresh")
    count = rate * seconds
    pipectl(fenv, "produce", "orders", "--rate", str(rate), "--count", str(count), "--output", "json")
    deadline = time.monotonic() + 120
    while committed_rows(warehouse, table) < count and time.monotonic() < deadline:
        time.sleep(1)
    pipectl(fenv, "job", "stop", "--no-savepoint")
    t = StaticTable.from_metadata(str(warehouse / "analytics" / table))
    commit_ms = {s.snapshot_id: s.timestamp_ms for s in t.metadata.snapshots}
    entries = t.inspect.entries().to_pylist()
    lags = []
    for e in entries:
        if e["status"] != 1:  # ADDED
            continue
        path = e["data_file"]["file_path"].removeprefix("file:")
        times = pq.ParquetFile(path).read(columns=["event_time"])["event_time"].to_pylist()
        visible = commit_ms[e["snapshot_id"]] / 1000
        lags.extend(visible - et.replace(tzinfo=None).timestamp() - _utc_offset() for et in times)
    return lags


def _utc_offset() -> float:
    # event_time is naive UTC; datetime.timestamp() on a naive value assumes local time
    return -time.timezone if time.localtime().tm_isdst == 0 else -time.altzone


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--checkpoint-s", type=int, default=10)
    ap.add_argument("--freshness-rate", type=int, default=200)
    ap.add_argument("--freshness-seconds", type=int, default=60)
    ap.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    a = ap.parse_args()

    if OUT.exists():
        shutil.rmtree(OUT / "state", ignore_errors=True)
        shutil.rmtree(OUT / "warehouse", ignore_errors=True)
    warehouse = OUT / "warehouse"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_")}
    env.update(PORTS, PIPECTL_PROJECT_DIR=str(ROOT), PIPECTL_LOCAL_STATE_DIR=str(OUT / "state"),
               PIPECTL_LOCAL_WAREHOUSE=str(warehouse), PIPECTL_PIPELINE_TOPIC="orders.bench.v1",
               PIPECTL_PIPELINE_TABLE="orders_bench", PIPECTL_PIPELINE_REJECTED_TABLE="orders_bench_rejected",
               PIPECTL_PIPELINE_PARALLELISM=str(a.parallelism), PIPECTL_PIPELINE_PARTITIONS=str(max(2, a.parallelism)),
               PIPECTL_PIPELINE_CHECKPOINT_INTERVAL_S=str(a.checkpoint_s),
               PIPECTL_LOCAL_TASKMANAGER_SLOTS=str(max(2, a.parallelism)), PIPECTL_LOCAL_TASKMANAGER_MEMORY="3072m")
    try:
        print(f"starting the stack, pre-filling orders.bench.v1 with {a.events:,} events", file=sys.stderr)
        pipectl(env, "local", "up")
        produced = json.loads(pipectl(env, "produce", "orders", "--rate", "max", "--count", str(a.events),
                                      "--seed", "1", "--output", "json").stdout)
        valid = produced["valid"]
        print(f"events                {a.events:,} (parallelism {a.parallelism}, checkpoint {a.checkpoint_s} s)", flush=True)
        blackhole_s = run_job(env, "blackhole", a.events, warehouse, valid)
        bh = a.events / blackhole_s
        print(f"blackhole (ceiling)   {bh:,.0f} records/s   ({blackhole_s:.1f} s)", flush=True)
        iceberg_s = run_job(env, "iceberg", a.events, warehouse, valid)
        ice = a.events / iceberg_s
        print(f"iceberg               {ice:,.0f} records/s   ({iceberg_s:.1f} s, until the last commit)", flush=True)
        print(f"ratio                 {ice / bh:.2f}  (target >= 0.6)", flush=True)
        lags = freshness(env, warehouse, a.freshness_rate, a.freshness_seconds)
        q = statistics.quantiles(lags, n=100)
        print(f"freshness             p50 {q[49]:.1f} s, p95 {q[94]:.1f} s, max {max(lags):.1f} s over "
              f"{len(lags):,} rows at {a.freshness_rate}/s  (target p95 <= {a.checkpoint_s + 5} s)", flush=True)
    finally:
        if not a.keep:
            pipectl(env, "local", "down", check=False)


if __name__ == "__main__":
    main()
