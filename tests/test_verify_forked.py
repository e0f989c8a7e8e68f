"""Every whole-bundle test of tests/test_verify.py again, with the events scanned by forked
workers (hashing.parallel) even for these small ledgers: three ranges, so tampering lands
in the first, a middle or the last range, and the findings must read exactly the same."""

from __future__ import annotations

import pytest

from tests.test_verify import *  # noqa: F403 - the same tests, collected again here


@pytest.fixture(autouse=True)
def _forked_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hashing.parallel.PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr("hashing.parallel.usable_cpus", lambda: 3)
