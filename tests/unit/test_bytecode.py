"""The bytecode guard: nothing newer than Java 11 (class file major 55) ships in pyflink-dependencies.jar.

The Maven build runs assembly/build-checks/BytecodeGuard.java on the shaded jar (`mvn package` fails when
it finds a newer class); pipectl.bytecode is the same check in Python. Both are run here on the jar the
build made, and on a jar made here from real javac output holding one Java 17 class.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipectl.bytecode import BytecodeError, ClassVersion, newer_classes, require_java

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "target" / "pyflink-dependencies.jar"
GUARD = REPO / "assembly" / "build-checks" / "BytecodeGuard.java"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` (a JDK 17) is needed on PATH for this test")
    return path


def _compile(src_dir: Path, out: Path, release: int, package: str, name: str) -> Path:
    source = src_dir / f"{name}.java"
    source.write_text(f"package {package};\npublic final class {name} {{ public static int answer() {{ return 42; }} }}\n")
    result = subprocess.run(
        [_tool("javac"), "--release", str(release), "-d", str(out), str(source)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return out / package / f"{name}.class"


@pytest.fixture(scope="module")
def mixed_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A jar with a Java 11 class, a Java 17 class, and a Java 17 variant under META-INF/versions/17."""
    work = tmp_path_factory.mktemp("bytecode")
    old = _compile(work, work / "c11", 11, "demo", "Old")
    new = _compile(work, work / "c17", 17, "demo", "Newer")
    variant = _compile(work, work / "v17", 17, "demo", "Old")
    jar = work / "mixed.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMulti-Release: true\n")
        zf.write(old, "demo/Old.class")
        zf.write(new, "demo/Newer.class")
        zf.write(variant, "META-INF/versions/17/demo/Old.class")
    return jar


def _guard(jar: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("java"), str(GUARD), str(jar), "55", *extra], capture_output=True, text=True, timeout=120
    )


def test_built_jar_has_no_class_newer_than_java_11() -> None:
    if not JAR.is_file():
        pytest.fail(f"{JAR.relative_to(REPO)} is missing: run `make build` first")
    assert newer_classes(JAR) == []
    require_java(JAR, 11)
    result = _guard(JAR)
    assert result.returncode == 0, result.stderr
    assert "are Java 11 bytecode or older (major <= 55)" in result.stdout


def test_built_jar_ships_the_java_8_msk_iam_classes() -> None:
    """The pinned aws-msk-iam-auth (2.3.4) is in the jar, and its login module is Java 8 bytecode."""
    if not JAR.is_file():
        pytest.fail(f"{JAR.relative_to(REPO)} is missing: run `make build` first")
    with zipfile.ZipFile(JAR) as zf:
        header = zf.read("software/amazon/msk/auth/iam/IAMLoginModule.class")[:8]
    assert int.from_bytes(header[6:8], "big") == 52


def test_guard_fails_on_a_java_17_class_and_names_it(mixed_jar: Path) -> None:
    result = _guard(mixed_jar)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"BytecodeGuard: 1 class(es) in {mixed_jar} are newer than Java 11 (class file major 55), "
        "which Managed Flink runs:"
    )
    assert result.stderr.splitlines()[1] == "  demo/Newer.class (Java 17, class file major 61)"
    assert "demo/Old.class" not in result.stderr  # Java 11, and its Java 17 variant is under META-INF/versions
    assert mixed_jar.is_file()  # without --reject the jar stays


def test_guard_reject_moves_the_failing_jar_aside(mixed_jar: Path, tmp_path: Path) -> None:
    jar = tmp_path / "pyflink-dependencies.jar"
    shutil.copyfile(mixed_jar, jar)
    result = _guard(jar, "--reject")
    assert result.returncode == 1
    assert not jar.exists()
    assert (tmp_path / "pyflink-dependencies.jar.rejected").is_file()
    assert f"The jar was moved to {jar}.rejected so that nothing ships it." in result.stderr


def test_python_check_names_the_java_17_class(mixed_jar: Path) -> None:
    assert newer_classes(mixed_jar) == [ClassVersion("demo/Newer.class", 61)]
    assert newer_classes(mixed_jar, max_major=61) == []
    with pytest.raises(BytecodeError) as err:
        require_java(mixed_jar, 11)
    assert err.value.message == (
        "mixed.jar holds 1 class(es) newer than Java 11, which the JVM cannot load "
        "(UnsupportedClassVersionError): demo.Newer (Java 17)"
    )
    assert err.value.classes == [ClassVersion("demo/Newer.class", 61)]
    require_java(mixed_jar, 17)


def test_python_check_refuses_what_is_not_a_jar(tmp_path: Path) -> None:
    from pipectl.errors import NotFoundError, PipectlError

    with pytest.raises(NotFoundError):
        newer_classes(tmp_path / "missing.jar")
    text = tmp_path / "x.jar"
    text.write_text("not a zip")
    with pytest.raises(PipectlError, match="is not a jar"):
        newer_classes(text)
