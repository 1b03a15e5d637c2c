"""`pipectl local up` refuses a taken port with one line naming the port and its holder."""

from __future__ import annotations

import os
import socket

from tests.conftest import run_pipectl


def test_port_taken_names_the_port_and_the_holder(stack_env, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = dict(stack_env, PIPECTL_LOCAL_KAFKA_PORT=str(port), PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"))
        result = run_pipectl(env, "local", "up")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: port {port} needed by kafka is already in use by pid {os.getpid()} (")
    assert last.endswith("-- stop that process, or change local ports in pipectl.toml")
    assert "Traceback" not in result.stderr


def test_status_without_a_stack_exits_4(stack_env, tmp_path):
    env = dict(stack_env, PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"), PIPECTL_LOCAL_FLINK_PORT="1",
               PIPECTL_LOCAL_KAFKA_PORT="2")
    result = run_pipectl(env, "local", "status")
    assert result.returncode == 4
    assert "kafka" in result.stdout and "no" in result.stdout


def test_job_start_without_a_cluster_is_one_line(stack_env, tmp_path):
    env = dict(stack_env, PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"), PIPECTL_LOCAL_FLINK_PORT="1")
    result = run_pipectl(env, "job", "start")
    assert result.returncode == 4
    assert result.stderr.startswith("error: cannot reach the Flink REST API at http://127.0.0.1:1 (")
    assert result.stderr.strip().endswith("-- start the stack with 'pipectl local up'")
