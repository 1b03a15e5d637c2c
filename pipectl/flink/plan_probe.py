"""Which operators a job would have, and which state a checkpoint holds: run in its own process,
`python -m pipectl.flink.plan_probe [--metadata PATH/_metadata]`, with the job's environment.

It builds the job the checkout holds (jobs/order_ingest, through its own build_statement_set) into
Flink's JobGraph without running it, and prints one JSON document: every operator's id (what a
savepoint's state is matched by) with its vertex's name; with --metadata, also every operator state of
that checkpoint or savepoint (Flink's own Checkpoints.loadCheckpointMetadata): its id, size, whether it
holds state. The tables the job would create are created in a scratch warehouse (ICEBERG_WAREHOUSE is
replaced), so probing changes nothing.

Imports only pyflink, the standard library and the job (no pipectl), as it runs in a PyFlink process.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def job_operators(scratch: Path) -> list[dict]:
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    from jobs.order_ingest import job

    os.environ["ICEBERG_WAREHOUSE"] = scratch.as_uri()
    settings = job.resolve_settings()
    template = job.create_table_env(settings)  # the job's own configuration
    env = StreamExecutionEnvironment.get_execution_environment()
    t_env = StreamTableEnvironment.create(env, EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    for key, value in template.get_config().get_configuration().to_dict().items():
        config.set(key, value)
    env.configure(template.get_config().get_configuration())
    statement_set = job.build_statement_set(t_env, settings)
    statement_set.attach_as_datastream()
    graph = env._j_stream_execution_environment.getStreamGraph().getJobGraph()
    operators = []
    for vertex in graph.getVerticesAsArray():
        for pair in vertex.getOperatorIDs():
            user = pair.getUserDefinedOperatorID()
            operators.append(
                {
                    "id": (user.get() if user.isPresent() else pair.getGeneratedOperatorID()).toHexString(),
                    "vertex": vertex.getName(),
                    "vertex_id": vertex.getID().toHexString(),
                    "head": pair.getGeneratedOperatorID().toHexString() == vertex.getID().toHexString(),
                }
            )
    return operators


def checkpoint_states(metadata: Path) -> list[dict]:
    from pyflink.java_gateway import get_gateway

    gateway = get_gateway()
    jvm = gateway.jvm
    stream = jvm.java.io.DataInputStream(jvm.java.io.FileInputStream(str(metadata)))
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        meta = jvm.org.apache.flink.runtime.checkpoint.Checkpoints.loadCheckpointMetadata(
            stream, loader, str(metadata.parent)
        )
    finally:
        stream.close()
    states = []
    for op in meta.getOperatorStates():
        subtasks = list(op.getSubtaskStates().values())
        has_state = op.getCoordinatorState() is not None or any(s.hasState() for s in subtasks)
        states.append(
            {
                "id": op.getOperatorID().toHexString(),
                "has_state": bool(has_state),
                "size": int(op.getStateSize()),
                "coordinator": op.getCoordinatorState() is not None,
                "parallelism": int(op.getParallelism()),
            }
        )
    return states


def main(argv: list[str]) -> int:
    metadata = None
    if argv[:1] == ["--metadata"] and len(argv) == 2:
        metadata = Path(argv[1])
    elif argv:
        print("usage: python -m pipectl.flink.plan_probe [--metadata PATH]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pipectl-probe-") as scratch:
        out: dict = {"operators": job_operators(Path(scratch))}
        if metadata is not None:
            out["states"] = checkpoint_states(metadata)
    print("PLAN_PROBE " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
