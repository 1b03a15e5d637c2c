"""`pipectl doctor`: check what the chosen path needs before anything starts, and say how to fix
each miss. Every check gives one line: ok, warn, missing or wrong, with the fix.

Just over 400 lines: the local and the AWS checklists side by side, so that one list says what each
path needs; the AWS network checks themselves live in pipectl/aws/network.py.

Local path: Python, Java, Maven, the built artifacts, the apache-flink package, free ports, disk
space for the warehouse, and a Docker engine when the runtime is docker (or auto).
AWS path: Python, the AWS zip, credentials (never shown), region, the caller identity, and the
configured resources (code bucket, execution role, table bucket, MSK cluster ACTIVE, application), the
VPC (given, or the MSK cluster's) and whether its subnets reach S3, S3 Tables and CloudWatch Logs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from pipectl.aws.network import findings
from pipectl.config import Settings
from pipectl.errors import EXIT_CHECK_FAILED, PipectlError
from pipectl import procs
from pipectl.launch import flink as launch_flink
from pipectl.launch.packages import find_package
from pipectl.aws.errors import CREDENTIALS_HINT, NOT_FOUND, error_code, translate
from pipectl.aws.app_state import describe
from pipectl.aws.resources import resources
from pipectl.aws.target import HINT, Target, check_settings, make_session

CheckStatus = Literal["ok", "warn", "missing", "wrong"]
OK: Final = "ok"
WARN: Final = "warn"
MISSING: Final = "missing"
WRONG: Final = "wrong"
FAILING = (MISSING, WRONG)
JAVA_MAJOR = 17
PYTHON = (3, 11)
DISK_WARN_BYTES = 2 * 1024**3
DISK_FAIL_BYTES = 256 * 1024**2


@dataclass
class Check:
    name: str
    status: CheckStatus
    detail: str
    fix: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DoctorReport:
    env: str
    runtime: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status in FAILING for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else EXIT_CHECK_FAILED

    @property
    def exit_reason(self) -> str:
        failing = sum(1 for c in self.checks if c.status in FAILING)
        return f"{failing} of {len(self.checks)} checks need a fix" if failing else ""

    def to_dict(self) -> dict:
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in (OK, WARN, MISSING, WRONG)}
        return {
            "env": self.env,
            "runtime": self.runtime,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "counts": counts,
            "checks": [c.to_dict() for c in self.checks],
        }


# ------------------------------------------------------------------------------ single checks
def check_python() -> Check:
    v = sys.version_info
    found = f"{v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) == PYTHON:
        return Check("python", OK, found)
    return Check(
        "python",
        WRONG,
        f"{found}; pipectl and Managed Flink's FLINK-1_20 runtime use Python 3.11",
        "run pipectl from the project's .venv ('make install' creates it with python3.11)",
    )


def parse_java_major(text: str) -> int | None:
    """The major version in `java -version` output: 'version "17.0.9"' -> 17, '"1.8.0_392"' -> 8."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java() -> Check:
    fix = f"install Java {JAVA_MAJOR}: apt-get install openjdk-{JAVA_MAJOR}-jre-headless"
    java = shutil.which("java")
    if java is None:
        return Check("java", MISSING, "java is not on PATH", fix)
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("java", WRONG, f"{java} -version failed ({type(exc).__name__})", fix)
    output = proc.stderr + proc.stdout
    major = parse_java_major(output)
    if major is None:
        return Check("java", WRONG, f"cannot read the version from '{java} -version'", fix)
    first = output.strip().splitlines()[0] if output.strip() else ""
    if major < JAVA_MAJOR:
        return Check("java", WRONG, f"Java {major} at {java}; Kafka and Flink need {JAVA_MAJOR} or newer", fix)
    return Check("java", OK, f"Java {major} ({first})")


@dataclass(frozen=True)
class Artifact:
    """A build output doctor checks: its name in the check line and its path."""

    name: str
    path: Path


@dataclass(frozen=True)
class Artifacts:
    dependency_jar: Artifact
    kafka_broker: Artifact
    aws_zip: Artifact


def artifact_paths(settings: Settings) -> Artifacts:
    return Artifacts(
        dependency_jar=Artifact("dependency jar", settings.dependency_jar),
        kafka_broker=Artifact("kafka broker", settings.target_dir / "kafka" / "libs"),
        aws_zip=Artifact("aws zip", settings.aws_zip),
    )


