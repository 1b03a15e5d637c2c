"""The rehearsed job's network path to S3 and S3 Tables (what a VPC's endpoints or NAT gateway are
on the service): a TCP forwarder between the job and the emulator. pipectl's own reads (verify,
the commit check, the restore check) go to the emulator directly.

Each request names its service in its SigV4 credential scope (`.../<region>/s3tables/aws4_request`
or `.../s3/aws4_request`). While `<run>/egress.block` lists a service, the path to it hangs, as it
does from a VPC without an endpoint for it: its requests are held, unanswered (the job's commits
to S3 Tables wait, while its data files still reach S3). Removing the file lets them through.
Stdlib only; a detached process (`<run>/egress.json`), stopped by `pipectl aws rehearse --down`.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from pathlib import Path

NAME = "egress"
BLOCK_FILE = "egress.block"
PORT_FILE = "egress.port"
SERVICE_RE = re.compile(rb"Credential=[^/\s]+/\d{8}/[^/\s]+/([A-Za-z0-9-]+)/aws4_request")


def _blocked(block_file: Path, service: str | None) -> bool:
    if service is None:
        return False
    try:
        return service in block_file.read_text().split()
    except OSError:
        return False


def _pipe(src: socket.socket, dst: socket.socket, block_file: Path | None) -> None:
    service: str | None = None
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if block_file is not None:  # the job's side: each request names its service
                m = SERVICE_RE.search(data)
                if m:
                    service = m.group(1).decode()
                while _blocked(block_file, service):
                    time.sleep(0.2)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _handle(client: socket.socket, host: str, port: int, block_file: Path) -> None:
    try:
        upstream = socket.create_connection((host, port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    threading.Thread(target=_pipe, args=(upstream, client, None), daemon=True).start()
    _pipe(client, upstream, block_file)


def serve(target_url: str, run_dir: Path) -> None:
    host_port = target_url.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    server = socket.create_server(("127.0.0.1", 0))
    (run_dir / PORT_FILE).write_text(str(server.getsockname()[1]))
    block_file = run_dir / BLOCK_FILE
    while True:
        client, _ = server.accept()
        threading.Thread(target=_handle, args=(client, host, int(port), block_file), daemon=True).start()


def start(folder: Path, target_url: str, timeout: float = 30) -> str:
    """Start the forwarder to `target_url` (on a free port) and return its URL."""
    from pipectl import procs
    from pipectl.childenv import child_env
    from pipectl.wait import wait_until

    run_dir, log = folder / "run", folder / "logs" / "egress.log"
    (run_dir / PORT_FILE).unlink(missing_ok=True)
    (run_dir / BLOCK_FILE).unlink(missing_ok=True)
    proc = procs.spawn(
        run_dir,
        NAME,
        [sys.executable, "-m", "pipectl.rehearse.egress", target_url, str(run_dir)],
        env=child_env({"PYTHONUNBUFFERED": "1"}),
        log=log,
        marker="pipectl.rehearse.egress",
        cwd=folder,
    )
    port = wait_until(
        lambda: (run_dir / PORT_FILE).read_text().strip() if (run_dir / PORT_FILE).is_file() else None,
        what="the rehearsal's path to S3 and S3 Tables",
        timeout=timeout,
        hint=f"see {log}",
        log_tail=lambda: procs.tail(log, 20),
        alive=lambda: procs.is_alive(proc),
    )
    return f"http://127.0.0.1:{port}"


def stop(folder: Path) -> bool:
    from pipectl import procs

    run_dir = folder / "run"
    return procs.stop(run_dir, procs.read(run_dir, NAME), timeout=10)


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]))
