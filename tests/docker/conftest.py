"""Fixtures for the tests on a real Docker engine.

The engine is the one at DOCKER_HOST (or the default socket); `.ci/docker-engine.sh` starts one
(`export DOCKER_HOST="$(bash .ci/docker-engine.sh)"`). Without an engine the tests are skipped with
a one-line reason, except in CI (CI=true) or with PIPECTL_REQUIRE_DOCKER=1, where they fail.

Nothing can be pulled, so the images build FROM a local base: PIPECTL_DOCKER_BASE_IMAGE when set,
else `pipectl-test-base:bookworm-2`, made once by tests/docker/build-base-image.sh (debootstrap,
root) and kept by the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_PORTS

TEST_BASE_IMAGE = "pipectl-test-base:bookworm-2"
# ports of their own: the native stack of the same session may still hold TEST_PORTS
DOCKER_OFFSET = 300
COMPOSE_OFFSET = 400


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PIPECTL_REQUIRE_DOCKER") == "1"


def skip_or_fail(reason: str):
    if required():
        pytest.fail(f"{reason} (CI=true or PIPECTL_REQUIRE_DOCKER=1: the docker tests must run)", pytrace=False)
    pytest.skip(reason)


def ports(offset: int) -> dict[str, str]:
    return {key: str(int(value) + offset) for key, value in TEST_PORTS.items()}


@pytest.fixture(scope="session")
def docker_engine() -> str:
    from pipectl.stack.docker import engine_address, engine_answers

    if not engine_answers():
        skip_or_fail(f"no Docker engine answers at {engine_address()}; start one with "
                     "'export DOCKER_HOST=\"$(sudo bash .ci/docker-engine.sh)\"'")
    return engine_address()


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    import docker
    from docker.errors import ImageNotFound

    name = os.environ.get("PIPECTL_DOCKER_BASE_IMAGE") or TEST_BASE_IMAGE
    client = docker.from_env()
    try:
        client.images.get(name)
        return name
    except ImageNotFound:
        pass
    if name != TEST_BASE_IMAGE:
        skip_or_fail(f"base image {name} (PIPECTL_DOCKER_BASE_IMAGE) is not in the engine")
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        skip_or_fail(f"no base image {name}, and building it needs root and debootstrap "
                     "(sudo bash tests/docker/build-base-image.sh)")
    result = subprocess.run(["bash", str(REPO / "tests" / "docker" / "build-base-image.sh"), name],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"building the base image failed: {result.stderr[-2000:]}", pytrace=False)
    return name


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("PIPECTL_") or k == "DEPLOYMENT_ENV"]:
        del env[key]
    return env


@pytest.fixture(scope="module")
def docker_env(base_image, docker_engine, tmp_path_factory) -> dict[str, str]:
    """The environment of a pipectl docker stack: its own state, warehouse and ports."""
    root = tmp_path_factory.mktemp("docker-stack")
    env = clean_env()
    env.update(ports(DOCKER_OFFSET))
    env.update(
        DOCKER_HOST=docker_engine,
        PIPECTL_PROJECT_DIR=str(REPO),
        PIPECTL_LOCAL_STATE_DIR=str(root / ".pipectl"),
        PIPECTL_LOCAL_WAREHOUSE=str(root / "warehouse"),
        PIPECTL_LOCAL_ALLOW_OUTSIDE_PROJECT="true",
        PIPECTL_DOCKER_BASE_IMAGE=base_image,
    )
    return env


def committed_rows(table_dir: Path) -> int:
    """Rows of the table's current snapshot, from the Iceberg metadata the Hadoop catalog wrote
    (works whatever absolute paths the metadata holds)."""
    import json

    hint = table_dir / "metadata" / "version-hint.text"
    if not hint.is_file():
        return 0
    meta = json.loads((table_dir / "metadata" / f"v{hint.read_text().strip()}.metadata.json").read_text())
    current = meta.get("current-snapshot-id")
    for snap in meta.get("snapshots", []):
        if snap["snapshot-id"] == current:
            return int(snap["summary"].get("total-records", 0))
    return 0


# ---------------------------------------------------------------------------------- a caller the image does not know
CALLER_NAME = "pipectl-caller"
CALLER_UID = 501  # Docker Desktop's uid on macOS; no image knows it


class Caller:
    """A host user that is neither root nor known to the images, allowed on the engine's socket,
    with a checkout of the project and a virtualenv of its own. `run` runs a command as that user,
    in the checkout, as a shell would (PWD, HOME, USER, PATH with the virtualenv's bin first)."""

    def __init__(self, name: str, uid: int, gid: int, home: Path, checkout: Path, venv: Path, docker_host: str):
        self.name, self.uid, self.gid, self.home, self.checkout = name, uid, gid, home, checkout
        self.venv, self.docker_host = venv, docker_host

    def env(self, **extra: str) -> dict[str, str]:
        env = clean_env()
        env.update(
            HOME=str(self.home), USER=self.name, LOGNAME=self.name, PWD=str(self.checkout),
            PATH=f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            DOCKER_HOST=self.docker_host,
        )
        env.pop("VIRTUAL_ENV", None)
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *args]

    def run(self, line: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
        """One shell line, as the caller typed it in the checkout."""
        return subprocess.run(self.argv("/bin/sh", "-c", line), cwd=self.checkout, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def popen(self, line: str, env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(self.argv("/bin/sh", "-c", "exec " + line), cwd=self.checkout, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def files_not_owned(self, folder: Path) -> list[str]:
        """Paths under `folder` (itself included) the caller does not own."""
        bad = []
        for path in [folder, *folder.rglob("*")]:
            st = path.lstat()
            if (st.st_uid, st.st_gid) != (self.uid, self.gid):
                bad.append(f"{path} ({st.st_uid}:{st.st_gid})")
        return bad


def _ensure_user(name: str, uid: int, socket_path: str) -> tuple[int, int, Path]:
    import grp
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        taken = {p.pw_uid for p in pwd.getpwall()}
        while uid in taken:
            uid += 1
        subprocess.run(["useradd", "--uid", str(uid), "--user-group", "--create-home", "--shell", "/bin/sh", name],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    # allowed on the engine's socket: a member of the group that owns it (dockerd's --group, `docker`)
    if os.path.exists(socket_path):
        group = grp.getgrgid(os.stat(socket_path).st_gid).gr_name
        if group != "root" and name not in grp.getgrnam(group).gr_mem:
            subprocess.run(["usermod", "-aG", group, name], check=True, capture_output=True)
    return entry.pw_uid, entry.pw_gid, Path(entry.pw_dir)


def _caller_venv(venv: Path) -> Path:
    """The project's pinned packages in a virtualenv the caller can run (the runner's own may sit
    under a home the caller cannot enter): made with uv from its cache on the system's Python 3.11,
    kept while the lock is unchanged; pipectl itself is the runner's source, on sys.path by a .pth
    file, with its `pipectl` command."""
    import hashlib
    import importlib.metadata

    lock = REPO / "requirements.lock"
    stamp = venv / ".requirements.lock.sha256"
    digest = hashlib.sha256(lock.read_bytes() + str(REPO).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return venv
    uv = REPO / ".venv" / "bin" / "uv"
    python = Path("/usr/bin/python3.11")
    if not python.is_file():
        skip_or_fail("the tests as a non-root caller need the system's /usr/bin/python3.11 (apt-get install python3)")
    steps = [
        [str(uv), "venv", "-q", "--clear", "--python", str(python), str(venv)],
        [str(uv), "pip", "sync", "-q", "--python", str(venv / "bin" / "python"), str(lock)],
        # the runner's pip: the docker runtime puts a wheel of the caller's pip in the image's wheelhouse
        [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"pip=={importlib.metadata.version('pip')}"],
    ]
    for argv in steps:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"making the caller's virtualenv failed: {' '.join(argv)}: {result.stderr[-2000:]}", pytrace=False)
    site = next((venv / "lib").glob("python3.11/site-packages"))
    (site / "pipectl-source.pth").write_text(f"{REPO}\n")
    script = venv / "bin" / "pipectl"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom pipectl.cli.main import main\nsys.exit(main())\n")
    script.chmod(0o755)
    stamp.write_text(digest)
    return venv


def _copy_checkout(dest: Path) -> None:
    """The project's files as git sees them (tracked and new, not ignored): no target/, no .venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.fixture(scope="session")
def caller(base_image, docker_engine):
    """A non-root user unknown to the images, with its own checkout (in /tmp, which it can reach)
    and a Maven repository seeded from the runner's, so `mvn clean package` needs no downloads."""
    import tempfile

    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        skip_or_fail("the tests as a non-root caller need root (to create the user), useradd and setpriv")
    socket_path = docker_engine.removeprefix("unix://")
    uid, gid, home = _ensure_user(CALLER_NAME, CALLER_UID, socket_path)
    home.mkdir(parents=True, exist_ok=True)
    m2 = home / ".m2"
    runner_repo = Path.home() / ".m2" / "repository"
    if not (m2 / "repository").is_dir() and runner_repo.is_dir():
        shutil.copytree(runner_repo, m2 / "repository", symlinks=True)
    venv = _caller_venv(home / "venv")
    subprocess.run(["chown", "-R", f"{uid}:{gid}", str(home)], check=True)
    root = Path(tempfile.mkdtemp(prefix="pipectl-caller-"))
    checkout = root / "pipectl"
    checkout.mkdir()
    _copy_checkout(checkout)
    subprocess.run(["chown", "-R", f"{uid}:{gid}", str(root)], check=True)
    os.chmod(root, 0o755)
    yield Caller(CALLER_NAME, uid, gid, home, checkout, venv, docker_engine)
    shutil.rmtree(root, ignore_errors=True)
