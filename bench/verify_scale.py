"""`verify` at the size of months of data: peak memory and time at 1, 10 and 50 million rows.

For each size it builds an orders table with the job's schema and layout (Iceberg format 2,
identity partitions on `event_time_day`, zstd Parquet, about 500,000 rows per data file, one
snapshot per file, 60 days) in a warehouse of its own under bench/out/verify/, written with
pyiceberg and pyarrow (not through Kafka: the figures are about reading). A known number of rows
repeat an earlier `event_id` (`--duplicates`), so every reader's answer is checked, not only timed.

Then, side by side in the same run on the same table, each in a process of its own whose peak
resident memory (ru_maxrss of the child) and wall time are measured:
  pipectl   what `pipectl verify` runs (pipectl.verify.verify, without the topic comparison: no
            broker runs here), in a process of its own: rows, distinct ids, rows per day
  stream    the same with pyiceberg reading the files into DuckDB batch by batch (the engine
            `--env aws verify` uses for S3 Tables' files)
  pyiceberg what a user would write with pyiceberg alone, and what `verify` did before:
            table.scan(selected_fields=(event_id, event_time_day)).to_arrow(), count_distinct,
            group_by the day (skipped above --naive-max rows: it needs ~250 MB per million rows)

The machine's load (/proc/loadavg) is printed before and after each measurement.

  .venv/bin/python bench/verify_scale.py [--sizes 1,10,50] [--duplicates 1000] [--naive-max 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "verify"
FILE_ROWS = 500_000
DAYS = 60
EPOCH_DAY = dt.date(2026, 1, 1)

# `pipectl verify` without the topic comparison (no broker here: the table side is what is measured)
PIPECTL = """
import json
from pipectl.config import load_settings
from pipectl.verify import verify
print(json.dumps(verify(load_settings(), compare=False).to_dict()))
"""

# the same, with pyiceberg reading the files (what `--env aws verify` does with S3 Tables' files)
STREAM = PIPECTL.replace("import json", "import json\nfrom pipectl import tablecount\ntablecount._direct_files = lambda *a: None")

NAIVE = """
import sys, json
import pyarrow.compute as pc
from pyiceberg.table import StaticTable
t = StaticTable.from_metadata(sys.argv[1])
arrow = t.scan(selected_fields=("event_id", "event_time_day")).to_arrow()
days = arrow.group_by("event_time_day").aggregate([("event_id", "count")])
print(json.dumps({"rows": arrow.num_rows, "distinct_event_ids": pc.count_distinct(arrow["event_id"]).as_py(),
                  "partitions": days.num_rows}))
"""


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def _schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        DateType,
        DecimalType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestampType,
    )

    string_cols = [
        "event_type",
        "order_id",
        "customer_id",
        "customer_name",
        "customer_email",
        "ship_city",
        "ship_country",
        "items",
    ]
    fields = [NestedField(1, "event_id", StringType(), required=True)]
    fields += [NestedField(2 + i, name, StringType(), required=False) for i, name in enumerate(string_cols)]
    n = len(fields) + 1
    fields += [
        NestedField(n, "schema_version", IntegerType(), required=False),
        NestedField(n + 1, "item_count", IntegerType(), required=False),
        NestedField(n + 2, "total_amount", DecimalType(12, 2), required=False),
        NestedField(n + 3, "currency", StringType(), required=False),
        NestedField(n + 4, "payment_method", StringType(), required=False),
        NestedField(n + 5, "channel", StringType(), required=False),
        NestedField(n + 6, "event_time", TimestampType(), required=False),
        NestedField(n + 7, "event_time_day", DateType(), required=False),
        NestedField(n + 8, "kafka_partition", IntegerType(), required=False),
        NestedField(n + 9, "kafka_offset", LongType(), required=False),
        NestedField(n + 10, "ingest_time", TimestampType(), required=False),
    ]
    return Schema(*fields)


def _chunk(schema, start: int, rows: int, total: int, duplicate_of: list[int]):
    """Rows start..start+rows-1 of the table; ids in duplicate_of repeat an earlier event."""
    import numpy as np
    import pyarrow as pa

    from pyiceberg.io.pyarrow import schema_to_pyarrow

    idx = np.arange(start, start + rows, dtype=np.int64)
    if duplicate_of:
        idx[-len(duplicate_of) :] = duplicate_of
    ids = pa.array(np.char.add("00000000-0000-4000-8000-", np.char.zfill(idx.astype(str), 12)))
    day_of = (idx * DAYS) // total  # in time order, as a stream writes them: a day is a run of files
    days = pa.array(day_of + (EPOCH_DAY - dt.date(1970, 1, 1)).days, pa.int32()).cast(pa.date32())
    ts = pa.array((day_of * 86_400_000_000 + (idx % 86_400) * 1_000_000) + 1_767_225_600_000_000, pa.timestamp("us"))
    arrow_schema = schema_to_pyarrow(schema)
    columns = {}
    for f in arrow_schema:
        if f.name == "event_id":
            columns[f.name] = ids
        elif f.name == "event_time_day":
            columns[f.name] = days
        elif f.name in ("event_time", "ingest_time"):
            columns[f.name] = ts
        elif f.name == "customer_id":
            columns[f.name] = pa.array(np.char.add("c-", (idx % 50_000).astype(str)))
        elif f.name == "kafka_offset":
            columns[f.name] = pa.array(idx)
        elif f.name == "schema_version":
            columns[f.name] = pa.array(np.ones(rows, dtype=np.int32))
        else:
            columns[f.name] = pa.nulls(rows, f.type)
    return pa.Table.from_pydict(columns, schema=arrow_schema)


def build(million: int, duplicates: int) -> tuple[Path, int]:
    """The table of `million` million rows (reused when it is there); (its folder, distinct ids)."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    rows = million * 1_000_000
    root = OUT / f"{million}m"
    table_dir = root / "warehouse" / "analytics" / "orders"
    done = root / "built.json"
    if done.is_file() and json.loads(done.read_text()) == {"rows": rows, "duplicates": duplicates}:
        return table_dir, rows - duplicates
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    catalog = SqlCatalog("bench", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=(root / "warehouse").as_uri())
    catalog.create_namespace("analytics")
    schema = _schema()
    spec = PartitionSpec(PartitionField(schema.find_field("event_time_day").field_id, 1000, IdentityTransform(), "event_time_day"))
    table = catalog.create_table(
        "analytics.orders",
        schema,
        location=table_dir.as_uri(),
        partition_spec=spec,
        properties={"format-version": "2", "write.parquet.compression-codec": "zstd"},
    )
    t0 = time.monotonic()
    for start in range(0, rows, FILE_ROWS):
        n = min(FILE_ROWS, rows - start)
        dup = list(range(duplicates)) if start + n == rows and duplicates else []
        table.append(_chunk(schema, start, n, rows, dup))
        table = catalog.load_table("analytics.orders")
        print(f"  built {start + n:,} rows ({time.monotonic() - t0:.0f}s)", file=sys.stderr, flush=True)
    meta = Path(table.metadata_location.removeprefix("file://"))
    (table_dir / "metadata" / "version-hint.text").write_text(meta.name)
    done.write_text(json.dumps({"rows": rows, "duplicates": duplicates}))
    return table_dir, rows - duplicates


