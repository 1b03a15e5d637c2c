"""The benchmark chooses the job's sink (bench/ingest_throughput.py): ORDER_INGEST_SINK reaches the job's
environment when set, and nothing of it when not."""

from pipectl.config import load_settings
from pipectl.flink import jobs


def test_the_benchmarks_sink_reaches_the_job(tmp_path, monkeypatch):
    settings = load_settings(tmp_path, environ={})
    monkeypatch.setenv("ORDER_INGEST_SINK", "naive")
    assert jobs.job_environment(settings)["ORDER_INGEST_SINK"] == "naive"
    monkeypatch.delenv("ORDER_INGEST_SINK")
    assert "ORDER_INGEST_SINK" not in jobs.job_environment(settings)
