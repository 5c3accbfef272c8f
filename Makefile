.PHONY: up test test-fast lint bench soak setup

setup:
	scripts/setup.sh

up:
	scripts/up.sh

test:
	scripts/test.sh

test-fast:
	scripts/test.sh -m "not slow"

lint:
	scripts/setup.sh && .venv/bin/ruff check . && .venv/bin/mypy

bench:
	scripts/setup.sh && .venv/bin/python -m benchmarks.analyzer_throughput && \
	.venv/bin/python -m benchmarks.feedback_latency && .venv/bin/python -m benchmarks.relay_cpu && \
	.venv/bin/python -m benchmarks.cue_latency && .venv/bin/python -m benchmarks.analysis_accuracy && \
	.venv/bin/python -m benchmarks.login_burst

soak:
	scripts/setup.sh && .venv/bin/python -m benchmarks.soak --minutes 30
