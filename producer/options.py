"""What a run should do (ProduceConfig) and how option text becomes one, with one-line errors.

Both command lines (`pipectl produce orders` and `python producer/cli.py produce orders`) pass
the option text through `build_config`, so values are checked, and errors worded, in one place.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from typing import Any

from producer import contract
from producer.errors import UsageError
from producer.iam import IamAuth

DEFAULT_TOPIC = contract.TOPIC
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_RATE = 10.0
# With --seed and no --start-time, event_time starts here (so output is byte-identical).
SEEDED_START = "2026-01-01T00:00:00.000Z"
KEYS = ("customer_id", "order_id", "none")
CLIENTS = ("auto", "kafka-python", "confluent-kafka")
MAX_RATE = 10_000_000.0


@dataclass(frozen=True)
class ProduceConfig:
    """One run of the producer. `rate=None` means as fast as possible."""

    topic: str = DEFAULT_TOPIC
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    rate: float | None = DEFAULT_RATE
    count: int | None = None
    duration_s: float | None = None
    seed: int | None = None
    start_time_ms: int | None = None  # None: event_time is the wall clock at generation
    key: str = "customer_id"
    late_ratio: float = 0.0
    max_lateness_s: float = 600.0
    malformed_ratio: float = 0.0
    schema_version: int = 1  # the contract version of every event ...
    v2_share: float | None = None  # ... or this share of version 2 events, the rest version 1
    stdout: bool = False
    dry_run: bool = False
    sample: int = 5
    client: str = "auto"
    connect_timeout_s: float = 5.0
    flush_timeout_s: float = 30.0
    # Client tuning (both clients understand these).
    linger_ms: int = 5
    batch_size: int = 256 * 1024
    compression: str = "none"
    extra_client_config: dict[str, Any] = field(default_factory=dict)
    # Amazon MSK IAM auth (SASL_SSL + OAUTHBEARER); None: PLAINTEXT
    iam: IamAuth | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawOptions:
    """Option values as typed on the command line (strings), before checking."""

    rate: str | None = None
    count: str | None = None
    duration: str | None = None
    seed: str | None = None
    start_time: str | None = None
    key: str = "customer_id"
    late_ratio: str = "0"
    max_lateness: str = "10m"
    malformed_ratio: str = "0"
    schema_version: str | None = None
    schema_version_mix: str | None = None
    stdout: bool = False
    dry_run: bool = False
    sample: str | None = None
    topic: str | None = None
    bootstrap_servers: str | None = None
    client: str = "auto"
    connect_timeout: str = "5s"
    delivery_timeout: str = "30s"
    output: str = "text"  # standalone CLI only; pipectl takes --output globally


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_rate(text: str, flag: str = "--rate") -> float | None:
    """'10' -> 10.0, '0.2' -> 0.2 (one event every 5 s), 'max' -> None (as fast as possible)."""
    value = text.strip().lower()
    if value == "max":
        return None
    if value.endswith("/s"):
        value = value[:-2]
    try:
        rate = float(value)
    except ValueError:
        rate = float("nan")
    if not (rate > 0) or math.isinf(rate) or rate > MAX_RATE:
        raise UsageError(
            f"{flag} must be a positive number of events per second (e.g. 0.2, 10, 5000) or 'max', got {text!r}"
        )
    return rate


def parse_duration(text: str, flag: str) -> float:
    """'30s', '10m', '1h', '500ms' or plain seconds -> seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{flag} must be a positive duration like 500ms, 30s, 10m or 1h, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_ratio(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 <= value <= 1.0):
        raise UsageError(f"{flag} must be a number from 0 to 1, got {text!r}")
    return value


