"""tablecount.read_ahead: the stream engine's producer thread (pure control flow)."""

from __future__ import annotations

import threading

import pytest

from pipectl.tablecount import read_ahead


def test_yields_every_item_in_order():
    assert list(read_ahead(iter(range(1000)), 2)) == list(range(1000))


def test_a_producer_error_is_raised_in_the_consumer_after_what_came_before():
    def items():
        yield 1
        yield 2
        raise OSError("file gone")

    got = []
    with pytest.raises(OSError, match="file gone"):
        for item in read_ahead(items(), 2):
            got.append(item)
    assert got == [1, 2]


def test_at_most_depth_items_wait_and_an_early_stop_stops_the_producer():
    produced = []
    ended = threading.Event()

    def items():
        try:
            for i in range(100):
                produced.append(i)
                yield i
        finally:
            ended.set()

    it = read_ahead(items(), 2)
    assert next(it) == 0
    threading.Event().wait(0.3)  # the producer runs ahead until the queue is full
    assert len(produced) <= 1 + 2 + 1  # the one taken, two waiting, one blocked in put
    it.close()
    assert ended.wait(5)
    assert len(produced) < 100
