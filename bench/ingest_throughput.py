"""Ingest benchmark: how close the order_ingest job comes to what Flink itself can read and parse,
and freshness (produce time -> visible in Iceberg) at a steady rate.

It starts its own native stack (state under bench/out/, ports 39092/38081 plus
PIPECTL_TEST_PORT_OFFSET, so a running stack is left alone), pre-fills a topic, and runs four jobs one after the other on that same topic, at
the same parallelism, each with a consumer group of its own (each reads the whole topic):
  (a) raw:       format = raw into blackhole, no parsing (what reading Kafka costs)
  (b) json:      Flink's json format with the contract's columns into blackhole (parse once: the ceiling)
  (c) blackhole: the job's classification (dev.pipectl.flink.ClassifyOrder) into blackhole sinks
  (d) iceberg:   the real job, committing to Iceberg on every checkpoint
Throughput = events / (time from the start of the job's source tasks (Flink's clock) to the
last record read by the source (a-c) or committed to Iceberg (d), as seen by polling every 0.2 s from the moment the job
appears, while `pipectl job start` still runs). Targets: (c) >= 0.7 x (b), (d) >= 0.4 x (b). Also printed:
events per CPU-second the TaskManager used over the same time, a figure that other work on a
shared machine disturbs much less than wall-clock time.

Freshness: with the iceberg job running at the given checkpoint interval, produce at a steady
rate; for every row, freshness = commit time of the snapshot that made it visible - its
event_time (set by the producer at send time). p50/p95 over all rows.

The machine's load (`uptime`) is printed before and after: the figures are only comparable
within one run.

  .venv/bin/python bench/ingest_throughput.py [--events 400000] [--parallelism 2]
      [--checkpoint-s 10] [--freshness-rate 200 --freshness-seconds 60] [--only raw,json,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
# PIPECTL_TEST_PORT_OFFSET moves every port (as for the tests), so that benchmarks can share a machine.
_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
PORTS = {"PIPECTL_LOCAL_KAFKA_PORT": str(39092 + _OFFSET), "PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT": str(39093 + _OFFSET),
         "PIPECTL_LOCAL_FLINK_PORT": str(38081 + _OFFSET), "PIPECTL_LOCAL_FLINK_RPC_PORT": str(36123 + _OFFSET)}
REST = f"http://127.0.0.1:{38081 + _OFFSET}"


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
    to what follows, so the vertex's own network counters stay 0)."""
    import urllib.parse

    job = rest(f"/jobs/{job_id}")
    source = next(v for v in job["vertices"] if v["name"].startswith("Source"))
    base = f"/jobs/{job_id}/vertices/{source['id']}/subtasks/metrics"
    names = [m["id"] for m in rest(base) if m["id"].startswith("Source__") and m["id"].endswith(".numRecordsOut")]
    if not names:
        return 0
    values = rest(f"{base}?get={urllib.parse.quote(names[0])}&agg=sum")
    return int(values[0]["sum"]) if values else 0


def committed_rows(warehouse: Path, table: str) -> int:
    from pyiceberg.table import StaticTable

    table_dir = warehouse / "analytics" / table
    if not (table_dir / "metadata" / "version-hint.text").is_file():
        return 0
    snap = StaticTable.from_metadata(str(table_dir)).current_snapshot()
    return int(snap.summary["total-records"]) if snap else 0


