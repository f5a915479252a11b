# ptx: the documented entry points. Every target works on a fresh clone.
#   make demo      set up, then run the main job on a generated subject
#   make test      set up, then run the test suite (slow tests included)
#   make lint      ruff check + ruff format --check
#   make bench     run every benchmark; JSON in benchmarks/results/
#   make prepare VIDEOS='a.mp4 "my dance.mp4"' JOBS=2   (or LIST=videos.txt) several videos

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PTX := $(VENV)/bin/ptx
# A CPU build on machines without a GPU; GPU users can set TORCH_SPEC to their own build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.ptx-installed
VIDEOS ?=
LIST ?=
JOBS ?= 2
PREPARE_ARGS ?=

.PHONY: setup demo test lint bench prepare clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ptx.cli.main demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check ptx tests benchmarks
	$(VENV)/bin/ruff format --check ptx tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# `ptx prepare --jobs`: JOBS worker processes, imports paid once per worker. VIDEOS reaches
# the shell as written, so quote names with spaces inside it; LIST names a file of videos,
# one per line (spaces are part of the name).
prepare: $(STAMP)
	$(PTX) prepare --jobs $(JOBS) $(if $(LIST),--from "$(LIST)") $(VIDEOS) $(PREPARE_ARGS)

clean-venv:
	rm -rf $(VENV)

# The prepared GPU check (README, "GPU check"). On a machine with a network:
#   make gpu-wheels    the wheels the lent GPU machine lacks, for CPython 3.12, into .whl/
# On the GPU machine (carry .whl along; no network, no venv there):
#   make gpu-check     python3 benchmarks/gpu_check.py; results in $PTX_GPU_CHECK_OUT
GPU_PYTHON ?= python3
GPU_WHEELS ?= .whl
GPU_WHEELS_PY ?= 3.12
GPU_CHECK_ARGS ?=

.PHONY: gpu-wheels gpu-check

gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: \
		--python-version $(GPU_WHEELS_PY) --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d $(GPU_WHEELS) -r benchmarks/gpucheck/wheels.txt
	@du -ch $(GPU_WHEELS)/*.whl | tail -1

gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py --wheels $(GPU_WHEELS) $(GPU_CHECK_ARGS)
