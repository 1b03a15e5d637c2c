"""`pipectl status`: one screen for the whole pipeline, a verdict per stage and overall."""

from __future__ import annotations

import datetime as dt
import signal
import threading

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from pipectl import fmt
from pipectl import status as lib
from pipectl.cli import context
from pipectl.cli.sparkline import sparkline
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, Exit, Outcome, PipectlError
from pipectl.flink.job_state import ENDED_STATES

COLORS = {"healthy": "green", "degraded": "yellow", "down": "red", "unknown": "dim"}


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        interval: float = typer.Option(
            2.0,
            "--interval",
            min=0.2,
            help="Seconds between the two samples of the topic's end offsets (the produce rate); with --watch, seconds between refreshes.",
        ),
        watch: bool = typer.Option(
            False,
            "--watch",
            help="Refresh in place until Ctrl-C, with sparklines of throughput and lag (text output only).",
        ),
    ) -> None:
        """Is data flowing from producer to table? Kafka, Flink and Iceberg side by side.

        Each stage gets a verdict, healthy, degraded or down, with the reason; the overall verdict is
        the worst. Exit code 0 healthy, 6 degraded, 4 down (docs/status.md has the rules and the JSON)."""
        s = context.settings()
        if watch:
            _watch(s, interval)
            return
        result = lib.collect(s, interval)
        context.out().emit(result, render)
        context.finish(result)


