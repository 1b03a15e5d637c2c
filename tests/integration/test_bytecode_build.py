"""`mvn package` fails when pyflink-dependencies.jar would ship a class newer than Java 11.

Builds the dependency jar module with aws-msk-iam-auth 2.3.9 (Java 17 bytecode, the version this project
shipped before the guard) into a scratch folder (-Drepo.root), so the project's own target/ is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_maven_build_fails_on_a_java_17_dependency_and_names_its_classes(tmp_path: Path) -> None:
    mvn = shutil.which("mvn")
    assert mvn, "Maven is needed on PATH"
    checks = tmp_path / "assembly" / "build-checks"
    checks.mkdir(parents=True)
    shutil.copy(REPO / "assembly" / "build-checks" / "BytecodeGuard.java", checks)
    result = subprocess.run(
        [mvn, "-q", "-B", "package", "-DskipTests", "-pl", "assembly/pyflink-dependencies",
         f"-Drepo.root={tmp_path}", "-Daws-msk-iam-auth.version=2.3.9"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert (f"BytecodeGuard: 27 class(es) in {tmp_path}/target/pyflink-dependencies.jar are newer than Java 11 "
            "(class file major 55), which Managed Flink runs:") in output
    assert "  software/amazon/msk/auth/iam/IAMLoginModule.class (Java 17, class file major 61)" in output
    assert not (tmp_path / "target" / "pyflink-dependencies.jar").exists()
    assert (tmp_path / "target" / "pyflink-dependencies.jar.rejected").is_file()
    assert not (tmp_path / "target" / "data-pipeline-aws.zip").exists()
