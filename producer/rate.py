"""Pacing: when may the next events go out.

Event k of a run is due at `start + k / rate`. `available(now)` says how many are due. After a
stall (GC, a blocked send, a suspended process) the producer catches up at most `max_lag`
seconds' worth of events at once: older debt is forgiven by moving the schedule forward, so
the producer never bursts far beyond the target to make up for lost time.
"""

from __future__ import annotations

import math

DEFAULT_MAX_LAG_S = 0.1


class Pacer:
    def __init__(self, rate: float, start: float, max_lag_s: float = DEFAULT_MAX_LAG_S):
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive finite number")
        self.rate = rate
        self.interval = 1.0 / rate
        self.start = start  # moves forward when debt is forgiven
        self.max_lag = max_lag_s
        self.issued = 0  # events handed out since `start`
        self.forgiven_s = 0.0  # schedule time dropped after stalls

    def due_time(self) -> float:
        """When the next event is due."""
        return self.start + self.issued * self.interval

    def available(self, now: float) -> int:
        """How many events may be sent now (0 when the next one is not yet due)."""
        lag = now - self.due_time()
        if lag < 0:
            return 0
        if lag > self.max_lag:
            # Forgive what is older than max_lag: shift the schedule forward, keep the count.
            self.forgiven_s += lag - self.max_lag
            self.start += lag - self.max_lag
            lag = self.max_lag
        return int(lag * self.rate) + 1

    def take(self, n: int) -> None:
        """Record that n events were sent."""
        self.issued += n

    def wait(self, now: float) -> float:
        """Seconds until the next event is due (0 if already due)."""
        return max(0.0, self.due_time() - now)