def _watch(settings: Settings, interval: float) -> None:
    """Refresh until Ctrl-C. Ctrl-C only asks to stop: the collection under way ends (each of its
    reads has a timeout) and then the command does, with the last status's exit code. A
    KeyboardInterrupt raised inside a Kafka client call can be swallowed by the client
    (kafka-python catches BaseException in its event loop), which left --watch running after
    Ctrl-C; the flag cannot be lost that way. A second Ctrl-C interrupts at once."""
    out = context.out()
    if out.json_mode:
        raise PipectlError(
            "--watch draws on a terminal; it cannot be combined with --output json",
            hint="drop --watch to get one JSON document",
            exit_code=EXIT_USAGE,
        )
    from rich.live import Live  # pulls in rich's terminal control (~0.1 s): only for --watch

    stop = threading.Event()

    def on_interrupt(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        # set from another thread: the handler runs in the main thread, which may hold the Event's
        # own lock at that moment (inside stop.wait), and that lock is not reentrant
        threading.Thread(target=stop.set, daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    last: Outcome = Exit()
    try:
        with Live(console=out.console, auto_refresh=False, transient=False) as live:
            try:
                for st in lib.watch(settings, interval, stop=stop):
                    live.update(view(st, sparklines=True), refresh=True)
                    last = st
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
    context.finish(last)


# ------------------------------------------------------------------------------ rendering
def _num(v, suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}{suffix}"
    return f"{int(v):,}{suffix}"


def _verdict(v: str) -> Text:
    return Text(v.upper() if v != "healthy" else v, style=f"bold {COLORS.get(v, '')}")


def kafka_figures(k: dict) -> str:
    if k.get("topic_exists") is None and k.get("cluster_state") is None:
        return k.get("note") or f"{k.get('bootstrap')}: not reachable"
    lag = k.get("lag") or {}
    parts = [f"topic {k.get('topic')}"]
    if k.get("cluster_state"):
        parts.append(f"MSK {k['cluster_state']}")
    if k.get("partitions") is not None:
        parts.append(f"{k['partitions']} partitions, {_num(k.get('records'))} records")
    if k.get("produce_rate_per_s") is not None:
        parts.append(f"{_num(k['produce_rate_per_s'])}/s produced")
    per = lag.get("per_partition") or {}
    parts.append(
        f"lag {_num(lag.get('total'))}"
        + (" (" + ", ".join(f"p{p} {_num(v)}" for p, v in per.items()) + ")" if per else "")
        + f" for group {k.get('consumer_group')}"
    )
    if k.get("oldest_waiting_s") is not None:
        parts.append(f"oldest waiting {fmt.age(k['oldest_waiting_s'])}")
    return ", ".join(parts)


def flink_figures(f: dict) -> str:
    parts = []
    if f.get("application"):
        parts.append(
            f"application {f['application']} {f.get('application_status') or 'missing'}"
            + (f" v{f['application_version']}" if f.get("application_version") else "")
        )
    elif f.get("reachable"):
        tm = f.get("taskmanagers")
        parts.append(
            f"{tm} TaskManager{'s' if tm != 1 else ''}, {f.get('slots_available')}/{f.get('slots_total')} slots free"
        )
    else:
        return f"{f.get('rest_url')}: not reachable"
    job = f.get("job")
    if job is None:
        parts.append("no order_ingest job" if not f.get("application") else "no job metrics")
        return ", ".join(parts)
    parts.append(
        f"job {job.get('state') or '?'}"
        + (f" up {fmt.age(job['uptime_s'])}" if job.get("uptime_s") is not None else "")
    )
    if job.get("state") in ENDED_STATES:
        return ", ".join(parts)
    parts.append(f"restarts {_num(job.get('restarts'))}")
    cp = job.get("last_checkpoint")
    if cp:
        age = f" {fmt.age(cp['age_s'])} ago" if cp.get("age_s") is not None else ""
        parts.append(
            f"checkpoint{' #' + str(cp['id']) if cp.get('id') is not None else ''}{age} "
            f"({_num(cp.get('duration_ms'))} ms, {fmt.size(cp.get('size_bytes'))})"
        )
    elif job.get("state") == "RUNNING":
        parts.append("no checkpoint yet")
    parts.append(f"{_num(job.get('records_in_per_s'))}/s in, {_num(job.get('records_out_per_s'))}/s out")
    if job.get("backpressure"):
        parts.append(f"backpressure {job['backpressure']}")
    return ", ".join(parts)


def iceberg_figures(i: dict) -> str:
    if not i.get("exists"):
        return f"table {i.get('table')}: missing"
    parts = [f"table {i.get('table')}: {_num(i.get('rows'))} rows"]
    age = i.get("last_commit_age_s")
    parts.append(f"last commit {fmt.age(age)} ago" if age is not None else "no commit yet")
    if i.get("idle"):
        parts.append("idle")
    parts.append(f"{_num(i.get('data_files'))} files (avg {fmt.size(i.get('avg_file_bytes'))})")
    parts.append(f"{_num(i.get('quarantined_rows'))} quarantined")
    return ", ".join(parts)


FIGURES = {"kafka": kafka_figures, "flink": flink_figures, "iceberg": iceberg_figures}


def view(st, sparklines: bool = False):
    d = st.to_dict()
    head = Text.assemble(_verdict(d["verdict"]), "  ", d["reason"])
    when = dt.datetime.fromtimestamp(st.checked_at).strftime("%H:%M:%S")
    sub = Text(f"{d['env']} · checked {when} · exit code {d['exit_code']}", style="dim")
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for name, stage in d["stages"].items():
        table.add_row(name, _verdict(stage["verdict"]), FIGURES[name](stage))
        for problem in stage["problems"]:
            table.add_row("", "", Text(f"↳ {problem}", style=COLORS.get(stage["verdict"], "")))
    parts: list[RenderableType] = [head, sub, Text(""), table]
    if sparklines:
        spark = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
        spark.add_column(style="bold", no_wrap=True)
        spark.add_column(no_wrap=True, style="cyan")
        spark.add_column(no_wrap=True)
        for key, label, suffix in (
            ("produce_rate_per_s", "produced", "/s"),
            ("records_in_per_s", "read by job", "/s"),
            ("lag", "lag", ""),
        ):
            values = d["history"].get(key) or []
            last = next((v for v in reversed(values) if v is not None), None)
            spark.add_row(label, sparkline(values, 40) or " ", _num(last, suffix))
        parts += [Text(""), spark, Text("Ctrl-C to stop", style="dim")]
    return Group(*parts)


def render(console: Console, st) -> None:
    console.print(view(st))
