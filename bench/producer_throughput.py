"""Producer throughput: `pipectl produce orders --rate max` next to Kafka's own perf tool.

    .venv/bin/python bench/producer_throughput.py --bootstrap 127.0.0.1:9092
    .venv/bin/python bench/producer_throughput.py --bootstrap 127.0.0.1:9092 --accuracy   # + 30 s rate runs
    .venv/bin/python bench/producer_throughput.py --profile                                # where the time goes

In one run, against the same broker and topic settings:
1. `pipectl produce orders --rate max --count N --output json` once per installed client
   (confluent-kafka, kafka-python); figure = acknowledged events / (send time + flush time).
2. Kafka's ProducerPerformance (kafka-producer-perf-test, from the kafka-tools jar) with
   acks=all, idempotence, the same linger/batch settings, and as payloads real events from our
   generator (--payload-file), so the average record size is the same.
3. The ratio of the two.
With --accuracy: 30 s runs at 1, 100 and 10,000 events/s (side by side), achieved rate by the
summary and by the record timestamps on the topic.
Prints a Markdown table (paste into docs/benchmarks.md) and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; Python {platform.python_version()}; {java}"


def versions() -> str:
    out = []
    for mod, name in (("kafka", "kafka-python"), ("confluent_kafka", "confluent-kafka"), ("crc32c", "crc32c")):
        try:
            m = __import__(mod)
            v = getattr(m, "__version__", None)
            if mod == "confluent_kafka":
                v = f"{m.__version__} (librdkafka {m.libversion()[0]})"
            out.append(f"{name} {v or 'installed'}")
        except ImportError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(names)
    except Exception:  # noqa: BLE001 - best effort clean-up
        pass
    finally:
        admin.close()


def pipectl_run(bootstrap: str, topic: str, count: int, client: str) -> dict:
    cmd = [PY, "-m", "pipectl", "produce", "orders", "--rate", "max", "--count", str(count), "--topic", topic,
           "--bootstrap-servers", bootstrap, "--client", client, "--output", "json"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"pipectl failed ({client}): {r.stderr.strip()}")
    s = json.loads(r.stdout)
    s["throughput"] = s["acked"] / (s["elapsed_s"] + s["flush_s"])
    return s


def payload_file(n: int = 20000) -> tuple[Path, float]:
    from producer.generate import EventClock, OrderGenerator

    gen = OrderGenerator(1, clock=EventClock(1_767_225_600_000, 1.0))
    values = [gen.next_record()[1] for _ in range(n)]
    path = Path(tempfile.mkdtemp(prefix="bench-")) / "orders.jsonl"
    path.write_bytes(b"\n".join(values))
    return path, sum(map(len, values)) / n


def perf_tool(libs: Path, bootstrap: str, topic: str, count: int, payload: Path, linger: int, batch: int) -> dict:
    cmd = [
        "java", "-Xmx1g", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", str(count), "--throughput", "-1", "--payload-file", str(payload),
        "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all", "enable.idempotence=true",
        f"linger.ms={linger}", f"batch.size={batch}", "compression.type=none",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    last = [line for line in r.stdout.splitlines() if "records sent" in line]
    if r.returncode != 0 or not last:
        raise SystemExit(f"ProducerPerformance failed: {r.stderr.strip()[-2000:]}")
    m = re.search(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", last[-1])
    return {"records": int(m.group(1)), "throughput": float(m.group(2)), "mb_s": float(m.group(3)), "line": last[-1]}


def accuracy(bootstrap: str, seconds: int) -> list[dict]:
    """Side by side: 1, 100 and 10,000 events/s for `seconds` each; rate by summary and by topic."""
    from kafka import KafkaConsumer, TopicPartition

    rates = (1, 100, 10_000)
    topics = {r: f"bench.rate{r}.{uuid.uuid4().hex[:8]}" for r in rates}
    for t in topics.values():
        create_topic(bootstrap, t, 2)
    procs = {
        r: subprocess.Popen(
            [PY, "-m", "pipectl", "produce", "orders", "--rate", str(r), "--duration", f"{seconds}s",
             "--topic", t, "--bootstrap-servers", bootstrap, "--output", "json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for r, t in topics.items()
    }
    rows = []
    for r, p in procs.items():
        out, err = p.communicate(timeout=seconds + 120)
        if p.returncode != 0:
            raise SystemExit(f"rate {r} failed: {err}")
        s = json.loads(out)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
        tps = [TopicPartition(topics[r], p_) for p_ in consumer.partitions_for_topic(topics[r])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        stamps = [rec.timestamp for rec in consumer]
        consumer.close()
        stamps.sort()
        topic_rate = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1000) if len(stamps) > 1 else 0.0
        rows.append({"target": r, "sent": s["sent"], "acked": s["acked"], "on_topic": len(stamps),
                     "summary_rate": s["rate_achieved"], "topic_rate": topic_rate,
                     "error_pct": (s["rate_achieved"] - r) / r * 100, "topic_error_pct": (topic_rate - r) / r * 100})
    delete_topics(bootstrap, list(topics.values()))
    return rows


def profile(count: int) -> None:
    """Where the time of `--rate max` goes, without Kafka: generation and serialization alone,
    then (if --bootstrap answers) with each client; cProfile top functions."""
    import cProfile
    import pstats

    from producer.generate import EventClock, OrderGenerator

    gen = OrderGenerator(1, clock=EventClock(0, 1.0))
    t = time.perf_counter()
    for _ in range(count):
        gen.next_record()
    dt = time.perf_counter() - t
    print(f"generation + serialization alone: {count / dt:,.0f} events/s ({dt / count * 1e6:.1f} us/event)")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(min(count, 100_000)):
        gen.next_record()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--kafka-libs", default=str(ROOT / "target" / "kafka" / "libs"),
                    help="folder with the Kafka jars (kafka-tools for ProducerPerformance)")
    ap.add_argument("--clients", default="confluent-kafka,kafka-python")
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=256 * 1024)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best is reported")
    ap.add_argument("--accuracy", action="store_true", help="also the 30 s rate-accuracy runs")
    ap.add_argument("--accuracy-seconds", type=int, default=30)
    ap.add_argument("--profile", action="store_true", help="only profile generation and exit")
    args = ap.parse_args()

    if args.profile:
        profile(args.events)
        return
    print(f"machine: {machine()}")
    print(f"clients: {versions()}")
    topic = f"bench.orders.{uuid.uuid4().hex[:8]}"
    create_topic(args.bootstrap, topic, args.partitions)
    payload, avg = payload_file()
    print(f"topic {topic} ({args.partitions} partitions), {args.events:,} events per run, avg value {avg:.0f} bytes")
    results: dict[str, float] = {}
    try:
        for client in args.clients.split(","):
            best = max((pipectl_run(args.bootstrap, topic, args.events, client) for _ in range(args.repeat)),
                       key=lambda s: s["throughput"])
            results[f"pipectl produce orders --rate max ({client})"] = best["throughput"]
            print(f"pipectl ({client}): {best['throughput']:,.0f} events/s acknowledged "
                  f"(send {best['rate_achieved']:,.0f}/s, flush {best['flush_s']:.2f}s)")
        best_tool = max((perf_tool(Path(args.kafka_libs), args.bootstrap, topic, args.events, payload,
                                   args.linger_ms, args.batch_size) for _ in range(args.repeat)),
                        key=lambda r: r["throughput"])
        results["kafka-producer-perf-test (Java)"] = best_tool["throughput"]
        print(f"ProducerPerformance: {best_tool['line']}")
    finally:
        delete_topics(args.bootstrap, [topic])
    tool = results["kafka-producer-perf-test (Java)"]
    print()
    print(f"| producer ({args.events:,} events, ~{avg:.0f} B, acks=all, idempotent) | events/s | vs Kafka tool |")
    print("|---|---:|---:|")
    for name, value in results.items():
        print(f"| {name} | {value:,.0f} | {value / tool:.2f} |")
    if args.accuracy:
        rows = accuracy(args.bootstrap, args.accuracy_seconds)
        print()
        print(f"| target/s | sent in {args.accuracy_seconds} s | on topic | achieved (summary) | error | achieved (topic timestamps) | error |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['target']:,} | {r['sent']:,} | {r['on_topic']:,} | {r['summary_rate']:,.3f} | "
                  f"{r['error_pct']:+.2f} % | {r['topic_rate']:,.3f} | {r['topic_error_pct']:+.2f} % |")


if __name__ == "__main__":
    main()
