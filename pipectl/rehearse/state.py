"""Where a running rehearsal is recorded, and how the aws environment finds it.

`pipectl aws rehearse` writes <state>/rehearsal/rehearsal.json once data can flow; `--down`
deletes it. While the file is there and the emulator it names still runs, `--env aws` commands
(produce, verify, status) use the rehearsal's endpoint, broker, table bucket and credentials,
and say so on stderr. `pipectl aws deploy` and the other service commands load their settings
with rehearsal=False and never see it. The command layer (cli/context.py) aims the settings here;
the settings loader does not import this module.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipectl import procs, statefile

if TYPE_CHECKING:
    from pipectl.config import Settings

FOLDER = "rehearsal"
STATE_FILE = "rehearsal.json"


@dataclass(frozen=True)
class Rehearsal:
    """What the aws environment needs to reach a running rehearsal."""

    region: str
    endpoint_url: str  # moto: S3, S3 Tables, IAM, STS
    bootstrap_servers: str  # the IAM-auth (SASL_SSL) broker
    ca_file: str  # PEM of the broker's self-signed CA
    table_bucket_arn: str
    access_key_id: str  # the rehearsal's own emulator credentials: they open nothing outside it
    secret_access_key: str
    flink_url: str
    job_id: str
    java_version: str
    started_in_s: float
    artifact_sha256: str = ""  # the zip it runs (rehearse again with another zip: restarted)
    egress_url: str = ""  # the job's path to the emulator (pipectl.rehearse.egress); pipectl reads endpoint_url
    savepoint: str = ""  # set by `rehearse --stop`: the job is stopped; `rehearse` restores from it

    def public(self) -> dict[str, object]:
        """Everything but the credentials (for output)."""
        d = dataclasses.asdict(self)
        d.pop("secret_access_key")
        d.pop("access_key_id")
        return d


def folder(state_dir: Path) -> Path:
    return state_dir / FOLDER


def path(state_dir: Path) -> Path:
    return folder(state_dir) / STATE_FILE


def write(state_dir: Path, rehearsal: Rehearsal) -> Path:
    """Atomically, readable by the user only (it holds the emulator's credentials)."""
    return statefile.write_json(path(state_dir), dataclasses.asdict(rehearsal), mode=0o600)


def read(state_dir: Path) -> Rehearsal | None:
    """The recorded rehearsal; None when none is recorded; a StateFileError when the file cannot be read."""
    target = path(state_dir)
    way_out = f"stop the rehearsal with 'pipectl aws rehearse --down' (or delete {target}) and rehearse again"
    data = statefile.read_json(target, way_out=way_out)
    if data is None:
        return None
    try:
        return Rehearsal(**{f.name: data[f.name] for f in dataclasses.fields(Rehearsal) if f.name in data})
    except TypeError as exc:  # a field is missing
        raise statefile.StateFileError(target, f"a field is missing: {exc}", way_out) from None


def read_active(state_dir: Path) -> Rehearsal | None:
    """The recorded rehearsal, if its emulator still runs (a stale file is ignored)."""
    rehearsal = read(state_dir)
    if rehearsal is None or not procs.is_alive(procs.read(folder(state_dir) / "run", "moto")):
        return None
    return rehearsal


def point_at_rehearsal(settings: Settings) -> Settings:
    """The aws settings aimed at the running rehearsal, or `settings` unchanged when none runs."""
    rehearsal = read_active(settings.state_dir)
    if rehearsal is None:
        return settings
    aws = dataclasses.replace(
        settings.aws,
        region=rehearsal.region,
        profile="",
        endpoint_url=rehearsal.endpoint_url,
        bootstrap_servers=rehearsal.bootstrap_servers,
        kafka_auth="iam",
        kafka_ca_file=rehearsal.ca_file,
        msk_cluster_arn="",
        table_bucket_arn=rehearsal.table_bucket_arn,
    )
    return dataclasses.replace(settings, aws=aws, rehearsal=path(settings.state_dir))


def credentials_env(access_key_id: str, secret_access_key: str, region: str) -> dict[str, str]:
    """The environment that makes AWS SDKs sign with the rehearsal's credentials."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def use_credentials(settings: Settings) -> Rehearsal | None:
    """When `settings` point at a rehearsal: put its credentials into this process's environment
    (for boto3 and the MSK IAM token signer, which read them from there) and return it."""
    if settings.rehearsal is None:
        return None
    rehearsal = read_active(settings.state_dir)
    if rehearsal is None:
        return None
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(credentials_env(rehearsal.access_key_id, rehearsal.secret_access_key, rehearsal.region))
    return rehearsal
