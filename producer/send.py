"""Run the producer: generate, pace, send (or print), account for every event, report.

    from producer.options import ProduceConfig
    from producer.send import produce
    summary = produce(ProduceConfig(bootstrap_servers="127.0.0.1:9092", rate=100, count=1000))
    summary.to_dict()  # sent, acked, failed, valid, malformed, late, rate_achieved, ...

`produce` never prints: progress goes to the `reporter` (see Reporter below); the result is the
returned ProduceSummary. Ctrl-C (SIGINT) stops generating, flushes what is in flight and
returns the summary with `interrupted=True`.

About 400 lines: the send loop, its accounting (ProduceSummary) and the sinks it drives belong
together; the clients live in producer/clients.py, generation in producer/generate.py.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from producer.clients import open_client
from producer.generate import EventClock, OrderGenerator, new_seed
from producer.options import ProduceConfig
from producer.rate import Pacer

REPORT_INTERVAL_S = 0.25
CHUNK = 512  # events generated between two looks at the clock when nothing holds us back


@dataclass
class Progress:
    """A snapshot for live displays."""

    target_rate: float | None
    sent: int
    acked: int
    failed: int
    valid: int
    malformed: int
    late: int
    elapsed_s: float
    rate_now: float  # over the last report interval
    rate_avg: float  # since the start
    phase: str = "sending"  # sending | flushing | done


class Reporter(Protocol):
    """What `produce` tells its caller while it runs. pipectl's Output satisfies step/done/warn;
    `progress` is optional (looked up with getattr)."""

    def step(self, message: str) -> None: ...

    def done(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class Silent:
    def step(self, message: str) -> None:
        pass

    def done(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def progress(self, snapshot: Progress) -> None:
        pass


@dataclass
class ProduceSummary:
    topic: str
    bootstrap: str
    sink: str  # kafka | stdout
    client: str
    rate_target: float | None
    sent: int = 0
    acked: int = 0
    failed: int = 0
    valid: int = 0
    malformed: int = 0
    late: int = 0
    malformed_kinds: dict[str, int] = field(default_factory=dict)
    schema_versions: dict[str, int] = field(default_factory=dict)  # records per contract version
    elapsed_s: float = 0.0  # sending, from the first event to the last
    flush_s: float = 0.0
    rate_achieved: float = 0.0
    seed: int | None = None
    key: str = "customer_id"
    partitions: int = 0
    interrupted: bool = False
    stopped_by: str = ""  # count | duration | interrupt | error
    first_error: str | None = None

    @property
    def unconfirmed(self) -> int:
        """Sent but neither acknowledged nor failed (only after an aborted flush)."""
        return self.sent - self.acked - self.failed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.unconfirmed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "bootstrap": self.bootstrap,
            "sink": self.sink,
            "client": self.client,
            "key": self.key,
            "partitions": self.partitions,
            "seed": self.seed,
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "unconfirmed": self.unconfirmed,
            "valid": self.valid,
            "malformed": self.malformed,
            "malformed_kinds": dict(self.malformed_kinds),
            "schema_versions": dict(self.schema_versions),
            "late": self.late,
            "elapsed_s": round(self.elapsed_s, 3),
            "flush_s": round(self.flush_s, 3),
            "rate_target": self.rate_target,
            "rate_achieved": round(self.rate_achieved, 3),
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "first_error": self.first_error,
        }


@dataclass
class DryRun:
    """What `--dry-run` shows: the first records, as they would be sent."""

    topic: str
    key: str
    seed: int | None
    records: list[dict[str, Any]]  # {"key": str|None, "value": parsed JSON or raw text, "valid": bool}

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": True, "topic": self.topic, "key": self.key, "seed": self.seed, "records": self.records}


def make_generator(config: ProduceConfig) -> OrderGenerator:
    seed = config.seed if config.seed is not None else new_seed()
    if config.rate is None:
        step_ms = 1.0
    else:
        step_ms = 1000.0 / config.rate
    clock = EventClock(config.start_time_ms, step_ms)
    return OrderGenerator(
        seed,
        key=config.key,
        clock=clock,
        late_ratio=config.late_ratio,
        max_lateness_ms=int(config.max_lateness_s * 1000),
        malformed_ratio=config.malformed_ratio,
        schema_version=config.schema_version,
        v2_share=config.v2_share,
    )


def dry_run(config: ProduceConfig) -> DryRun:
    """Generate `config.sample` records without sending them."""
    import json

    gen = make_generator(config)
    records = []
    for _ in range(config.sample):
        before = gen.counters.malformed
        key, value = gen.next_record()
        text = value.decode()
        try:
            shown: Any = json.loads(text)
        except ValueError:
            shown = text
        records.append(
            {
                "key": key.decode() if key is not None else None,
                "value": shown,
                "malformed": gen.counters.malformed > before,
            }
        )
    return DryRun(config.topic, config.key, config.seed, records)


class _StdoutSink:
    """Writes each record as one line (the value bytes; keys are not shown)."""

    name = "stdout"
    partitions = 0
    first_error = None

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.buffer: list[bytes] = []
        self.sent = 0

    def send(self, key: bytes | None, value: bytes) -> None:
        self.buffer.append(value)
        self.sent += 1
        if len(self.buffer) >= 256:
            self._write()

    def _write(self) -> None:
        if self.buffer:
            self.buffer.append(b"")
            self.stream.write(b"\n".join(self.buffer))
            self.buffer = []

    def poll(self) -> None:
        self._write()
        self.stream.flush()

    def counts(self) -> tuple[int, int]:
        return self.sent - len(self.buffer), 0

    def flush(self, timeout: float) -> bool:
        self.poll()
        return True

    def close(self) -> None:
        pass


class _StopFlag:
    """Set by SIGINT (first Ctrl-C) so the loop ends between two events, never inside a client call."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:  # second Ctrl-C: stop waiting for the flush too
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


