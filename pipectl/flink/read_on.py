"""Where a job started without state reads on: after the last record the tables hold.

A job started without state (`job start --fresh`, the offsets path of `job upgrade`) reads from the
consumer group's committed offsets. Those are not where the tables end: Flink's Kafka source commits
them asynchronously after each checkpoint, and a stopping job can end before its last commit lands,
so the records after them were stored already (measured: 122 records stored twice by an upgrade
while 40 events/s flowed). Every record lands in exactly one of the two tables with its
`kafka_partition` and `kafka_offset`, so the tables say where to read on: one past the highest
offset they hold in each partition. `align_group` sets the group's offsets there before the job
starts, and hands the job the same offsets (KAFKA_START_OFFSETS: the Kafka source's specific offsets).

The tables are the pipeline's (its settings name the topic, the two tables and the group together), so
their offsets are the topic's. Partitions the tables hold no record of keep the group's offsets (a new
group: the beginning). A partition whose stored offset lies at or beyond the topic's end keeps them too,
with a warning: the topic was made again since those rows were written, and its offsets are not theirs.
On AWS pipectl cannot reach MSK's brokers: deploy gives the job the offsets only (pipectl/aws/deploy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipectl import kafka_admin, tablecount
from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError
from pipectl.iceberg import load_local_table

__all__ = ["Alignment", "align_group", "plan", "tables_next_offsets"]


@dataclass
class Alignment:
    next_offsets: dict[int, int] = field(default_factory=dict)  # partition -> one past the highest stored offset
    read_from: dict[int, int] = field(default_factory=dict)  # ... of those within the topic: where the job reads on
    changed: dict[int, tuple[int | None, int]] = field(default_factory=dict)  # partition -> (committed, set to)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        moves = ", ".join(
            f"partition {p}: {'none' if old is None else old} -> {new}"
            for p, (old, new) in sorted(self.changed.items())
        )
        return f"the consumer group's offsets set to read on after the tables' last records ({moves})"


def describe_offsets(by_partition: Mapping[Any, int]) -> str:
    """Where a job started without state reads on: `partition 0 at 3,790, partition 1 at 3,983`."""
    return ", ".join(f"partition {p} at {o:,}" for p, o in sorted(by_partition.items(), key=lambda kv: int(kv[0])))


def tables_next_offsets(settings: Settings, load: Callable[[str], Any] | None = None) -> dict[int, int]:
    """One past the highest Kafka offset stored in the orders and rejected tables, per partition.
    `load(name)` gives a table (pyiceberg), NotFoundError when there is none: the local warehouse's by
    default, S3 Tables' on AWS."""
    highest: dict[int, int] = {}
    for name in (settings.names.table, settings.names.rejected_table):
        try:
            table = load(name) if load is not None else load_local_table(settings, name)
        except NotFoundError:
            continue
        snapshot = table.current_snapshot()
        names = {f.name for f in table.schema().fields}
        if snapshot is None or not {"kafka_partition", "kafka_offset"} <= names:  # not a table of this job's
            continue
        for partition, offset in tablecount.max_offsets(table, snapshot).items():
            highest[partition] = max(offset, highest.get(partition, offset))
    return {p: o + 1 for p, o in highest.items()}


def plan(
    topic: str, next_offsets: dict[int, int], committed: dict[int, int], begin: dict[int, int], end: dict[int, int]
) -> Alignment:
    """What `align_group` changes (pure): the group's offset of every partition the tables hold records
    of, set to one past the last of them, where it differs and lies within the topic."""
    alignment = Alignment(dict(next_offsets))
    for partition, offset in sorted(next_offsets.items()):
        if partition not in end:
            alignment.warnings.append(
                f"{topic} has no partition {partition}, but the tables hold its offset {offset - 1}: the topic was made "
                "again since; its partitions read on from the consumer group's offsets"
            )
            continue
        if offset > end[partition]:
            alignment.warnings.append(
                f"{topic} partition {partition} ends at offset {end.get(partition, 0)}, but the tables hold its offset "
                f"{offset - 1}: the topic was made again since; partition {partition} reads on from the consumer "
                "group's offsets"
            )
            continue
        if offset < begin.get(partition, 0):
            alignment.warnings.append(
                f"{topic} partition {partition} begins at offset {begin[partition]}: its records from {offset} on were "
                "deleted by the topic's retention before they were stored"
            )
        alignment.read_from[partition] = offset
        if committed.get(partition) != offset:
            alignment.changed[partition] = (committed.get(partition), offset)
    return alignment


def align_group(settings: Settings) -> Alignment:
    """Set the consumer group's offsets to one past the tables' last records (the job is not running:
    Flink's Kafka source takes no part in the group, so the group is empty and takes the commit)."""
    next_offsets = tables_next_offsets(settings)
    if not next_offsets:
        return Alignment()
    p = settings.pipeline
    bootstrap = settings.kafka_bootstrap
    begin, end = kafka_admin.topic_offsets(bootstrap, p.topic)
    alignment = plan(p.topic, next_offsets, kafka_admin.group_offsets(bootstrap, p.consumer_group, p.topic), begin, end)
    if alignment.changed:
        failed = kafka_admin.commit_group_offsets(
            bootstrap, p.consumer_group, p.topic, {part: new for part, (_, new) in alignment.changed.items()}
        )
        if failed:
            raise PipectlError(
                f"could not set the consumer group {p.consumer_group}'s offsets ({failed})",
                hint="is another consumer in the group? stop it, then start the job again",
            )
    return alignment
