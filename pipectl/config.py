"""One frozen settings object: defaults < pipectl.toml < environment < flags.

Sections map to dataclasses below. A key `key` of section `sect` is set in pipectl.toml as

    [sect]
    key = value

in the environment as PIPECTL_SECT_KEY, and by commands through `overrides={"sect.key": v}`.
`DEPLOYMENT_ENV` (the variable the job reads) also selects the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import shlex
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from pipectl.errors import ConfigError
from producer import contract  # the pipeline's names, defined once

CONFIG_FILE = "pipectl.toml"
ENVIRONMENTS = ("local", "aws")
KAFKA_AUTH = ("iam", "none")


class SettingProblem(str):
    """A problem with one setting: its one-line text (it is a str, so lists of problems join as
    before), the setting it is about, and whether the setting is missing (not set) or wrong (set,
    but unusable). Every problem `check_settings` (pipectl/aws/target.py) reports is one: `doctor`
    sorts problems by these fields, never by their wording."""

    setting: str
    missing: bool

    def __new__(cls, text: str, setting: str, *, missing: bool = False) -> SettingProblem:
        problem = super().__new__(cls, text)
        problem.setting = setting
        problem.missing = missing
        return problem


@dataclass(frozen=True)
class PipelineSettings:
    """What flows where: the same in both environments."""

    topic: str = contract.TOPIC
    namespace: str = contract.NAMESPACE
    table: str = contract.TABLE
    rejected_table: str = contract.REJECTED_TABLE
    consumer_group: str = contract.CONSUMER_GROUP
    checkpoint_interval_s: int = 10
    parallelism: int = 1
    partitions: int = 2


@dataclass(frozen=True)
class LocalSettings:
    """The local stack. Paths are relative to the project folder."""

    runtime: str = "native"  # native | docker | auto
    state_dir: str = ".pipectl"
    warehouse: str = "warehouse"
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    flink_host: str = "127.0.0.1"
    flink_port: int = 8081
    flink_rpc_port: int = 6123
    taskmanager_slots: int = 2
    # the TaskManager's whole process; 512 MB of it are metaspace (TASKMANAGER_METASPACE), 256 MB more than
    # Flink's default, so the Flink memory stays what it was at 1728m
    taskmanager_memory: str = "1984m"
    jobmanager_memory: str = "1024m"
    kafka_heap: str = "512m"
    # more JVM options for the JVMs pipectl starts on this machine (the native stack's broker, JobManager,
    # TaskManager and the job's client; the rehearsal's), after its own; e.g. "-XX:TieredStopAtLevel=1", what
    # the tests use: less JIT work at each start, for less speed in a long run
    java_opts: str = ""
    start_timeout_s: int = 90
    # a state folder or warehouse outside the project folder (purge deletes them) must be allowed
    allow_outside_project: bool = False
    # kafka_host / flink_host other than a loopback address: Flink's REST API takes jobs (code) from
    # anyone who reaches it, Kafka is PLAINTEXT without authentication (see docs/security.md)
    allow_remote: bool = False


@dataclass(frozen=True)
class AwsSettings:
    """Amazon MSK + Managed Flink + S3 Tables."""

    region: str = ""
    profile: str = ""
    endpoint_url: str = ""  # for emulators (moto); empty for real AWS
    application_name: str = "order-ingest"
    code_bucket: str = ""
    code_prefix: str = "pipectl/"
    service_role_arn: str = ""
    msk_cluster_arn: str = ""
    bootstrap_servers: str = ""  # empty: MSK's IAM brokers of msk_cluster_arn (kafka:GetBootstrapBrokers)
    kafka_auth: str = "iam"  # iam (SASL_SSL + OAUTHBEARER, MSK IAM tokens) | none (PLAINTEXT)
    kafka_ca_file: str = ""  # PEM CA the brokers' TLS certificates chain to; empty: the system's (Amazon's) CAs
    table_bucket_arn: str = ""
    namespace: str = contract.NAMESPACE
    table: str = contract.TABLE
    topic: str = contract.TOPIC
    parallelism: int = 1
    parallelism_per_kpu: int = 1
    checkpoint_interval_s: int = 60
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    log_group: str = ""
    wait_timeout_s: int = 900  # how long deploy/stop/destroy wait for the service
    poll_interval_ms: int = 5000  # how often they ask
    settle_s: int = 180  # after RUNNING, how long deploy watches the job (uptime, restarts, logs); 0: not at all


@dataclass(frozen=True)
class PipelineNames:
    """Where the data of the chosen environment flows: the one place that picks `pipeline.*`
    (local) or `aws.*` (aws) for the topic, the tables and the checkpoint interval."""

    topic: str
    namespace: str
    table: str
    rejected_table: str
    consumer_group: str
    checkpoint_interval_s: int

    @property
    def qualified_table(self) -> str:
        return f"{self.namespace}.{self.table}"


@dataclass(frozen=True)
class RehearseSettings:
    """`pipectl aws rehearse`: the zip run as Managed Flink runs it, on this machine."""

    region: str = "us-east-1"  # moto serves s3tables in us-east-1, us-east-2 and us-west-2
    kafka_port: int = 9098  # the MSK IAM port (SASL_SSL); the broker also takes the next two (internal, controller)
    flink_port: int = 8091
    flink_rpc_port: int = 6133
    moto_port: int = 5055
    start_timeout_s: int = 600  # per phase (Flink start, submission, first checkpoint)


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    env: str = "local"
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    rehearse: RehearseSettings = field(default_factory=RehearseSettings)
    config_file: Path | None = None
    # The state file of the running `pipectl aws rehearse` these aws settings point at, if any.
    rehearsal: Path | None = None

    # Derived paths -------------------------------------------------------------------------
    def path(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.project_dir / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.local.state_dir)

    @property
    def warehouse_dir(self) -> Path:
        return self.path(self.local.warehouse)

    @property
    def target_dir(self) -> Path:
        return self.project_dir / "target"

    @property
    def dependency_jar(self) -> Path:
        return self.target_dir / "pyflink-dependencies.jar"

    @property
    def aws_zip(self) -> Path:
        return self.target_dir / "data-pipeline-aws.zip"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.local.kafka_host}:{self.local.kafka_port}"

    @property
    def flink_rest_url(self) -> str:
        return f"http://{self.local.flink_host}:{self.local.flink_port}"

    @property
    def exposure_warnings(self) -> list[str]:
        """What a non-loopback kafka_host / flink_host (allowed by local.allow_remote) exposes."""
        out = []
        if not _is_loopback(self.local.flink_host):
            out.append(
                f"Flink's REST API on {self.flink_rest_url} is reachable from other machines and has no "
                "authentication: anyone who reaches it can submit a job, i.e. run code as you"
            )
        if not _is_loopback(self.local.kafka_host):
            out.append(
                f"Kafka on {self.kafka_bootstrap} is reachable from other machines over PLAINTEXT, without "
                "authentication or encryption: anyone who reaches it can read and write the topics"
            )
        return out

    @property
    def names(self) -> PipelineNames:
        """The topic, tables, consumer group and checkpoint interval of the chosen environment."""
        p = self.pipeline
        if self.env == "aws":
            a = self.aws
            return PipelineNames(
                a.topic, a.namespace, a.table, p.rejected_table, p.consumer_group, a.checkpoint_interval_s
            )
        return PipelineNames(p.topic, p.namespace, p.table, p.rejected_table, p.consumer_group, p.checkpoint_interval_s)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_SECTIONS = {"pipeline": PipelineSettings, "local": LocalSettings, "aws": AwsSettings, "rehearse": RehearseSettings}


def find_project_dir(start: Path | None = None) -> Path:
    """The project folder: PIPECTL_PROJECT_DIR, else the nearest folder upwards holding
    pipectl.toml or this project's pom.xml + jobs/, else the current folder."""
    env = os.environ.get("PIPECTL_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file() or ((d / "pom.xml").is_file() and (d / "jobs").is_dir()):
            return d
    return here


def _coerce(section: str, name: str, tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    where = f"{section}.{name}"
    if tp is int:
        if isinstance(value, bool):
            raise ValueError(f"{where} must be a whole number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be a whole number, got {value!r}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{where} must be true or false, got {value!r}")
    if origin is tuple:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",")]
        elif isinstance(value, (list, tuple)):
            items = [str(v).strip() for v in value]
        else:
            raise ValueError(f"{where} must be a list or a comma-separated string, got {value!r}")
        return tuple(v for v in items if v)
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"{where} must be a string, got {value!r}")
    return str(value)


