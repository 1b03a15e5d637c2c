"""Which registered TaskManager is the live process (issue 25 scenario 2): the JobManager lists a
killed TaskManager until its heartbeat times out, so "registered" alone is not "running"."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pipectl import procs
from pipectl.stack.base import match_taskmanager, rpc_port

DEAD = {
    "id": "127.0.0.1:41001-aaaaaa",
    "path": "pekko.tcp://flink@127.0.0.1:36001/user/rpc/taskmanager_0",
    "dataPort": 41001,
    "slotsNumber": 2,
    "freeSlots": 0,
}
LIVE = {
    "id": "127.0.0.1:41002-bbbbbb",
    "path": "pekko.tcp://flink@127.0.0.1:36002/user/rpc/taskmanager_0",
    "dataPort": 41002,
    "slotsNumber": 2,
    "freeSlots": 2,
}


def test_rpc_port_from_the_taskmanager_path() -> None:
    assert rpc_port(LIVE["path"]) == 36002
    assert rpc_port("pekko.tcp://flink@taskmanager:6122/user/rpc/taskmanager_0") == 6122
    assert rpc_port("") is None
    assert rpc_port("nonsense") is None


def test_the_dead_taskmanager_that_the_jobmanager_still_lists_is_never_the_live_one() -> None:
    # the live process listens on its own data and RPC ports only
    assert match_taskmanager([DEAD], {41002, 36002}) is None
    assert match_taskmanager([DEAD, LIVE], {41002, 36002}) == LIVE
    assert match_taskmanager([LIVE, DEAD], {36002}) == LIVE  # the RPC port alone is enough
    assert match_taskmanager([DEAD], set()) is None
    assert match_taskmanager([], {41002}) is None


def test_listening_ports_of_a_process_and_of_its_network_namespace() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    connected = socket.create_connection(server.getsockname())  # not listening: must not count
    try:
        port = server.getsockname()[1]
        mine = procs.listening_ports(os.getpid())
        assert port in mine
        assert connected.getsockname()[1] not in mine
        assert port in procs.namespace_listening_ports(os.getpid())
        assert port not in procs.listening_ports(1) or os.getpid() == 1
    finally:
        connected.close()
        server.close()
    assert port not in procs.listening_ports(os.getpid())
    assert procs.listening_ports(2**22 + 7) == set()  # no such process


def test_parse_listening_reads_proc_net_tcp_text() -> None:
    table = Path("/proc/net/tcp").read_text()
    assert procs.parse_listening(table) == set(procs._listen_rows(table).values())
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:A029 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1111 1\n"
        "   1: 0100007F:A02A 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2222 1\n"
    )
    assert procs.parse_listening(text) == {0xA029}


class _Container:
    """What DockerStack._check_owner reads of a container: its name and labels."""

    def __init__(self, name: str, labels: dict[str, str] | None):
        self.name, self.labels = name, labels


def test_docker_never_takes_a_container_of_another_state_folder(tmp_path: Path) -> None:
    import pytest

    from pipectl.config import load_settings
    from pipectl.errors import EXIT_USAGE, PipectlError
    from pipectl.stack.docker import STATE_LABEL, DockerStack

    settings = load_settings(env="local", overrides={"local.state_dir": str(tmp_path / ".pipectl"), "local.allow_outside_project": True})
    stack = DockerStack(settings)
    mine = str((tmp_path / ".pipectl").resolve())
    stack._check_owner(_Container("pipectl-x-kafka", {STATE_LABEL: mine}))  # ours: no error
    with pytest.raises(PipectlError) as err:
        stack._check_owner(_Container("pipectl-kafka", {STATE_LABEL: "/home/other/.pipectl"}))
    assert err.value.exit_code == EXIT_USAGE
    assert err.value.message == (
        f"container pipectl-kafka belongs to the pipectl state folder /home/other/.pipectl, not to {mine}; "
        "pipectl leaves it alone"
    )
    with pytest.raises(PipectlError, match="belongs to no pipectl state folder"):
        stack._check_owner(_Container("pipectl-kafka", None))
