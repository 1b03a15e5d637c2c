"""The one wait helper: a failing probe is "not yet", except GaveUpError, which ends the wait at once."""

from __future__ import annotations

import pytest

from pipectl.errors import GaveUpError, UnhealthyError
from pipectl.wait import wait_until


def test_a_probe_that_raises_is_retried_and_its_last_error_is_the_reason():
    calls = []

    def check():
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(UnhealthyError) as err:
        wait_until(check, what="kafka", timeout=0.3, interval=0.05)
    assert len(calls) > 1
    assert err.value.message == "kafka did not become healthy within 0s (ConnectionError: refused)"


def test_gave_up_ends_the_wait_at_once():
    calls = []

    def check():
        calls.append(1)
        raise GaveUpError("job 1234 ended as FAILED", hint="see the logs")

    with pytest.raises(GaveUpError) as err:
        wait_until(check, what="job", timeout=60, interval=0.05)
    assert calls == [1]
    assert err.value.message == "job 1234 ended as FAILED"
