"""The declared interfaces: Output is a Reporter, and a runtime must implement every method of
StackBase (an incomplete one cannot be built)."""

from __future__ import annotations

import io

import pytest

from pipectl.cli.output import JsonOutput, Output
from pipectl.config import Settings
from pipectl.progress import SILENT, Reporter
from pipectl.stack.base import StackBase
from pipectl.stack.docker import DockerStack
from pipectl.stack.native import NativeStack


@pytest.mark.parametrize("reporter", [Output(), JsonOutput(), SILENT], ids=["text", "json", "silent"])
def test_every_reporter_implements_the_protocol(reporter):
    assert isinstance(reporter, Reporter)
    with reporter.transfer("upload", 10) as advance:
        advance(10)
    with reporter.waiting("polling"):
        pass


def test_output_reports_progress_on_stderr_without_a_terminal():
    out = Output()
    out.err.file = buffer = io.StringIO()
    with out.transfer("uploading code.zip", 100) as advance:
        advance(100)
    with out.waiting("waiting for RUNNING"):
        pass
    assert buffer.getvalue() == "… uploading code.zip\n… waiting for RUNNING\n"


def test_a_runtime_missing_a_method_cannot_be_built(tmp_path):
    class Partial(StackBase):
        def up(self):
            raise AssertionError

    with pytest.raises(TypeError, match="abstract methods"):
        Partial(Settings(project_dir=tmp_path))  # type: ignore[abstract]  # the point of the test


@pytest.mark.parametrize("runtime", [NativeStack, DockerStack])
def test_both_runtimes_implement_every_method(runtime, tmp_path):
    stack = runtime(Settings(project_dir=tmp_path))
    assert not getattr(type(stack), "__abstractmethods__", None)
