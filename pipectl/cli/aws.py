"""`pipectl aws ...`: package, deploy and operate the job on Amazon Managed Service for Apache Flink."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from pipectl.cli import context
from pipectl.cli.render import aws as render_aws
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


# package ---------------------------------------------------------------------------------
@app.command()
def package() -> None:
    """Build target/data-pipeline-aws.zip with Maven and check its layout."""
    out = context.out()
    out.emit(aws_deploy.package(context.settings(), out), render_aws.artifact)


# deploy ----------------------------------------------------------------------------------
def _render_deploy(console: Console, r: aws_deploy.DeployResult) -> None:
    what = r.action + (f" ({', '.join(r.changes)})" if r.changes else "")
    state = [("state", (r.upgrade_check or {}).get("message"))] if r.upgrade_check else []
    render_aws.kv(
        console,
        [
            ("application", r.application),
            ("region", r.region),
            ("action", what),
            *state,
            ("code", r.code + ("" if r.uploaded else " (already uploaded)")),
            (
                "started",
                ("yes, from snapshot " + r.restored_from)
                if r.restored_from
                else ("yes" if r.started else "no, already running"),
            ),
            ("status", f"{r.status} (version {r.version})"),
            ("job", render_aws.health_line(r.health)),
            ("commits", render_aws.commit_line(r.commits) if r.commits else None),
            ("vpc", r.vpc),
            ("logs", r.log_group),
            ("console", r.console_url),
        ],
    )
    console.print("next: pipectl aws status | pipectl aws logs | pipectl --env aws verify")


@app.command()
def deploy(
    skip_build: bool = typer.Option(False, "--skip-build", help="Deploy target/data-pipeline-aws.zip as it is."),
    restore: str = typer.Option(
        "latest",
        "--restore",
        help="latest, none, or a snapshot name to start from. none: without state, reading on after the "
        "tables' last records (a running application is stopped with a snapshot first).",
    ),
    allow_non_restored_state: bool = typer.Option(
        False,
        "--allow-non-restored-state",
        help="Deploy a release that cannot take the state of some running operators: their state is dropped "
        "(warned). Without it deploy refuses such a release before anything changes.",
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
    A new release onto a running application is checked first (can it take the state?) and rolled back
    (RollbackApplication) when it fails in the settle window.
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
def _render_plan(console: Console, r: aws_plan.PlanResult) -> None:
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
    render_aws.kv(console, rows)
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
@app.command()
def status(region: Optional[str] = REGION, profile: Optional[str] = PROFILE, app_name: Optional[str] = APP) -> None:
    """Show status, the job's health (uptime, restarts, root exception, commits), version, runtime and the last
    snapshot. Exit code 4 when the application is RUNNING but its job restarts in a loop, failed, or reads records
    and commits nothing ("running, not committing")."""
    result = manage.status(_settings(region, profile, app_name))
    context.out().emit(result, render_aws.status)
    context.finish(result, warn=True)


# stop ------------------------------------------------------------------------------------
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
    out.emit(manage.stop(settings, force=force, reporter=out), render_aws.stop)


# logs ------------------------------------------------------------------------------------
@app.command()
def logs(
    since: int = typer.Option(60, "--since", help="Minutes to look back."),
    limit: int = typer.Option(100, "--limit", help="Most events to show."),
    region: Optional[str] = REGION,
    profile: Optional[str] = PROFILE,
    app_name: Optional[str] = APP,
) -> None:
    """Show recent CloudWatch events of the application, Python driver errors first."""
    context.out().emit(recent_logs(_settings(region, profile, app_name), since, limit), render_aws.logs)


# destroy ---------------------------------------------------------------------------------
def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PipectlError("refusing to delete without confirmation", hint="pass --yes", exit_code=EXIT_USAGE)
    return typer.confirm(question, default=False, err=True)


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
            aws_bootstrap.destroy(settings, delete_data=delete_data, confirm=confirm, reporter=out), render_aws.destroy
        )
    else:
        out.emit(manage.destroy(settings, confirm=confirm, reporter=out), render_aws.destroy)


# bootstrap -------------------------------------------------------------------------------
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
    out.emit(result, render_aws.bootstrap)


def _ask_execute(question: str) -> bool:
    if not sys.stdin.isatty():
        raise PipectlError("refusing to change the stack without confirmation", hint="pass --yes", exit_code=EXIT_USAGE)
    return typer.confirm(question, default=False, err=True)


# iam-policy ------------------------------------------------------------------------------
@app.command("iam-policy")
def iam_policy(
    document: str = typer.Option("both", "--document", help="both, policy or trust (one raw JSON document)."),
    region: Optional[str] = REGION,
    app_name: Optional[str] = APP,
) -> None:
    """Print the execution role's least-privilege policy and trust policy."""
    context.out().emit(select_document(_settings(region, None, app_name), document), render_aws.iam_policies)


# rehearse --------------------------------------------------------------------------------
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
    allow_non_restored_state: bool = typer.Option(
        False,
        "--allow-non-restored-state",
        help="On a restore with another zip (an upgrade), drop the state the new release cannot take (warned).",
    ),
) -> None:
    """Run the deployment zip as Managed Flink runs it (Java 11, MSK IAM auth, S3 Tables), on this machine."""
    out = context.out()
    settings = context.settings(env="aws", rehearsal=False)
    if down:
        out.emit(run.down(settings), render_aws.rehearsal_down)
        return
    if stop:
        out.emit(
            rehearse_restore.stop(settings, reporter=out), lambda c, r: c.print(f"stopped; savepoint {r.savepoint}")
        )
        return
    out.emit(
        run.rehearse(
            settings,
            zip_path=zip_path,
            build_artifact=not skip_build,
            allow_non_restored_state=allow_non_restored_state,
            reporter=out,
        ),
        render_aws.rehearsal,
    )


def register(root: typer.Typer) -> None:
    """Add this command group to the root command (every command module registers the same way)."""
    root.add_typer(app, name="aws")
