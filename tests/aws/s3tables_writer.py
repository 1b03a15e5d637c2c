"""Write Iceberg tables into (emulated) Amazon S3 Tables with pyiceberg, for the tests.

moto's s3tables has no Iceberg REST endpoint, so this is a minimal pyiceberg catalog that does
what S3 Tables' catalog does: data and metadata go to the table's warehouse location (an S3
bucket moto creates per table), and a commit is UpdateTableMetadataLocation guarded by the
table's version token.
"""

from __future__ import annotations

from typing import Any

import boto3
from pyiceberg.catalog import MetastoreCatalog
import io as _io
from urllib.parse import urlparse

from pyiceberg.io import FileIO, InputFile, OutputFile, load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER


class _S3:
    client: Any = None


def _split(location: str) -> tuple[str, str]:
    u = urlparse(location)
    return u.netloc, u.path.lstrip("/")


class _Input(InputFile):
    def __len__(self) -> int:
        bucket, key = _split(self.location)
        return _S3.client.head_object(Bucket=bucket, Key=key)["ContentLength"]

    def exists(self) -> bool:
        try:
            len(self)
            return True
        except Exception:  # noqa: BLE001
            return False

    def open(self, seekable: bool = True) -> Any:
        bucket, key = _split(self.location)
        return _io.BytesIO(_S3.client.get_object(Bucket=bucket, Key=key)["Body"].read())


class _Upload(_io.BytesIO):
    def __init__(self, location: str):
        super().__init__()
        self.location = location

    def close(self) -> None:
        if not self.closed:
            bucket, key = _split(self.location)
            _S3.client.put_object(Bucket=bucket, Key=key, Body=self.getvalue())
        super().close()


class _Output(OutputFile):
    def __len__(self) -> int:
        return len(_Input(self.location))

    def exists(self) -> bool:
        return _Input(self.location).exists()

    def to_input_file(self) -> InputFile:
        return _Input(self.location)

    def create(self, overwrite: bool = False) -> Any:
        return _Upload(self.location)


class Boto3FileIO(FileIO):
    """Writes with single PutObjects: pyarrow's S3 multipart completion trips over moto's answer."""

    def new_input(self, location: str) -> InputFile:
        return _Input(location)

    def new_output(self, location: str) -> OutputFile:
        return _Output(location)

    def delete(self, location: Any) -> None:
        bucket, key = _split(location if isinstance(location, str) else location.location)
        _S3.client.delete_object(Bucket=bucket, Key=key)


class S3TablesTestCatalog(MetastoreCatalog):
    def __init__(self, table_bucket_arn: str, region: str, endpoint: str):
        super().__init__(
            "s3tables-test",
            **{
                "s3.endpoint": endpoint,
                "s3.region": region,
                "s3.access-key-id": "testing",
                "s3.secret-access-key": "testing",
                "py-io-impl": "tests.aws.s3tables_writer.Boto3FileIO",
            },
        )
        self.bucket_arn = table_bucket_arn
        self.api = boto3.client("s3tables", region_name=region, endpoint_url=endpoint)
        _S3.client = boto3.client("s3", region_name=region, endpoint_url=endpoint)

    def create_table(
        self,
        identifier: Any,
        schema: Any,
        location: str | None = None,
        partition_spec: Any = UNPARTITIONED_PARTITION_SPEC,
        sort_order: Any = UNSORTED_SORT_ORDER,
        properties: Any = None,
    ) -> Table:
        namespace, name = identifier
        existing = [n["namespace"][0] for n in self.api.list_namespaces(tableBucketARN=self.bucket_arn)["namespaces"]]
        if namespace not in existing:
            self.api.create_namespace(tableBucketARN=self.bucket_arn, namespace=[namespace])
        self.api.create_table(tableBucketARN=self.bucket_arn, namespace=namespace, name=name, format="ICEBERG")
        warehouse = self.api.get_table(tableBucketARN=self.bucket_arn, namespace=namespace, name=name)["warehouseLocation"]
        staged = self._create_staged_table(
            identifier, schema, warehouse, partition_spec, sort_order, properties or {}
        )
        self._write(staged)
        self._swap(namespace, name, staged.metadata_location)
        return self.load_table(identifier)

    @staticmethod
    def _write(staged: Any) -> None:
        # Table storage refuses ListObjectsV2 (as S3 Tables does): write without the exists check.
        ToOutputFile.table_metadata(staged.metadata, staged.io.new_output(staged.metadata_location), overwrite=True)

    def _swap(self, namespace: str, name: str, metadata_location: str) -> None:
        token = self.api.get_table(tableBucketARN=self.bucket_arn, namespace=namespace, name=name)["versionToken"]
        self.api.update_table_metadata_location(
            tableBucketARN=self.bucket_arn,
            namespace=namespace,
            name=name,
            versionToken=token,
            metadataLocation=metadata_location,
        )

    def load_table(self, identifier: Any) -> Table:
        namespace, name = identifier
        loc = self.api.get_table_metadata_location(tableBucketARN=self.bucket_arn, namespace=namespace, name=name)[
            "metadataLocation"
        ]
        io = load_file_io(self.properties, loc)
        return Table(
            identifier=(namespace, name),
            metadata=FromInputFile.table_metadata(io.new_input(loc)),
            metadata_location=loc,
            io=io,
            catalog=self,
        )

    def commit_table(self, table: Table, requirements: Any, updates: Any) -> CommitTableResponse:
        namespace, name = table.name()
        current = self.load_table((namespace, name))
        staged = self._update_and_stage_table(current, (namespace, name), requirements, updates)
        self._write(staged)
        self._swap(namespace, name, staged.metadata_location)
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    # Not needed by the tests.
    def _nope(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    register_table = drop_table = rename_table = create_namespace = drop_namespace = _nope
    list_tables = list_namespaces = load_namespace_properties = update_namespace_properties = _nope
    list_views = load_view = drop_view = view_exists = register_view = _nope
