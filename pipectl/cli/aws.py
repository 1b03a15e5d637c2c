"""`pipectl aws ...`: package, deploy and operate the job on Amazon Managed Service for Apache Flink."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from pipectl.cli import context
from pipectl.errors import EXIT_USAGE, PipectlError
from pipectl.aws import bootstrap as aws_bootstrap
from pipectl.aws import deploy as aws_deploy
from pipectl.aws import manage
from pipectl.aws import plan as aws_plan
from pipectl.aws.iam import select_document
from pipectl.aws.logs import recent_logs
from pipectl.rehearse import restore as rehearse_restore
from pipectl.rehearse import run

app = typer.Typer(
    help="Package, deploy and operate the job on Amazon Managed Service for Apache Flink.",
    no_args_is_help=True,
)

REGION = typer.Option(None, "--region", help="AWS region (aws.region).")
PROFILE = typer.Option(None, "--profile", help="AWS profile (aws.profile).")
APP = typer.Option(None, "--app", help="Managed Flink application name (aws.application_name).")


def _settings(region: Optional[str], profile: Optional[str], app_name: Optional[str], **more: Any):
    # The service commands never aim at a running rehearsal (rehearsal=False).
    return context.settings(
        env="aws", rehearsal=False, aws__region=region, aws__profile=profile, aws__application_name=app_name, **more
    )


def _kv(console: Console, rows: list[tuple[str, Any]]) -> None:
    width = max(len(key) for key, _ in rows) + 2
    for key, value in rows:
        console.out(f"{key:<{width}}{'-' if value in (None, '') else value}", highlight=False)


# package ---------------------------------------------------------------------------------
def _render_artifact(console: Console, a: Any) -> None:
    _kv(console, [("artifact", a.path), ("size", f"{a.size:,} bytes"), ("sha256", a.sha256), ("entries", a.entries)])


@app.command()
def package() -> None:
    """Build target/data-pipeline-aws.zip with Maven and check its layout."""
    out = context.out()
    out.emit(aws_deploy.package(context.settings(), out), _render_artifact)


# deploy ----------------------------------------------------------------------------------
def _health_line(h: Any) -> str:
    if not h:
        return "-"
    h = h if isinstance(h, dict) else h.to_dict()
    if h.get("verdict") == "not_committing":
        return str(h.get("reason"))  # "running, not committing: ..."
    line = f"{h.get('verdict')}: {h.get('reason')}"
    cause = h.get("cause")
    if cause and h.get("verdict") != "running":
        line += f" ({cause['exception']} -- {cause['fix']})"
    return line


def _render_deploy(console: Console, r: Any) -> None:
    what = r.action + (f" ({', '.join(r.changes)})" if r.changes else "")
    _kv(
        console,
        [
            ("application", r.application),
            ("region", r.region),
            ("action", what),
            ("code", r.code + ("" if r.uploaded else " (already uploaded)")),
            (
                "started",
                ("yes, from snapshot " + r.restored_from)
                if r.restored_from
                else ("yes" if r.started else "no, already running"),
            ),
            ("status", f"{r.status} (version {r.version})"),
            ("job", _health_line(r.health)),
            ("vpc", r.vpc),
            ("logs", r.log_group),
            ("console", r.console_url),
        ],
    )
    console.print("next: pipectl aws status | pipectl aws logs | pipectl --env aws verify")


@app.command()
def deploy(
    skip_build: bool = typer.Option(False, "--skip-build", help="Deploy target/data-pipeline-aws.zip as it is."),
    restore: str = typer.Option("latest", "--restore", help="latest, none, or a snapshot name to start from."),
    allow_non_restored_state: bool = typer.Option(
        False, "--allow-non-restored-state", help="Start even if snapshot state cannot be mapped to the job."
    ),
    parallelism: Optional[int] = typer.Option(None, "--parallelism", help="Job parallelism (aws.parallelism)."),
    timeout: Optional[int] = typer.Option(None, "--timeout", help="Seconds to wait for RUNNING (aws.wait_timeout_s)."),
    settle: Optional[int] = typer.Option(
        None, "--settle", help="Seconds to watch the job after RUNNING: uptime, restarts, logs (aws.settle_s; 0: skip)."
    ),
    plan: bool = typer.Option(
        False, "--plan", help="Show what deploy would change and change nothing (exit 8: changes pending)."
    ),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Package, upload, create or update the application, start it, wait until RUNNING and watch the job settle.
    With --plan: what it would do, changing nothing (exit 0 nothing to do, 7 changes pending)."""
    out = context.out()
    settings = _settings(
        region, profile, app_name, aws__parallelism=parallelism, aws__wait_timeout_s=timeout, aws__settle_s=settle
    )
    if plan:
        planned = aws_plan.plan(
            settings,
            skip_build=skip_build,
            restore=restore,
            allow_non_restored_state=allow_non_restored_state,
            reporter=out,
        )
        out.emit(planned, _render_plan)
        context.finish(planned)
    result = aws_deploy.deploy(
        settings,
        skip_build=skip_build,
        restore=restore,
        allow_non_restored_state=allow_non_restored_state,
        reporter=out,
    )
    out.emit(result, _render_deploy)


