# Each target installs what it needs: a fresh clone needs only `make demo` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCHMARKS ?= ingest features gpu bootstrap cpu_bf16 r_peaks code_location long_record
# Every path in the workspace (ECGNET_HOME, default .ecgnet/) is named by feature_store.workspace.Workspace
# (standard library only, so it answers before the venv exists); the Dagster home inside it is set up
# by the entry points (demo, ui) from the same object.
WORKSPACE := $(PYTHON) -m feature_store.workspace
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

# the full MIT-BIH: benchmarks.common.MITDB (the team's copy beside the checkout where there is one, else
# data/mitdb, which `make mitdb` fills; ECGNET_BENCH_MITDB names another)
MITDB ?= $(shell $(PYTHON) -m benchmarks.common)
MITDB_HOME ?= $(CURDIR)/.ecgnet-mitdb
# DS1 ablations: 12 epochs beat 6 (benchmarks/ablations.py); 10 kept the run near 40 minutes on 2 cores
MITDB_EPOCHS ?= 10
# patient-grouped cross-validation over the 22 DS1 patients: every choice on DS1 alone, fold ensembles on DS2
MITDB_FOLDS ?= 5
# members per fold from their own seeds (ECGNET_SEEDS): two were worth +0.02 out of fold on DS1 for most
# variants (time 0.723 -> 0.745), at twice the training
MITDB_SEEDS ?= 2
# variants kept at one member a fold whatever MITDB_SEEDS says (comma-separated; ECGNET_ONE_SEED): the
# frequency variant, the costliest and weakest, so that two seeds of the others fit 60 minutes on 2 cores
MITDB_ONE_SEED ?= frequency
# validation rows explained per class and variant (Integrated Gradients; 0: none). 30 keeps explanations
# under a fifth of the run (50 took 493 s of 2,364 once the intermediate variants stopped dominating)
MITDB_EXPLAIN_ROWS ?= 30
# bfloat16 training of the time and spectrogram models on the CPU (ECGNET_CPU_BF16: 1, 0 or auto, on where
# the CPU computes bfloat16 natively, AMX or AVX512-BF16): DS1 cannot tell it from float32 on either
# (benchmarks/ABLATIONS.md, "bfloat16 training"), and an epoch there is 1.2-1.4x faster (`make bench`)
MITDB_CPU_BF16 ?= auto

.PHONY: install demo test ui server postgres bench bench-mitdb bench-scale mitdb device-prep clean

install: $(STAMP)

# torch first and pinned: unpinned resolution pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# a few epochs and 2 explained rows per class: the demo shows the whole pipeline on 20 MB of data, not
# a tuned model, in under 10 minutes on 2 cores (the af models read 30 s records: their explanations took
# 143 s of 640 at 10 rows, 72 s of 600 at 5)
demo: $(STAMP)
	ECGNET_EPOCHS=$${ECGNET_EPOCHS:-3} ECGNET_EXPLAIN_ROWS=$${ECGNET_EXPLAIN_ROWS:-2} $(PY) -m pipelines.demo

# Test files in up to two worker processes (pytest-xdist; a file's fixtures stay in one worker), each
# with one torch thread: the suite is half waiting (servers, daemons, subprocesses), and two workers of
# two OpenMP threads on two cores spin against each other (2 cores: 407 s this way, 600 s in one
# process, 706 s in two workers of two threads each). The files marked `heavy` are dealt first, in file
# order (tests/conftest.py): xdist's own order, by count of tests, dealt the one-test backfill file last
test: $(STAMP) postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n auto --maxprocesses 2 --dist loadfile --no-loadscope-reorder

# Dagster on :3000 and MLflow on :5000 over the same workspace; Ctrl-C or SIGTERM stops both.
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000
ui: $(STAMP)
	$(PY) -m pipelines.ui --dagster-port $(DAGSTER_PORT) --mlflow-port $(MLFLOW_PORT)

# The server profile on this machine: the workspace's own PostgreSQL cluster (Dagster's instance and
# MLflow's store), `mlflow server` with proxied artifacts and the Dagster UI; Ctrl-C stops all three.
server: $(STAMP) postgres
	$(PY) -m pipelines.server --dagster-port $(DAGSTER_PORT) --mlflow-port $(MLFLOW_PORT)

# Debian's PostgreSQL server binaries, for `make server` and the server-profile tests (a cluster of
# their own in a temporary folder; nothing is configured system-wide)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || { \
		echo "installing Debian's postgresql (server-profile tests, make server)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

bench: $(STAMP)
	for b in $(BENCHMARKS); do $(PY) -m benchmarks.$$b || exit 1; done

# The MIT-BIH inter-patient comparison (DS1 train with held-out DS1 patients, DS2 test), all variants,
# through the same pipeline as the demo, in its own workspace.
bench-mitdb: $(STAMP)
	@$(PY) -m benchmarks.fetch_mitdb --check $(MITDB)
	ECGNET_DATA=$(MITDB) ECGNET_HOME=$(MITDB_HOME) ECGNET_EPOCHS=$(MITDB_EPOCHS) ECGNET_FOLDS=$(MITDB_FOLDS) ECGNET_SEEDS=$(MITDB_SEEDS) \
		ECGNET_ONE_SEED=$(MITDB_ONE_SEED) ECGNET_EXPLAIN_ROWS=$(MITDB_EXPLAIN_ROWS) ECGNET_CPU_BF16=$(MITDB_CPU_BF16) \
		$(PY) -m pipelines.demo

# Partitioned ingest + features of MIT-BIH tiled 1x/3x/10x (about 1 M beats): seconds per beat and peak
# memory against 1x, and the parallel backfill (PostgreSQL, dagster-daemon) against one run at 3x.
bench-scale: $(STAMP) postgres
	@$(PY) -m benchmarks.fetch_mitdb --check $(MITDB)
	$(PY) -m benchmarks.scale --mitdb $(MITDB)

# The full MIT-BIH Arrhythmia Database (48 records, about 100 MB) from PhysioNet into $(MITDB): what
# bench-mitdb and bench-scale read; only missing files are fetched. PHYSIONET= names a mirror of its layout.
mitdb: $(STAMP)
	$(PY) -m benchmarks.fetch_mitdb $(MITDB) $(if $(PHYSIONET),--physionet $(PHYSIONET))

# What one lent-GPU call needs beside the tree: the wfdb wheel for the machine's Python 3.12, and the
# full MIT-BIH (paced records left out, as in ingest) packed losslessly under the 64 MiB it may carry.
# Then: device run `bash benchmarks/device_check.sh` with carry [".whl", ".bench"].
device-prep: $(STAMP)
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_17_x86_64 -d .whl wfdb==4.3.1
	@test -d $(MITDB) && $(PY) -m benchmarks.mitdb_pack pack $(MITDB) .bench/mitdb --skip 102,104,107,217 \
		|| echo "no MIT-BIH folder at $(MITDB): the device check will tile the bundled sample"

clean:
	rm -rf "$$($(WORKSPACE) home)"
