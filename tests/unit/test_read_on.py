"""Where a job started without state reads on (pipectl/flink/read_on.py): the pure plan."""

from __future__ import annotations

from pipectl.flink.read_on import plan

TOPIC = "orders.created.v1"


def test_the_group_is_moved_to_one_past_the_tables_last_offsets_either_way():
    # partition 0: the stopping job ended before its last offset commit (behind); 1: in step; 2: ahead of
    # the tables (their last records are not stored): read again; 3: nothing stored, left as it is
    got = plan(TOPIC, {0: 120, 1: 80, 2: 50}, {0: 100, 1: 80, 2: 60, 3: 7}, {}, {0: 130, 1: 80, 2: 70, 3: 9})
    assert got.changed == {0: (100, 120), 2: (60, 50)}
    assert got.read_from == {0: 120, 1: 80, 2: 50}  # the job's KAFKA_START_OFFSETS; 3: the group's offset
    assert got.warnings == []
    assert got.describe() == (
        "the consumer group's offsets set to read on after the tables' last records (partition 0: 100 -> 120, "
        "partition 2: 60 -> 50)"
    )


def test_a_group_that_never_committed_is_set_too():
    got = plan(TOPIC, {0: 5}, {}, {0: 0}, {0: 5})
    assert got.changed == {0: (None, 5)} and got.warnings == []
    assert got.describe().endswith("(partition 0: none -> 5)")


def test_offsets_beyond_the_topics_end_are_left_with_a_warning():
    got = plan(TOPIC, {0: 500, 1: 3}, {0: 10}, {0: 0, 1: 0}, {0: 20, 1: 3})
    assert got.changed == {1: (None, 3)} and got.read_from == {1: 3}
    assert got.warnings == [
        "orders.created.v1 partition 0 ends at offset 20, but the tables hold its offset 499: the topic was made "
        "again since; partition 0 reads on from the consumer group's offsets"
    ]


def test_a_partition_the_topic_no_longer_has_is_left_with_a_warning():
    got = plan(TOPIC, {4: 9}, {}, {}, {0: 20})
    assert got.changed == {} and got.read_from == {}
    assert got.warnings == [
        "orders.created.v1 has no partition 4, but the tables hold its offset 8: the topic was made again since; "
        "its partitions read on from the consumer group's offsets"
    ]


def test_records_deleted_by_retention_before_they_were_stored_are_named():
    got = plan(TOPIC, {0: 40}, {0: 30}, {0: 55}, {0: 90})
    assert got.changed == {0: (30, 40)}
    assert got.warnings == [
        "orders.created.v1 partition 0 begins at offset 55: its records from 40 on were deleted by the topic's "
        "retention before they were stored"
    ]
