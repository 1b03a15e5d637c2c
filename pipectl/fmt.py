"""The one formatter for ages and sizes shown to people (status, verify, job status, maintain)."""

from __future__ import annotations


def age(seconds: float | None) -> str:
    """3s, 119s, 3m, 2.0h, 2.3d; '-' when unknown. Negative ages (clock skew) show as 0s."""
    if seconds is None:
        return "-"
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def size(n: float | None) -> str:
    """512 B, 4.5 KiB, 20.1 MiB, 3.0 GiB; '-' when unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
