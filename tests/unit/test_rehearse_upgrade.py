"""`aws rehearse --zip NEW` on a stopped rehearsal: deploy's upgrade check (pipectl.aws.upgrade) against
the record the rehearsal keeps of the release it runs, and the path it takes. The releases' operator ids
are given (building a real job graph is the integration test's part: tests/integration/test_rehearsal.py)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipectl import build
from pipectl.aws import upgrade
from pipectl.config import load_settings
from pipectl.rehearse import release, run, state

BUCKET = "arn:aws:s3tables:us-east-1:123456789012:bucket/pipectl-rehearsal"
SOURCE = "Source: kafka_orders[1] -> Calc[2] -> Correlate[3]"
COMMITTER = "IcebergFilesCommitter -> IcebergSink lakehouse.analytics.orders"
WINDOW = "GroupWindowAggregate[9]"
OLD = [{"id": "a" * 32, "vertex": SOURCE}, {"id": "b" * 32, "vertex": COMMITTER}]


def _settings(tmp_path: Path):
    return load_settings(
        tmp_path,
        env="aws",
        environ={"PIPECTL_CONFIG": str(tmp_path / "none.toml"), "PIPECTL_LOCAL_STATE_DIR": str(tmp_path / ".pipectl")},
    )


def _zip(path: Path, body: str) -> build.Artifact:
    path.parent.mkdir(parents=True, exist_ok=True)
    jar = path.parent / "dependencies.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("README", body)
    with zipfile.ZipFile(path, "w") as zf:
        for entry in build.REQUIRED_ENTRIES:
            if entry.endswith(".jar"):
                zf.write(jar, entry)
            else:
                zf.writestr(entry, body)
    return build.check_zip(path)


@pytest.fixture
def releases(tmp_path, monkeypatch):
    """Two zips, and the operator ids of each, by content hash (the probe's answer)."""
    old = _zip(tmp_path / "old" / "data-pipeline-aws.zip", "v1")
    new = _zip(tmp_path / "new" / "data-pipeline-aws.zip", "v2")
    ops: dict[str, list[dict] | None] = {old.sha256: OLD, new.sha256: OLD}
    monkeypatch.setattr(
        upgrade,
        "release_operators",
        lambda settings, zip_path, sha: (ops[sha], "" if ops[sha] is not None else "could not build the graph"),
    )
    return old, new, ops


def _stopped(state_dir: Path, sha256: str) -> tuple[state.Rehearsal, subprocess.Popen[bytes]]:
    """A stopped rehearsal (`--stop` wrote its savepoint) and a live process standing in for its emulator."""
    rehearsal = state.Rehearsal(
        "us-east-1", "http://127.0.0.1:5055", "127.0.0.1:9098", "/x/ca.pem", BUCKET, "AKIATEST", "s3cr3t",
        "http://127.0.0.1:8091", "0" * 32, "11.0.13", 60.0, artifact_sha256=sha256, savepoint="file:///x/savepoint-1",
    )
    state.write(state_dir, rehearsal)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "moto.server"])
    run_dir = state.folder(state_dir) / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "moto.json").write_text(json.dumps({"pid": proc.pid, "marker": "moto.server", "log": "x"}))
    return rehearsal, proc


def test_the_record_is_of_the_release_it_runs_and_the_check_names_the_path(tmp_path, releases):
    old, new, ops = releases
    s = _settings(tmp_path)
    path = release.record(s, Path(old.path), old)
    assert json.loads(Path(path).read_text()) == {"sha256": old.sha256, "operators": OLD}
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
    running = state.Rehearsal("r", "e", "b", "c", BUCKET, "k", "s", "f", "j", "11", 1.0, artifact_sha256=old.sha256)

    def check(allow: bool = False) -> upgrade.UpgradeCheck:
        return release.check(s, running, Path(new.path), new, allow_non_restored=allow)

    # every operator in the new release: state
    result = check()
    assert (result.path, result.operators) == (upgrade.PATH_STATE, OLD)
    assert result.message.startswith("state kept: all 2 operators of the running release are in the new one")
    # the Kafka source's operator changed its id: offsets (the clean stop committed offsets and files)
    ops[new.sha256] = [{"id": "c" * 32, "vertex": SOURCE}, OLD[1]]
    assert check().path == upgrade.PATH_OFFSETS
    # a stateful operator outside the source and the committer is gone: refused, named; or dropped on purpose
    ops[old.sha256] = [*OLD, {"id": "d" * 32, "vertex": WINDOW}]
    release.record(s, Path(old.path), old)
    refused = check()
    assert refused.path == upgrade.PATH_REFUSED
    assert refused.message.startswith(f"the new release cannot take the state of {WINDOW} (operator dddddddd)")
    assert check(allow=True).path == upgrade.PATH_NON_RESTORED
    # the new release's graph cannot be built: not checked, said why
    ops[new.sha256] = None
    assert (check().path, check().message) == (upgrade.PATH_NOT_CHECKED, "not checked: could not build the graph")
    # a record of another release is not used
    other = dataclasses.replace(running, artifact_sha256="f" * 64)
    result = release.check(s, other, Path(new.path), new, allow_non_restored=False)
    assert result.path == upgrade.PATH_NOT_CHECKED and "is not of the running release" in result.message
    # no graph for the running release: no record (a stale one is removed), the next check says so
    release.record(s, Path(new.path), new)
    assert not release.record_path(s).exists()
    assert release.check(s, running, Path(new.path), new, allow_non_restored=False).message.startswith(
        "not checked: no record of the running release's operators"
    )


