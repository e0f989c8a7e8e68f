# evidence-station — two entry points for a fresh Debian 12 machine (run as root):
#   make run    install everything, then run the daemon on its embedded defaults
#   make test   install everything, then ruff + mypy + pytest (slow tests included)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3 python3-venv python3-dev gcc libfuse2 fuse exfat-fuse exfatprogs \
	fusefat dosfstools mtools xorriso espeak-ng sox util-linux udev \
	chromium fonts-noto-cjk poppler-utils
export EVIDENCE_STATION_DATA_DIR ?= $(CURDIR)/evidence-data

.PHONY: run test deps lint typecheck pytest bench clean

.stamp-apt:
	@if command -v apt-get >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else echo "apt-get not found: install $(APT_PACKAGES) yourself" >&2; fi
	touch $@

.stamp-venv: .stamp-apt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,speech-zh]'
	touch $@

deps: .stamp-venv

run: deps
	$(VENV)/bin/evidence-station daemon

lint: deps
	$(VENV)/bin/ruff check hashing docks retention evidence_station tests benchmarks

typecheck: deps
	$(VENV)/bin/mypy

pytest: deps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: deps
	$(PY) benchmarks/bench_ledger.py
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_analysis.py
	$(PY) benchmarks/bench_speech.py --clips 100

clean:
	rm -rf $(VENV) .stamp-* .pytest_cache .mypy_cache .ruff_cache
