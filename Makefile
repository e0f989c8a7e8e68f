# evidence-station — two entry points for a fresh Debian 12 machine (run as root):
#   make run    install everything, then run the daemon on its embedded defaults
#   make test   install everything, then ruff + mypy + pytest (slow tests included)
#   make deb    build dist/evidence-station_<version>_amd64.deb with Debian's tools, lintian it
#               (DEB_VERSION=… builds the same tree as a higher version, for upgrade tests)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3 python3-venv python3-dev gcc libfuse2 fuse exfat-fuse exfatprogs \
	fusefat dosfstools mtools xorriso espeak-ng sox util-linux udev \
	chromium fonts-noto-cjk poppler-utils \
	debhelper dh-virtualenv dpkg-dev fakeroot lintian debootstrap systemd
export EVIDENCE_STATION_DATA_DIR ?= $(CURDIR)/evidence-data

.PHONY: run test deps lint typecheck pytest bench clean deb

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
	$(PY) benchmarks/bench_browser_hash.py
	$(PY) benchmarks/bench_speech.py --clips 100
	$(PY) benchmarks/bench_compliance.py

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