def _section_values(section: str, cls: type, layers: list[Mapping[str, Any]], problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for layer in layers:
        for key, raw in layer.items():
            if key not in names:
                problems.append(f"unknown setting {section}.{key}")
                continue
            try:
                values[key] = _coerce(section, key, hints[key], raw)
            except ValueError as exc:
                problems.append(str(exc))
    return cls(**values)


# Names checked at load: what Kafka, Iceberg, Flink SQL, S3 Tables, IAM and Managed Flink accept.
KAFKA_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")  # Kafka topics: legal chars, at most 249
GROUP_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,255}")  # consumer groups (part of an IAM group ARN)
LOCAL_TABLE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")  # Hadoop catalog folders, in backticks in SQL
# S3 Tables: 1-255 lowercase letters, digits and '_', beginning and ending with a letter or digit
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-buckets-naming.html)
S3_TABLES_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_]{0,253}[a-z0-9])?")
APPLICATION_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # Managed Flink ApplicationName
BUCKET_NAME_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3 general purpose buckets
CODE_PREFIX_RE = re.compile(r"[A-Za-z0-9._/-]{0,512}")
LOG_GROUP_RE = re.compile(r"[A-Za-z0-9._/#-]{1,512}")
SUBNET_RE = re.compile(r"subnet-[A-Za-z0-9]{1,32}")
SECURITY_GROUP_RE = re.compile(r"sg-[A-Za-z0-9]{1,32}")
LETTERS = "letters, digits"


