"""Where `job start` resumes from, and whether that state is consistent with the tables.

Resume points are Flink's completed checkpoints (retained: `<checkpoints>/<job id>/chk-N/_metadata`)
and savepoints (`<savepoints>/savepoint-<job id prefix>-<random>/_metadata`). Only a folder that holds
`_metadata` is complete. The file starts with a magic int (0x4960672D), the format version (int) and
the checkpoint id (long), big endian (Flink's `Checkpoints.storeCheckpointMetadata`); a savepoint
taken by stop-with-savepoint is a checkpoint id of its job too.

The tables say what was committed: the Iceberg Flink sink writes `flink.job-id` and
`flink.max-committed-checkpoint-id` into the summary of every snapshot it commits. A point
(job J, checkpoint N) is consistent when, in every table, the newest snapshot a Flink job committed
is covered by the point's lineage: a commit of J with id <= N (a commit for N itself may still be
pending in the state and is made on restore), or a commit of an ancestor of J (the job J was
restored from, and so on) no later than the point where the lineage left it, or the commit that was
newest when the lineage's first job started fresh. Anything else was committed after the point:
resuming would read and store those records a second time.

The lineage (which job was restored from which point) is recorded in <state_dir>/job.json.
"""

from __future__ import annotations

import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

METADATA = "_metadata"
MAGIC = 0x4960672D
JOB_ID_KEY = "flink.job-id"
CHECKPOINT_KEY = "flink.max-committed-checkpoint-id"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SAVEPOINT = re.compile(r"^savepoint-([0-9a-f]{6})-[0-9a-f]+$")


@dataclass(frozen=True)
class ResumePoint:
    path: str  # the chk-N or savepoint folder (what `flink run -s` takes)
    job_id: str | None  # full job id, or the 6-character prefix a savepoint folder carries
    checkpoint_id: int
    kind: str  # "checkpoint" | "savepoint"
    written_at: float  # mtime of _metadata

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        job = (self.job_id or "?")[:8]
        return f"{self.kind} {self.checkpoint_id} of job {job}"


@dataclass(frozen=True)
class TableMark:
    """The newest commit a Flink job made to a table."""

    table: str
    job_id: str
    checkpoint_id: int


@dataclass(frozen=True)
class Link:
    """One job of a lineage and the newest checkpoint id of it the lineage covers."""

    job_id: str
    up_to: int


# ---------------------------------------------------------------------------------- reading files
def read_checkpoint_id(metadata: Path) -> int:
    """The checkpoint id in a `_metadata` file; ValueError when it is not one."""
    with open(metadata, "rb") as f:
        head = f.read(16)
    if len(head) < 16:
        raise ValueError(f"{metadata} is too short to be Flink checkpoint metadata")
    magic, _version, checkpoint_id = struct.unpack(">iiq", head)
    if magic != MAGIC:
        raise ValueError(f"{metadata} is not Flink checkpoint metadata (magic {magic:#x})")
    return checkpoint_id


def _point(folder: Path, job_id: str | None, kind: str) -> ResumePoint | None:
    meta = folder / METADATA
    try:
        return ResumePoint(str(folder.resolve()), job_id, read_checkpoint_id(meta), kind, meta.stat().st_mtime)
    except (OSError, ValueError):
        return None  # incomplete (no _metadata yet) or not ours


def job_id_of(folder: Path) -> str | None:
    """The job id a checkpoint or savepoint folder names: `<job id>/chk-N` or `savepoint-<prefix>-...`."""
    if folder.name.startswith("chk-") and _HEX32.match(folder.parent.name):
        return folder.parent.name
    m = _SAVEPOINT.match(folder.name)
    return m.group(1) if m else None


def point_at(path: str) -> ResumePoint | None:
    """The resume point a user named (a chk-N or savepoint folder, or its _metadata file)."""
    folder = Path(path.removeprefix("file://").removeprefix("file:"))
    if folder.name == METADATA:
        folder = folder.parent
    kind = "checkpoint" if folder.name.startswith("chk-") else "savepoint"
    return _point(folder, job_id_of(folder), kind)


def points_of(job_ids: list[str], checkpoints_dir: Path, savepoints_dir: Path) -> list[ResumePoint]:
    """Every complete checkpoint and savepoint of these jobs, newest first."""
    found: list[ResumePoint] = []
    for jid in job_ids:
        for chk in (checkpoints_dir / jid).glob("chk-*"):
            if (p := _point(chk, jid, "checkpoint")) is not None:
                found.append(p)
    for sp in savepoints_dir.glob("savepoint-*"):
        prefix = job_id_of(sp)
        owner = next((jid for jid in job_ids if prefix and jid.startswith(prefix)), None)
        if owner and (p := _point(sp, owner, "savepoint")) is not None:
            found.append(p)
    return newest_first(found)


# ---------------------------------------------------------------------------------- pure logic
def newest_first(points: list[ResumePoint]) -> list[ResumePoint]:
    """Newest written first; for the same time, the higher checkpoint id, a savepoint before a checkpoint."""
    return sorted(points, key=lambda p: (p.written_at, p.checkpoint_id, p.kind == "savepoint"), reverse=True)


def mark_from_summaries(table: str, summaries: list[dict[str, str]]) -> TableMark | None:
    """The newest Flink commit among snapshot summaries given newest first (others, e.g. compaction, skipped)."""
    for summary in summaries:
        jid, cid = summary.get(JOB_ID_KEY), summary.get(CHECKPOINT_KEY)
        if jid and cid is not None:
            try:
                return TableMark(table, jid, int(cid))
            except ValueError:
                continue
    return None


def chain(point: ResumePoint, lineage: dict[str, dict]) -> tuple[list[Link], dict[str, list]]:
    """The point's lineage: [(its job, its id), (the job it was restored from, that point's id), ...]
    and the table marks recorded when the first job of the lineage started without restoring."""
    links = [Link(point.job_id or "", point.checkpoint_id)]
    job = _full_id(point.job_id, lineage)
    seen = set()
    baseline: dict[str, list] = {}
    while job and job in lineage and job not in seen:
        seen.add(job)
        entry = lineage[job]
        parent = entry.get("restored_from")
        if not parent:
            baseline = entry.get("baseline") or {}
            break
        links.append(Link(parent["job_id"], int(parent["checkpoint_id"])))
        job = _full_id(parent["job_id"], lineage)
    return links, baseline


def _full_id(job_id: str | None, lineage: dict[str, dict]) -> str | None:
    if not job_id:
        return None
    if job_id in lineage:
        return job_id
    return next((j for j in lineage if j.startswith(job_id)), job_id)


def _same_job(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


def stale_marks(point: ResumePoint, marks: list[TableMark], lineage: dict[str, dict]) -> list[TableMark]:
    """The table commits made after `point` (empty: resuming from it stores every record once)."""
    links, baseline = chain(point, lineage)
    stale = []
    for mark in marks:
        covered = any(_same_job(mark.job_id, link.job_id) and mark.checkpoint_id <= link.up_to for link in links)
        at_start = baseline.get(mark.table) == [mark.job_id, mark.checkpoint_id]
        if not (covered or at_start):
            stale.append(mark)
    return stale


def stale_message(point: ResumePoint, stale: list[TableMark]) -> str:
    newest = stale[0]
    tables = ", ".join(sorted({m.table for m in stale}))
    return (
        f"{point.describe()} is older than what {tables} already holds "
        f"(checkpoint {newest.checkpoint_id} of job {newest.job_id[:8]} is committed): "
        "resuming from it would store those records twice"
    )
