"""Sparklines: a list of numbers as one line of ▁▂▃▄▅▆▇█ (None: a gap)."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int | None = None) -> str:
    """The last `width` values drawn from ▁ (the lowest, or zero) to █ (the highest)."""
    if width is not None:
        values = values[-width:]
    present = [v for v in values if v is not None]
    if not present:
        return " " * len(values)
    low, high = min(0.0, min(present)), max(present)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(BARS[0])
        else:
            out.append(BARS[min(len(BARS) - 1, int((v - low) / span * (len(BARS) - 1) + 0.5))])
    return "".join(out)