def _name_problems(s: dict[str, Any]) -> list[str]:
    """One line per name that a service would refuse, or that could widen the IAM policy ('*', '?')."""
    p, a = s["pipeline"], s["aws"]
    out: list[str] = []

    def check(setting: str, value: str, pattern: re.Pattern[str], rule: str, *, optional: bool = False) -> None:
        if optional and value == "":
            return
        if not pattern.fullmatch(value) or value in (".", ".."):
            out.append(f"{setting} must be {rule}, got {value!r}")

    kafka_rule = f"1-249 {LETTERS}, '.', '_' or '-' (a Kafka topic name)"
    check("pipeline.topic", p.topic, KAFKA_NAME_RE, kafka_rule)
    check("aws.topic", a.topic, KAFKA_NAME_RE, kafka_rule)
    check("pipeline.consumer_group", p.consumer_group, GROUP_NAME_RE, f"1-255 {LETTERS}, '.', '_' or '-'")
    local_rule = f"1-255 {LETTERS}, '_' or '-', beginning with a letter or digit"
    check("pipeline.namespace", p.namespace, LOCAL_TABLE_RE, local_rule)
    check("pipeline.table", p.table, LOCAL_TABLE_RE, local_rule)
    s3_rule = "1-255 lowercase letters, digits or '_', beginning and ending with a letter or digit (S3 Tables)"
    # the rejected table is written in both environments: S3 Tables' rule
    check("pipeline.rejected_table", p.rejected_table, S3_TABLES_NAME_RE, s3_rule)
    check("aws.namespace", a.namespace, S3_TABLES_NAME_RE, s3_rule)
    if a.namespace.startswith("aws") and S3_TABLES_NAME_RE.fullmatch(a.namespace):
        out.append(f"aws.namespace must not begin with 'aws' (reserved by S3 Tables), got {a.namespace!r}")
    check("aws.table", a.table, S3_TABLES_NAME_RE, s3_rule)
    check("aws.application_name", a.application_name, APPLICATION_NAME_RE, f"1-128 {LETTERS}, '.', '_' or '-'")
    check(
        "aws.code_bucket",
        a.code_bucket,
        BUCKET_NAME_RE,
        "an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')",
        optional=True,
    )
    check("aws.code_prefix", a.code_prefix, CODE_PREFIX_RE, f"{LETTERS}, '.', '_', '-' or '/'")
    check(
        "aws.log_group",
        a.log_group,
        LOG_GROUP_RE,
        f"a log group name ({LETTERS}, '.', '_', '-', '/' or '#')",
        optional=True,
    )
    for subnet in a.subnets:
        check("aws.subnets", subnet, SUBNET_RE, "subnet ids (subnet-0123abcd...)")
    for group in a.security_groups:
        check("aws.security_groups", group, SECURITY_GROUP_RE, "security group ids (sg-0123abcd...)")
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_problems(local: LocalSettings) -> list[str]:
    if local.allow_remote:
        return []
    return [
        f"local.{key} must be a loopback address (127.0.0.1, ::1 or localhost), got {host!r}: other machines could "
        "reach it; set local.allow_remote = true to allow that (see docs/security.md)"
        for key, host in (("kafka_host", local.kafka_host), ("flink_host", local.flink_host))
        if not _is_loopback(host)
    ]


