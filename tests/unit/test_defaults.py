"""The pipeline's names are defined once (producer/contract.py); pipectl's settings, the producer
and the job (which repeats them: it runs from the zip with the standard library only) agree."""

from __future__ import annotations

import ast
from pathlib import Path

from jobs.order_ingest import settings as job_settings
from pipectl.config import AwsSettings, PipelineSettings
from producer import contract
from producer.options import DEFAULT_TOPIC

REPO = Path(__file__).resolve().parents[2]


def test_the_job_repeats_the_contracts_names():
    assert (
        job_settings.DEFAULT_TOPIC,
        job_settings.DEFAULT_GROUP_ID,
        job_settings.DEFAULT_NAMESPACE,
        job_settings.DEFAULT_TABLE,
        job_settings.DEFAULT_REJECTED_TABLE,
    ) == (contract.TOPIC, contract.CONSUMER_GROUP, contract.NAMESPACE, contract.TABLE, contract.REJECTED_TABLE)


def test_the_job_without_settings_uses_them():
    s = job_settings.load_job_settings({})
    assert (s.topic, s.group_id, s.namespace, s.table, s.rejected_table) == (
        contract.TOPIC,
        contract.CONSUMER_GROUP,
        contract.NAMESPACE,
        contract.TABLE,
        contract.REJECTED_TABLE,
    )


def test_pipectl_and_the_producer_take_them_from_the_contract():
    p, a = PipelineSettings(), AwsSettings()
    assert (p.topic, p.consumer_group, p.namespace, p.table, p.rejected_table) == (
        contract.TOPIC,
        contract.CONSUMER_GROUP,
        contract.NAMESPACE,
        contract.TABLE,
        contract.REJECTED_TABLE,
    )
    assert (a.topic, a.namespace, a.table) == (contract.TOPIC, contract.NAMESPACE, contract.TABLE)
    assert DEFAULT_TOPIC == contract.TOPIC


def test_the_topic_is_typed_in_one_python_file_of_pipectl_and_the_producer():
    """Outside the contract and the job's stdlib copy, no code spells the topic (docstrings and
    comments may name it)."""
    typed = []
    for folder in ("pipectl", "producer"):
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and node.value == contract.TOPIC
                    and id(node) not in docstrings
                ):
                    typed.append(str(path.relative_to(REPO)))
    assert typed == ["producer/contract.py"]
