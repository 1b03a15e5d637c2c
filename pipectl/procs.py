"""Processes we start and own: pid files, liveness, stopping, and who holds a port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from pipectl import statefile


@dataclass(frozen=True)
class Managed:
    name: str
    pid: int
    marker: str  # strings ("a|b") of which one in the command line proves the pid is still ours
    log: str


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def read(run_dir: Path, name: str) -> Managed | None:
    """The recorded process; None when no pid file exists; a StateFileError when it cannot be read."""
    path = pid_file(run_dir, name)
    way_out = (
        f"it records the pid of {name}: if {name} still runs, find it ('ps -ef | grep {name}') and stop it, "
        f"then delete {path} and run 'pipectl local up'"
    )
    data = statefile.read_json(path, way_out=way_out)
    if data is None:
        return None
    try:
        return Managed(name=name, pid=int(data["pid"]), marker=str(data["marker"]), log=str(data.get("log", "")))
    except (KeyError, ValueError, TypeError) as exc:
        raise statefile.StateFileError(path, f"no valid pid in it ({type(exc).__name__}: {exc})", way_out) from None


def write(run_dir: Path, proc: Managed) -> None:
    """Record `proc` in its pid file, atomically."""
    statefile.write_json(pid_file(run_dir, proc.name), {"pid": proc.pid, "marker": proc.marker, "log": proc.log})


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_alive(proc: Managed | None) -> TypeGuard[Managed]:
    if proc is None:
        return False
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
    except (OSError, IndexError):
        return False
    line = cmdline(proc.pid)
    return any(m in line for m in proc.marker.split("|"))


def spawn(run_dir: Path, name: str, argv: list[str], *, env: dict, log: Path, marker: str, cwd: Path) -> Managed:
    """Start argv in its own session, stdout+stderr appended to `log`, and record its pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    proc = Managed(name=name, pid=p.pid, marker=marker, log=str(log))
    write(run_dir, proc)
    return proc


def stop(run_dir: Path, proc: Managed | None, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`. True when something was stopped."""
    if proc is None:
        return False
    stopped = False
    if is_alive(proc):
        stopped = True
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_alive(proc) and time.monotonic() < deadline:
            time.sleep(0.2)
        if is_alive(proc):
            _signal_group(proc.pid, signal.SIGKILL)
            while is_alive(proc) and time.monotonic() < deadline + 10:
                time.sleep(0.2)
    pid_file(run_dir, proc.name).unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def tail(path: Path | str, lines: int = 20) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def _listening_inodes(net_dir: str = "/proc/net") -> dict[str, int]:
    """{socket inode: port} of the TCP sockets listening in the network namespace of `net_dir`."""
    found: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            found.update(_listen_rows(Path(net_dir, table).read_text()))
        except OSError:
            continue
    return found


def _listen_rows(table: str) -> dict[str, int]:
    """{inode: port} of the LISTEN rows of /proc/net/tcp-format text (header lines are skipped)."""
    found = {}
    for row in table.splitlines():
        cols = row.split()
        if len(cols) > 9 and cols[3] == "0A" and ":" in cols[1]:
            try:
                found[cols[9]] = int(cols[1].rsplit(":", 1)[1], 16)
            except ValueError:
                continue
    return found


def parse_listening(table: str) -> set[int]:
    """The listening ports in /proc/net/tcp-format text (e.g. read inside a container)."""
    return set(_listen_rows(table).values())


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` itself listens on (its own sockets, not its namespace's)."""
    inodes = _listening_inodes()
    ports = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            port = inodes.get(link[8:-1])
            if port is not None:
                ports.add(port)
    return ports


def namespace_listening_ports(pid: int) -> set[int]:
    """The TCP ports listened on in the network namespace of `pid` (a container's, seen from the host)."""
    return set(_listening_inodes(f"/proc/{pid}/net").values())


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, command) of the process listening on TCP `port`, (0, "?") if unknown, None if free."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                try:
                    if os.readlink(fd) in targets:
                        pid = int(pid_dir.name)
                        return pid, _short_command(pid)
                except OSError:
                    continue
        except OSError:
            continue
    return 0, "?"


def _short_command(pid: int) -> str:
    words = cmdline(pid).split()
    if not words:
        return "?"
    name = Path(words[0]).name
    for w in words[1:]:
        if w in ("kafka.Kafka",) or w.startswith("org.apache.flink.runtime."):
            return f"{name} {w}"
    return " ".join([name, *words[1:3]])[:80]
