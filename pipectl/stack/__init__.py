"""Local runtimes behind one interface: `get_stack(settings)` returns the native or docker stack."""

from __future__ import annotations

from pipectl.config import Settings


def get_stack(settings: Settings, reporter=None):
    from pipectl.stack.native import NativeStack

    from pipectl.progress import SILENT

    return NativeStack(settings, reporter or SILENT)
