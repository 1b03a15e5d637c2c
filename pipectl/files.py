"""Files and folders that hold what others must not read: the state folder (Kafka's data, logs,
checkpoints) is 0700, a file with a secret is created 0600 from its first byte (never written
and chmod-ed afterwards). Stdlib only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
SECRET_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) with mode 0700; an existing folder of ours is made 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(PRIVATE_DIR)
    except OSError:
        pass
    return path


def write_secret(path: Path, data: str | bytes) -> Path:
    """Write `data` to `path` through a file created 0600 (then renamed over `path`)."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path


__all__ = ["PRIVATE_DIR", "SECRET_FILE", "private_dir", "write_secret"]
