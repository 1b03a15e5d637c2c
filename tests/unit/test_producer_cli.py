"""Both command lines: `pipectl produce orders` and `python producer/cli.py produce orders`.

Reproducibility, help, option errors (exact one-line messages, exit codes, no traceback) and
the unreachable-broker error. No Kafka needed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from datetime import UTC

ROOT = Path(__file__).resolve().parents[2]
PIPECTL = [sys.executable, "-m", "pipectl"]
STANDALONE = [sys.executable, "producer/cli.py"]
BOTH = [pytest.param(PIPECTL, id="pipectl"), pytest.param(STANDALONE, id="standalone")]


def run(cmd: list[str], *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PIPECTL_ENV", None)
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, capture_output=True, timeout=timeout, env=full_env
    )


def produce(cmd, *args, **kw):
    return run(cmd, "produce", "orders", *args, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stdout_with_seed_is_byte_identical_across_runs_and_command_lines():
    args = ("--stdout", "--seed", "7", "--count", "100")
    outputs = [
        produce(PIPECTL, *args, env={"PYTHONHASHSEED": "1"}),
        produce(PIPECTL, *args, env={"PYTHONHASHSEED": "2"}),
        produce(STANDALONE, *args, env={"PYTHONHASHSEED": "3"}),
    ]
    for r in outputs:
        assert r.returncode == 0, r.stderr
    assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout
    lines = outputs[0].stdout.splitlines()
    assert len(lines) == 100
    first = json.loads(lines[0])
    assert first["event_time"] == "2026-01-01T00:00:00.000Z"
    # the summary goes to stderr, never into the data
    assert b"100 events to stdout" in outputs[0].stderr


def test_other_seed_other_bytes_and_ratios_also_reproducible():
    a = produce(PIPECTL, "--stdout", "--seed", "8", "--count", "300", "--malformed-ratio", "0.2", "--late-ratio", "0.2")
    b = produce(STANDALONE, "--stdout", "--seed", "8", "--count", "300", "--malformed-ratio", "0.2", "--late-ratio", "0.2")
    c = produce(PIPECTL, "--stdout", "--seed", "7", "--count", "300")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout != c.stdout
    assert len(a.stdout.splitlines()) == 300


def test_start_time_and_rate_drive_synthetic_event_time():
    r = produce(PIPECTL, "--stdout", "--seed", "1", "--count", "3", "--rate", "max", "--start-time", "2026-11-27T09:30:00Z")
    times = [json.loads(line)["event_time"] for line in r.stdout.splitlines()]
    assert times == ["2026-11-27T09:30:00.000Z", "2026-11-27T09:30:00.001Z", "2026-11-27T09:30:00.002Z"]


def test_without_seed_event_time_is_now_and_ids_differ():
    a = produce(PIPECTL, "--stdout", "--count", "5")
    b = produce(PIPECTL, "--stdout", "--count", "5")
    assert a.stdout != b.stdout
    from datetime import datetime

    t = datetime.fromisoformat(json.loads(a.stdout.splitlines()[0])["event_time"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - t).total_seconds()) < 60


@pytest.mark.parametrize("cmd", BOTH)
def test_dry_run_shows_sample_and_sends_nothing(cmd):
    port = free_port()  # nothing listens: a dry run must not connect
    r = produce(cmd, "--dry-run", "--sample", "3", "--seed", "5", "--bootstrap-servers", f"127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("# dry run: 3 events for topic orders.created.v1 (key customer_id); nothing sent")
    assert out.count("\n# ") == 3


def test_dry_run_json():
    r = produce(PIPECTL, "--dry-run", "--seed", "5", "--output", "json")
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True and len(doc["records"]) == 5
    assert doc["records"][0]["key"] == doc["records"][0]["value"]["customer"]["customer_id"]


def test_help():
    for cmd, args in (
        (PIPECTL, ("produce", "--help")),
        (PIPECTL, ("produce", "orders", "--help")),
        (STANDALONE, ("--help",)),
        (STANDALONE, ("produce", "--help")),
        (STANDALONE, ("produce", "orders", "--help")),
    ):
        r = run(cmd, *args)
        assert r.returncode == 0, (args, r.stderr)
        assert b"Usage:" in r.stdout
    r = run(PIPECTL, "produce", "orders", "--help")
    for flag in (b"--rate", b"--count", b"--duration", b"--seed", b"--key", b"--late-ratio", b"--max-lateness",
                 b"--malformed-ratio", b"--stdout", b"--dry-run", b"--sample", b"--bootstrap-servers"):
        assert flag in r.stdout


BAD_OPTIONS = [
    (("--rate", "abc"), "error: --rate must be a positive number of events per second (e.g. 0.2, 10, 5000) or 'max', got 'abc'"),
    (("--rate", "0"), "error: --rate must be a positive number of events per second (e.g. 0.2, 10, 5000) or 'max', got '0'"),
    (("--count", "0"), "error: --count must be at least 1, got '0'"),
    (("--count", "ten"), "error: --count must be a whole number, got 'ten'"),
    (("--duration", "soon"), "error: --duration must be a positive duration like 500ms, 30s, 10m or 1h, got 'soon'"),
    (("--late-ratio", "1.5"), "error: --late-ratio must be a number from 0 to 1, got '1.5'"),
    (("--malformed-ratio", "x"), "error: --malformed-ratio must be a number from 0 to 1, got 'x'"),
    (("--key", "email"), "error: --key must be one of customer_id, order_id, none, got 'email'"),
    (("--start-time", "tomorrow"), "error: --start-time must be an ISO-8601 time like 2026-11-27T09:30:00Z, or 'now', got 'tomorrow'"),
    (("--sample", "3"), "error: --sample only applies with --dry-run -- add --dry-run"),
    (("--stdout", "--dry-run"), "error: --stdout and --dry-run cannot be combined -- use one of them"),
    (("--bootstrap-servers", "localhost"), "error: --bootstrap-servers must be host:port[,host:port...], got 'localhost'"),
]


@pytest.mark.parametrize("cmd", BOTH)
@pytest.mark.parametrize("args,message", BAD_OPTIONS, ids=[a[0][0] + "=" + a[0][-1] for a in BAD_OPTIONS])
def test_bad_options_give_one_line_and_exit_2(cmd, args, message):
    r = produce(cmd, *args)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == message
    assert r.stdout == b""


@pytest.mark.parametrize("args,message", [
    (("--nope",), "error: No such option: --nope (Possible options: --topic) -- see 'producer/cli.py produce orders --help'"),
    (("--rate", "5", "extra"), "error: Got unexpected extra argument(s) (extra) -- see 'producer/cli.py produce orders --help'"),
], ids=["--nope", "extra-argument"])
def test_bad_options_of_the_parser_give_one_line_and_exit_2(args, message):
    """Unknown options and stray arguments: Typer's own usage errors, as one line, no traceback."""
    r = produce(STANDALONE, *args)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == message
    assert r.stdout == b""


