# Each target installs what it needs: a fresh clone needs only `make demo` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCHMARKS ?= ingest features
ECGNET_HOME ?= $(CURDIR)/.ecgnet
export ECGNET_HOME
export DAGSTER_HOME := $(abspath $(ECGNET_HOME))/dagster
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: install demo test ui bench clean

install: $(STAMP)

# torch first and pinned: unpinned resolution pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m pipelines.demo

test: $(STAMP)
	$(PY) -m pytest -q

ui: $(STAMP)
	$(PY) -m pipelines.workspace >/dev/null
	$(VENV)/bin/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

bench: $(STAMP)
	for b in $(BENCHMARKS); do $(PY) -m benchmarks.$$b || exit 1; done

clean:
	rm -rf $(ECGNET_HOME)