def check_artifact(artifact: Artifact) -> Check:
    name, path = artifact.name, artifact.path
    present = path.is_file() if path.suffix else any(path.glob("kafka_2.13-*.jar"))
    if present:
        size = path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.glob("*.jar"))
        return Check(f"artifact: {name}", OK, f"{path} ({size / 1024**2:.0f} MiB)")
    return Check(f"artifact: {name}", MISSING, f"{path} is missing", "build it with 'make build' (mvn -q package)")


def check_maven(artifacts_built: bool) -> Check:
    mvn = shutil.which("mvn")
    if mvn:
        return Check("maven", OK, mvn)
    if artifacts_built:
        return Check(
            "maven",
            WARN,
            "mvn is not on PATH; needed only to rebuild target/",
            "apt-get install maven (before changing pom.xml or the job)",
        )
    return Check(
        "maven", MISSING, "mvn is not on PATH and target/ is not built", "apt-get install maven, then 'make build'"
    )


def check_flink_package() -> Check:
    home = find_package(launch_flink.PACKAGE)
    if home is None:
        return Check("apache-flink", MISSING, launch_flink.MISSING, launch_flink.MISSING_HINT)
    if not (home / "bin" / "jobmanager.sh").is_file():
        return Check(
            "apache-flink", WRONG, f"{home} has no Flink distribution (bin/jobmanager.sh)", "reinstall: 'make install'"
        )
    return Check("apache-flink", OK, str(home))


def check_port(settings: Settings, setting: str, port: int, component: str) -> Check:
    name = f"port {port}"
    owner = procs.port_owner(port)
    if owner is None:
        return Check(name, OK, f"free (local.{setting}, {component})")
    pid, command = owner
    ours = procs.read(settings.state_dir / "run", component)
    if ours is not None and pid and procs.is_alive(ours) and (ours.pid == pid or _is_child(pid, ours.pid)):
        return Check(name, OK, f"in use by pipectl's {component} (pid {ours.pid})")
    held = f"pid {pid} ({command})" if pid else "another process"
    return Check(
        name,
        WRONG,
        f"in use by {held}; local.{setting} needs it for {component}",
        f"stop that process, or set local.{setting} (PIPECTL_LOCAL_{setting.upper()}) to a free port",
    )


def _is_child(pid: int, parent: int) -> bool:
    """True when `pid` descends from `parent` (the Flink scripts exec java in a child)."""
    seen = 0
    while pid > 1 and seen < 20:
        if pid == parent:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        seen += 1
    return False


def check_disk(path: Path) -> Check:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    detail = f"{free / 1024**3:.1f} GiB free for the warehouse at {path}"
    if free < DISK_FAIL_BYTES:
        return Check("disk", WRONG, detail, "free space, or set local.warehouse to a larger filesystem")
    if free < DISK_WARN_BYTES:
        return Check(
            "disk", WARN, detail + " (less than 2 GiB)", "free space, or set local.warehouse to a larger filesystem"
        )
    return Check("disk", OK, detail)


def check_docker(required: bool) -> Check:
    fix = (
        "start a Docker engine (dockerd) and check DOCKER_HOST"
        if required
        else "nothing to do: runtime auto falls back to native; start dockerd to use containers"
    )
    try:
        import docker  # heavy SDK: only when the runtime may be docker
        from docker.errors import DockerException
        from requests.exceptions import RequestException
    except ImportError:
        return Check(
            "docker engine", MISSING if required else WARN, "the docker Python package is missing", "run 'make install'"
        )
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
            version = client.version().get("Version", "?")
        finally:
            client.close()
    except (DockerException, RequestException, OSError) as exc:  # no engine answers
        return Check(
            "docker engine", MISSING if required else WARN, f"no Docker engine answers ({type(exc).__name__})", fix
        )
    return Check("docker engine", OK, f"Docker {version}")


