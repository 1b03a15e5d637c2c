"""The KRaft storage format (pipectl/launch/kafka.py, for the native stack and the rehearsal): a `java` that fails without a word still gives one
line naming what failed (it used to raise IndexError from an empty output)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipectl.config import load_settings
from pipectl.errors import PipectlError
from pipectl.stack.native import NativeStack


def _fake_java(folder: Path, script: str) -> None:
    java = folder / "java"
    java.write_text("#!/bin/sh\n" + script + "\n")
    java.chmod(0o755)


@pytest.mark.parametrize(
    ("script", "line"),
    [
        ("exit 3", "could not format the Kafka data folder: exit 3, no output"),
        ("echo 'first' >&2; echo 'Invalid cluster.id' >&2; exit 1", "could not format the Kafka data folder: Invalid cluster.id"),
    ],
)
def test_a_failed_format_is_one_line(tmp_path, monkeypatch, script, line):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_java(bin_dir, script)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    settings = load_settings(
        env="local",
        overrides={"local.state_dir": str(tmp_path / ".pipectl"), "local.allow_outside_project": True},
    )
    stack = NativeStack(settings)
    stack.kafka_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(PipectlError) as err:
        stack._start_kafka()
    assert str(err.value) == line
    assert err.value.hint.startswith("delete ")


def test_a_format_that_outlives_its_deadline_is_one_line(tmp_path, monkeypatch):
    from pipectl.launch import kafka as kafka_launch

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_java(bin_dir, "exec sleep 30")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(kafka_launch, "FORMAT_TIMEOUT_S", 1)
    with pytest.raises(PipectlError) as err:
        kafka_launch.format_storage(
            "libs/*", tmp_path / "log4j.properties", tmp_path / "server.properties", dict(os.environ),
            what="the IAM broker's data folder", hint="delete it",
        )
    assert str(err.value) == "formatting the IAM broker's data folder did not finish within 1s"
