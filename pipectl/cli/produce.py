"""`pipectl produce orders`: generated order events into the pipeline's topic.

The options are producer/cli_options.py's (shared with `python producer/cli.py produce orders`);
the work is producer.send.produce. Settings give the defaults: topic = pipeline.topic, and the
bootstrap servers of the local broker (env local); in env aws, aws.topic and MSK with IAM auth
(pipectl.aws.msk: aws.bootstrap_servers or the brokers of aws.msk_cluster_arn, aws.kafka_auth,
aws.kafka_ca_file).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

import typer

from pipectl.cli import context
from pipectl.aws.msk import producer_endpoint
from pipectl.config import Settings
from pipectl.errors import EXIT_FAILURE, Exit, PipectlError
from producer.cli_display import render_dry_run, render_summary, render_summary_stderr, reporting
from producer.cli_options import orders_command
from producer.errors import ProducerError
from producer.options import RawOptions, build_config
from producer.send import dry_run, produce

app = typer.Typer(help="Send generated events to Kafka.", no_args_is_help=True)


@contextmanager
def _as_pipectl_errors() -> Iterator[None]:
    """The producer runs without pipectl, so it has its own error type: map it to ours."""
    try:
        yield
    except ProducerError as exc:
        raise PipectlError(exc.message, hint=exc.hint, exit_code=exc.exit_code) from None


def _orders(raw: RawOptions) -> None:
    settings = context.settings()
    out = context.out()
    raw.output = context.GLOBALS.output
    with _as_pipectl_errors():
        config = build_config(raw, **_defaults(settings, raw))
        if config.dry_run:
            out.emit(dry_run(config), render_dry_run)
            return
        with reporting(out.err, quiet=config.stdout) as reporter:
            summary = produce(config, reporter)
    out.emit(summary, render_summary_stderr if config.stdout else render_summary)
    if not summary.ok:
        context.finish(Exit(EXIT_FAILURE, f"{summary.failed} failed, {summary.unconfirmed} unconfirmed"))


def _defaults(settings: Settings, raw: RawOptions) -> dict[str, Any]:
    """Topic, bootstrap servers and (env aws) MSK IAM auth from the settings, for the options left out."""
    if settings.env == "aws":
        bootstrap, iam = producer_endpoint(
            settings, explicit_bootstrap=raw.bootstrap_servers, need_broker=not (raw.stdout or raw.dry_run)
        )
        return {"topic": settings.names.topic, "bootstrap_servers": bootstrap, "iam": iam}
    return {"topic": settings.names.topic, "bootstrap_servers": settings.kafka_bootstrap}


app.command("orders")(orders_command(_orders))


def register(root: typer.Typer) -> None:
    """Add this command group to the root command (every command module registers the same way)."""
    root.add_typer(app, name="produce")
