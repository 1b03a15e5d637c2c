"""The rehearsal's own Flink 1.20 cluster (JobManager + TaskManager from the apache-flink wheel)
on Java 11, and the submission the service makes: the zip unzipped, `python` as the entry point
and `jarfile` on the classpath (`flink run --python ... --jarfile ...`, what Managed Flink's
run options stand for).

Flink's settings follow the request's FlinkApplicationConfiguration (checkpoint interval and
pause, exactly once, parallelism, one slot per KPU) and the service's restart strategy. The
JVMs trust the broker's self-signed CA through the JVM's default trust store
(javax.net.ssl.trustStore), so the job's Kafka settings stay what they are on the service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipectl import procs
from pipectl.childenv import child_env
from pipectl.config import Settings
from pipectl.flink.rest import FlinkRest
from pipectl.rehearse.properties import Rendered
from pipectl.launch.flink import client_argv, flink_env, marker, start_argv, write_conf
from pipectl.wait import wait_until

COMPONENTS = ("taskmanager", "jobmanager")


@dataclass(frozen=True)
class Trust:
    """The trust store holding the broker's CA. It is read without a password (it holds only the
    public CA certificate), so no password is on any command line or in any config file."""

    path: str
    type: str = "JKS"


class RehearsalFlink:
    def __init__(self, settings: Settings, folder: Path, java_home: Path, aws_env: dict[str, str]):
        self.s = settings
        self.folder = folder
        self.java_home = java_home
        self.aws_env = aws_env
        self.run_dir = folder / "run"
        self.log_dir = folder / "logs"
        self.flink_dir = folder / "flink"
        self.conf_dir = self.flink_dir / "conf"
        self.rest = FlinkRest(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s.rehearse.flink_port}"

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # ------------------------------------------------------------------ cluster
    def write_conf(self, rendered: Rendered, trust: Trust) -> None:
        java_opts = (
            f"-Djava.awt.headless=true -Djavax.net.ssl.trustStore={trust.path} "
            f"-Djavax.net.ssl.trustStoreType={trust.type} {self.s.local.java_opts}"
        ).strip()
        conf: dict[str, object] = {
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": self.s.rehearse.flink_rpc_port,
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.memory.process.size": "1728m",
            # one KPU per slot, as the service sizes it
            "taskmanager.numberOfTaskSlots": max(rendered.parallelism, rendered.parallelism_per_kpu),
            "parallelism.default": rendered.parallelism,
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": self.s.rehearse.flink_port,
            "web.access-control-allow-origin": self.url,
            "execution.checkpointing.interval": f"{rendered.checkpoint_interval_ms} ms",
            "execution.checkpointing.min-pause": f"{rendered.min_pause_ms} ms",
            "execution.checkpointing.mode": "EXACTLY_ONCE",
            "state.checkpoints.dir": (self.flink_dir / "checkpoints").resolve().as_uri(),
            "state.savepoints.dir": (self.flink_dir / "savepoints").resolve().as_uri(),
            "restart-strategy.type": "fixed-delay",  # the service's default: restart forever, 10 s apart
            "restart-strategy.fixed-delay.attempts": 2147483647,
            "restart-strategy.fixed-delay.delay": "10 s",
            "python.client.executable": sys.executable,
            "python.executable": sys.executable,
            "env.java.opts.all": java_opts,
            "web.submit.enable": "false",
        }
        write_conf(self.conf_dir, conf)

    def env(self) -> dict[str, str]:
        # the allow-list of pipectl.childenv, plus the rehearsal's own emulator credentials: the
        # JVMs and the job sign with them, as the service's role would
        env = child_env(self.aws_env)
        env["JAVA_HOME"] = str(self.java_home)
        env["PATH"] = os.pathsep.join(
            [str(self.java_home / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
        )
        return flink_env(env, self.conf_dir, self.log_dir, self.run_dir)

    def start(self, timeout: float) -> None:
        env = self.env()
        for name in ("jobmanager", "taskmanager"):
            if not procs.is_alive(procs.read(self.run_dir, name)):
                procs.spawn(
                    self.run_dir,
                    name,
                    start_argv(name),
                    env=env,
                    log=self.log(name),
                    marker=marker(name),
                    cwd=self.flink_dir,
                )
        for name, probe in (("jobmanager", self.rest.overview), ("taskmanager", self._registered)):
            proc = procs.read(self.run_dir, name)
            wait_until(
                probe,
                what=f"the rehearsal's Flink {name}",
                timeout=timeout,
                hint=f"see {self.log(name)}",
                log_tail=lambda n=name: procs.tail(self.log(n), 30),  # type: ignore[misc]
                alive=lambda p=proc: procs.is_alive(p),  # type: ignore[misc]
            )

    def _registered(self) -> bool:
        return self.rest.overview().get("taskmanagers", 0) >= 1

    def pids(self) -> dict[str, int]:
        out = {}
        for name in COMPONENTS:
            proc = procs.read(self.run_dir, name)
            if procs.is_alive(proc) and proc is not None:
                out[name] = proc.pid
        return out

    def stop(self) -> list[str]:
        stopped = []
        for name in COMPONENTS:
            if procs.stop(self.run_dir, procs.read(self.run_dir, name), timeout=20):
                stopped.append(name)
        return stopped

    # ------------------------------------------------------------------ the job
    def submit(
        self,
        app_dir: Path,
        rendered: Rendered,
        properties_file: Path,
        timeout: float,
        savepoint: str = "",
        allow_non_restored: bool = False,
    ) -> tuple[int, str]:
        """What the service does with the run options: run the entry point with the jar on the
        classpath (restored from `savepoint` when given, as RESTORE_FROM_LATEST_SNAPSHOT does; `allow_non_restored`:
        AllowNonRestoredState). `main()` has to return: after `timeout` seconds the client is stopped and the
        exit code is -1. Returns (exit code, output); the output is also in logs/submit.log."""
        env = self.env()
        env["APPLICATION_PROPERTIES_FILE"] = str(properties_file)
        argv = [
            *client_argv(),
            *(["-s", savepoint] if savepoint else []),
            *(["--allowNonRestoredState"] if savepoint and allow_non_restored else []),
            "--python",
            str(app_dir / rendered.python),
            "--jarfile",
            str(app_dir / rendered.jarfile),
        ]
        log = self.log("submit")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=app_dir,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                procs.stop(self.run_dir, procs.Managed("submit", proc.pid, "flink", str(log)), timeout=10)
                proc.wait()
                code = -1
        return code, log.read_text(errors="replace")
