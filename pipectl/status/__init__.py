"""One view of the whole pipeline (`pipectl status`): facts from Kafka, Flink and Iceberg, a
verdict per stage and overall.

- model:  the facts (dataclasses), Stage, PipelineStatus and its exit code
- rules:  the verdicts, pure functions of the facts, and `assemble`
- local:  the local collectors (kafka-python, Flink REST, the runtime's TaskManager process)
- aws:    the AWS collectors (Managed Flink, CloudWatch, MSK)
- tables: the Iceberg collector (both environments, through pipectl.iceberg)
- watch:  `collect` and `watch`

The rules and the JSON shape are documented in docs/status.md.
"""

from __future__ import annotations

from pipectl.status.model import DEGRADED, DOWN, HEALTHY, UNKNOWN, PipelineStatus, Stage
from pipectl.status.rules import assemble, judge_flink, judge_iceberg, judge_kafka
from pipectl.status.watch import collect, watch

__all__ = [
    "DEGRADED",
    "DOWN",
    "HEALTHY",
    "UNKNOWN",
    "PipelineStatus",
    "Stage",
    "assemble",
    "collect",
    "judge_flink",
    "judge_iceberg",
    "judge_kafka",
    "watch",
]
