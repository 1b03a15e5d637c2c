"""Resume from the latest snapshot on every start and update; anything else only when asked, with a
warning; restore flags that cannot apply are reported, never dropped."""

from __future__ import annotations

from tests.aws.conftest import client, write_zip

APP = "order-ingest"


def kda():
    return client("kinesisanalyticsv2")


def run_config() -> dict:
    d = kda().describe_application(ApplicationName=APP)["ApplicationDetail"]
    return d["ApplicationConfigurationDescription"]["RunConfigurationDescription"]


def snapshot_names() -> list[str]:
    return [s["SnapshotName"] for s in kda().list_application_snapshots(ApplicationName=APP)["SnapshotSummaries"]]


def test_an_update_restores_from_the_snapshot_it_takes(world):
    first = world.json("aws", "deploy", "--skip-build")
    assert first["restored_from"] is None  # no snapshot existed yet: started without state
    assert run_config()["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}
    write_zip(world.zip, marker="v2")
    updated = world.json("aws", "deploy", "--skip-build")
    assert (updated["action"], updated["changes"]) == ("updated", ["code"])
    # The first start said "skip"; the update must not inherit that: it resumes from its own snapshot.
    assert run_config()["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}
    assert run_config()["FlinkRunConfigurationDescription"] == {"AllowNonRestoredState": False}
    [snap] = snapshot_names()
    assert snap.startswith("update-snapshot-") and updated["restored_from"] == snap


def test_restore_flags_go_through_run_configuration_update(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    write_zip(world.zip, marker="v2")
    proc = world.run("aws", "deploy", "--skip-build", "--restore", "none", "--allow-non-restored-state")
    assert proc.returncode == 0, proc.stderr
    assert run_config() == {
        "ApplicationRestoreConfigurationDescription": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"},
        "FlinkRunConfigurationDescription": {"AllowNonRestoredState": True},
    }
    # a start without state stops the application with a snapshot first (its tables are then final; here they
    # hold nothing, so the job reads from the consumer group's offsets), and starts it with the flags
    [snap] = snapshot_names()
    assert snap.startswith("stop-snapshot-")
    [warning] = [line for line in proc.stderr.splitlines() if line.startswith("warning: starting without state")]
    assert warning.startswith(f"warning: starting without state (--restore none) although snapshot {snap} (")
    assert warning.endswith(
        "exists: the job reads the topic again from the consumer group's committed offsets (or the start), and rows "
        "already in the table may be stored twice"
    )


def test_flags_that_cannot_apply_are_reported(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    version = kda().describe_application(ApplicationName=APP)["ApplicationDetail"]["ApplicationVersionId"]
    proc = world.run("aws", "deploy", "--skip-build", "--allow-non-restored-state")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "error: --allow-non-restored-state cannot apply: the application is RUNNING and this deploy changes "
        "nothing, so it neither starts nor restarts it -- stop it first (`pipectl aws stop`), then "
        "`pipectl aws deploy --allow-non-restored-state`"
    )
    proc = world.run("aws", "deploy", "--skip-build", "--restore", "none")
    assert proc.returncode == 2
    assert "error: --restore none cannot apply: the application is RUNNING" in proc.stderr
    assert kda().describe_application(ApplicationName=APP)["ApplicationDetail"]["ApplicationVersionId"] == version


def test_start_uses_the_latest_snapshot_and_an_older_one_only_with_a_warning(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    older = world.json("aws", "stop")["snapshot"]
    assert world.json("aws", "deploy", "--skip-build")["restored_from"] == older
    latest = world.json("aws", "stop")["snapshot"]
    assert latest != older

    again = world.json("aws", "deploy", "--skip-build")  # the default: the newest, without a word
    assert again["restored_from"] == latest
    assert run_config()["ApplicationRestoreConfigurationDescription"] == {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}

    assert world.run("aws", "stop").returncode == 0
    newest = snapshot_names()[-1]
    proc = world.run("aws", "deploy", "--skip-build", "--restore", older)
    assert proc.returncode == 0, proc.stderr
    warning = next(line for line in proc.stderr.splitlines() if line.startswith("warning: restoring from snapshot"))
    assert warning.startswith(f"warning: restoring from snapshot {older} (")
    assert f"older than the latest, {newest} (" in warning
    assert warning.endswith("everything after it is read from Kafka again and stored a second time")
    assert run_config()["ApplicationRestoreConfigurationDescription"] == {
        "ApplicationRestoreType": "RESTORE_FROM_CUSTOM_SNAPSHOT", "SnapshotName": older}


def test_a_missing_snapshot_is_named(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    stopped = world.json("aws", "stop")["snapshot"]
    proc = world.run("aws", "deploy", "--skip-build", "--restore", "nope")
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == (
        f"error: snapshot 'nope' does not exist (or is not READY) for application '{APP}' -- the latest is "
        f"{stopped}; list them with `aws kinesisanalyticsv2 list-application-snapshots`, or use --restore latest"
    )


def test_force_stop_warns_that_the_next_start_is_older(world):
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    snap = world.json("aws", "stop")["snapshot"]
    assert world.run("aws", "deploy", "--skip-build").returncode == 0
    proc = world.run("aws", "stop", "--force")
    assert proc.returncode == 0
    assert (f"warning: --force takes no snapshot: the next start resumes from {snap}, older than the job's state, "
            "so records after it are read again and stored twice; stop without --force to avoid that"
            ) in proc.stderr.splitlines()
