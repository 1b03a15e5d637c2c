"""Does the rehearsed job commit? The rule `aws deploy`'s settle window and `aws status` apply
(pipectl.aws.commits.verdict), on the rehearsal's own facts:

- the table's newest snapshot, read through the emulated S3 Tables API and the metadata file
  (pipectl.aws.commits.newest_commit, as on the service);
- the records in the window: those that arrived on the topic (the broker's end offsets, read on
  its internal listener) or that the job read (its Kafka consumer's `records-consumed-total`,
  from Flink's REST API), whichever is more. On the service pipectl does not reach MSK's
  brokers and takes the application's numRecordsIn from CloudWatch instead.

The window is three checkpoint intervals, at least 30 s (the Iceberg sink commits once per
completed checkpoint); it ends early at the first commit of the job.
"""

from __future__ import annotations

import time

from pipectl.aws import commits
from pipectl.kafka_admin import describe_error
from pipectl.kafka_admin import errors as kafka_errors
from pipectl.aws.target import resolve
from pipectl.config import Settings
from pipectl.errors import PipectlError
from pipectl.flink.rest import FlinkRest
from pipectl.rehearse import state
from pipectl.rehearse.health import _metric_sum

CONSUMED = "KafkaConsumer.records-consumed-total"


def records_read(rest: FlinkRest, job: str) -> int:
    vertices = rest.job(job).get("vertices", [])
    return sum(_metric_sum(rest, job, v["id"], CONSUMED) for v in vertices if "Source" in v.get("name", ""))


def arrived(bootstrap: str, topic: str) -> int:
    from pipectl import kafka_admin

    return sum(kafka_admin.topic_offsets(bootstrap, topic)[1].values())


def watch(aimed: Settings, rehearsal: state.Rehearsal, window_s: float, internal_bootstrap: str) -> commits.CommitCheck:
    """Watch the job for `window_s` seconds (less when it commits): committing, not_committing,
    idle or unknown."""
    target = resolve(aimed, "table")
    table = f"{aimed.aws.namespace}.{aimed.aws.table}"
    rest = FlinkRest(rehearsal.flink_url)
    job = rehearsal.job_id
    since_ms = int(time.time() * 1000)
    try:
        topic = aimed.aws.topic
        first, first_arrived = records_read(rest, job), arrived(internal_bootstrap, topic)
        deadline = time.monotonic() + window_s
        while True:
            newest = commits.newest_commit(target)
            read = max(records_read(rest, job) - first, arrived(internal_bootstrap, topic) - first_arrived)
            found = commits.verdict(table, since_ms, time.time() - since_ms / 1000, newest, read, [job])
            if found.state == "committing" or time.monotonic() >= deadline:
                return found
            time.sleep(1)
    except PipectlError as exc:
        return commits.CommitCheck("unknown", f"cannot tell whether the job commits ({exc.message})")
    except kafka_errors() as exc:
        return commits.CommitCheck("unknown", f"cannot tell whether records arrive ({describe_error(exc)})")


__all__ = ["CONSUMED", "records_read", "watch"]
