"""The environment of a Java process pipectl starts (Kafka, Flink, their tools) on the system Java."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pipectl.childenv import child_env
from pipectl.errors import NotFoundError


def java_env() -> dict[str, str]:
    """The environment of a Java process we start: the allow-list of pipectl.childenv (never the
    user's AWS keys, tokens or other credentials), with this Python's scripts first on PATH."""
    env = child_env()
    if shutil.which("java", path=env.get("PATH")) is None and not env.get("JAVA_HOME"):
        raise NotFoundError("java is not on PATH", hint="install Java 17 (apt-get install openjdk-17-jre-headless)")
    # the Flink client runs the job's Python with this interpreter; make its scripts findable
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
