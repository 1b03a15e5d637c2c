"""`status --watch` ends on Ctrl-C through a flag the loop checks, not through a KeyboardInterrupt that a
Kafka client call could swallow (pure control flow: collect is a stand-in)."""

from __future__ import annotations

import threading
import time

import importlib

watch_mod = importlib.import_module("pipectl.status.watch")


def test_a_set_stop_ends_the_loop_and_the_wait_between_refreshes(monkeypatch):
    calls = []
    monkeypatch.setattr(watch_mod, "collect", lambda settings, every_s, memory: calls.append(every_s) or len(calls))
    stop = threading.Event()
    seen = []
    began = time.monotonic()
    for status in watch_mod.watch(None, every_s=30, stop=stop):  # type: ignore[arg-type]
        seen.append(status)
        threading.Timer(0.2, stop.set).start()  # Ctrl-C while waiting 30 s for the next refresh
    assert seen == [1]
    assert time.monotonic() - began < 5  # the 30 s wait ended when the flag was set


def test_count_still_bounds_the_loop(monkeypatch):
    monkeypatch.setattr(watch_mod, "collect", lambda settings, every_s, memory: "s")
    assert list(watch_mod.watch(None, every_s=0, count=3)) == ["s", "s", "s"]  # type: ignore[arg-type]
