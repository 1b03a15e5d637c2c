"""Amazon S3 Tables: list what is there, and open a table for reading with pyiceberg.

A table's current metadata file comes from s3tables GetTableMetadataLocation; pyiceberg then
reads metadata, manifests and data straight from the table's S3 storage with the caller's
credentials (which need s3tables:GetTableData).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pipectl.aws.errors import (
    MAINTENANCE_NOT_SERVED,
    S3TABLES_NOT_FOUND,
    AwsError,
    CREDENTIALS_HINT,
    aws_call,
    error_code,
    translate,
)
from pipectl.aws.target import Target, resolve
from pipectl.config import Settings
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.flink.resume import Chain, ancestry, lineage_depth


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _pages(call: Any, key: str, **kwargs: Any) -> list[dict]:
    items: list[dict] = []
    while True:
        page = call(**kwargs)
        items.extend(page.get(key, []))
        token = page.get("continuationToken")
        if not token:
            return items
        kwargs["continuationToken"] = token


def describe_catalog(settings: Settings) -> dict:
    """Table buckets in the region -> namespaces -> tables."""
    target = resolve(settings, "tables")
    client = target.client("s3tables")
    buckets = []
    with aws_call(f"list the S3 table buckets in {target.region}"):
        for bucket in _pages(client.list_table_buckets, "tableBuckets"):
            namespaces: list[dict[str, Any]] = []
            for ns in _pages(client.list_namespaces, "namespaces", tableBucketARN=bucket["arn"]):
                name = ns["namespace"][0] if isinstance(ns.get("namespace"), list) else ns.get("namespace")
                tables = _pages(client.list_tables, "tables", tableBucketARN=bucket["arn"], namespace=name)
                namespaces.append(
                    {
                        "name": name,
                        "tables": [
                            {"name": t["name"], "type": t.get("type"), "modified_at": _iso(t.get("modifiedAt"))}
                            for t in sorted(tables, key=lambda t: t["name"])
                        ],
                    }
                )
            buckets.append(
                {
                    "name": bucket["name"],
                    "arn": bucket["arn"],
                    "namespaces": sorted(namespaces, key=lambda n: n["name"]),
                }
            )
    return {"region": target.region, "table_buckets": sorted(buckets, key=lambda b: b["name"])}


def _which_missing(target: Target, namespace: str, name: str) -> NotFoundError:
    """Tell apart a missing bucket, namespace and table."""
    client = target.client("s3tables")
    bucket = target.aws.table_bucket_arn
    hint_create = "the job creates them on its first run; check aws.table_bucket_arn, aws.namespace and aws.table"
    with aws_call("read the S3 table bucket"):
        try:
            client.get_table_bucket(tableBucketARN=bucket)
        except Exception as exc:
            if error_code(exc) in S3TABLES_NOT_FOUND:
                return NotFoundError(
                    f"table bucket {bucket} does not exist",
                    hint=f"check aws.table_bucket_arn (`aws s3tables list-table-buckets --region {target.region}`)",
                )
            raise
        try:
            client.get_namespace(tableBucketARN=bucket, namespace=namespace)
        except Exception as exc:
            if error_code(exc) in S3TABLES_NOT_FOUND:
                return NotFoundError(
                    f"namespace '{namespace}' does not exist in table bucket {bucket}", hint=hint_create
                )
            raise
    return NotFoundError(f"table '{namespace}.{name}' does not exist in table bucket {bucket}", hint=hint_create)


def metadata_location(target: Target, namespace: str, name: str) -> str:
    client = target.client("s3tables")
    with aws_call(f"read the metadata location of {namespace}.{name}"):
        try:
            answer = client.get_table_metadata_location(
                tableBucketARN=target.aws.table_bucket_arn, namespace=namespace, name=name
            )
        except Exception as exc:
            if error_code(exc) in S3TABLES_NOT_FOUND:
                raise _which_missing(target, namespace, name) from None
            raise
    location = answer.get("metadataLocation")
    if not location:
        raise NotFoundError(
            f"table '{namespace}.{name}' has no committed metadata yet",
            hint="the job writes it on its first checkpoint; check `pipectl aws status` and `pipectl aws logs`",
        )
    return location


def file_io_properties(target: Target) -> dict[str, str]:
    """pyiceberg FileIO properties: region, endpoint (emulators) and the session's credentials."""
    with aws_call("load AWS credentials"):
        creds = target.session.get_credentials()
    if creds is None:
        raise AwsError("no usable AWS credentials found while trying to read the table", CREDENTIALS_HINT, EXIT_USAGE)
    frozen = creds.get_frozen_credentials()
    props = {
        "s3.region": target.region,
        "s3.access-key-id": frozen.access_key,
        "s3.secret-access-key": frozen.secret_key,
    }
    if frozen.token:
        props["s3.session-token"] = frozen.token
    endpoint = target.endpoint_url or _s3_endpoint_override()
    if endpoint:
        props["s3.endpoint"] = endpoint
    return props