# ------------------------------------------------------------------------------ AWS
def aws_checks(settings: Settings) -> list[Check]:
    from botocore.exceptions import BotoCoreError  # heavy SDK: only on the AWS path

    checks: list[Check] = []
    region, problems = check_settings(settings, "deploy")
    region_problems = [p for p in problems if p.setting == "aws.region"]
    if region_problems:
        checks.append(
            Check(
                "aws region",
                MISSING if region_problems[0].missing else WRONG,
                "; ".join(region_problems),
                "set aws.region in pipectl.toml or AWS_REGION",
            )
        )
    else:
        checks.append(Check("aws region", OK, region))
    other = [p for p in problems if p.setting != "aws.region"]
    if other:
        checks.append(
            Check("aws settings", MISSING if all(p.missing for p in other) else WRONG, "; ".join(other), HINT)
        )
    else:
        checks.append(Check("aws settings", OK, "every setting 'pipectl aws deploy' needs is set and well formed"))
    try:
        session = make_session(settings.aws, region or None)
        creds = session.get_credentials()
    except PipectlError as exc:  # a profile that does not exist, ... (aws_call translated it)
        checks.append(Check("aws credentials", WRONG, exc.message, CREDENTIALS_HINT))
        return checks
    except BotoCoreError as exc:  # credentials that cannot be loaded (a broken process provider, ...)
        checks.append(Check("aws credentials", WRONG, type(exc).__name__, CREDENTIALS_HINT))
        return checks
    if creds is None:
        checks.append(Check("aws credentials", MISSING, "no AWS credentials found", CREDENTIALS_HINT))
        return checks
    checks.append(Check("aws credentials", OK, f"found ({getattr(creds, 'method', 'configured')}; not shown)"))
    if region_problems:
        return checks
    target = Target(settings=settings, region=region)
    checks.append(_aws_probe("aws identity", lambda: _identity(target)))
    for resource in resources(target):
        checks.append(_aws_probe(resource.label, lambda r=resource: r.read() and "exists", missing_fix=resource.fix))
    checks.extend(_network_checks(target))
    checks.append(_application_check(target))
    return checks


def _network_checks(target: Any) -> list[Check]:
    """MSK ACTIVE, the VPC and its egress (pipectl.aws.network): the lines deploy stops at."""
    return [Check(f.name, OK if f.ok else (MISSING if f.required else WARN), f.detail, f.fix) for f in findings(target)]


def _identity(target) -> str:
    ident = target.client("sts").get_caller_identity()
    return f"account {ident.get('Account')} as {ident.get('Arn')}"


def _aws_probe(name: str, call, missing_fix: str = "") -> Check:
    from botocore.exceptions import BotoCoreError, ClientError  # heavy SDK: only on the AWS path

    try:
        return Check(name, OK, str(call()))
    except (ClientError, BotoCoreError, PipectlError) as exc:  # translated below; unknown ones are "wrong"
        code = error_code(exc)
        mapped = translate(exc, f"check {name}")
        if code in NOT_FOUND:
            return Check(name, MISSING, f"does not exist ({code})", missing_fix)
        if mapped is not None:
            return Check(name, WRONG, mapped.message, mapped.hint or "")
        return Check(name, WRONG, f"{type(exc).__name__}", "run again with --verbose")


def _application_check(target) -> Check:
    name = f"application {target.aws.application_name}"
    try:
        detail = describe(target)
    except PipectlError as exc:
        return Check(name, WRONG, exc.message, exc.hint or "")
    if detail is None:
        return Check(name, OK, "not deployed yet ('pipectl aws deploy' creates it)")
    return Check(name, OK, f"{detail['ApplicationStatus']}, version {detail.get('ApplicationVersionId')}")


# ------------------------------------------------------------------------------ the report
def run(settings: Settings) -> DoctorReport:
    """Every check of the chosen path: settings.env (local or aws) and settings.local.runtime."""
    runtime = settings.local.runtime
    report = DoctorReport(env=settings.env, runtime=runtime if settings.env == "local" else "-")
    checks = report.checks
    checks.append(check_python())
    built = artifact_paths(settings)
    if settings.env == "aws":
        checks.append(check_artifact(built.aws_zip))
        checks.extend(aws_checks(settings))
        return report
    checks.append(check_java())
    artifacts = [check_artifact(a) for a in (built.dependency_jar, built.kafka_broker)]
    checks.append(check_maven(all(a.status == OK for a in artifacts)))
    checks.extend(artifacts)
    if runtime in ("native", "auto"):
        checks.append(check_flink_package())
    local = settings.local
    for setting, port, component in (
        ("kafka_port", local.kafka_port, "kafka"),
        ("kafka_controller_port", local.kafka_controller_port, "kafka"),
        ("flink_port", local.flink_port, "jobmanager"),
        ("flink_rpc_port", local.flink_rpc_port, "jobmanager"),
    ):
        checks.append(check_port(settings, setting, port, component))
    checks.append(check_disk(settings.warehouse_dir))
    if runtime in ("docker", "auto"):
        checks.append(check_docker(required=runtime == "docker"))
    return report