# plan and diff ---------------------------------------------------------------------------
def _render_plan(console: Console, r: Any) -> None:
    what = {"create": "create", "update": "update", "none": "nothing to do"}[r.action]
    if r.mode == "diff":
        what = {"create": "not deployed", "update": "drift", "none": "no drift"}[r.action]
    rows: list[tuple[str, Any]] = [
        ("application", f"{r.application} ({r.region})"),
        ("plan" if r.mode == "plan" else "diff", what),
    ]
    if r.status:
        rows.append(("status", r.status))
    if r.code:
        rows.append(("code", r.code))
    if r.restore:
        rows.append(("restore", r.restore))
    if r.upgrade_check:
        rows.append(("upgrade check", r.upgrade_check))
    _kv(console, rows)
    if r.changes:
        console.print("changes:")
        for change in r.changes:
            console.out(f"  {change.line()}", highlight=False)


@app.command("diff")
def diff_cmd(region: Optional[str] = REGION, profile: Optional[str] = PROFILE, app_name: Optional[str] = APP) -> None:
    """Show drift between the settings and the deployed application (exit 8 when they differ)."""
    result = aws_plan.diff(_settings(region, profile, app_name), reporter=context.out())
    context.out().emit(result, _render_plan)
    context.finish(result)


# status ----------------------------------------------------------------------------------
def _render_status(console: Console, s: Any) -> None:
    snap = f"{s.last_snapshot} ({s.last_snapshot_time})" if s.last_snapshot else "none"
    cp = f"{s.checkpoint_interval_ms // 1000}s" if s.checkpoint_interval_ms else None
    _kv(
        console,
        [
            ("application", s.application),
            ("status", s.status),
            ("job", _health_line(s.health)),
            ("version", s.version),
            ("runtime", s.runtime),
            ("parallelism", s.parallelism),
            ("checkpoints", f"every {cp}" if cp else None),
            ("last snapshot", snap),
            ("commits", _commit_line(s.commits)),
            ("code", s.code),
            ("region", s.region),
            ("logs", s.log_group),
            ("console", s.console_url),
        ],
    )


def _commit_line(c: Any) -> str | None:
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


@app.command()
def status(region: Optional[str] = REGION, profile: Optional[str] = PROFILE, app_name: Optional[str] = APP) -> None:
    """Show status, the job's health (uptime, restarts, root exception, commits), version, runtime and the last
    snapshot. Exit code 4 when the application is RUNNING but its job restarts in a loop, failed, or reads records
    and commits nothing ("running, not committing")."""
    result = manage.status(_settings(region, profile, app_name))
    context.out().emit(result, _render_status)
    context.finish(result, warn=True)


# stop ------------------------------------------------------------------------------------
def _render_stop(console: Console, r: Any) -> None:
    if not r.stopped:
        console.print(f"application '{r.application}' was not running (status {r.status})")
    elif r.forced:
        console.print(f"application '{r.application}' stopped (forced, no snapshot)")
    else:
        console.print(f"application '{r.application}' stopped; snapshot: {r.snapshot or 'none'}")


