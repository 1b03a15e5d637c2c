"""The options of `produce orders`, defined once for both command lines (CLI code: uses Typer).

`orders_command(run)` returns a function whose signature Typer reads; calling it builds a
RawOptions and hands it to `run`. pipectl/cli/produce.py and producer/cli.py both register it,
so flags, defaults and help text cannot drift apart.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional
from collections.abc import Callable

import typer

from producer.options import RawOptions, SEEDED_START

ORDERS_HELP = f"""Send realistic orders.created.v1 events (Faker-made customers, products and addresses).

Stops at --count, after --duration, or on Ctrl-C; then flushes what is in flight and reports
sent, acknowledged and failed events (exit 0 when every event was acknowledged, 1 if some failed,
4 if Kafka cannot be reached). Delivery uses acks=all and an idempotent producer.

event_time: without --seed and --start-time it is the current UTC time when the event is made.
With --start-time (or with --seed, which starts at {SEEDED_START}) it is synthetic: the first
event gets the start time and each next one 1/rate later, so the same --seed gives byte-identical
output (same event ids too: they are drawn from the seeded generator).
"""

# name -> (flags, default, help, metavar); str options are checked by producer.options.
_OPTIONS: list[tuple[str, tuple[str, ...], Any, str, Optional[str]]] = [
    (
        "rate",
        ("--rate",),
        None,
        "Events per second: fractions allowed (0.2 = one every 5 s), or 'max'. Default 10; max with --stdout/--dry-run.",
        "RATE",
    ),
    ("count", ("--count", "-n"), None, "Stop after N events.", "N"),
    ("duration", ("--duration",), None, "Stop after this long: 500ms, 30s, 10m, 1h.", "DURATION"),
    ("seed", ("--seed",), None, "Seed for reproducible output (same seed, same bytes).", "N"),
    (
        "start_time",
        ("--start-time",),
        None,
        "event_time of the first event (ISO-8601 UTC, or 'now'); later events follow at 1/rate.",
        "TIME",
    ),
    ("key", ("--key",), "customer_id", "Message key: customer_id, order_id or none.", "KEY"),
    (
        "late_ratio",
        ("--late-ratio",),
        "0",
        "Share of events (0-1) whose event_time is moved back by between half and all of --max-lateness.",
        "R",
    ),
    ("max_lateness", ("--max-lateness",), "10m", "How late a late event can be.", "DURATION"),
    (
        "malformed_ratio",
        ("--malformed-ratio",),
        "0",
        "Share of records (0-1) that break the contract: not JSON, missing event_id/event_time, "
        "event_time not a timestamp, total_amount not a number, items not an array.",
        "R",
    ),
    (
        "schema_version",
        ("--schema-version",),
        None,
        "Contract version of the events: 1 (default) or 2 (adds discount_amount and coupon_code; "
        "total_amount = sum of the lines - discount_amount).",
        "1|2",
    ),
    (
        "schema_version_mix",
        ("--schema-version-mix",),
        None,
        "Instead of --schema-version: the share of events (0-1) that are version 2, the rest version 1.",
        "R",
    ),
    ("stdout", ("--stdout",), False, "Write the events as JSON lines to stdout instead of sending them.", None),
    ("dry_run", ("--dry-run",), False, "Show a few events (see --sample) and exit; sends nothing.", None),
    ("sample", ("--sample",), None, "How many events --dry-run shows (default 5).", "N"),
    ("topic", ("--topic",), None, "Kafka topic (default: the pipeline's, orders.created.v1).", "TOPIC"),
    (
        "bootstrap_servers",
        ("--bootstrap-servers", "--bootstrap"),
        None,
        "Kafka bootstrap servers host:port[,host:port] (default: the local broker).",
        "SERVERS",
    ),
    (
        "client",
        ("--client",),
        "auto",
        "Kafka client: auto (confluent-kafka if installed, else kafka-python), kafka-python, confluent-kafka.",
        "CLIENT",
    ),
    ("connect_timeout", ("--connect-timeout",), "5s", "How long to wait for Kafka to answer at the start.", "DURATION"),
    (
        "delivery_timeout",
        ("--delivery-timeout",),
        "30s",
        "How long an event may wait for the broker's acknowledgement (e.g. through a broker restart) "
        "before it is counted as failed.",
        "DURATION",
    ),
]
_OUTPUT = ("output", ("--output",), "text", "text, or json for the final summary as one JSON document.", "FORMAT")


def orders_command(run: Callable[[RawOptions], Any], *, with_output: bool = False) -> Callable[..., Any]:
    """A Typer command function for `produce orders` that calls `run(RawOptions)`."""
    params = []
    for name, flags, default, help_text, metavar in _OPTIONS + ([_OUTPUT] if with_output else []):
        if isinstance(default, bool):
            option = typer.Option(default, *flags, help=help_text)
            annotation: Any = bool
        else:
            option = typer.Option(default, *flags, help=help_text, metavar=metavar, show_default=default is not None)
            annotation = Optional[str]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))

    def orders(**values: Any) -> Any:
        return run(RawOptions(**values))

    orders.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # Typer reads the signature; functions take the attribute at run time
    orders.__doc__ = ORDERS_HELP
    return orders