def measured(argv: list[str], env: dict | None = None) -> tuple[float, float, str, int]:
    """Run argv under a small wrapper that reports the child's own peak RSS (ru_maxrss is a max
    over all children of a process, so each measurement gets a process of its own)."""
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t0 = time.monotonic()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'wall': time.monotonic() - t0, 'rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " 'stdout': p.stdout, 'stderr': p.stderr[-2000:], 'rc': p.returncode}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, env=env, cwd=REPO)
    data = json.loads(out.stdout)
    if data["rc"] != 0 and not data["stdout"]:
        print(data["stderr"], file=sys.stderr)
    return data["wall"], data["rss_kib"] / 1024, data["stdout"], data["rc"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,50", help="table sizes in millions of rows")
    ap.add_argument("--duplicates", type=int, default=1000)
    ap.add_argument("--naive-max", type=int, default=10, help="largest size (millions) the pyiceberg read runs at")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; load before: {load()}")
    results = []
    for million in [int(s) for s in args.sizes.split(",")]:
        table_dir, distinct = build(million, args.duplicates)
        rows = million * 1_000_000
        env = dict(os.environ)
        env.update(
            PIPECTL_LOCAL_WAREHOUSE=str(table_dir.parents[1]),
            PIPECTL_LOCAL_STATE_DIR=str(table_dir.parents[2] / ".pipectl"),
        )
        row = {"rows": rows, "duplicates": args.duplicates}
        print(f"\n{rows:,} rows ({args.duplicates} repeated ids); load {load()}")
        wall, rss, out, rc = measured([sys.executable, "-c", PIPECTL], env)
        report = json.loads(out)
        ok = report.get("rows") == rows and report.get("distinct_event_ids") == distinct and len(report["partitions"]) == DAYS
        print(f"  pipectl verify : {wall:6.1f} s  peak {rss:7.0f} MiB  {'right' if ok else 'WRONG: ' + out[:300]}")
        row["pipectl"] = {"seconds": round(wall, 1), "peak_mib": round(rss), "right": ok, "engine": report.get("engine")}
        wall, rss, out, rc = measured([sys.executable, "-c", STREAM], env)
        report = json.loads(out)
        ok = report.get("rows") == rows and report.get("distinct_event_ids") == distinct and report.get("engine") == "stream"
        print(f"  pipectl stream : {wall:6.1f} s  peak {rss:7.0f} MiB  {'right' if ok else 'WRONG: ' + out[:300]}")
        row["pipectl_stream"] = {"seconds": round(wall, 1), "peak_mib": round(rss), "right": ok}
        if million <= args.naive_max:
            wall, rss, out, rc = measured([sys.executable, "-c", NAIVE, str(table_dir)])
            naive = json.loads(out) if rc == 0 else {}
            ok = naive.get("rows") == rows and naive.get("distinct_event_ids") == distinct
            print(f"  pyiceberg read : {wall:6.1f} s  peak {rss:7.0f} MiB  {'right' if ok else 'WRONG'}")
            row["pyiceberg"] = {"seconds": round(wall, 1), "peak_mib": round(rss), "right": ok}
        results.append(row)
        print(f"  load after: {load()}")
    print(json.dumps({"load_after": load(), "results": results}, indent=1))
    return 0 if all(r["pipectl"]["right"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
