"""The release the rehearsal runs, recorded as `aws deploy` records it, and deploy's upgrade check
when `aws rehearse --zip NEW` restores a stopped rehearsal with another release.

`aws deploy` records every release's operator ids next to its code object
(`s3://BUCKET/<key>.operators.json`) and, before UpdateApplication, compares the record of the code
the application runs with the new release's ids (pipectl.aws.upgrade). The rehearsal does the same
with the same functions: when it starts a zip, the zip's operator ids (`upgrade.release_operators`,
the release's own job graph built without running it) are recorded next to its unzipped code,
`<state>/rehearsal/app.operators.json`; a restore with another zip compares that record with the
new zip's ids (`upgrade.compare`) and takes the path it names: state (restore from the savepoint
`--stop` took), offsets (start without state, after the last records the tables hold once the clean
stop committed: run.py gives the job KAFKA_START_OFFSETS), refused (one line, nothing started), non-restored (`--allow-non-restored-state`) or not
checked (restore from the savepoint, as deploy does).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipectl import build, statefile
from pipectl.aws import upgrade
from pipectl.config import Settings
from pipectl.progress import SILENT, Reporter
from pipectl.rehearse import state

RECORD = "app.operators.json"


def record_path(settings: Settings) -> Path:
    return state.folder(settings.state_dir) / RECORD


def record(
    settings: Settings,
    zip_file: Path,
    artifact: build.Artifact,
    reporter: Reporter = SILENT,
    operators: list[dict] | None = None,
) -> str:
    """Record the operator ids of the release the rehearsal now runs (as deploy's `_record`).
    Returns the record's path, or "" when the release's graph could not be built (warned)."""
    path = record_path(settings)
    why = ""
    if operators is None:
        operators, why = upgrade.release_operators(settings, zip_file, artifact.sha256)
    if operators is None:
        path.unlink(missing_ok=True)  # a record of the previous release would be wrong
        reporter.warn(
            f"the release's operator ids are not recorded ({why}): an upgrade rehearsed on this one cannot check its state"
        )
        return ""
    statefile.write_json(path, {"sha256": artifact.sha256, "operators": operators}, mode=0o600)
    reporter.done(f"recorded the release's {len(operators)} operator ids in {path}")
    return str(path)


def _running_record(settings: Settings, sha256: str) -> tuple[list[dict] | None, str]:
    """(the recorded operators of the stopped release, why not when None)."""
    path = record_path(settings)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"no record of the running release's operators ({path}): its job graph could not be built"
    except (OSError, ValueError) as exc:
        return None, f"cannot read the running release's record {path} ({exc})"
    if data.get("sha256") != sha256 or not isinstance(data.get("operators"), list):
        return None, f"the record {path} is not of the running release"
    return data["operators"], ""


def check(
    settings: Settings, running: state.Rehearsal, zip_file: Path, artifact: build.Artifact, *, allow_non_restored: bool
) -> upgrade.UpgradeCheck:
    """Deploy's check (pipectl.aws.upgrade) for replacing the stopped release with the zip's; never
    raises for a refusal (the caller raises `upgrade.refuse`, as deploy does)."""
    new, why_new = upgrade.release_operators(settings, zip_file, artifact.sha256)
    old, why_old = _running_record(settings, running.artifact_sha256)
    running_code = f"rehearsal release {running.artifact_sha256[:12]}"
    if old is None:
        return upgrade.UpgradeCheck(
            upgrade.PATH_NOT_CHECKED, f"not checked: {why_old}", running_code, operators=new, release_error=why_new
        )
    if new is None:
        return upgrade.UpgradeCheck(
            upgrade.PATH_NOT_CHECKED, f"not checked: {why_new}", running_code, release_error=why_new
        )
    result = upgrade.compare(old, new, allow_non_restored=allow_non_restored, running_code=running_code)
    result.operators = new
    return result


__all__ = ["RECORD", "check", "record", "record_path"]
