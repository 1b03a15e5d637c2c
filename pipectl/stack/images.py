"""The docker stack's images: built from compose/*/Dockerfile with a build context pipectl assembles
from the project (only the files a Dockerfile copies), over a base image the engine has or pulls, and
the Flink image's Python wheels fetched on the host (the image build itself downloads nothing).

  PIPECTL_DOCKER_BASE_IMAGE   the base of both images (default: the public ones in spec.py)
  PIPECTL_DOCKER_WHEELHOUSE   the Flink image's Python packages (default target/docker/wheels)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipectl.config import Settings
from pipectl.errors import NotFoundError, PipectlError
from pipectl.progress import SILENT, Reporter
from pipectl.stack import spec

ENV_BASE_IMAGE = "PIPECTL_DOCKER_BASE_IMAGE"
ENV_WHEELHOUSE = "PIPECTL_DOCKER_WHEELHOUSE"


def build(client: Any, settings: Settings, services: list[spec.Service], wanted: set[str], reporter: Reporter) -> None:
    """Build each image in `wanted` once (the services that share an image share the build)."""
    Builder(client, settings, reporter).build_images(services, wanted)


@dataclass
class Builder:
    client: Any  # docker.DockerClient
    s: Settings
    r: Reporter = SILENT

    @property
    def state(self) -> Path:
        return self.s.state_dir

    def build_images(self, services: list[spec.Service], images: set[str]) -> None:
        base = os.environ.get(ENV_BASE_IMAGE, "").strip()
        wheelhouse = Path(os.environ.get(ENV_WHEELHOUSE) or self.s.target_dir / "docker" / "wheels")
        built: set[str] = set()
        for svc in services:
            if svc.image not in images or svc.image in built:
                continue
            built.add(svc.image)
            args = dict(svc.build.args)
            if base:
                args["BASE_IMAGE"] = base
            self._ensure_base_image(args["BASE_IMAGE"])
            extra: dict[str, Path] = {}
            if "PYTHON_PACKAGES" in args:
                ensure_wheelhouse(wheelhouse, self.s.project_dir / "requirements.lock", self.r)
                args["PYTHON_PACKAGES"] = "wheels"
                extra[spec.WHEELS_DIR + "/"] = wheelhouse
            self._build(svc, args, extra)

    def _ensure_base_image(self, image: str) -> None:
        """The base image is in the engine, or is pulled now; else one line naming the offline build."""
        from docker.errors import APIError, ImageNotFound

        try:
            self.client.images.get(image)
            return
        except ImageNotFound:
            pass
        if "@" in image:  # pinned by digest: the SDK splits name and digest itself
            name, tag = image, None
        else:
            name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        self.r.step(f"pulling base image {image}")
        try:
            self.client.images.pull(name, tag=tag)
        except APIError as exc:
            reason = (exc.explanation or str(exc)).strip().splitlines()[-1][:160]
            raise PipectlError(
                f"the base image {image} is not in the Docker engine and cannot be pulled ({reason})",
                hint=f"build offline from a local base: set {ENV_BASE_IMAGE} (the BASE_IMAGE build argument) "
                "to an image the engine has, see 'Offline build' in docs/docker.md",
            ) from None
        self.r.done(f"base image {image} pulled")

    def _context(self, svc: spec.Service, replace: dict[str, Path]):
        """The build context as a tar file: the Dockerfile and the inputs the spec lists."""
        root = self.s.project_dir
        f = tempfile.TemporaryFile()
        with tarfile.open(fileobj=f, mode="w") as tar:

            def add(path: Path, arcname: str) -> None:
                info = tar.gettarinfo(str(path), arcname)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isdir():
                    tar.addfile(info)
                    return
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)

            add(root / svc.build.dockerfile, svc.build.dockerfile)
            for item in svc.build.inputs:
                src = replace.get(item, root / item.rstrip("/"))
                if not src.exists():
                    raise NotFoundError(f"{src} is missing (needed to build {svc.image})", hint="run 'make build'")
                if src.is_dir():
                    add(src, item.rstrip("/"))
                    for p in sorted(src.rglob("*")):
                        if "__pycache__" in p.parts or p.suffix == ".pyc" or p.name == ".gitignore":
                            continue
                        add(p, item.rstrip("/") + "/" + p.relative_to(src).as_posix())
                else:
                    add(src, item)
        f.seek(0)
        return f

    def _build(self, svc: spec.Service, args: dict[str, str], replace: dict[str, Path]) -> None:
        from docker.errors import APIError

        log = self.state / "logs" / f"build-{svc.image.split(':')[0]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.r.step(f"building image {svc.image} (base {args['BASE_IMAGE']})")
        started = time.monotonic()
        error = None
        context = self._context(svc, replace)
        try:
            with open(log, "w") as out:
                stream = self.client.api.build(
                    fileobj=context,
                    custom_context=True,
                    dockerfile=svc.build.dockerfile,
                    tag=svc.image,
                    buildargs=args,
                    rm=True,
                    forcerm=True,
                    decode=True,
                )
                for chunk in stream:
                    if "stream" in chunk:
                        out.write(chunk["stream"])
                    if "error" in chunk:
                        error = chunk["error"].strip()
                        out.write(error + "\n")
        except APIError as exc:
            error = exc.explanation or str(exc)
        finally:
            context.close()
        if error:
            hint = f"full build log in {log}"
            raise PipectlError(f"building {svc.image} failed: {error.splitlines()[-1][:300]}", hint=hint)
        self.r.done(f"image {svc.image} built in {time.monotonic() - started:.0f}s")


def python_pins(lock: Path) -> list[str]:
    """`name==version` from requirements.lock for the packages the Flink image needs."""
    wanted = set(spec.FLINK_PYTHON_PACKAGES)
    pins = []
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if m and _norm(m.group(1)) in wanted:
            pins.append(f"{_norm(m.group(1))}=={m.group(2)}")
    missing = wanted - {p.split("==")[0] for p in pins}
    if missing:
        raise NotFoundError(f"{lock.name} pins no version of {', '.join(sorted(missing))}", hint="run 'make lock'")
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _has_wheel(folder: Path, pin: str) -> bool:
    name, version = pin.split("==")
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    return any(f.name.lower().startswith(stem) for f in folder.glob("*.whl"))


def ensure_wheelhouse(dest: Path, lock: Path, reporter: Reporter = SILENT) -> Path:
    """Wheels of the pinned packages (and of pip, which a base without pip installs them with)
    in `dest`, made on the host with `pip wheel` when missing."""
    import importlib.metadata

    try:
        pip_version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        raise NotFoundError(
            f"pip is not installed in {sys.executable}; it fetches the Flink image's wheels",
            hint=f"install it ({sys.executable} -m ensurepip), or fill {ENV_WHEELHOUSE} with the wheels",
        ) from None
    pins = python_pins(lock) + [f"pip=={pip_version}"]
    dest.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not _has_wheel(dest, p)]
    if missing:
        reporter.step(f"fetching Python wheels for the Flink image into {dest}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--wheel-dir",
                str(dest),
                *missing,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not all(_has_wheel(dest, p) for p in pins):
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PipectlError(
                f"could not fetch the Flink image's Python wheels: {last[0]}",
                hint=f"check the package index is reachable, or fill {dest} with wheels of {', '.join(pins)}",
            )
        reporter.done(f"wheels ready in {dest}")
    return dest
