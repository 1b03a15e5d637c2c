"""The facts of the Iceberg stage: the orders table and its quarantine, read with pyiceberg
through pipectl.iceberg (locally from the warehouse, on AWS from S3 Tables)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from collections.abc import Callable

from pipectl import iceberg
from pipectl.config import PipelineNames
from pipectl.errors import NotFoundError, PipectlError
from pipectl.status.model import IcebergFacts

if TYPE_CHECKING:
    from pyiceberg.table import Table

RATE_WINDOW_S = 60  # rows_per_s: rows committed over this many seconds
Loader = Callable[[str | None], "Table"]  # a table by name (None: the orders table)


def iceberg_facts(names: PipelineNames, load: Loader) -> IcebergFacts:
    facts = IcebergFacts(table=names.qualified_table)
    table = None
    for attempt in (1, 2):  # a commit may replace the metadata while we read it: try once more
        try:
            table = load(None)
            break
        except NotFoundError:
            return facts
        except PipectlError as exc:
            facts.error = f"cannot read table {facts.table}: {exc.message}"
            return facts
        except (OSError, ValueError) as exc:
            if attempt == 2:
                facts.error = f"cannot read table {facts.table} ({type(exc).__name__})"
                return facts
            time.sleep(0.3)
    assert table is not None  # the loop returned otherwise
    counted = iceberg.totals(table)
    facts.exists = True
    facts.location = table.metadata.location
    facts.snapshots = len(table.metadata.snapshots)
    facts.last_commit_age_s = iceberg.last_commit_age_s(table)
    facts.rows, facts.data_files, facts.data_bytes = counted.rows, counted.data_files, counted.data_bytes
    facts.avg_file_bytes = counted.avg_file_bytes
    since = time.time() - RATE_WINDOW_S
    added = iceberg.rows_added_since(table, since)
    try:
        rejected = load(names.rejected_table)
        facts.quarantined_rows = iceberg.totals(rejected).rows
        added += iceberg.rows_added_since(rejected, since)
    except (PipectlError, OSError, ValueError):
        pass
    facts.rows_per_s = round(added / RATE_WINDOW_S, 1)
    return facts
