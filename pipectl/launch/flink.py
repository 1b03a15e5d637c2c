"""The Flink standalone cluster's launch steps that the native stack (pipectl/stack/native.py) and
the rehearsal's cluster (pipectl/rehearse/flink.py) share: the distribution inside the apache-flink
wheel, the conf folder written from it, the FLINK_* environment and the process markers."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from pipectl.launch.packages import package_home

PACKAGE = "pyflink"
MISSING = "the apache-flink package is not installed in this Python"
MISSING_HINT = "run 'make install' (or use .venv/bin/pipectl)"

# The script execs flink-console.sh, which execs java: before that the command line names the
# script, after it the class. Any of these names is ours.
MARKERS = {
    "jobmanager": "standalonesession|StandaloneSessionClusterEntrypoint",
    "taskmanager": "taskexecutor|TaskManagerRunner",
}

# Loggers set in every log4j file we give Flink: the Python driver logs the whole environment of
# the job's Python process at INFO ("Starting Python process with environment variables: ..."),
# masking only names it knows. Off, whatever the environment holds.
# The local TaskManager's metaspace. Every job start loads the dependency jar anew in a user-code class
# loader, and Hadoop's StatisticsDataReferenceCleaner thread and Iceberg's worker pool keep each of them
# alive: about 33 MB of metaspace per job start that is never unloaded (measured: 0 classes unloaded
# after 6 starts and a full GC). At Flink's default 256 MB, the TaskManager died of
# "OutOfMemoryError: Metaspace" after a dozen job starts (its supervisor restarts it, the job recovers
# from its checkpoint). docs/architecture.md#the-taskmanagers-metaspace
TASKMANAGER_METASPACE = "512m"

FLINK_QUIET_LOGGERS = {"pythonenvutils": "org.apache.flink.client.python.PythonEnvUtils"}


def flink_home() -> Path:
    """The Flink distribution shipped inside the apache-flink wheel."""
    return package_home(PACKAGE, missing=MISSING, hint=MISSING_HINT)


def marker(name: str) -> str:
    """The process marker of the JobManager or TaskManager started by its script."""
    return f"{name}.sh|{MARKERS[name]}"


def start_argv(name: str) -> list[str]:
    """`<name>.sh start-foreground` of the distribution (jobmanager or taskmanager)."""
    return ["bash", str(flink_home() / "bin" / f"{name}.sh"), "start-foreground"]


def client_argv() -> list[str]:
    """`flink run -d` of the distribution; the caller adds the program and its options."""
    return ["bash", str(flink_home() / "bin" / "flink"), "run", "-d"]


def quiet_flink_log4j(conf_dir: Path) -> None:
    """Append the loggers of FLINK_QUIET_LOGGERS (level OFF) to each log4j*.properties in conf_dir."""
    for f in sorted(conf_dir.glob("log4j*.properties")):
        text = f.read_text()
        lines = [text.rstrip("\n"), "", "# pipectl: never log the environment of the processes Flink starts"]
        for key, name in FLINK_QUIET_LOGGERS.items():
            lines += [f"logger.{key}.name = {name}", f"logger.{key}.level = OFF"]
        f.write_text("\n".join(lines) + "\n")


def write_conf(conf_dir: Path, conf: Mapping[str, object]) -> None:
    """FLINK_CONF_DIR: the distribution's files but its config.yaml, the quiet loggers, and `conf`
    as config.yaml."""
    home = flink_home()
    conf_dir.mkdir(parents=True, exist_ok=True)
    for f in (home / "conf").iterdir():
        if f.name != "config.yaml" and f.is_file():
            shutil.copyfile(f, conf_dir / f.name)
    quiet_flink_log4j(conf_dir)
    (conf_dir / "config.yaml").write_text("\n".join(f"{k}: {v}" for k, v in conf.items()) + "\n")


def flink_env(env: dict[str, str], conf_dir: Path, log_dir: Path, run_dir: Path) -> dict[str, str]:
    """`env` with the FLINK_* variables: the conf folder, the logs under log_dir/flink (created),
    the scripts' pid folder."""
    env["FLINK_CONF_DIR"] = str(conf_dir)
    env["FLINK_LOG_DIR"] = str(log_dir / "flink")
    env["FLINK_PID_DIR"] = str(run_dir)
    (log_dir / "flink").mkdir(parents=True, exist_ok=True)
    return env


def default_java_opts(home: Path) -> str:
    """env.java.opts.all from the distribution's own config.yaml (the JDK 17 module flags)."""
    for line in (home / "conf" / "config.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("all: --add-"):
            return stripped.removeprefix("all:").strip()
    return ""
