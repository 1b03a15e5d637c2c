# pipectl: `make demo` and `make test` install what they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
JAR := target/pyflink-dependencies.jar
DEMO_EVENTS ?= 1000

.PHONY: help system-deps install build lint test test-java java-tests test-unit test-e2e test-aws demo lock clean bench bench-connect bench-ingest soak

help:
	@echo "make demo   - install, build, run the local pipeline end to end and print the verify report"
	@echo "make test   - install, build, lint (ruff, mypy) and run the whole test suite"
	@echo "make lint   - ruff check (pipectl/, producer/, jobs/, tests/, bench/), ruff format and mypy"
	@echo "make build  - mvn package: the dependency jar, the AWS zip and the Kafka broker classpath"
	@echo "make soak   - the randomized operations test over many seeds on the real native stack"
	@echo "              (SEEDS=30 STEPS=12 FIRST_SEED=<random>; docs/reliability.md)"

# Java 17 and Maven come from Debian's packages when missing.
system-deps:
	@command -v java >/dev/null && command -v mvn >/dev/null && command -v $(PYTHON) >/dev/null || { \
	  echo "installing Java 17 and Maven (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null; }

install: $(VENV)/.installed

# The Python environment: the lock (requirements.lock, generated from pyproject.toml by
# `make lock`, with the sha256 of every file) installed exactly, then pipectl itself in editable
# mode. Every package is checked against its hashes: a file that differs fails the install. uv
# itself comes first, by pip, checked against its own hashes in the lock.
$(VENV)/.installed: pyproject.toml requirements.lock | system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	awk '/^uv==/{p=1} p{print} p && !/\\$$/{exit}' requirements.lock > $(VENV)/uv.lock.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/uv.lock.txt
	$(UV) pip sync -q --python $(BIN)/python --require-hashes requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

lock:
	$(UV) pip compile -q pyproject.toml --extra dev --override overrides.txt --python-version 3.11 --generate-hashes -o requirements.lock

build: $(JAR)

$(JAR): pom.xml $(shell find assembly -type f 2>/dev/null) streaming_job.py $(shell find jobs -name '*.py' 2>/dev/null) | system-deps
	mvn -q -B --strict-checksums package
	@touch $@ $(JAVA_TESTS)

# ruff (lint and format; rules in pyproject.toml) and mypy on pipectl/, producer/, jobs/; the
# tests and benchmarks are linted too (ruff check).
# `.venv/bin/ruff format pipectl producer jobs streaming_job.py` fixes a format finding.
LINTED := pipectl producer jobs streaming_job.py
lint: install
	$(BIN)/ruff check $(LINTED) tests bench
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# The Java unit tests (JUnit 5, Surefire) also run in every `mvn package` above: no jar is built
# without them passing. `make test-java` runs them again. `make test` reports them: from the build
# that made the jar when nothing under assembly/ changed since (target/java-tests.passed), else it
# runs them again.
JAVA_TESTS := target/java-tests.passed
SUREFIRE := target/.build/pyflink-dependencies/surefire-reports
test-java: | system-deps
	mvn -q -B -ntp --strict-checksums test -pl assembly/pyflink-dependencies
	@touch $(JAVA_TESTS)

java-tests: | system-deps
	@if [ -f $(JAVA_TESTS) ] && [ -z "$$(find pom.xml assembly -type f -newer $(JAVA_TESTS) | head -1)" ]; then \
	  echo "Java unit tests: passed in the build of $$(date -u -r $(JAVA_TESTS) '+%F %T UTC') (mvn package runs them)"; \
	else $(MAKE) --no-print-directory test-java; fi
	@cat $(SUREFIRE)/*.txt 2>/dev/null | grep -h "^Tests run" || true

test: lint install build java-tests
	$(BIN)/python -m pytest -q -ra

test-unit: install
	$(BIN)/python -m pytest -q -ra tests/unit

test-e2e: install build
	$(BIN)/python -m pytest -q -ra -m e2e

test-aws: install
	$(BIN)/python -m pytest -q -ra tests/aws

# Starts from a clean slate (deletes the local stack's data), runs the whole flow, stops the stack.
demo: install build
	@set -e; trap '$(BIN)/pipectl local down >/dev/null 2>&1 || true' EXIT; \
	$(BIN)/pipectl local down --purge --yes >/dev/null; \
	$(BIN)/pipectl local up; \
	$(BIN)/pipectl job start; \
	$(BIN)/pipectl produce orders --rate max --count $(DEMO_EVENTS); \
	$(BIN)/pipectl verify --expect-rows $(DEMO_EVENTS) --timeout 180; \
	$(BIN)/pipectl job stop; \
	$(BIN)/pipectl local down

bench: install build
	$(BIN)/python bench/producer_throughput.py

# Kafka Connect (the broker's Kafka version) and Iceberg's sink connector, pinned in
# bench/kafka-connect/pom.xml, checksums checked: target/bench-connect/ (bench only, not in `build`)
bench-connect:
	mvn -q -B -ntp --strict-checksums -f bench/kafka-connect/pom.xml package

# The ingest benchmark of record (bench/README.md, docs/benchmarks.md): every reader of one pre-filled
# topic, best of two, and freshness at 2, 5 and 10 s checkpoints. About 20 minutes on a quiet machine.
# INGEST_ARGS passes options through, e.g. INGEST_ARGS="--events 100000 --only json,blackhole".
INGEST_ARGS ?=
bench-ingest: install build bench-connect
	$(BIN)/python bench/ingest_throughput.py --fresh-stack $(INGEST_ARGS)

# The randomized operations test (docs/reliability.md) over SEEDS random seeds of STEPS operations
# each, on the real native stack (ports: the test ports + PIPECTL_TEST_PORT_OFFSET + 50). Every run
# prints its seed and sequence; a failed one prints the replay command. One JSON line per run goes
# to SOAK_RESULTS. Exit 1 when any run broke an invariant.
SEEDS ?= 30
STEPS ?= 12
FIRST_SEED ?= $(shell echo $$RANDOM)
SOAK_RESULTS ?= target/soak-results.jsonl
soak: install build
	$(BIN)/python -m tests.ops --runs $(SEEDS) --steps $(STEPS) --first-seed $(FIRST_SEED) --results $(SOAK_RESULTS)

clean:
	rm -rf target .pytest_cache
