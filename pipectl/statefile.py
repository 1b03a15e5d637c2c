"""State files that survive a crash: written whole or not at all, and never read as empty.

`write_json` / `write_text` write a temp file in the target's folder, fsync it, rename it over the
target and fsync the folder: after a crash (of pipectl, or of the machine) the file holds either
the old content or the new one, never a torn mix. `read_json` returns None only when the file does
not exist; a file that exists but cannot be read or parsed is a `StateFileError` that names the
file and the way out, because reading it as empty would lose what it records (job.json holds the
job lineage the resume check relies on). Stdlib only: the TaskManager supervisor imports it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pipectl.errors import EXIT_FAILURE, PipectlError


class StateFileError(PipectlError):
    """A state file exists but cannot be read or parsed."""

    exit_code = EXIT_FAILURE

    def __init__(self, path: Path, reason: str, way_out: str):
        super().__init__(f"state file {path} cannot be read ({reason})", hint=way_out)
        self.path = path


def write_text(path: Path, text: str, mode: int = 0o644) -> Path:
    """Replace `path` with `text` atomically (temp file, fsync, rename, fsync of the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_json(path: Path, data: Any, mode: int = 0o644, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(data, indent=indent) + "\n", mode=mode)


def read_text(path: Path, way_out: str) -> str | None:
    """The file's text; None when it does not exist; a StateFileError when it cannot be read."""
    path = Path(path)
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(path, _reason(exc), way_out) from None


def read_json(path: Path, way_out: str, kind: type = dict) -> Any:
    """The parsed file; None when it does not exist; a StateFileError (naming the file and
    `way_out`) when it cannot be read, is not JSON, or is not a `kind` (a JSON object by default)."""
    text = read_text(path, way_out)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        reason = "it is empty" if not text.strip() else f"not valid JSON: {exc}"
        raise StateFileError(Path(path), reason, way_out) from None
    if not isinstance(data, kind):
        raise StateFileError(Path(path), f"expected a JSON {kind.__name__}, found {type(data).__name__}", way_out)
    return data


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)
