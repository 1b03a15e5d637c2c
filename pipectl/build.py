"""Build the Managed Flink artifact (target/data-pipeline-aws.zip) with Maven and check its layout.

Managed Flink runs the zip's `streaming_job.py` (property `python`) with `lib/pyflink-dependencies.jar`
(property `jarfile`) on the classpath; the job package must sit beside it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

from pipectl.config import Settings
from pipectl.errors import EXIT_FAILURE, NotFoundError, PipectlError, UnhealthyError
from pipectl.progress import SILENT, Reporter

ENTRY_POINT = "streaming_job.py"
JOB_MODULE = "jobs/order_ingest/job.py"
DEPENDENCY_JAR = "lib/pyflink-dependencies.jar"
REQUIRED_ENTRIES = (ENTRY_POINT, JOB_MODULE, DEPENDENCY_JAR)
MAVEN_TAIL_LINES = 25


class BuildError(UnhealthyError):
    """The build failed; `log_tail` holds Maven's last lines."""

    exit_code = EXIT_FAILURE


@dataclass(frozen=True)
class Artifact:
    path: str
    size: int
    sha256: str
    entries: int
    built: bool

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_zip(path: Path) -> Artifact:
    """Check the zip's layout; raise with the missing entries named."""
    if not path.is_file():
        raise NotFoundError(
            f"{path} does not exist",
            hint="build it with `pipectl aws package` (or drop --skip-build)",
        )
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            bad = zf.testzip()
    except zipfile.BadZipFile:
        raise PipectlError(f"{path} is not a zip file", hint="rebuild it with `pipectl aws package`") from None
    if bad is not None:
        raise PipectlError(f"{path} is corrupt (entry {bad})", hint="rebuild it with `pipectl aws package`")
    missing = [entry for entry in REQUIRED_ENTRIES if entry not in names]
    if missing:
        raise PipectlError(
            f"{path.name} lacks {', '.join(missing)} (Managed Flink needs {', '.join(REQUIRED_ENTRIES)})",
            hint="check the assembly descriptor in pom.xml/assembly/ and rebuild with `pipectl aws package`",
        )
    return Artifact(str(path), path.stat().st_size, sha256_of(path), len(names), built=False)


def run_maven(project_dir: Path, reporter: Reporter = SILENT) -> None:
    pom = project_dir / "pom.xml"
    if not pom.is_file():
        raise NotFoundError(
            f"{pom} does not exist", hint="run pipectl from the project folder (or set PIPECTL_PROJECT_DIR)"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PipectlError("Maven (mvn) is not on PATH", hint="install Maven 3.9+ and Java 17, then run again")
    cmd = [mvn, "-q", "-B", "-f", str(pom), "package", "-DskipTests"]
    reporter.step("building the job artifact with Maven (mvn -q package)")
    tail: deque[str] = deque(maxlen=MAVEN_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            cmd, cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as exc:
        raise PipectlError(f"could not run Maven: {exc.strerror}", hint="check the Maven installation") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            tail.append(line.rstrip())
    code = proc.wait()
    if code != 0:
        raise BuildError(
            f"Maven build failed (exit {code})",
            hint=f"fix the build, or run `mvn -f {pom} package` to see everything",
            log_tail=list(tail),
        )


def package(settings: Settings, reporter: Reporter = SILENT, *, build: bool = True) -> Artifact:
    """Build target/data-pipeline-aws.zip (unless build=False) and check its layout."""
    if build:
        run_maven(settings.project_dir, reporter)
    artifact = check_zip(settings.aws_zip)
    if build:
        artifact = Artifact(**{**artifact.to_dict(), "built": True})
    reporter.done(f"artifact {settings.aws_zip.name} ({artifact.size:,} bytes, layout ok)")
    return artifact
