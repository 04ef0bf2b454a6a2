# slamseg: `make demo` and `make test` set everything up on first use (.venv, system libraries, packages).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.slamseg-installed
# The CPU build of torch. On these machines torch==2.13.0 is a local CPU wheel; elsewhere, if that version is
# not found, the CPU wheel index is used so that no multi-GB CUDA build lands on a CPU-only machine.
TORCH ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=
# pytest workers: one per core, at most 4 (each holds torch and Open3D in memory). Test files stay whole on one
# worker (--dist loadfile), so module fixtures are built once. TEST_JOBS=0 runs in one process.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: setup sysdeps test lint demo bench clean help

help:
	@echo "make demo   - set up (first time) and run the zero-set-up demo"
	@echo "make test   - set up (first time), lint with ruff, run the whole test suite"
	@echo "make setup  - create $(VENV) and install slamseg[cpu,dev] (editable)"
	@echo "make bench  - run the benchmarks in benchmarks/"

setup: $(STAMP)

$(STAMP): setup.py pyproject.toml
	@$(MAKE) --no-print-directory sysdeps
	@echo ">> creating virtual environment $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip "setuptools>=64" wheel
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo ">> torch already installed: $$($(PY) -c 'import torch; print(torch.__version__)')"; \
	else \
		echo ">> installing $(TORCH) (CPU build)"; \
		$(PY) -m pip install -q "$(TORCH)" || $(PY) -m pip install -q torch --index-url $(TORCH_CPU_INDEX); \
	fi
	@echo ">> installing slamseg[cpu,dev] (editable)"
	@$(PY) -m pip install -q -e ".[cpu,dev]"
	@$(PY) -c "import open3d, torch, slamseg; print('>> ready: slamseg', slamseg.__version__, '| torch', torch.__version__, '| open3d', open3d.__version__)"
	@touch $(STAMP)

# Open3D's wheels need libusb-1.0 and libgomp at import time.
sysdeps:
	@missing=""; \
	for lib in libusb-1.0.so.0:libusb-1.0-0 libgomp.so.1:libgomp1; do \
		so=$${lib%%:*}; pkg=$${lib##*:}; \
		ldconfig -p 2>/dev/null | grep -q "$$so" || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo ">> system libraries present (libusb-1.0, libgomp)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo ">> installing system libraries:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	else \
		echo ">> missing system libraries:$$missing -- install them, e.g.: sudo apt-get install$$missing"; exit 1; \
	fi

lint: setup
	@echo ">> ruff check"
	@$(VENV)/bin/ruff check .

test: setup lint
	@echo ">> pytest"
	@$(VENV)/bin/pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

demo: setup
	@echo ">> slamseg demo"
	@$(VENV)/bin/slamseg demo

bench: setup
	@for b in benchmarks/*.py; do echo ">> $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info runs .pytest_cache .ruff_cache
