"""What the stacks report: plain data with to_dict() for the JSON output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipectl.errors import EXIT_UNHEALTHY


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    address: str
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class ComponentLog:
    """`local logs`: the last lines of a component's log and where they came from (a file, or a
    container's log)."""

    component: str
    log: str
    lines: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StackStatus:
    runtime: str
    components: list[ComponentStatus]
    state_dir: str
    topic: str = ""
    messages: list[str] = field(default_factory=list)  # what `up`/`down` did, in order
    submit_command: str = ""  # docker: the `docker exec` line that submits the job from the JobManager

    @property
    def healthy(self) -> bool:
        return all(c.healthy for c in self.components)

    @property
    def exit_code(self) -> int:
        """`local status`: 4 when a component is not healthy."""
        return 0 if self.healthy else EXIT_UNHEALTHY

    @property
    def exit_reason(self) -> str:
        down = [c.name for c in self.components if not c.healthy]
        return f"not healthy: {', '.join(down)}" if down else ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["healthy"] = self.healthy
        return d
