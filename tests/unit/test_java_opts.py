"""local.java_opts (PIPECTL_LOCAL_JAVA_OPTS): more JVM options for the JVMs pipectl starts on this machine,
after its own: the broker's command line and Flink's env.java.opts.all (the JobManager, the TaskManager and
the job's client)."""

from __future__ import annotations

from pathlib import Path

from pipectl.config import load_settings
from pipectl.launch.kafka import broker_argv
from pipectl.stack.native import NativeStack
from tests.conftest import REPO


def _settings(tmp_path: Path, opts: str | None):
    environ = {
        "PIPECTL_CONFIG": str(tmp_path / "none.toml"),
        "PIPECTL_LOCAL_STATE_DIR": str(tmp_path / "state"),
        "PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT": "true",
    }
    if opts is not None:
        environ["PIPECTL_LOCAL_JAVA_OPTS"] = opts
    return load_settings(REPO, env="local", environ=environ)


def test_the_broker_takes_them_after_its_own():
    argv = broker_argv("512m", Path("/l4j"), "cp", Path("/props"), "-XX:TieredStopAtLevel=1 -Dx='a b'")
    assert argv[:7] == ["java", "-Xmx512m", "-Xms512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                        "-XX:TieredStopAtLevel=1", "-Dx=a b"]
    assert argv[-2:] == ["kafka.Kafka", "/props"]
    assert "-XX:TieredStopAtLevel=1" not in broker_argv("512m", Path("/l4j"), "cp", Path("/props"))


def test_flink_takes_them_in_env_java_opts_all(tmp_path):
    for opts, expect_tail in ((None, "-Djava.awt.headless=true"), ("-XX:TieredStopAtLevel=1", "-XX:TieredStopAtLevel=1")):
        stack = NativeStack(_settings(tmp_path, opts))
        stack._write_flink_conf()
        line = next(li for li in (stack.conf_dir / "config.yaml").read_text().splitlines()
                    if li.startswith("env.java.opts.all: "))
        assert line.endswith(" " + expect_tail), line
        assert "--add-opens" in line  # the distribution's own JDK 17 flags stay


def test_options_that_would_break_flinks_config_are_refused(tmp_path):
    import pytest

    from pipectl.errors import ConfigError

    for bad in ("-Xss1m\nrest.port: 1", "-Dx=1 # note"):
        with pytest.raises(ConfigError) as caught:
            _settings(tmp_path, bad)
        assert caught.value.problems == ["local.java_opts must be JVM options on one line, without '#'"]


def test_options_that_cannot_be_split_are_refused(tmp_path):
    import pytest

    from pipectl.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, "-Dx='unclosed")
    assert caught.value.problems == [
        "local.java_opts cannot be split into options (No closing quotation): close its quotes"]
