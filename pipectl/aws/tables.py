"""Amazon S3 Tables: list what is there, and open a table for reading with pyiceberg.

A table's current metadata file comes from s3tables GetTableMetadataLocation; pyiceberg then
reads metadata, manifests and data straight from the table's S3 storage with the caller's
credentials (which need s3tables:GetTableData).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipectl.aws.errors import S3TABLES_NOT_FOUND, AwsError, CREDENTIALS_HINT, aws_call, error_code
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
    "start without state, from the consumer group's offsets (after a clean `pipectl aws stop` they match the "
    "snapshot): `pipectl aws deploy --restore none`; docs/aws.md#s3-tables-maintenance says how to keep the lineage"
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
