"""`pipectl aws ...`: the text renderers of the results (`deploy`'s and `--plan`/`diff`'s still in
pipectl/cli/aws.py, next to their options), each typed with the result its command returns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from pipectl.aws.bootstrap import BootstrapResult, TeardownResult
    from pipectl.aws.health import Health
    from pipectl.aws.iam import IamPolicies
    from pipectl.aws.logs import LogsResult
    from pipectl.aws.manage import DestroyResult, Status, StopResult
    from pipectl.build import Artifact
    from pipectl.rehearse.run import DownResult, RehearsalResult


def kv(console: Console, rows: list[tuple[str, Any]]) -> None:
    width = max(len(key) for key, _ in rows) + 2
    for key, value in rows:
        console.out(f"{key:<{width}}{'-' if value in (None, '') else value}", highlight=False)


def artifact(console: Console, a: Artifact) -> None:
    kv(console, [("artifact", a.path), ("size", f"{a.size:,} bytes"), ("sha256", a.sha256), ("entries", a.entries)])


def health_line(h: Health | None) -> str:
    if h is None:
        return "-"
    if h.verdict == "not_committing":
        return h.reason  # "running, not committing: ..."
    line = f"{h.verdict}: {h.reason}"
    if h.cause and h.verdict != "running":
        line += f" ({h.cause.exception} -- {h.cause.fix})"
    return line


def status(console: Console, s: Status) -> None:
    snap = f"{s.last_snapshot} ({s.last_snapshot_time})" if s.last_snapshot else "none"
    cp = f"{s.checkpoint_interval_ms // 1000}s" if s.checkpoint_interval_ms else None
    kv(
        console,
        [
            ("application", s.application),
            ("status", s.status),
            ("job", health_line(s.health)),
            ("version", s.version),
            ("runtime", s.runtime),
            ("parallelism", s.parallelism),
            ("checkpoints", f"every {cp}" if cp else None),
            ("last snapshot", snap),
            ("commits", commit_line(s.commits)),
            ("code", s.code),
            ("region", s.region),
            ("logs", s.log_group),
            ("console", s.console_url),
        ],
    )


def commit_line(c: dict | None) -> str | None:
    if not c:
        return None
    if c.get("state") in ("committing", "not_committing"):
        newest = c.get("newest")
        return (
            f"newest {newest['committed_at']} (job {newest['job_id']}, checkpoint {newest['checkpoint_id']})"
            if (c["state"] == "committing" and newest)
            else c.get("reason")
        )
    return c.get("reason")


def stop(console: Console, r: StopResult) -> None:
    if not r.stopped:
        console.print(f"application '{r.application}' was not running (status {r.status})")
    elif r.forced:
        console.print(f"application '{r.application}' stopped (forced, no snapshot)")
    else:
        console.print(f"application '{r.application}' stopped; snapshot: {r.snapshot or 'none'}")


def logs(console: Console, r: LogsResult) -> None:
    if r.driver_errors:
        console.print(f"Python driver errors ({len(r.driver_errors)}):", style="bold red")
        for e in r.driver_errors:
            console.out(f"  {e.line()}", highlight=False)
    else:
        console.print("Python driver errors: none")
    console.print(f"recent events in {r.log_group} (last {r.since_minutes} min, {len(r.events)}):", style="bold")
    for e in r.events:
        console.out(f"  {e.line()}", highlight=False)


def destroy(console: Console, r: DestroyResult | TeardownResult) -> None:
    from pipectl.aws.bootstrap import TeardownResult

    if isinstance(r, TeardownResult):  # --bootstrap
        if r.application and r.application.get("deleted"):
            console.print(f"application '{r.application['application']}' deleted from {r.region}")
        for item in r.data_deleted:
            console.print(f"data deleted: {item}")
        console.print(
            f"stack {r.stack} deleted from {r.region}"
            if r.deleted
            else f"stack {r.stack} does not exist in {r.region}; nothing more deleted"
        )
        return
    if not r.deleted:
        console.print(f"application '{r.application}' does not exist in {r.region}; nothing deleted")
        return
    console.print(f"application '{r.application}' deleted from {r.region}")
    for item in r.kept:
        console.print(f"kept: {item}")


def bootstrap(console: Console, r: BootstrapResult) -> None:
    if r.action == "template":
        console.out(r.template, highlight=False, end="")
        return
    if r.action == "unchanged":
        console.print(f"stack {r.stack} ({r.region}) is up to date: no changes")
    else:
        console.print(f"stack {r.stack} ({r.region}) {r.action}:")
        for change in r.changes:
            console.out(f"  {change.line()}", highlight=False)
    if r.outputs:
        kv(console, [(f"output {k}", v) for k, v in r.outputs.items()])
    if r.written is None:
        console.print("add these lines to pipectl.toml:")
        for line in r.toml_lines():
            console.out(line, highlight=False)
    elif r.updated_keys:
        console.print(f"written into {r.written}: {', '.join('aws.' + k for k in r.updated_keys)}")
    else:
        console.print(f"{r.written} already has these settings")
    console.print("next: pipectl aws deploy")


def iam_policies(console: Console, r: IamPolicies | dict) -> None:
    if isinstance(r, dict):  # a single document (--document), {"Version": ..., "Statement": ...}
        console.out(json.dumps(r, indent=2), highlight=False)
        return
    console.print(f"# permissions policy for the execution role of '{r.application}' ({r.region})")
    console.out(json.dumps(r.policy, indent=2), highlight=False)
    console.print("# trust policy")
    console.out(json.dumps(r.trust_policy, indent=2), highlight=False)
    for note in r.notes:
        console.print(f"# note: {note}")


def rehearsal(console: Console, r: RehearsalResult) -> None:
    h = r.rehearsal
    kv(
        console,
        [
            (
                "rehearsal",
                "already running, data flows" if r.action == "running" else f"{r.action} in {h.started_in_s:.0f}s",
            ),
            ("java", f"{h.java_version} ({r.java_home})" if r.java_home else h.java_version),
            ("kafka", f"{h.bootstrap_servers} (SASL_SSL, AWS_MSK_IAM)"),
            ("s3 tables", f"{h.endpoint_url} ({h.table_bucket_arn})"),
            ("flink", f"{h.flink_url} (job {h.job_id})"),
            *([("upgrade", f"{r.upgrade['path']} path: {r.upgrade['message']}")] if r.upgrade else []),
            *([("restored from", r.restored_from)] if r.restored_from else []),
            ("logs", r.logs),
        ],
    )
    console.print(
        "next: pipectl --env aws produce orders --count 1000 | pipectl --env aws verify | pipectl aws rehearse --down"
    )


def rehearsal_down(console: Console, r: DownResult) -> None:
    for message in r.messages:
        console.print(message)