@app.command()
def stop(
    force: bool = typer.Option(False, "--force", help="Stop at once, without taking a snapshot."),
    timeout: Optional[int] = typer.Option(None, "--timeout", help="Seconds to wait (aws.wait_timeout_s)."),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Stop the application, taking a snapshot first unless --force."""
    out = context.out()
    settings = _settings(region, profile, app_name, aws__wait_timeout_s=timeout)
    out.emit(manage.stop(settings, force=force, reporter=out), _render_stop)


# logs ------------------------------------------------------------------------------------
def _render_logs(console: Console, r: Any) -> None:
    if r.driver_errors:
        console.print(f"Python driver errors ({len(r.driver_errors)}):", style="bold red")
        for e in r.driver_errors:
            console.out(f"  {e.line()}", highlight=False)
    else:
        console.print("Python driver errors: none")
    console.print(f"recent events in {r.log_group} (last {r.since_minutes} min, {len(r.events)}):", style="bold")
    for e in r.events:
        console.out(f"  {e.line()}", highlight=False)


@app.command()
def logs(
    since: int = typer.Option(60, "--since", help="Minutes to look back."),
    limit: int = typer.Option(100, "--limit", help="Most events to show."),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Show recent CloudWatch events of the application, Python driver errors first."""
    context.out().emit(recent_logs(_settings(region, profile, app_name), since, limit), _render_logs)


# destroy ---------------------------------------------------------------------------------
def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PipectlError("refusing to delete without confirmation", hint="pass --yes", exit_code=EXIT_USAGE)
    return typer.confirm(question, default=False, err=True)


def _render_destroy(console: Console, r: Any) -> None:
    if hasattr(r, "stack"):  # --bootstrap
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


@app.command()
def destroy(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    bootstrap: bool = typer.Option(
        False, "--bootstrap", help="Also delete the `aws bootstrap` stack (buckets, role, log group) after the app."
    ),
    delete_data: bool = typer.Option(
        False, "--delete-data", help="With --bootstrap: delete the code zips and the tables the buckets still hold."
    ),
    timeout: Optional[int] = typer.Option(None, "--timeout", help="Seconds to wait (aws.wait_timeout_s)."),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Delete the application and its snapshots (asks first unless --yes); with --bootstrap, the stack too."""
    out = context.out()
    settings = _settings(region, profile, app_name, aws__wait_timeout_s=timeout)
    confirm = None if yes else _ask
    if bootstrap:
        out.emit(
            aws_bootstrap.destroy(settings, delete_data=delete_data, confirm=confirm, reporter=out), _render_destroy
        )
    else:
        out.emit(manage.destroy(settings, confirm=confirm, reporter=out), _render_destroy)


# bootstrap -------------------------------------------------------------------------------
def _render_bootstrap(console: Console, r: Any) -> None:
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
        _kv(console, [(f"output {k}", v) for k, v in r.outputs.items()])
    if r.written is None:
        console.print("add these lines to pipectl.toml:")
        for line in r.toml_lines():
            console.out(line, highlight=False)
    elif r.updated_keys:
        console.print(f"written into {r.written}: {', '.join('aws.' + k for k in r.updated_keys)}")
    else:
        console.print(f"{r.written} already has these settings")
    console.print("next: pipectl aws deploy")


@app.command("bootstrap")
def bootstrap_cmd(
    yes: bool = typer.Option(False, "--yes", "-y", help="Execute the change set without asking."),
    no_write: bool = typer.Option(
        False, "--no-write", help="Print the settings to add instead of writing pipectl.toml."
    ),
    template: bool = typer.Option(False, "--template", help="Print the CloudFormation template and change nothing."),
    vpc_endpoints: bool = typer.Option(
        False, "--vpc-endpoints", help="Add the S3 gateway and S3 Tables interface endpoints to the MSK cluster's VPC."
    ),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Create or update, through a CloudFormation change set, the code bucket, table bucket, execution role and
    log group that `aws deploy` needs, and write their names into pipectl.toml."""
    out = context.out()
    result = aws_bootstrap.bootstrap(
        _settings(region, profile, app_name),
        confirm=None if yes else _ask_execute,
        write=not no_write,
        vpc_endpoints=vpc_endpoints,
        template_only=template,
        reporter=out,
    )
    out.emit(result, _render_bootstrap)


def _ask_execute(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PipectlError("refusing to change the stack without confirmation", hint="pass --yes", exit_code=EXIT_USAGE)
    return typer.confirm(question, default=False, err=True)


# iam-policy ------------------------------------------------------------------------------
def _render_iam(console: Console, r: Any) -> None:
    if isinstance(r, dict) and "Version" in r:  # a single document (--document)
        console.out(json.dumps(r, indent=2), highlight=False)
        return
    console.print(f"# permissions policy for the execution role of '{r.application}' ({r.region})")
    console.out(json.dumps(r.policy, indent=2), highlight=False)
    console.print("# trust policy")
    console.out(json.dumps(r.trust_policy, indent=2), highlight=False)
    for note in r.notes:
        console.print(f"# note: {note}")


@app.command("iam-policy")
def iam_policy(
    document: str = typer.Option("both", "--document", help="both, policy or trust (one raw JSON document)."),
    region: Optional[str] = REGION,
    app_name: Optional[str] = APP,
) -> None:
    """Print the execution role's least-privilege policy and trust policy."""
    context.out().emit(select_document(_settings(region, None, app_name), document), _render_iam)


# rehearse --------------------------------------------------------------------------------
def _render_rehearsal(console: Console, r: Any) -> None:
    h = r.rehearsal
    _kv(
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
            ("logs", r.logs),
        ],
    )
    console.print(
        "next: pipectl --env aws produce orders --count 1000 | pipectl --env aws verify | pipectl aws rehearse --down"
    )


def _render_rehearsal_down(console: Console, r: Any) -> None:
    for message in r.messages:
        console.print(message)


@app.command()
def rehearse(
    down: bool = typer.Option(False, "--down", help="Stop the rehearsal: Flink, the broker and the emulator."),
    zip_path: Optional[Path] = typer.Option(
        None, "--zip", help="Rehearse this zip instead of building target/data-pipeline-aws.zip."
    ),
    skip_build: bool = typer.Option(False, "--skip-build", help="Rehearse target/data-pipeline-aws.zip as it is."),
    stop: bool = typer.Option(
        False, "--stop", help="Stop the rehearsed job with a savepoint (as `aws stop`); rehearse again to restore it."
    ),
) -> None:
    """Run the deployment zip as Managed Flink runs it (Java 11, MSK IAM auth, S3 Tables), on this machine."""
    out = context.out()
    settings = context.settings(env="aws", rehearsal=False)
    if down:
        out.emit(run.down(settings), _render_rehearsal_down)
        return
    if stop:
        out.emit(
            rehearse_restore.stop(settings, reporter=out), lambda c, r: c.print(f"stopped; savepoint {r.savepoint}")
        )
        return
    out.emit(run.rehearse(settings, zip_path=zip_path, build_artifact=not skip_build, reporter=out), _render_rehearsal)
