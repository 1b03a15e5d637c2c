"""No secret of the user's shell in any file, command line or environment of what pipectl starts.

The test exports fake AWS credentials and a session token, plus a credential under a name Flink
does not mask (DATABASE_URL with a password), each holding a unique marker. Then it runs the local
flow on a stack of its own (its own state folder, warehouse and ports, not the session's stack):
`local up`, `job start`, `produce`, `verify`, `status` (text and JSON), and `aws rehearse` with a
produce and a verify through it. It searches every file under the state folder (logs, Kafka's
data, checkpoints, Flink's config) and the warehouse, `/proc/<pid>/cmdline` and `/proc/<pid>/environ`
of every process the stack and the rehearsal started (and their children), and everything pipectl
printed: no marker may be anywhere.

The rehearsal's own secrets (its keystore password, its emulator secret key) get the same search,
except where they must be: the keystore password only in the broker's 0600 files, the secret key
only in the environment of the Flink JVMs that sign with it and in the rehearsal's 0600 files.

Ports: 29110-29111 Kafka, 28110/26110 Flink; the rehearsal 29120-29123, 28120/26120
(+ PIPECTL_TEST_PORT_OFFSET), apart from the session stack's and test_rehearsal's.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_JAVA_OPTS, run_pipectl

pytestmark = pytest.mark.e2e

_OFFSET = int(os.environ.get("PIPECTL_TEST_PORT_OFFSET", "0"))
ZIP = REPO / "target" / "data-pipeline-aws.zip"
EVENTS = 40


def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:12].upper()
    return {
        "AWS_ACCESS_KEY_ID": f"AKIAMARK{tag}",
        "AWS_SECRET_ACCESS_KEY": f"secretmark{tag}xyz",
        "AWS_SESSION_TOKEN": f"tokenmark{tag}xyz",
        "DATABASE_URL": f"postgresql://app:dbpassmark{tag}@db/orders",
    }


def _needles(markers: dict[str, str]) -> dict[str, str]:
    """What to search for: each value, and the database password on its own."""
    needles = dict(markers)
    needles["DATABASE_URL password"] = markers["DATABASE_URL"].split(":")[2].split("@")[0]
    return needles


@pytest.fixture
def secret_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECTL_", "AWS_")) and k != "DEPLOYMENT_ENV"}
    env.update(_markers())
    env.update(
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_CONFIG=str(tmp_path / "none.toml"),
        PIPECTL_LOCAL_STATE_DIR=str(tmp_path / "state"),
        PIPECTL_LOCAL_WAREHOUSE=str(tmp_path / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
        **TEST_JAVA_OPTS,
        PIPECTL_LOCAL_KAFKA_PORT=str(29110 + _OFFSET),
        PIPECTL_LOCAL_KAFKA_CONTROLLER_PORT=str(29111 + _OFFSET),
        PIPECTL_LOCAL_FLINK_PORT=str(28110 + _OFFSET),
        PIPECTL_LOCAL_FLINK_RPC_PORT=str(26110 + _OFFSET),
        PIPECTL_PIPELINE_TABLE="orders_secrets",
        PIPECTL_PIPELINE_CONSUMER_GROUP="pipectl-secrets-test",
        PIPECTL_REHEARSE_KAFKA_PORT=str(29120 + _OFFSET),
        PIPECTL_REHEARSE_MOTO_PORT=str(29123 + _OFFSET),
        PIPECTL_REHEARSE_FLINK_PORT=str(28120 + _OFFSET),
        PIPECTL_REHEARSE_FLINK_RPC_PORT=str(26120 + _OFFSET),
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        NO_COLOR="1",
        COLUMNS="200",
    )
    try:
        yield env
    finally:
        run_pipectl(env, "aws", "rehearse", "--down", timeout=300)
        run_pipectl(env, "local", "down", timeout=300)


# ------------------------------------------------------------------------------------- search helpers
def _files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath, name)
                if path.is_file() and not path.is_symlink():
                    yield path


def _file_hits(needles: dict[str, str], *roots: Path) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in _files(*roots):
        data = path.read_bytes()
        for name, value in needles.items():
            if value.encode() in data:
                hits.setdefault(str(path), []).append(name)
    return hits


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(d.name))
    return out


def _stack_pids(*run_dirs: Path) -> dict[int, str]:
    """Every process recorded in the pid files of `run_dirs`, and all their descendants."""
    roots: dict[int, str] = {}
    for run_dir in run_dirs:
        for pid_file in run_dir.glob("*.json") if run_dir.is_dir() else []:
            try:
                roots[int(json.loads(pid_file.read_text())["pid"])] = pid_file.stem
            except (OSError, ValueError, KeyError):
                continue
    children, found = _children(), {}
    todo = list(roots.items())
    while todo:
        pid, name = todo.pop()
        if pid in found or not Path(f"/proc/{pid}").exists():
            continue
        found[pid] = name
        todo += [(c, f"{name} child") for c in children.get(pid, [])]
    found.update({pid: name for pid, name in roots.items() if pid in found})  # a recorded process keeps its name
    return found


def _proc_hits(needles: dict[str, str], pids: dict[int, str], part: str) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for pid, name in pids.items():
        data = Path(f"/proc/{pid}/{part}").read_bytes()
        for needle, value in needles.items():
            if value.encode() in data:
                hits.setdefault(f"{name} (pid {pid}) {part}", []).append(needle)
    return hits


def _printed_hits(needles: dict[str, str], printed: list[str]) -> list[str]:
    text = "\n".join(printed)
    return [name for name, value in needles.items() if value in text]


# ------------------------------------------------------------------------------------------ the test
def test_no_secret_of_the_shell_reaches_a_file_a_command_line_or_a_child(secret_env: dict[str, str]) -> None:
    env = secret_env
    needles = _needles({k: env[k] for k in _markers()})
    state, warehouse = Path(env["PIPECTL_LOCAL_STATE_DIR"]), Path(env["PIPECTL_LOCAL_WAREHOUSE"])
    printed: list[str] = []

    def run(*args: str, timeout: float = 600) -> str:
        result = run_pipectl(env, *args, timeout=timeout)
        printed.extend([result.stdout, result.stderr])
        assert result.returncode == 0, f"pipectl {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}"
        return result.stdout

    run("local", "up", timeout=400)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700, "the state folder is for this user only"
    run("job", "start", timeout=400)
    run("produce", "orders", "--rate", "max", "--count", str(EVENTS))
    run("verify", "--expect-rows", str(EVENTS), "--timeout", "240")
    run("verify", "--output", "json")
    run("status")
    json.loads(run("status", "--output", "json"))
    run("local", "status", "--output", "json")
    run("job", "status", "--output", "json")

    pids = _stack_pids(state / "run")
    assert {"kafka", "jobmanager", "taskmanager", "tm-supervisor"} <= set(pids.values()), pids
    # the Flink client logged while submitting the job (its Python driver's environment is not in it)
    client_logs = list((state / "logs" / "flink").glob("*client*.log"))
    assert client_logs, "flink run writes a client log"
    assert not any("with environment variables" in p.read_text(errors="replace") for p in client_logs)

    assert _file_hits(needles, state, warehouse) == {}
    assert _proc_hits(needles, pids, "cmdline") == {}
    assert _proc_hits(needles, pids, "environ") == {}
    assert _printed_hits(needles, printed) == []

    # ---- the rehearsal: the user's secrets stay out of it too; its own stay where they must be
    if not ZIP.is_file():
        pytest.fail(f"{ZIP} is missing: run `make build` first (make test does)")
    up = json.loads(run("aws", "rehearse", "--skip-build", "--output", "json", timeout=1500))
    assert up["action"] == "started"
    run("--env", "aws", "produce", "orders", "--rate", "max", "--count", str(EVENTS))
    run("--env", "aws", "verify", "--expect-rows", str(EVENTS), "--timeout", "240")

    folder = state / "rehearsal"
    own = {
        "keystore password": (folder / "kafka" / "tls" / "password").read_text().strip(),
        "rehearsal secret key": json.loads((folder / "rehearsal.json").read_text())["secret_access_key"],
    }
    assert all(len(v) >= 16 for v in own.values())
    rehearsal_pids = _stack_pids(folder / "run", folder / "kafka")
    assert {"jobmanager", "taskmanager", "iam-broker", "moto"} <= set(rehearsal_pids.values()), rehearsal_pids
    every_pid = {**pids, **rehearsal_pids}

    # the user's secrets: nowhere
    assert _file_hits(needles, state, warehouse) == {}
    assert _proc_hits(needles, every_pid, "cmdline") == {}
    assert _proc_hits(needles, every_pid, "environ") == {}
    assert _printed_hits(needles, printed) == []

    # the rehearsal's own: never on a command line, never printed, never in a log or a config file
    assert _proc_hits(own, every_pid, "cmdline") == {}
    assert _printed_hits(own, printed) == []
    holders = {
        str(folder / "kafka" / "tls" / "password"): ["keystore password"],
        str(folder / "kafka" / "server.properties"): ["keystore password", "rehearsal secret key"],
        str(folder / "rehearsal.json"): ["rehearsal secret key"],
    }
    assert _file_hits(own, state, warehouse) == holders
    for path in holders:
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600, path
    # in an environment only where the process signs with it: the Flink JVMs (and their children)
    environ_hits = _proc_hits(own, every_pid, "environ")
    assert environ_hits, "the rehearsal's Flink signs with its own key"
    for where, names in environ_hits.items():
        assert names == ["rehearsal secret key"], where
        assert where.startswith(("jobmanager", "taskmanager")), where