def parse_int(text: str, flag: str, minimum: int) -> int:
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise UsageError(f"{flag} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise UsageError(f"{flag} must be at least {minimum}, got {text!r}")
    return value


def parse_time(text: str, flag: str = "--start-time") -> int:
    """ISO-8601 ('2026-11-27T09:30:00Z', offsets allowed; no offset means UTC) or 'now' -> epoch ms."""
    if text.strip().lower() == "now":
        return int(time.time() * 1000)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} must be an ISO-8601 time like 2026-11-27T09:30:00Z, or 'now', got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def build_config(
    raw: RawOptions,
    *,
    topic: str = DEFAULT_TOPIC,
    bootstrap_servers: str = DEFAULT_BOOTSTRAP,
    iam: IamAuth | None = None,
) -> ProduceConfig:
    """Check the option text and make a ProduceConfig; `topic`/`bootstrap_servers` are the
    defaults used when the options leave them out (pipectl passes its settings here), `iam`
    the MSK IAM auth to use (pipectl's aws environment)."""
    if raw.stdout and raw.dry_run:
        raise UsageError("--stdout and --dry-run cannot be combined", hint="use one of them")
    if raw.sample is not None and not raw.dry_run:
        raise UsageError("--sample only applies with --dry-run", hint="add --dry-run")
    if raw.stdout and raw.output == "json":
        raise UsageError(
            "--output json cannot be combined with --stdout (stdout holds the events)",
            hint="the summary goes to stderr with --stdout",
        )
    if raw.key not in KEYS:
        raise UsageError(f"--key must be one of {', '.join(KEYS)}, got {raw.key!r}")
    if raw.client not in CLIENTS:
        raise UsageError(f"--client must be one of {', '.join(CLIENTS)}, got {raw.client!r}")

    if raw.rate is not None:
        rate = parse_rate(raw.rate)
    else:
        # Looking at events (stdout, dry run) should not make you wait for them.
        rate = None if (raw.stdout or raw.dry_run) else DEFAULT_RATE
    count = parse_int(raw.count, "--count", 1) if raw.count is not None else None
    duration = parse_duration(raw.duration, "--duration") if raw.duration is not None else None
    seed = parse_int(raw.seed, "--seed", 0) if raw.seed is not None else None
    start_ms = parse_time(raw.start_time) if raw.start_time is not None else None
    if start_ms is None and seed is not None:
        start_ms = parse_time(SEEDED_START)
    late_ratio = parse_ratio(raw.late_ratio, "--late-ratio")
    malformed_ratio = parse_ratio(raw.malformed_ratio, "--malformed-ratio")
    if raw.schema_version is not None and raw.schema_version_mix is not None:
        raise UsageError(
            "--schema-version and --schema-version-mix cannot be combined",
            hint="--schema-version-mix R sends a share R of version 2 events and the rest as version 1",
        )
    schema_version = 1
    if raw.schema_version is not None:
        if raw.schema_version.strip() not in ("1", "2"):
            raise UsageError(f"--schema-version must be 1 or 2, got {raw.schema_version!r}")
        schema_version = int(raw.schema_version)
    v2_share = (
        parse_ratio(raw.schema_version_mix, "--schema-version-mix") if raw.schema_version_mix is not None else None
    )
    max_lateness = parse_duration(raw.max_lateness, "--max-lateness")
    if max_lateness < 0.002:
        raise UsageError(f"--max-lateness must be at least 2ms, got {raw.max_lateness!r}")
    sample = parse_int(raw.sample, "--sample", 1) if raw.sample is not None else 5
    connect_timeout = parse_duration(raw.connect_timeout, "--connect-timeout")
    delivery_timeout = parse_duration(raw.delivery_timeout, "--delivery-timeout")
    topic = raw.topic if raw.topic is not None else topic
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", topic or ""):
        raise UsageError(f"--topic must be a Kafka topic name (letters, digits, '.', '_', '-'), got {topic!r}")
    bootstrap = raw.bootstrap_servers if raw.bootstrap_servers is not None else bootstrap_servers
    if not bootstrap or not all(re.fullmatch(r"[^\s:,]+:\d{1,5}", b.strip()) for b in bootstrap.split(",")):
        raise UsageError(f"--bootstrap-servers must be host:port[,host:port...], got {bootstrap!r}")
    return ProduceConfig(
        topic=topic,
        bootstrap_servers=bootstrap,
        rate=rate,
        count=count,
        duration_s=duration,
        seed=seed,
        start_time_ms=start_ms,
        key=raw.key,
        late_ratio=late_ratio,
        max_lateness_s=max_lateness,
        malformed_ratio=malformed_ratio,
        schema_version=schema_version,
        v2_share=v2_share,
        stdout=raw.stdout,
        dry_run=raw.dry_run,
        sample=sample,
        client=raw.client,
        connect_timeout_s=connect_timeout,
        flush_timeout_s=delivery_timeout,
        iam=iam,
    )
