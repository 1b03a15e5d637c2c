"""The native local stack: a Kafka broker from its Maven-resolved jars and a Flink standalone
cluster from the distribution inside the apache-flink wheel. No Docker.

Everything lives under the state folder (default ./.pipectl):
  run/<component>.json   pid files        logs/<component>.log  stdout+stderr
  kafka/data             KRaft log dirs   flink/conf            FLINK_CONF_DIR
  flink/checkpoints, flink/savepoints
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pipectl import procs
from pipectl.config import Settings
from pipectl.launch import kafka as kafka_launch
from pipectl.launch.flink import client_argv, default_java_opts, flink_env, flink_home, marker, start_argv, write_conf
from pipectl.launch.java import java_env
from pipectl.progress import SILENT, Reporter
from pipectl.stack.base import StackBase, match_taskmanager
from pipectl.stack.model import ComponentStatus, StackStatus
from pipectl.stack.supervise import read_restarts, restarts_file
from pipectl.launch.flink import TASKMANAGER_METASPACE

SUPERVISOR = "tm-supervisor"


class NativeStack(StackBase):
    runtime = "native"

    def __init__(self, settings: Settings, reporter: Reporter = SILENT):
        super().__init__(settings, reporter)
        self.run_dir = self.state / "run"
        self.log_dir = self.state / "logs"
        self.kafka_dir = self.state / "kafka"
        self.flink_dir = self.state / "flink"
        self.conf_dir = self.flink_dir / "conf"

    # ------------------------------------------------------------------ addresses, paths
    @property
    def kafka_libs(self) -> Path:
        return self.s.target_dir / "kafka" / "libs"

    def proc(self, name: str) -> procs.Managed | None:
        return procs.read(self.run_dir, name)

    # ------------------------------------------------------------------ up
    def _prepare(self) -> None:
        for d in (self.run_dir, self.log_dir, self.kafka_dir, self.flink_dir, self.s.warehouse_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._write_flink_conf()

    def _bring(self, name: str) -> str:
        """A process that is alive is reused; the TaskManager only when it is the one registered."""
        if name == "taskmanager":
            return self._bring_taskmanager()
        if procs.is_alive(self.proc(name)):
            return f"{name}: found running, reusing it"
        if name == "kafka":
            self.ensure_ports_free("kafka", [self.s.local.kafka_port, self.s.local.kafka_controller_port])
            self.r.step(f"starting Kafka on {self.s.kafka_bootstrap}")
            self._start_kafka()
        else:
            self.ensure_ports_free("jobmanager", [self.s.local.flink_port, self.s.local.flink_rpc_port])
            self.r.step(f"starting Flink JobManager on {self.s.flink_rest_url}")
            self._start_flink("jobmanager")
        return f"{name}: started"

    def start_taskmanager(self) -> None:
        """Start (or restart) only the TaskManager; used after a crash."""
        self._bring_taskmanager()
        self._wait("taskmanager", self.taskmanager_registered, timeout=self.s.local.start_timeout_s)

    def _bring_taskmanager(self) -> str:
        """Reuse the TaskManager only when its process is alive and it is the one the JobManager
        registered; while its supervisor is alive, let the supervisor (re)start it; otherwise start
        one. Returns what was done, for the messages of `up`."""
        tm = self.proc("taskmanager")
        tm = tm if procs.is_alive(tm) else None
        tm_alive, supervised = tm is not None, procs.is_alive(self.proc(SUPERVISOR))
        if tm_alive and self.live_taskmanager() is not None:
            return "taskmanager: found running, reusing it"
        if supervised:
            if tm is not None:
                message = f"taskmanager: pid {tm.pid} runs but has not registered yet, waiting for it"
            else:
                message = (
                    "taskmanager: not running; its supervisor starts it again" + self._backoff() + ", waiting for it"
                )
            self.r.step(message)
            return message
        if tm is not None:  # the supervisor died (killed) and left its TaskManager: put one under a supervisor again
            self.r.step(f"taskmanager: pid {tm.pid} runs without its supervisor; restarting it under one")
            procs.stop(self.run_dir, tm, timeout=20)
            self._start_flink("taskmanager")
            return "taskmanager: restarted under its supervisor"
        self.r.step("starting Flink TaskManager")
        self._start_flink("taskmanager")
        return "taskmanager: started"

    def _backoff(self) -> str:
        """E.g. ' in 3s (restart 2)' while the supervisor backs off before its next start."""
        info = read_restarts(self.run_dir, "taskmanager")
        if not info.get("restarts"):
            return ""
        left = float(info.get("next_start_at") or 0) - time.time()
        return (f" in {left:.0f}s" if left > 0 else "") + f" (restart {info['restarts']})"

    def live_taskmanager(self) -> dict | None:
        """The JobManager's entry of the live TaskManager process: matched by a port that process
        listens on, so a dead TaskManager the JobManager still lists (its heartbeat has not timed
        out yet) is never taken for a running one."""
        tm = self.proc("taskmanager")
        if not procs.is_alive(tm):
            return None
        registered = self.registered_taskmanagers()
        if not registered:
            return None
        return match_taskmanager(registered, procs.listening_ports(tm.pid))

    def taskmanager_registered(self) -> bool:
        """The live TaskManager process is registered with the JobManager and offers slots."""
        return int((self.live_taskmanager() or {}).get("slotsNumber", 0)) >= 1

    def log_source(self, name: str) -> str:
        return str(self.log_path(name))

    def log_lines(self, name: str, lines: int = 50) -> list[str]:
        return procs.tail(self.log_path(name), lines)

    def process_state(self, name: str) -> tuple[int, bool] | None:
        proc = self.proc(name)
        return None if proc is None else (proc.pid, procs.is_alive(proc))

    def alive_probe(self, name: str):
        if name == "taskmanager":
            return self.taskmanager_up
        proc = self.proc(name)
        return lambda: procs.is_alive(proc)

    def _check_artifacts(self) -> None:
        self.check_kafka_libs()
        flink_home()

    # ------------------------------------------------------------------ kafka
    def _start_kafka(self) -> None:
        data = self.kafka_dir / "data"
        props = self.kafka_dir / "server.properties"
        host, port, cport = self.s.local.kafka_host, self.s.local.kafka_port, self.s.local.kafka_controller_port
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{host}:{cport}",
                    f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
                    f"advertised.listeners=PLAINTEXT://{host}:{port}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    *kafka_launch.single_node_properties(data, self.s.pipeline.partitions),
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        log4j = kafka_launch.write_log4j(self.kafka_dir / "log4j.properties")
        env = java_env()
        classpath = str(self.kafka_libs / "*")
        if not (data / "meta.properties").is_file():
            kafka_launch.format_storage(
                classpath,
                log4j,
                props,
                env,
                what="the Kafka data folder",
                hint=f"delete {data} with 'pipectl local down --purge' and try again",
            )
        argv = kafka_launch.broker_argv(self.s.local.kafka_heap, log4j, classpath, props, self.s.local.java_opts)
        procs.spawn(
            self.run_dir, "kafka", argv, env=env, log=self.log_path("kafka"), marker=str(props), cwd=self.kafka_dir
        )

    # ------------------------------------------------------------------ flink
    def _write_flink_conf(self) -> None:
        home = flink_home()
        host = self.s.local.flink_host
        conf = {
            "jobmanager.rpc.address": host,
            "jobmanager.rpc.port": self.s.local.flink_rpc_port,
            "jobmanager.bind-host": host,
            "jobmanager.memory.process.size": self.s.local.jobmanager_memory,
            "taskmanager.bind-host": host,
            "taskmanager.host": host,
            "taskmanager.memory.process.size": self.s.local.taskmanager_memory,
            "taskmanager.memory.jvm-metaspace.size": TASKMANAGER_METASPACE,
            "taskmanager.numberOfTaskSlots": self.s.local.taskmanager_slots,
            "parallelism.default": self.s.pipeline.parallelism,
            "rest.address": host,
            "rest.bind-address": host,
            "rest.port": self.s.local.flink_port,
            # the UI is served by the REST endpoint itself: no other origin may call the API from a browser
            "web.access-control-allow-origin": self.s.flink_rest_url,
            "heartbeat.timeout": 20000,
            "state.checkpoints.dir": (self.flink_dir / "checkpoints").resolve().as_uri(),
            "state.savepoints.dir": (self.flink_dir / "savepoints").resolve().as_uri(),
            "state.checkpoints.num-retained": 3,
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": 1000,
            "restart-strategy.fixed-delay.delay": "5 s",
            "python.client.executable": sys.executable,
            "python.executable": sys.executable,
            # Java 17 needs the distribution's --add-opens/--add-exports list (clients too)
            "env.java.opts.all": " ".join(
                filter(None, [default_java_opts(home), "-Djava.awt.headless=true", self.s.local.java_opts.strip()])
            ),
            "web.submit.enable": "false",
        }
        write_conf(self.conf_dir, conf)

    def flink_env(self) -> dict[str, str]:
        return flink_env(java_env(), self.conf_dir, self.log_dir, self.run_dir)

    def _start_flink(self, name: str) -> None:
        argv = start_argv(name)
        mark = marker(name)
        if name == "taskmanager":
            # a supervisor starts the TaskManager and starts it again when it dies (it records its pid)
            restarts_file(self.run_dir, name).unlink(missing_ok=True)
            argv = [sys.executable, "-m", "pipectl.stack.supervise", str(self.run_dir), name, mark, "--", *argv]
            name, mark = SUPERVISOR, f"pipectl.stack.supervise {self.run_dir} {name}"
        procs.spawn(
            self.run_dir,
            name,
            argv,
            env=self.flink_env(),
            log=self.log_path("taskmanager" if name == SUPERVISOR else name),
            marker=mark,
            cwd=self.flink_dir,
        )

    def taskmanager_up(self) -> bool:
        """The TaskManager runs, or its supervisor does (and will start it again)."""
        return procs.is_alive(self.proc("taskmanager")) or procs.is_alive(self.proc(SUPERVISOR))

    def submit_job(self, job_env: dict[str, str], restore: str | None) -> tuple[int, str]:
        """`flink run -d -py jobs/order_ingest/job.py` against this cluster: (exit code, output)."""
        import subprocess

        env = self.flink_env()  # the allow-list (pipectl.childenv), then only what the job needs
        env.update(job_env)
        env["PYTHONPATH"] = str(self.s.project_dir)
        env["PIPECTL_DETACHED"] = "1"
        # -j: the dependency jar on the program's class path, as Managed Flink's `jarfile` puts it: the
        # client compiles code that calls the job's Java function (dev.pipectl.flink.ClassifyOrder)
        argv = [
            *client_argv(),
            "-j",
            str(self.s.dependency_jar.resolve()),
            "-py",
            str(self.s.project_dir / "jobs" / "order_ingest" / "job.py"),
        ]
        if restore:
            argv += ["-s", restore]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=self.s.project_dir)
        return proc.returncode, proc.stdout + "\n" + proc.stderr

    # ------------------------------------------------------------------ status / down
    def status(self) -> StackStatus:
        overview = self.flink_overview()
        rows = []
        kafka = self.proc("kafka")
        rows.append(
            ComponentStatus(
                "kafka",
                kafka.pid if procs.is_alive(kafka) else None,
                self.s.kafka_bootstrap,
                procs.is_alive(kafka) and self.kafka_healthy(),
            )
        )
        jm = self.proc("jobmanager")
        rows.append(
            ComponentStatus(
                "jobmanager",
                jm.pid if procs.is_alive(jm) else None,
                self.s.flink_rest_url,
                procs.is_alive(jm) and overview is not None,
                detail=f"flink {overview.get('flink-version', '?')}" if overview else "",
            )
        )
        tm = self.proc("taskmanager")
        live = self.live_taskmanager() if overview else None
        if live is not None:
            detail = f"{live.get('slotsNumber', 0)} slots, {live.get('freeSlots', 0)} free"
        elif procs.is_alive(tm):
            detail = "running, not registered with the JobManager"
        elif procs.is_alive(self.proc(SUPERVISOR)):
            detail = "not running; its supervisor starts it again" + self._backoff()
        else:
            detail = "not running"
        restarted = read_restarts(self.run_dir, "taskmanager")
        if restarted.get("restarts"):
            n = restarted["restarts"]
            detail += (", " if detail else "") + (
                f"restarted {n} time{'s' if n != 1 else ''} by its supervisor, last {_ago(restarted.get('last_restart_at'))}"
            )
        rows.append(
            ComponentStatus(
                "taskmanager",
                tm.pid if procs.is_alive(tm) else None,
                "-",
                live is not None and int(live.get("slotsNumber", 0)) >= 1,
                detail=detail,
            )
        )
        return StackStatus(
            runtime=self.runtime, components=rows, state_dir=str(self.state), topic=self.s.pipeline.topic
        )

    def any_running(self) -> bool:
        return any(c.pid for c in self.status().components)

    def _stop_components(self) -> list[str]:
        messages = []
        # the supervisor first: SIGTERM to its process group stops it and the TaskManager, without a restart
        supervised = procs.stop(self.run_dir, self.proc(SUPERVISOR), timeout=25)
        for name in ("taskmanager", "jobmanager", "kafka"):
            proc = self.proc(name)
            if procs.stop(self.run_dir, proc, timeout=30 if name == "kafka" else 20) or (
                name == "taskmanager" and supervised
            ):
                messages.append(f"{name}: stopped")
            else:
                messages.append(f"{name}: not running")
        return messages


def _ago(epoch: float | None) -> str:
    if not epoch:
        return "at an unknown time"
    seconds = max(0.0, time.time() - epoch)
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"
