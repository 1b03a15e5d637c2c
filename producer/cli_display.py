"""How the producer looks on a terminal (CLI code: uses Rich). Shared by both command lines.

- `make_reporter(console)`: a live Rich display on a terminal (target and achieved rate, sent,
  acked, failed, elapsed), plain periodic lines otherwise. All of it goes to `console`, which the
  callers point at stderr.
- `render_summary`, `render_dry_run`: the results, for text output.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from producer.send import DryRun, ProduceSummary, Progress

PLAIN_INTERVAL_S = 5.0


def _rate(rate: float | None) -> str:
    if rate is None:
        return "max"
    return f"{rate:,.2f}/s" if rate < 100 else f"{rate:,.0f}/s"


class PlainReporter:
    """For logs and pipes: one line per phase, and a progress line every few seconds."""

    def __init__(self, console: Console, interval_s: float = PLAIN_INTERVAL_S):
        self.console = console
        self.interval_s = interval_s
        self._next = time.monotonic() + interval_s

    def step(self, message: str) -> None:
        self.console.out(f"… {message}", highlight=False)

    def done(self, message: str) -> None:
        self.console.out(f"✓ {message}", highlight=False)

    def warn(self, message: str) -> None:
        self.console.out(f"warning: {message}", highlight=False)

    def progress(self, p: Progress) -> None:
        now = time.monotonic()
        if now < self._next or p.phase != "sending":
            return
        self._next = now + self.interval_s
        self.console.out(
            f"[{p.elapsed_s:7.1f}s] sent {p.sent:,}  acked {p.acked:,}  failed {p.failed:,}  "
            f"rate {_rate(p.rate_avg)} (target {_rate(p.target_rate)})",
            highlight=False,
        )

    def close(self) -> None:
        pass


class LiveReporter(PlainReporter):
    """For terminals: a small live table, redrawn a few times a second."""

    def __init__(self, console: Console):
        super().__init__(console)
        self.live: Live | None = None

    def step(self, message: str) -> None:
        self.console.print(f"[dim]…[/dim] {message}", highlight=False)

    def done(self, message: str) -> None:
        self.console.print(f"[green]✓[/green] {message}", highlight=False)

    def _table(self, p: Progress) -> Table:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("", "target", "achieved", "now", "sent", "acked", "failed", "malformed", "late", "elapsed"):
            table.add_column(column, justify="right")
        table.add_row(
            p.phase,
            _rate(p.target_rate),
            _rate(p.rate_avg),
            _rate(p.rate_now) if p.phase == "sending" else "",
            f"{p.sent:,}",
            f"{p.acked:,}",
            f"[red]{p.failed:,}[/red]" if p.failed else "0",
            f"{p.malformed:,}",
            f"{p.late:,}",
            f"{p.elapsed_s:.1f}s",
        )
        return table

    def progress(self, p: Progress) -> None:
        if self.live is None:
            self.live = Live(self._table(p), console=self.console, refresh_per_second=8, transient=False)
            self.live.start()
        else:
            self.live.update(self._table(p))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def make_reporter(console: Console, quiet: bool = False) -> PlainReporter:
    """Live display on a terminal, plain lines otherwise; `quiet` (with --stdout) shows nothing
    until the summary."""
    if quiet:
        return _Quiet(console)
    return LiveReporter(console) if console.is_terminal else PlainReporter(console)


class _Quiet(PlainReporter):
    def step(self, message: str) -> None:
        pass

    def done(self, message: str) -> None:
        pass

    def progress(self, p: Progress) -> None:
        pass


def summary_lines(s: ProduceSummary) -> list[str]:
    where = "stdout" if s.sink == "stdout" else f"{s.topic} at {s.bootstrap}"
    lines = []
    head = f"{s.sent:,} events to {where}"
    if s.sink == "kafka":
        head += f" ({s.client}, key {s.key}, {s.partitions} partitions)"
    lines.append(("stopped by Ctrl-C: " if s.interrupted else "") + head)
    if s.sink == "kafka":
        lines.append(
            f"  acknowledged {s.acked:,}   failed {s.failed:,}"
            + (f"   unconfirmed {s.unconfirmed:,}" if s.unconfirmed else "")
        )
    kinds = ", ".join(f"{k} {v:,}" for k, v in s.malformed_kinds.items())
    lines.append(
        f"  valid {s.valid:,}   malformed {s.malformed:,}" + (f" ({kinds})" if kinds else "") + f"   late {s.late:,}"
    )
    if set(s.schema_versions) - {"1"}:  # only when version 2 was asked for: version 1 output stays as it was
        lines.append("  schema versions " + ", ".join(f"v{k} {v:,}" for k, v in sorted(s.schema_versions.items())))
    lines.append(f"  rate {_rate(s.rate_achieved)} (target {_rate(s.rate_target)}) over {s.elapsed_s:.2f}s")
    if s.first_error:
        lines.append(f"  first error: {s.first_error}")
    return lines


def render_summary(console: Console, summary: ProduceSummary) -> None:
    for line in summary_lines(summary):
        console.out(line, highlight=False)


def render_summary_stderr(console: Console, summary: ProduceSummary) -> None:
    """With --stdout the events own stdout: the summary goes to stderr."""
    render_summary(Console(stderr=True, highlight=False, soft_wrap=True), summary)


def render_dry_run(console: Console, dry: DryRun) -> None:
    console.out(
        f"# dry run: {len(dry.records)} events for topic {dry.topic} (key {dry.key}); nothing sent", highlight=False
    )
    for i, record in enumerate(dry.records, 1):
        label = " (malformed)" if record["malformed"] else ""
        console.out(f"# {i} key={record['key']}{label}", highlight=False)
        value = record["value"]
        text = json.dumps(value, indent=2, ensure_ascii=False) if not isinstance(value, str) else value
        console.out(text, highlight=False)


class reporting:
    """`with reporting(console) as reporter:` closes the live display however the run ends."""

    def __init__(self, console: Console, quiet: bool = False):
        self.reporter = make_reporter(console, quiet)

    def __enter__(self) -> PlainReporter:
        return self.reporter

    def __exit__(self, *exc: Any) -> None:
        self.reporter.close()
