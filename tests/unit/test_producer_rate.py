"""Pacing logic with a fake clock, and the send loop's accounting with the stdout sink."""

from __future__ import annotations

import io

import pytest

from producer.options import ProduceConfig
from producer.rate import Pacer
from producer.send import produce


def simulate(rate: float, seconds: float, tick: float, stalls: dict[float, float] | None = None):
    """Drive a Pacer like the send loop does; return the send times."""
    now = 0.0
    pacer = Pacer(rate, now)
    sent_at: list[float] = []
    stalls = dict(stalls or {})
    while now < seconds:
        for at, length in list(stalls.items()):
            if now >= at:
                now += length
                del stalls[at]
        if now >= seconds:
            break
        n = pacer.available(now)
        if n:
            sent_at.extend([now] * n)
            pacer.take(n)
        else:
            now = min(now + tick, pacer.due_time()) if pacer.wait(now) > tick else pacer.due_time()
            continue
        now += tick
    return sent_at


@pytest.mark.parametrize("rate", [0.2, 1, 10, 100, 1000, 10_000])
def test_exact_count_over_30s(rate):
    sent = simulate(rate, 30.0, tick=0.0001)
    assert len(sent) == pytest.approx(rate * 30, abs=1)


def test_fractional_rate_spacing():
    sent = simulate(0.2, 30.0, tick=0.01)
    assert sent == pytest.approx([0, 5, 10, 15, 20, 25])


def test_short_stall_is_caught_up():
    # a 50 ms stall at 10,000/s: the 500 missed events go out at once, the total stays exact
    sent = simulate(10_000, 2.0, tick=0.001, stalls={1.0: 0.05})
    assert len(sent) == pytest.approx(20_000, abs=2)


def test_long_stall_does_not_burst_far_beyond_target():
    rate = 1000
    sent = simulate(rate, 10.0, tick=0.001, stalls={2.0: 3.0})
    after = [t for t in sent if t >= 5.0]
    burst = sum(1 for t in after if t < after[0] + 0.001)
    assert burst <= rate * 0.1 + 1  # at most max_lag (0.1 s) worth at once
    # in every 1 s window after the stall the rate stays near the target
    for start in (5.0, 6.0, 7.0, 8.0):
        in_window = sum(1 for t in sent if start <= t < start + 1)
        assert in_window <= rate * 1.1 + 1
    assert len(sent) < rate * 10 * 0.75  # the lost 3 s are not made up


def test_stall_at_a_slow_rate_sends_one_event_not_a_burst():
    pacer = Pacer(0.2, 0.0)
    assert pacer.available(0.0) == 1
    pacer.take(1)
    assert pacer.available(100.0) == 1  # 95 s late: one event, then the schedule resumes
    pacer.take(1)
    assert pacer.available(100.1) == 0
    assert pacer.wait(100.0) == pytest.approx(4.9, abs=0.11)


def test_pacer_rejects_bad_rates():
    for bad in (0, -1, float("inf")):
        with pytest.raises(ValueError):
            Pacer(bad, 0.0)


def _stdout_run(**kw):
    buf = io.BytesIO()
    summary = produce(ProduceConfig(stdout=True, seed=1, **kw), stdout=buf)
    return summary, buf.getvalue().splitlines()


def test_count_run_accounts_for_every_event():
    summary, lines = _stdout_run(rate=None, count=5000, malformed_ratio=0.1, late_ratio=0.1)
    assert summary.sent == summary.acked == len(lines) == 5000
    assert summary.valid + summary.malformed == 5000 and summary.failed == 0
    assert summary.stopped_by == "count" and summary.ok
    assert sum(summary.malformed_kinds.values()) == summary.malformed
    from producer.contract import is_valid

    assert sum(1 for line in lines if not is_valid(line)) == summary.malformed


def test_real_clock_rate_over_one_second():
    summary, lines = _stdout_run(rate=2000, duration_s=1.0)
    assert len(lines) == summary.sent
    assert summary.sent == pytest.approx(2000, rel=0.02)
    assert summary.rate_achieved == pytest.approx(2000, rel=0.02)
    assert summary.stopped_by == "duration"