def produce(
    config: ProduceConfig,
    reporter: Any = None,
    *,
    stdout: IO[bytes] | None = None,
) -> ProduceSummary:
    """Run the producer as configured and return its summary. Raises ProducerError subclasses
    (BrokerUnreachable, TopicNotFound, ...) before anything is sent when Kafka is not usable."""
    reporter = reporter or Silent()
    progress = getattr(reporter, "progress", None)
    gen = make_generator(config)
    if config.stdout:
        sink: Any = _StdoutSink(stdout or sys.stdout.buffer)
    else:
        reporter.step(f"connecting to Kafka at {config.bootstrap_servers}")
        sink = open_client(config)
        reporter.done(f"connected ({sink.name}); topic {config.topic} has {sink.partitions} partitions")
    summary = ProduceSummary(
        topic=config.topic,
        bootstrap=config.bootstrap_servers,
        sink="stdout" if config.stdout else "kafka",
        client=sink.name,
        rate_target=config.rate,
        seed=config.seed,
        key=config.key,
        partitions=sink.partitions,
    )
    try:
        with _StopFlag() as stop:
            _loop(config, gen, sink, stop, summary, progress)
            summary.interrupted = stop.set
            flush_start = time.monotonic()
            if progress:
                progress(_snapshot(config, gen, sink, summary, summary.elapsed_s, 0.0, "flushing"))
            try:
                sink.flush(config.flush_timeout_s)
            except KeyboardInterrupt:
                summary.interrupted = True
            summary.flush_s = time.monotonic() - flush_start
            if progress:
                progress(_snapshot(config, gen, sink, summary, summary.elapsed_s, 0.0, "done"))
    finally:
        summary.acked, summary.failed = sink.counts()
        summary.first_error = sink.first_error
        summary.valid = gen.counters.valid
        summary.malformed = gen.counters.malformed
        summary.late = gen.counters.late
        summary.malformed_kinds = {k: v for k, v in gen.counters.malformed_kinds.items() if v}
        summary.schema_versions = {str(k): v for k, v in gen.counters.versions.items() if v}
        sink.close()
    return summary


def _snapshot(
    config: ProduceConfig,
    gen: OrderGenerator,
    sink: Any,
    summary: ProduceSummary,
    elapsed: float,
    rate_now: float,
    phase: str = "sending",
) -> Progress:
    acked, failed = sink.counts()
    return Progress(
        target_rate=config.rate,
        sent=summary.sent,
        acked=acked,
        failed=failed,
        valid=gen.counters.valid,
        malformed=gen.counters.malformed,
        late=gen.counters.late,
        elapsed_s=elapsed,
        rate_now=rate_now,
        rate_avg=summary.rate_achieved,
        phase=phase,
    )


def _loop(
    config: ProduceConfig,
    gen: OrderGenerator,
    sink: Any,
    stop: _StopFlag,
    summary: ProduceSummary,
    progress: Any,
) -> None:
    next_record = gen.next_record
    send = sink.send
    monotonic = time.monotonic
    sleep = time.sleep
    count = config.count
    start = monotonic()
    deadline = start + config.duration_s if config.duration_s else None
    pacer = Pacer(config.rate, start) if config.rate else None
    sent = 0
    first_t = last_t = start
    next_report = start + REPORT_INTERVAL_S
    last_report_t, last_report_sent = start, 0
    summary.stopped_by = "interrupt"
    while not stop.set:
        now = monotonic()
        if deadline is not None and now >= deadline:
            summary.stopped_by = "duration"
            break
        if count is not None and sent >= count:
            summary.stopped_by = "count"
            break
        if now >= next_report:
            _account(summary, sent, first_t, last_t, paced=pacer is not None)
            if progress:
                dt = now - last_report_t
                rate_now = (sent - last_report_sent) / dt if dt else 0.0
                progress(_snapshot(config, gen, sink, summary, now - start, rate_now))
            else:
                sink.poll()
            last_report_t, last_report_sent = now, sent
            next_report = now + REPORT_INTERVAL_S
        if pacer is not None:
            n = pacer.available(now)
            if n == 0:
                # Sleep until the next event is due, but wake for reports, the deadline and Ctrl-C.
                wake = min(pacer.due_time(), next_report, deadline or next_report)
                sink.poll()
                pause = wake - monotonic()
                if pause > 0:
                    sleep(min(pause, 0.05))
                continue
            n = min(n, CHUNK)
        else:
            n = CHUNK
        if count is not None:
            n = min(n, count - sent)
        for _ in range(n):
            key, value = next_record()
            send(key, value)
        if pacer is not None:
            if sent == 0:
                first_t = now
            last_t = now
            pacer.take(n)
        else:
            last_t = monotonic()
        sent += n
    if pacer is None:
        last_t = monotonic()
    _account(summary, sent, first_t, last_t, paced=pacer is not None)


def _account(summary: ProduceSummary, sent: int, first_t: float, last_t: float, paced: bool = True) -> None:
    """The achieved rate. Paced: between the first and the last event, (sent - 1) / (t_last -
    t_first), which is exactly the rate when every event left on time. As fast as possible:
    sent / (time from the start to the end of the last send)."""
    summary.sent = sent
    summary.elapsed_s = last_t - first_t
    if summary.elapsed_s <= 0:
        summary.rate_achieved = float(sent)
    elif paced:
        summary.rate_achieved = (sent - 1) / summary.elapsed_s if sent > 1 else float(sent)
    else:
        summary.rate_achieved = sent / summary.elapsed_s