def _s3_endpoint_override() -> str | None:
    import os

    return os.environ.get("AWS_ENDPOINT_URL_S3") or None


def load_table(settings: Settings, namespace: str, name: str) -> Any:
    """The pyiceberg Table `namespace.name` of the configured table bucket (read-only)."""
    target = resolve(settings, "table")
    location = metadata_location(target, namespace, name)
    props = file_io_properties(target)
    from pyiceberg.catalog.noop import NoopCatalog
    from pyiceberg.io import load_file_io
    from pyiceberg.serializers import FromInputFile
    from pyiceberg.table import StaticTable

    try:
        io = load_file_io(properties=props, location=location)
        metadata = FromInputFile.table_metadata(io.new_input(location))
    except (OSError, ValueError) as exc:
        kind = type(exc).__name__
        raise PipectlError(
            f"could not read the metadata of {namespace}.{name} at {location} ({kind})",
            hint="the caller needs s3tables:GetTableData on the table; check credentials and aws.region",
        ) from None
    return StaticTable(
        identifier=(namespace, name),
        metadata=metadata,
        metadata_location=location,
        io=io,
        catalog=NoopCatalog("s3tables"),
    )


# --------------------------------------------------------------------------- the sink's lineage
LINEAGE_HINT = (
    "start without state, reading on after the last records the tables hold: `pipectl aws deploy --restore none`; "
    "docs/aws.md#s3-tables-maintenance says how to keep the lineage"
)


def lineage_chain(table: Any, name: str) -> Chain:
    """A pyiceberg table's snapshots as the Iceberg sink's committer walks them on restore."""
    summaries, truncated = ancestry(table)
    return Chain(name, table.metadata.location, summaries, truncated)


def lost_lineage(chains: list[Chain]) -> list[str]:
    """The tables whose walk ends at an expired snapshot before any Flink commit: restored from a
    snapshot, the sink would find nothing of its job and commit the snapshot's last checkpoint
    again (from a manifest it deleted after the first commit)."""
    return [c.table for c in chains if c.truncated and lineage_depth(c.summaries) == 0]


def check_restore_lineage(settings: Settings) -> None:
    """Before a start or update that restores a snapshot: refuse when S3 Tables' own snapshot
    expiry cut the Flink commit lineage of a pipeline table (tables not there yet are skipped)."""
    names = settings.names
    chains = []
    for name in (names.table, names.rejected_table):
        try:
            chains.append(lineage_chain(load_table(settings, names.namespace, name), f"{names.namespace}.{name}"))
        except NotFoundError:
            continue
    lost = lost_lineage(chains)
    if lost:
        raise PipectlError(
            f"cannot restore from a snapshot: {', '.join(lost)} keeps no commit of the Flink job (its snapshots "
            "back to the job's last commit were expired), so the sink would commit the snapshot's last checkpoint "
            "again",
            hint=LINEAGE_HINT,
        )


def next_offsets(settings: Settings) -> dict[int, int]:
    """One past the highest Kafka offset the pipeline's two tables hold, per partition: where a start
    without state reads on (pipectl/flink/read_on.py; tables not there yet hold nothing)."""
    from pipectl.flink import read_on

    names = settings.names
    return read_on.tables_next_offsets(settings, lambda name: load_table(settings, names.namespace, name))


# --------------------------------------------------------------------------- S3 Tables' own maintenance
# S3 Tables expires a snapshot once it is older than maxSnapshotAgeHours AND beyond the newest
# minSnapshotsToKeep (defaults 120 h and 1). A stopped application's table gains snapshots only from
# S3 Tables' compaction, one per run, on top of the job's last commit; keeping the newest 100 keeps
# that commit for any realistic stop, and costs nothing while the job runs (everything younger than
# maxSnapshotAgeHours is kept anyway). 100 is the largest value AWS's CDK constructs accept.
SNAPSHOT_MANAGEMENT = "icebergSnapshotManagement"
LINEAGE_SNAPSHOTS = 100
DEFAULT_SNAPSHOT_AGE_HOURS = 120


@dataclass
class LineageKeeping:
    """One table's snapshot management as pipectl found it and left it."""

    table: str
    state: str  # set | kept (already enough) | too_few (a check) | disabled (nothing expires) | missing | not_served | failed
    min_snapshots_to_keep: int | None = None
    max_snapshot_age_hours: int | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _snapshot_management(client: Any, bucket: str, namespace: str, name: str) -> dict | None:
    """The table's icebergSnapshotManagement entry ({status, settings}); None when never set (defaults)."""
    answer = client.get_table_maintenance_configuration(tableBucketARN=bucket, namespace=namespace, name=name)
    entry = (answer.get("configuration") or {}).get(SNAPSHOT_MANAGEMENT)
    return entry if isinstance(entry, dict) else None