@pytest.mark.parametrize("cmd", BOTH)
def test_unreachable_broker_one_line_exit_4(cmd):
    port = free_port()
    r = produce(cmd, "--rate", "10", "--count", "5", "--bootstrap-servers", f"127.0.0.1:{port}", "--connect-timeout", "2s")
    assert r.returncode == 4
    err = r.stderr.decode()
    assert err.splitlines()[-1] == (
        f"error: cannot reach Kafka at 127.0.0.1:{port} within 2s -- start it with 'pipectl local up' or pass --bootstrap-servers"
    )
    assert "Traceback" not in err and "rdkafka" not in err


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_unreachable_broker_with_each_client(client):
    pytest.importorskip(client.replace("-", "_") if client != "kafka-python" else "kafka")
    port = free_port()
    r = produce(PIPECTL, "--count", "1", "--client", client, "--bootstrap-servers", f"127.0.0.1:{port}",
                "--connect-timeout", "1s", "--output", "json")
    assert r.returncode == 4
    assert json.loads(r.stdout)["exit_code"] == 4
    assert r.stderr.decode().strip().splitlines()[-1].startswith(f"error: cannot reach Kafka at 127.0.0.1:{port} within 1s")


def test_stdout_and_json_output_conflict():
    r = produce(PIPECTL, "--stdout", "--count", "1", "--output", "json")
    assert r.returncode == 2
    assert "--output json cannot be combined with --stdout" in r.stderr.decode()
