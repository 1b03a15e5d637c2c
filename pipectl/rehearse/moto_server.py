"""moto's server (`python -m moto.server`) with one fix to its S3 Tables emulation, so that it answers as
the service's API does: UpdateTableMetadataLocation returns `namespace` as a list of strings (the AWS
API's shape), where moto 5.x returns a string. The AWS SDK for Java v2 (the job's S3TablesCatalog) fails
to read moto's answer ("expecting START_ARRAY, got VALUE_STRING") after the update was applied, retries
it, gets 409 (the version token moved) and reports a conflict: an append is retried by Iceberg, but a
schema change (`ALTER TABLE ... ADD`, the job's evolution at start) inside an Iceberg transaction cannot
be replayed and fails with "Table metadata refresh is required". Run by emulator.py.
"""

from __future__ import annotations

import json
import sys


def _patch() -> None:
    from moto.s3tables.responses import S3TablesResponse

    original = S3TablesResponse.update_table_metadata_location

    def update_table_metadata_location(self):
        status, headers, body = original(self)
        data = json.loads(body)
        if isinstance(data.get("namespace"), str):
            data["namespace"] = [data["namespace"]]
        return status, headers, json.dumps(data)

    S3TablesResponse.update_table_metadata_location = update_table_metadata_location  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    _patch()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