def _numbers(entry: dict | None) -> tuple[str, int, int]:
    """(status, minSnapshotsToKeep, maxSnapshotAgeHours), S3 Tables' defaults where unset."""
    if entry is None:
        return "enabled", 1, DEFAULT_SNAPSHOT_AGE_HOURS
    settings = (entry.get("settings") or {}).get(SNAPSHOT_MANAGEMENT) or {}
    return (
        str(entry.get("status", "enabled")),
        int(settings.get("minSnapshotsToKeep") or 1),
        int(settings.get("maxSnapshotAgeHours") or DEFAULT_SNAPSHOT_AGE_HOURS),
    )


def keep_lineage(target: Target, *, apply: bool = True) -> list[LineageKeeping]:
    """Snapshot management on the pipeline's two tables keeps at least LINEAGE_SNAPSHOTS snapshots
    (the user's larger values and their maxSnapshotAgeHours are kept; disabled stays disabled: then
    nothing expires). With `apply` False only reads (the check before a restore, `--plan`).
    Tables not created yet are skipped (the job creates them); an endpoint without the maintenance
    API (the moto emulator) is said, never taken for success."""
    names = target.settings.names
    client = target.client("s3tables")
    bucket = target.aws.table_bucket_arn
    found = []
    for name in (names.table, names.rejected_table):
        table = f"{names.namespace}.{name}"
        try:
            entry = _snapshot_management(client, bucket, names.namespace, name)
            status, keep, age = _numbers(entry)
            if status != "enabled":
                found.append(
                    LineageKeeping(table, "disabled", message=f"{table}: snapshot management disabled, nothing expires")
                )
                continue
            if keep >= LINEAGE_SNAPSHOTS:
                found.append(LineageKeeping(table, "kept", keep, age, f"{table}: keeps the newest {keep} snapshots"))
                continue
            if not apply:
                found.append(
                    LineageKeeping(
                        table,
                        "too_few",
                        keep,
                        age,
                        f"{table}: S3 Tables keeps only the newest {keep} snapshot(s) older than {age} h, "
                        f"so a stop longer than that can cut the job's commit lineage",
                    )
                )
                continue
            value = {
                "status": "enabled",
                "settings": {
                    SNAPSHOT_MANAGEMENT: {"minSnapshotsToKeep": LINEAGE_SNAPSHOTS, "maxSnapshotAgeHours": age}
                },
            }
            client.put_table_maintenance_configuration(
                tableBucketARN=bucket, namespace=names.namespace, name=name, type=SNAPSHOT_MANAGEMENT, value=value
            )
            found.append(
                LineageKeeping(
                    table,
                    "set",
                    LINEAGE_SNAPSHOTS,
                    age,
                    f"{table}: snapshot management set to keep the newest {LINEAGE_SNAPSHOTS} snapshots (was {keep})",
                )
            )
        except (
            Exception
        ) as exc:  # told apart by code; anything else is said, not raised: the restore check still guards
            code = error_code(exc)
            if code in MAINTENANCE_NOT_SERVED:
                found.append(
                    LineageKeeping(
                        table,
                        "not_served",
                        message=f"{table}: snapshot management not "
                        + ("set" if apply else "read")
                        + f": the S3 Tables endpoint does not serve the maintenance API (HTTP {code}; the moto emulator has none)",
                    )
                )
            elif code in S3TABLES_NOT_FOUND:
                found.append(LineageKeeping(table, "missing", message=f"{table}: not created yet (the job creates it)"))
            elif not code:  # not an AWS answer (credentials, network): the usual one line
                mapped = translate(exc, f"read the maintenance configuration of {table}")
                if mapped is None:
                    raise
                raise mapped from None
            else:
                found.append(
                    LineageKeeping(table, "failed", message=f"{table}: snapshot management not read or set ({code})")
                )
    return found


def report_lineage_keeping(target: Target, reporter: Any, *, apply: bool) -> list[LineageKeeping]:
    """keep_lineage, said one line per table (set: done; not set or too few kept: a warning).
    Never fails the command: before a restore, the lineage check itself is what refuses."""
    if not target.aws.table_bucket_arn:
        return []
    try:
        found = keep_lineage(target, apply=apply)
    except PipectlError as exc:
        reporter.warn(f"snapshot management of the tables not checked: {exc.message}")
        return []
    for k in found:
        if k.state == "set":
            reporter.done(k.message)
        elif k.state in ("too_few", "failed", "not_served"):
            reporter.warn(k.message)
    return found