def _path_problems(project: Path, local: LocalSettings, environ: Mapping[str, str]) -> list[str]:
    """A state folder or warehouse that `local down --purge` could not delete safely."""
    out = []
    home = Path(environ.get("HOME") or Path.home()).resolve()
    resolved: dict[str, Path] = {}
    for key in ("state_dir", "warehouse"):
        value = getattr(local, key)
        if not str(value).strip():
            out.append(f"local.{key} must name a folder, got {value!r}")
            continue
        text = str(value)
        if text == "~" or text.startswith("~/"):
            text = str(home) + text[1:]
        path = Path(text)
        path = (path if path.is_absolute() else project / path).resolve()
        before = len(out)
        if path == Path(path.anchor):
            out.append(f"local.{key} must not be the root folder {path}: `local down --purge` deletes it")
        elif path == home:
            out.append(f"local.{key} must not be the home folder {path}: `local down --purge` deletes it")
        elif path == project or project.is_relative_to(path):
            out.append(
                f"local.{key} must not be the project folder or one of its parents ({path}): "
                "`local down --purge` deletes it"
            )
        elif not path.is_relative_to(project) and not local.allow_outside_project:
            out.append(
                f"local.{key} {path} is outside the project folder {project}: set local.allow_outside_project = true "
                "to use it (`local down --purge` deletes it)"
            )
        if len(out) == before:
            resolved[key] = path
    state, warehouse = resolved.get("state_dir"), resolved.get("warehouse")
    if state and warehouse and state.is_relative_to(warehouse):
        out.append(f"local.warehouse must not be the state folder or hold it ({warehouse})")
    return out


def _java_opts_problems(opts: str) -> list[str]:
    """local.java_opts goes into one line of Flink's config.yaml and, split as a shell would, onto the broker's
    command line."""
    if any(c in opts for c in "\r\n#"):
        return ["local.java_opts must be JVM options on one line, without '#'"]
    try:
        shlex.split(opts)
    except ValueError as exc:
        return [f"local.java_opts cannot be split into options ({exc}): close its quotes"]
    return []


def _env_layer(section: str, cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        var = f"PIPECTL_{section.upper()}_{f.name.upper()}"
        if var in environ:
            out[f.name] = environ[var]
    return out


def load_settings(
    project_dir: Path | None = None,
    *,
    config_file: Path | None = None,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings. All problems are collected and reported at once.

    The settings as configured: aiming `--env aws` at a running `pipectl aws rehearse` is the
    command layer's choice (`pipectl.rehearse.state.point_at_rehearsal`, called by cli/context.py)."""
    environ = os.environ if environ is None else environ
    project = (project_dir or find_project_dir()).resolve()
    problems: list[str] = []

    path = config_file or Path(environ.get("PIPECTL_CONFIG", project / CONFIG_FILE))
    file_data: dict[str, Any] = {}
    if path.is_file():
        try:
            file_data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc})", hint="fix the file") from None
    elif config_file is not None:
        raise ConfigError(f"config file {path} does not exist", hint="check the --config path")

    flag_layers: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        flag_layers.setdefault(section, {})[name] = value

    for key in file_data:
        if key not in _SECTIONS and key != "env":
            problems.append(f"unknown section [{key}] in {path.name}")

    sections = {}
    for section, cls in _SECTIONS.items():
        file_section = file_data.get(section, {})
        if not isinstance(file_section, dict):
            problems.append(f"[{section}] in {path.name} must be a table")
            file_section = {}
        sections[section] = _section_values(
            section,
            cls,
            [file_section, _env_layer(section, cls, environ), flag_layers.get(section, {})],
            problems,
        )

    chosen = env or environ.get("PIPECTL_ENV") or environ.get("DEPLOYMENT_ENV") or file_data.get("env") or "local"
    if chosen not in ENVIRONMENTS:
        problems.append(f"environment must be one of {', '.join(ENVIRONMENTS)}, got {chosen!r}")
    if sections["local"].runtime not in ("native", "docker", "auto"):
        problems.append(f"local.runtime must be native, docker or auto, got {sections['local'].runtime!r}")
    p = sections["pipeline"]
    if sections["aws"].kafka_auth not in KAFKA_AUTH:
        problems.append(f"aws.kafka_auth must be one of {', '.join(KAFKA_AUTH)}, got {sections['aws'].kafka_auth!r}")
    if p.checkpoint_interval_s < 1:
        problems.append("pipeline.checkpoint_interval_s must be at least 1")
    if p.parallelism < 1:
        problems.append("pipeline.parallelism must be at least 1")
    if p.partitions < 1:
        problems.append("pipeline.partitions must be at least 1")
    problems += _java_opts_problems(sections["local"].java_opts)
    problems += _name_problems(sections)
    problems += _host_problems(sections["local"])
    problems += _path_problems(project, sections["local"], environ)

    if problems:
        raise ConfigError("invalid settings", hint=f"fix {path.name}, PIPECTL_* variables or flags", problems=problems)
    return Settings(
        project_dir=project,
        env=chosen,
        pipeline=sections["pipeline"],
        local=sections["local"],
        aws=sections["aws"],
        rehearse=sections["rehearse"],
        config_file=path if path.is_file() else None,
    )
