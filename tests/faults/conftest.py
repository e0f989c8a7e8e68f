"""Fixtures of the fault suite: one prepared station per session (see scenario.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.report import prepared
from tests.faults.scenario import Base, Operation

SEED = int(os.environ.get("FAULTS_SEED", "22"))
# FAULTS_SCALE multiplies the per-operation counts (1: ~2 crash points and 1 cut each, what CI
# affords on 2 cores); `make faults` runs the full counts through tests/faults/report.py.
SCALE = float(os.environ.get("FAULTS_SCALE", "1"))


def scaled(per_operation: float) -> int:
    return max(1, round(per_operation * SCALE))


@pytest.fixture(scope="session")
def faults_station() -> Iterator[tuple[Base, dict[str, Operation], Path]]:
    with prepared() as prepared_station:
        yield prepared_station
