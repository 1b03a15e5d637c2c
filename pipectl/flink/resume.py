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

A consistent point can still fail on restore, and this module predicts that too (`committer_problems`).
On restore the sink's committer (Iceberg 1.10 `IcebergFilesCommitter.initializeState`, and the v2
`IcebergCommitter` alike, both through `SinkUtil.getMaxCommittedCheckpointId`) walks the table from
its current snapshot through the parent ids, and stops at the first snapshot whose summary carries
the RESTORED job's `flink.job-id` (and its `flink.operator-id`), or at a parent that was expired.
Every checkpoint in the restored state above the id found (none found: above -1) is committed
again, from the per-checkpoint manifest the state names
(`metadata/<job id>-<operator id>-<subtask>-<attempt>-<checkpoint id>-<n>.avro`), which the committer
deleted after its first commit. So the start is refused when, for a table, a manifest to commit
is gone (the restore would fail in a loop), or when the walk ends at an expired parent without
finding the job while the state holds manifests to commit (the lineage was lost: the commit could
store the same rows twice).
"""

from __future__ import annotations

import posixpath
import re
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

METADATA = "_metadata"
MAGIC = 0x4960672D
JOB_ID_KEY = "flink.job-id"
CHECKPOINT_KEY = "flink.max-committed-checkpoint-id"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SAVEPOINT = re.compile(r"^savepoint-([0-9a-f]{6})-[0-9a-f]+$")
# A Flink committer manifest path as the committer's state holds it (ManifestOutputFileFactory).
_MANIFEST = re.compile(rb"(?:file:|s3a?://|/)[\x21-\x7e]*?/([0-9a-f]{32})-([0-9a-f]{32})-\d{5}-\d+-(\d+)-\d{5}\.avro")
STATE_SCAN_LIMIT = 64 * 1024 * 1024  # bytes of a point's files read for manifest paths


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


@dataclass(frozen=True)
class Manifest:
    """A per-checkpoint manifest that a committer's state names (committed on restore unless the
    table already holds that checkpoint)."""

    path: str  # as the state holds it (file:/... or s3://...)
    job_id: str
    operator_id: str
    checkpoint_id: int

    @property
    def folder(self) -> str:
        return posixpath.dirname(posixpath.normpath(plain_path(self.path)))


@dataclass(frozen=True)
class Chain:
    """A table's snapshots as the committer walks them: from the current one through the parent ids."""

    table: str
    metadata_dir: str  # where the table's manifests live (a plain path, no scheme)
    summaries: list[dict[str, str]] = field(default_factory=list)  # newest first
    truncated: bool = False  # the walk ended at a parent id whose snapshot was expired


# ---------------------------------------------------------------------------------- reading files
def plain_path(path: str) -> str:
    """A path without its file: scheme (file:///a, file:/a -> /a)."""
    if path.startswith("file:"):
        path = "/" + path.removeprefix("file:").lstrip("/")
    return path


def manifests_in(folder: Path) -> list[Manifest]:
    """The committer manifests that a checkpoint or savepoint folder's files name (its `_metadata`
    holds the operator state inline when small; larger state is in files beside it)."""
    found: dict[str, Manifest] = {}
    budget = STATE_SCAN_LIMIT
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            data = f.read_bytes()[:budget]
        except OSError:
            continue
        budget -= len(data)
        for m in _MANIFEST.finditer(data):
            path = m.group(0).decode()
            found[path] = Manifest(path, m.group(1).decode(), m.group(2).decode(), int(m.group(3)))
        if budget <= 0:
            break
    return sorted(found.values(), key=lambda m: (m.checkpoint_id, m.path))


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


def max_committed(chain: Chain, job_id: str) -> int | None:
    """What the committer finds for `job_id` walking `chain` (None: no commit of the job in it)."""
    for summary in chain.summaries:
        jid, cid = summary.get(JOB_ID_KEY), summary.get(CHECKPOINT_KEY)
        if jid and cid is not None and _same_job(jid, job_id):
            try:
                return int(cid)
            except ValueError:
                continue
    return None


def committer_problems(
    point: ResumePoint, chains: list[Chain], manifests: list[Manifest], exists: Callable[[str], bool]
) -> list[str]:
    """Why the sink's committer would fail or commit twice when restored from `point` (empty: it
    commits exactly what is pending). `exists` says whether a plain path is there."""
    problems = []
    job = point.job_id or ""
    for chain in chains:
        found = max_committed(chain, job)
        above = -1 if found is None else found
        pending = [
            m
            for m in manifests
            if m.folder == posixpath.normpath(chain.metadata_dir)
            and _same_job(m.job_id, job)
            and m.checkpoint_id > above
        ]
        if not pending:
            continue
        gone = [m for m in pending if not exists(plain_path(m.path))]
        ids = ", ".join(str(c) for c in sorted({m.checkpoint_id for m in (gone or pending)}))
        if found is None and chain.truncated:
            lost = f"{chain.table} keeps no commit of job {job[:8]} (its older snapshots were expired)"
        else:
            lost = f"{chain.table} holds checkpoint {above} of job {job[:8]} at most"
        if gone:
            problems.append(
                f"{lost}: the sink would commit checkpoint {ids} again from a manifest that is gone "
                f"({gone[0].path.rsplit('/', 1)[-1]}) and fail on every restart"
            )
        elif found is None and chain.truncated:
            problems.append(f"{lost}: the sink would commit checkpoint {ids} again and could store those rows twice")
    return problems


def committer_message(point: ResumePoint, problems: list[str]) -> str:
    return f"cannot resume from {point.describe()}: " + "; ".join(problems)


def lineage_depth(summaries: list[dict[str, str]]) -> int:
    """How many snapshots, from the current one back (summaries newest first), reach the newest
    Flink commit (0: none in the chain). Expiry must keep at least these for a restore to find it."""
    for i, summary in enumerate(summaries):
        if summary.get(JOB_ID_KEY) and summary.get(CHECKPOINT_KEY) is not None:
            return i + 1
    return 0


def ancestry(table) -> tuple[list[dict[str, str]], bool]:
    """A pyiceberg table's current snapshot and its ancestors as the Iceberg sink's committer walks
    them on restore: their summaries, newest first, and whether the walk ended at an expired parent."""
    by_id = {s.snapshot_id: s for s in table.metadata.snapshots}
    summaries, snap, truncated = [], table.current_snapshot(), False
    while snap is not None:
        summary = dict(snap.summary.additional_properties) if snap.summary else {}
        summaries.append(summary)
        parent, seq = snap.parent_snapshot_id, snap.sequence_number
        snap = by_id.get(parent) if parent is not None else None
        truncated = snap is None and history_cut(parent, False, seq, summary)
    return summaries, truncated


def history_cut(parent_id: int | None, parent_kept: bool, sequence_number: int | None, summary: dict[str, str]) -> bool:
    """Whether the oldest snapshot of a walk had ancestors that were expired. Java Iceberg keeps the
    expired parent's id (the walk stops at a missing snapshot); pyiceberg's expiry clears it, so a
    snapshot without a parent is the table's first only when its sequence number is 1 (format v2)
    or, without one, when it added everything the table holds."""
    if parent_id is not None:
        return not parent_kept
    if sequence_number:
        return sequence_number > 1
    return summary.get("total-records", summary.get("added-records")) != summary.get("added-records")
