"""kill -9 at seeded state-changing system calls of every operation (issue 22).

Each point: the operation killed at the M-th call of a kind (strace inject), then finished
by re-running what was not acknowledged, then every check of ``scenario.verify``. The seed
is printed; ``FAULTS_SEED=… FAULTS_SCALE=…`` reproduces or widens a run, and
``python -m tests.faults.report`` prints the figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults.conftest import SEED, scaled
from tests.faults.report import run_crash_points
from tests.faults.scenario import Base, Operation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("strace") is None,
                       reason="strace (Debian package strace) injects the kills"),
]
OPERATIONS = ("ingest", "label", "evidence", "hold", "delete", "disc", "checkpoint")


@pytest.mark.parametrize("name", OPERATIONS)
def test_kill_9_at_seeded_points(name: str, faults_station: tuple[Base, dict[str, Operation], Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    base, operations, root = faults_station
    with capsys.disabled():
        print(f"\ncrash points for {name}: FAULTS_SEED={SEED}")
    row = run_crash_points(base, operations[name], scaled(2), SEED, root, log=print)
    assert row.points == scaled(2)
    assert not row.failures, "\n".join(row.failures)
    assert row.lost == row.duplicated == row.corrupt == 0