def test_a_refused_upgrade_submits_nothing_and_keeps_the_savepoint(tmp_path, releases, monkeypatch):
    old, new, ops = releases
    s = _settings(tmp_path)
    ops[old.sha256] = [*OLD, {"id": "d" * 32, "vertex": WINDOW}]
    _, proc = _stopped(s.state_dir, old.sha256)
    try:
        release.record(s, Path(old.path), old)

        def no_submit(*args, **kwargs):
            raise AssertionError("submitted")

        monkeypatch.setattr(run.RehearsalFlink, "submit", no_submit)
        with pytest.raises(upgrade.StateRefused) as exc:
            run.rehearse(s, zip_path=Path(new.path))
        assert exc.value.exit_code == 2
        assert exc.value.message == (
            f"the new release cannot take the state of {WINDOW} (operator dddddddd) (no operator with its id in the "
            "new release; its state would be dropped): nothing was changed"
        )
        after = state.read(s.state_dir)
        assert after is not None and after.savepoint == "file:///x/savepoint-1" and after.artifact_sha256 == old.sha256
        assert not (state.folder(s.state_dir) / "app").exists()  # the new code was not unpacked
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("path", [upgrade.PATH_STATE, upgrade.PATH_OFFSETS])
def test_the_upgrade_takes_the_path_the_check_names(tmp_path, releases, monkeypatch, path):
    from pipectl.flink import resume
    from pipectl.rehearse import health, java, restore

    old, new, ops = releases
    if path == upgrade.PATH_OFFSETS:  # the source's operator got another id
        ops[new.sha256] = [{"id": "c" * 32, "vertex": SOURCE}, OLD[1]]
    s = _settings(tmp_path)
    _, proc = _stopped(s.state_dir, old.sha256)
    submitted: list[dict] = []
    lineage: list[str] = []

    def submit(self, app_dir, rendered, props, timeout, savepoint="", allow_non_restored=False):
        job_group = next(g for g in rendered.groups if g["PropertyGroupId"] == "PipelineConfig")["PropertyMap"]
        submitted.append({"code": (app_dir / "streaming_job.py").read_text(), "savepoint": savepoint,
                          "allow": allow_non_restored, "start_offsets": job_group.get("KAFKA_START_OFFSETS")})
        return 0, "Job has been submitted with JobID " + "1" * 32

    def lineage_check(aimed, savepoint):
        lineage.append(savepoint)
        return resume.ResumePoint(savepoint, "0" * 32, 7, "savepoint", 0.0)

    monkeypatch.setattr(run.RehearsalFlink, "submit", submit)
    monkeypatch.setattr(restore, "check", lineage_check)
    monkeypatch.setattr(restore, "pointed", lambda settings: settings)
    from pipectl.aws import tables

    monkeypatch.setattr(tables, "next_offsets", lambda settings: {1: 20, 0: 42})  # what the tables hold, plus one
    monkeypatch.setattr(java, "java_home", lambda: tmp_path / "jdk")
    monkeypatch.setattr(health, "wait_flowing", lambda rest, job, *a, **k: health.Flowing(job, 3, 2, 1))
    try:
        release.record(s, Path(old.path), old)
        result = run.rehearse(s, zip_path=Path(new.path))
    finally:
        proc.kill()
        proc.wait()
    assert result.action == "upgraded" and result.upgrade is not None and result.upgrade["path"] == path
    assert submitted[0]["code"] == "v2" and submitted[0]["allow"] is False  # the new release's code
    after = state.read(s.state_dir)
    assert after is not None and after.savepoint == "" and after.artifact_sha256 == new.sha256
    assert after.job_id == "1" * 32
    # the new release is the one recorded now, for the next upgrade
    assert json.loads(release.record_path(s).read_text())["sha256"] == new.sha256
    if path == upgrade.PATH_STATE:  # from the savepoint, after the lineage check
        assert submitted[0]["savepoint"] == "file:///x/savepoint-1" == result.restored_from
        assert lineage == ["file:///x/savepoint-1"]
    else:  # without state, after the tables' last records: no lineage to check
        assert submitted[0]["savepoint"] == "" == result.restored_from
        assert lineage == []
        assert submitted[0]["start_offsets"] == "0:42,1:20"
    if path == upgrade.PATH_STATE:
        assert submitted[0]["start_offsets"] is None
