"""Which classes in a jar are too new for the JVM that will load them.

Managed Flink runs Java 11, so every class we ship must be class file major 55 or older. The Maven build
enforces this (assembly/build-checks/BytecodeGuard.java); this is the same check in Python, for code that
runs a jar it did not build (e.g. `pipectl aws rehearse`, before it starts the job):

    from pipectl.bytecode import newer_classes, require_java
    newer_classes(Path("target/pyflink-dependencies.jar"))          # [] or [ClassVersion(name, major), ...]
    require_java(Path("target/pyflink-dependencies.jar"), 11)       # raises BytecodeError naming the classes

Entries under META-INF/versions/ are skipped: they are a multi-release jar's variants for newer JVMs,
which an older JVM never loads. Stdlib only.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipectl.errors import EXIT_FAILURE, NotFoundError, PipectlError

JAVA_11_MAJOR = 55
_MAGIC = b"\xca\xfe\xba\xbe"
_VERSIONED = "META-INF/versions/"
_LISTED = 5


@dataclass(frozen=True)
class ClassVersion:
    """A class entry of a jar and its class file major version (Java N is major N + 44)."""

    name: str  # the entry, e.g. software/amazon/msk/auth/iam/IAMLoginModule.class
    major: int

    @property
    def java(self) -> int:
        return self.major - 44

    @property
    def class_name(self) -> str:
        """The binary class name: software.amazon.msk.auth.iam.IAMLoginModule."""
        return self.name.removesuffix(".class").replace("/", ".")


class BytecodeError(PipectlError):
    """A jar holds classes the target JVM cannot load; `classes` lists them."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None, classes: list[ClassVersion]):
        super().__init__(message, hint)
        self.classes = classes


def major_for_java(java: int) -> int:
    """Java 11 -> 55, Java 17 -> 61."""
    return java + 44


def newer_classes(jar: Path, max_major: int = JAVA_11_MAJOR) -> list[ClassVersion]:
    """Every class in `jar` (META-INF/versions/** excepted) whose major version is above `max_major`,
    in jar order. Raises NotFoundError for a missing jar, PipectlError for one that is not a zip."""
    if not jar.is_file():
        raise NotFoundError(f"{jar} does not exist", hint="build it with `make build` (mvn package)")
    found: list[ClassVersion] = []
    try:
        with zipfile.ZipFile(jar) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or not name.endswith(".class") or name.startswith(_VERSIONED):
                    continue
                with zf.open(info) as fh:
                    header = fh.read(8)
                if len(header) < 8 or header[:4] != _MAGIC:
                    raise PipectlError(f"{jar}: {name} is not a class file", hint="rebuild the jar with `make build`")
                major = int.from_bytes(header[6:8], "big")
                if major > max_major:
                    found.append(ClassVersion(name, major))
    except zipfile.BadZipFile:
        raise PipectlError(f"{jar} is not a jar (zip) file", hint="rebuild it with `make build`") from None
    return found


def describe(classes: list[ClassVersion], listed: int = _LISTED) -> str:
    """'a.B (Java 17), c.D (Java 17) and 25 more'."""
    shown = ", ".join(f"{c.class_name} (Java {c.java})" for c in classes[:listed])
    rest = len(classes) - listed
    return shown + (f" and {rest} more" if rest > 0 else "")


def require_java(jar: Path, java: int = 11) -> None:
    """Raise BytecodeError, naming the classes, when `jar` holds a class newer than Java `java`."""
    classes = newer_classes(jar, major_for_java(java))
    if classes:
        raise BytecodeError(
            f"{jar.name} holds {len(classes)} class(es) newer than Java {java}, which the JVM cannot load "
            f"(UnsupportedClassVersionError): {describe(classes)}",
            hint=f"pin a dependency version built for Java {java} or older in pom.xml and rebuild "
            "(aws-msk-iam-auth 2.3.5 and newer are Java 17)",
            classes=classes,
        )
