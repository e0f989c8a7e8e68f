# evidence-station — two entry points for a fresh Debian 12 machine (run as root):
#   make run    install everything, then run the daemon on its embedded defaults
#   make test   install everything, then ruff + mypy + pytest (slow tests included)
#   make deb    build dist/evidence-station_<version>_amd64.deb with Debian's tools, lintian it
#               (DEB_VERSION=… builds the same tree as a higher version, for upgrade tests)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3 python3-venv python3-dev gcc libfuse2 libfuse-dev fuse exfat-fuse exfatprogs \
	fusefat dosfstools mtools xorriso espeak-ng sox util-linux udev \
	chromium fonts-noto-cjk poppler-utils \
	debhelper dh-virtualenv dpkg-dev fakeroot lintian debootstrap systemd \
	strace postgresql
export EVIDENCE_STATION_DATA_DIR ?= $(CURDIR)/evidence-data

.PHONY: run test deps lint typecheck pytest bench clean deb faults

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
	$(PY) -m pip install -q -e '.[test,speech-zh,fleet-test]'
	touch $@

deps: .stamp-venv

# What to do next is printed before the daemon takes the terminal (issue 19).
run: deps
	@echo "启动接入守护进程（Ctrl-C 停止）· Starting the docking daemon (Ctrl-C stops it)."
	@echo "接下来在另一个终端 · Next, in another terminal:"
	@echo "  1. 为自己建账户 · an account for you:  $(VENV)/bin/evidence-station user add $$(id -un) --role admin --os-user $$(id -un)"
	@echo "  2. 网页界面 · the web UI:              $(VENV)/bin/evidence-station web   → http://127.0.0.1:8080/"
	@echo "  3. 查看入库 · what came in:            $(VENV)/bin/evidence-station clips · review · case list · report custody CLIP"
	$(VENV)/bin/evidence-station daemon

lint: deps
	$(VENV)/bin/ruff check hashing docks retention evidence_station tests benchmarks

typecheck: deps
	$(VENV)/bin/mypy

pytest: deps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# Every benchmarks/bench_*.py (discovered), one table at the end; ~10 min on 2 cores.
# FULL=1: the full-size run (10^6 clips / 10^7 events; hours, resumable under BENCH_DIR).
# BENCH_ONLY=scale,cli runs some; BENCH_ARGS_SCALE="--clips 100000" passes options to one.
bench: deps
	$(PY) benchmarks/run_all.py $(if $(FULL),--full) $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) \
		--markdown bench-table.md

# The package is built from a copy of the tree (dpkg-buildpackage writes next to its
# source, and pip builds in it), so the checkout stays clean and dist/ holds the result.
DEB_BUILD := build/deb
LINTIAN ?= lintian --fail-on error,warning --info
deb: .stamp-apt
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_BUILD)/src dist
	tar -c --exclude-vcs --exclude=./.venv --exclude=./build --exclude=./dist \
		--exclude=./evidence-data --exclude='./.stamp-*' --exclude='*.egg-info' \
		--exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache \
		. | tar -x -C $(DEB_BUILD)/src
	if [ -n "$(DEB_VERSION)" ]; then \
		{ printf 'evidence-station (%s) bookworm; urgency=medium\n\n  * Rebuild as %s.\n\n -- %s  %s\n\n' \
			'$(DEB_VERSION)' '$(DEB_VERSION)' 'evidence-station developers <evidence-station@example.org>' \
			"$$(date -R)"; cat debian/changelog; } > $(DEB_BUILD)/src/debian/changelog; fi
	cd $(DEB_BUILD)/src && dpkg-buildpackage -b -us -uc
	cp $(DEB_BUILD)/evidence-station_*_amd64.deb dist/
	$(LINTIAN) $(DEB_BUILD)/evidence-station_*_amd64.deb
	ls -l dist/

clean:
	rm -rf $(VENV) .stamp-* .pytest_cache .mypy_cache .ruff_cache build dist

# Issue 22: the fault suite at full counts (kill -9 at >= 200 seeded syscalls, >= 100 power
# cuts under a FUSE model of what fsync promises); prints the figures table. FAULTS_SEED=N
# reproduces a run. tests/faults runs the same code at CI counts (FAULTS_SCALE).
FAULTS_CRASH_POINTS ?= 210
FAULTS_CUTS ?= 105
faults: deps
	$(PY) -m tests.faults.report --crash-points $(FAULTS_CRASH_POINTS) --cuts $(FAULTS_CUTS) --quiet
