"""The one environment builder for the processes pipectl starts (Kafka, the Flink JVMs, the
TaskManager supervisor, `flink run` and the job's Python, the rehearsal's processes).

A child gets an allow-list of the user's environment, never the whole of it: a shell holds AWS
keys, session tokens, database URLs and whatever else, and Flink logs the environment of the
processes it starts (masking only names it knows). What a child needs beyond the allow-list the
caller adds by name. Stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# The variables a child keeps from the user's environment: where programs are (PATH), whose they
# are (HOME, USER, LOGNAME), how to print text (LANG, LC_*), the time zone, the Java to run and
# where temporary files go. Nothing that can hold a credential.
ALLOWED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "JAVA_HOME", "TMPDIR")
ALLOWED_PREFIXES = ("LC_",)


def allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith(ALLOWED_PREFIXES)


def child_env(extra: Mapping[str, str] | None = None, *, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of `environ` (default: this process's environment), plus `extra`:
    the variables the caller means the child to have (they win over the allow-listed ones)."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if allowed(k)}
    env.update(extra or {})
    return env


__all__ = ["ALLOWED", "ALLOWED_PREFIXES", "allowed", "child_env"]
