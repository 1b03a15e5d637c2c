"""State files: written whole or not at all; a file that cannot be read is an error naming it and
the way out, never an empty dict (pipectl/statefile.py and the state files that use it)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipectl import procs, statefile
from pipectl.config import load_settings
from pipectl.errors import EXIT_FAILURE
from pipectl.flink import jobs
from pipectl.rehearse import state as rehearse_state
from pipectl.stack import recorded_runtime
from pipectl.stack.supervise import read_restarts
from tests.conftest import REPO


def test_write_json_replaces_the_file_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "job.json"
    statefile.write_json(target, {"a": 1})
    statefile.write_json(target, {"a": 2, "b": [1, 2]})
    assert json.loads(target.read_text()) == {"a": 2, "b": [1, 2]}
    assert sorted(p.name for p in target.parent.iterdir()) == ["job.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_write_keeps_a_private_mode(tmp_path: Path) -> None:
    target = statefile.write_json(tmp_path / "rehearsal.json", {"secret": "x"}, mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_write_that_fails_midway_leaves_the_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "job.json"
    statefile.write_json(target, {"lineage": {"keep": True}})

    def crash(src, dst):  # the process dies between writing the temp file and the rename
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        statefile.write_json(target, {"lineage": {}})
    assert json.loads(target.read_text()) == {"lineage": {"keep": True}}
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]  # the temp file is gone too


def test_write_fsyncs_the_file_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    statefile.write_text(tmp_path / "runtime", "native\n")
    assert len(synced) == 2
    # the temp file, before the rename
    assert Path(synced[0]).name.startswith(".runtime.") and synced[0].endswith(".tmp")
    assert synced[1] == str(tmp_path)  # then the folder, so the rename itself survives a crash


def test_a_killed_writer_never_leaves_a_torn_file(tmp_path: Path) -> None:
    """A writer SIGKILLed while rewriting a large file over and over: the file always parses."""
    target = tmp_path / "job.json"
    statefile.write_json(target, {"n": -1, "pad": "x" * 200_000})
    code = (
        "import sys; from pathlib import Path; from pipectl import statefile\n"
        "n = 0\nwhile True:\n"
        "    statefile.write_json(Path(sys.argv[1]), {'n': n, 'pad': 'x' * 200_000}); n += 1\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=REPO)
    try:
        seen: set[int] = set()
        reads, deadline = 0, time.monotonic() + 30
        while (len(seen) < 20 or reads < 500) and time.monotonic() < deadline:
            seen.add(json.loads(target.read_text())["n"])  # never a partial document
            reads += 1
    finally:
        writer.kill()
        writer.wait()
    assert len(seen) >= 20, f"the writer replaced the file only {len(seen)} times"
    assert isinstance(json.loads(target.read_text())["n"], int)


def test_read_json_missing_is_none_and_corrupt_is_an_error_naming_file_and_way_out(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    assert statefile.read_json(target, way_out="do this") is None
    target.write_text('{"lineage": {"a"')
    with pytest.raises(statefile.StateFileError) as err:
        statefile.read_json(target, way_out="do this")
    assert err.value.message.startswith(f"state file {target} cannot be read (not valid JSON: ")
    assert err.value.hint == "do this"
    assert err.value.exit_code == EXIT_FAILURE
    target.write_text("")
    with pytest.raises(statefile.StateFileError, match=r"\(it is empty\)"):
        statefile.read_json(target, way_out="do this")
    target.write_text("[1, 2]")
    with pytest.raises(statefile.StateFileError, match=r"expected a JSON dict, found list"):
        statefile.read_json(target, way_out="do this")


def _settings(tmp_path: Path):
    os.environ["PIPECTL_LOCAL_STATE_DIR"] = str(tmp_path / ".pipectl")
    os.environ["PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT"] = "true"
    try:
        return load_settings(env="local")
    finally:
        del os.environ["PIPECTL_LOCAL_STATE_DIR"]
        del os.environ["PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT"]


def test_a_corrupt_job_json_is_an_error_that_says_it_holds_the_lineage(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = settings.state_dir / "job.json"
    assert jobs.read_state(settings) == {}  # none yet: empty is right
    jobs._write_state(settings, job_id="a" * 32, lineage={"k": {"j": {}}})
    assert jobs.read_state(settings)["lineage"] == {"k": {"j": {}}}
    path.write_text(path.read_text()[:20])  # torn, as a non-atomic write could leave it
    with pytest.raises(statefile.StateFileError) as err:
        jobs.read_state(settings)
    assert str(path) in err.value.message
    assert "job lineage" in (err.value.hint or "")
    assert f"mv {path} {path}.broken" in (err.value.hint or "")
    with pytest.raises(statefile.StateFileError):  # a write never starts over from {} either
        jobs._write_state(settings, savepoint="file:///x")
    assert path.read_text() == path.read_text()[:20]


def test_pid_files_runtime_record_restart_counts_and_rehearsal_refuse_when_corrupt(tmp_path: Path) -> None:
    run = tmp_path / "run"
    procs.write(run, procs.Managed("kafka", 123, "kafka.Kafka", "/x.log"))
    assert procs.read(run, "kafka") == procs.Managed("kafka", 123, "kafka.Kafka", "/x.log")
    assert procs.read(run, "jobmanager") is None
    (run / "kafka.json").write_text('{"pid": "abc", "marker": "m"}')
    with pytest.raises(statefile.StateFileError, match=r"kafka\.json cannot be read \(no valid pid"):
        procs.read(run, "kafka")

    (run / "taskmanager-restarts.json").write_text("{")
    with pytest.raises(statefile.StateFileError, match=r"taskmanager-restarts\.json") as err:
        read_restarts(run, "taskmanager")
    assert "delete it" in (err.value.hint or "")

    settings = _settings(tmp_path)
    assert recorded_runtime(settings) is None
    (settings.state_dir).mkdir(parents=True, exist_ok=True)
    (settings.state_dir / "runtime").write_text("nativ\n")
    with pytest.raises(statefile.StateFileError, match=r"runtime cannot be read \(it names no runtime \('nativ'\)\)"):
        recorded_runtime(settings)

    assert rehearse_state.read(tmp_path) is None
    rehearse_state.path(tmp_path).parent.mkdir(parents=True)
    rehearse_state.path(tmp_path).write_text('{"region": "us-east-1"}')
    with pytest.raises(statefile.StateFileError, match="a field is missing") as err:
        rehearse_state.read(tmp_path)
    assert "pipectl aws rehearse --down" in (err.value.hint or "")


def test_the_cli_reports_a_corrupt_state_file_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / ".pipectl"
    (state / "run").mkdir(parents=True)
    (state / "runtime").write_text("native\n")
    (state / "run" / "kafka.json").write_text("{not json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECTL_")}
    env.update(
        PIPECTL_LOCAL_STATE_DIR=str(state),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
        PIPECTL_LOCAL_FLINK_PORT="1",
        PIPECTL_LOCAL_KAFKA_PORT="2",
    )  # nothing answers on ports 1 and 2
    result = subprocess.run(
        [sys.executable, "-m", "pipectl", "local", "status"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == EXIT_FAILURE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: state file {state}/run/kafka.json cannot be read (not valid JSON: ")
    assert "if kafka still runs, find it" in lines[0]
    assert "Traceback" not in result.stderr