class Profile:
    """A Java Flight Recorder recording of the TaskManager while one job runs (`--profile`): CPU samples
    (Java and native) counted by what they were doing, a sample counting for the first category
    (in this order) that any frame of its stack belongs to."""

    CATEGORIES = (
        ("zstd compression", ("com.github.luben.zstd", "Zstd")),
        ("Parquet encoding", ("org.apache.parquet", "org.apache.iceberg.parquet", "org.apache.iceberg.shaded.org.apache.parquet")),
        ("Iceberg writer, other", ("org.apache.iceberg",)),
        ("classification (Jackson, ClassifyOrder)", ("dev.pipectl.flink", "com.fasterxml.jackson")),
        ("Flink json format", ("org.apache.flink.formats.json",)),
        ("Kafka fetch and records", ("org.apache.kafka", "org.apache.flink.connector.kafka")),
        ("Flink runtime (serialization, network, operators)", ("org.apache.flink",)),
    )

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self.file = OUT / f"{name}.jfr"
        self.name = name
        subprocess.run(["jcmd", str(self.pid), "JFR.start", f"name={name}", "settings=profile", f"filename={self.file}"],
                       capture_output=True, check=True)

    def stop(self) -> str:
        subprocess.run(["jcmd", str(self.pid), "JFR.stop", f"name={self.name}"], capture_output=True, check=True)
        text = subprocess.run(["jfr", "print", "--events", "jdk.ExecutionSample,jdk.NativeMethodSample",
                               "--stack-depth", "96", str(self.file)], capture_output=True, text=True).stdout
        counts: dict[str, int] = {}
        for sample in text.split("jdk.")[1:]:
            if "stackTrace = [" not in sample:
                continue
            label = next((cat for cat, marks in self.CATEGORIES if any(m in sample for m in marks)), "other (JVM, GC, idle threads)")
            counts[label] = counts.get(label, 0) + 1
        total = sum(counts.values()) or 1
        return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def taskmanager_pid(env: dict) -> int:
    status = json.loads(pipectl(env, "local", "status", "--output", "json", check=False).stdout)
    return next(c["pid"] for c in status["components"] if c["name"] == "taskmanager")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_job(env, sink: str, events: int, warehouse: Path, valid: int, timeout_s: float = 900,
            profile: bool = False) -> tuple[float, float, float, str]:
    """(seconds from the source's start to done, of which waiting for the last commit, TaskManager CPU
    seconds used by the job, profile summary)."""
    job_env = dict(env, ORDER_INGEST_SINK=sink, PIPECTL_PIPELINE_CONSUMER_GROUP=f"bench-{sink}-{time.time_ns()}")
    tm = taskmanager_pid(env)
    cpu0 = cpu_seconds(tm)  # before the submission: the TaskManager is idle until then
    known = {j["jid"] for j in rest("/jobs/overview")["jobs"]}
    # `job start` returns only after its checks; a fast job can be done by then: submit in the
    # background and watch the new job from the moment it appears
    submit = threading.Thread(target=pipectl, args=(job_env, "job", "start", "--fresh", "--output", "json"))
    submit.start()
    deadline = time.monotonic() + timeout_s
    job_id = None
    while job_id is None:
        new = [j for j in rest("/jobs/overview")["jobs"] if j["jid"] not in known and j["state"] == "RUNNING"]
        job_id = new[0]["jid"] if new else None
        if time.monotonic() > deadline:
            raise SystemExit(f"{sink}: the job did not start")
        time.sleep(0.1)
    recording = Profile(tm, sink) if profile else None
    t0 = None
    read_all = None
    try:
        while True:
            job = rest(f"/jobs/{job_id}")
            source = next(v for v in job["vertices"] if v["name"].startswith("Source"))
            if t0 is None and source.get("start-time", -1) > 0:
                t0 = source["start-time"] / 1000  # the source's tasks started running (Flink's clock)
            n = source_records(job_id) if t0 is not None else 0
            now = time.time()
            if read_all is None and n >= events:
                read_all = now
            done = read_all is not None if sink != "iceberg" else committed_rows(warehouse, "orders_bench") >= valid
            if done:
                cpu = cpu_seconds(tm) - cpu0
                summary = recording.stop() if recording else ""
                return now - t0, now - read_all, cpu, summary
            if time.monotonic() > deadline:
                raise SystemExit(f"{sink}: not done after {timeout_s:.0f} s ({n:,} records read)")
            time.sleep(0.2)
    finally:
        submit.join()
        pipectl(job_env, "job", "stop", "--no-savepoint", "--output", "json", check=False)


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


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
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--checkpoint-s", type=int, default=10)
    ap.add_argument("--freshness-rate", type=int, default=200)
    ap.add_argument("--freshness-seconds", type=int, default=60)
    ap.add_argument("--only", default="raw,json,blackhole,iceberg,freshness",
                    help="comma-separated parts to run (default: all)")
    ap.add_argument("--profile", action="store_true",
                    help="record (c) and (d) with Java Flight Recorder and print where the TaskManager's CPU goes")
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
        print(f"load before           {load()}", flush=True)
        labels = {"raw": "(a) raw -> blackhole", "json": "(b) json -> blackhole", "blackhole": "(c) classify -> blackhole",
                  "iceberg": "(d) job -> Iceberg"}
        rates: dict[str, float] = {}
        per_cpu: dict[str, float] = {}
        for sink in ("raw", "json", "blackhole", "iceberg"):
            if sink not in a.only:
                continue
            seconds, commit_wait, cpu, profile = run_job(env, sink, a.events, warehouse, valid,
                                                         profile=a.profile and sink in ("blackhole", "iceberg"))
            rates[sink] = a.events / seconds
            per_cpu[sink] = a.events / cpu
            wait = f", {commit_wait:.1f} s of it after the last record was read" if sink == "iceberg" else ""
            print(f"{labels[sink]:26} {rates[sink]:>9,.0f} records/s   {per_cpu[sink]:>9,.0f} records/CPU-s"
                  f"   ({seconds:.1f} s{wait}; TaskManager CPU {cpu:.1f} s)", flush=True)
            if profile:
                print(f"    TaskManager CPU samples: {profile}", flush=True)
        if "json" in rates:
            for sink, target in (("blackhole", 0.7), ("iceberg", 0.4)):
                if sink in rates:
                    ratio = rates[sink] / rates["json"]
                    verdict = "met" if ratio >= target else "NOT met"
                    print(f"{labels[sink][:3]} / (b)                 {ratio:.2f}  (target >= {target}: {verdict}); "
                          f"per TaskManager CPU-second {per_cpu[sink] / per_cpu['json']:.2f}", flush=True)
        print(f"load after            {load()}", flush=True)
        if "freshness" in a.only:
            lags = freshness(env, warehouse, a.freshness_rate, a.freshness_seconds)
            q = statistics.quantiles(lags, n=100)
            print(f"freshness             p50 {q[49]:.1f} s, p95 {q[94]:.1f} s, max {max(lags):.1f} s over "
                  f"{len(lags):,} rows at {a.freshness_rate}/s  (target p95 <= {a.checkpoint_s + 5} s)", flush=True)
    finally:
        if not a.keep:
            pipectl(env, "local", "down", check=False)


if __name__ == "__main__":
    main()
