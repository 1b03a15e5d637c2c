"""Emulated S3 Tables and S3: moto in server mode, a detached process that outlives the command.

Its pid file is <state>/rehearsal/run/moto.json and its log <state>/rehearsal/logs/moto.log;
`pipectl aws rehearse --down` stops it. moto serves s3tables in us-east-1, us-east-2 and
us-west-2 only, and keeps everything in memory: stopping it deletes the emulated tables.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from pipectl import procs
from pipectl.errors import ConfigError
from pipectl.wait import wait_until

NAME = "moto"
TABLE_BUCKET = "pipectl-rehearsal"
S3TABLES_REGIONS = ("us-east-1", "us-east-2", "us-west-2")


def start(folder: Path, port: int, timeout: float) -> str:
    """Start moto on 127.0.0.1:`port` (or find it running) and return its URL once it answers."""
    url = f"http://127.0.0.1:{port}"
    run_dir, log = folder / "run", folder / "logs" / "moto.log"
    proc = procs.read(run_dir, NAME)
    if not procs.is_alive(proc):
        # moto.server with its UpdateTableMetadataLocation answer in the API's shape (moto_server.py)
        argv = [sys.executable, "-m", "pipectl.rehearse.moto_server", "-H", "127.0.0.1", "-p", str(port)]
        proc = procs.spawn(run_dir, NAME, argv, env=_env(), log=log, marker="pipectl.rehearse.moto_server", cwd=folder)
    wait_until(
        lambda: _answers(url),
        what=f"the S3 Tables emulator (moto) on {url}",
        timeout=timeout,
        hint=f"see {log}",
        log_tail=lambda: procs.tail(log, 20),
        alive=lambda: procs.is_alive(proc),
    )
    return url


def stop(folder: Path) -> bool:
    run_dir = folder / "run"
    return procs.stop(run_dir, procs.read(run_dir, NAME), timeout=10)


def _env() -> dict[str, str]:
    from pipectl.childenv import child_env

    return child_env({"PYTHONUNBUFFERED": "1"})


def _answers(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/moto-api/", timeout=5) as resp:
        return resp.status == 200


def create_table_bucket(url: str, region: str, access_key_id: str, secret_access_key: str) -> str:
    """The rehearsal's table bucket (created when missing); returns its ARN."""
    if region not in S3TABLES_REGIONS:
        raise ConfigError(
            f"rehearse.region must be one of {', '.join(S3TABLES_REGIONS)} (where the emulator serves S3 Tables), got {region!r}",
            hint="set rehearse.region in pipectl.toml or PIPECTL_REHEARSE_REGION",
        )
    import boto3

    client = boto3.client(
        "s3tables",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )
    for bucket in client.list_table_buckets().get("tableBuckets", []):
        if bucket["name"] == TABLE_BUCKET:
            return str(bucket["arn"])
    return str(client.create_table_bucket(name=TABLE_BUCKET)["arn"])
