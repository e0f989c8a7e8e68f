"""Power cuts under the data dir (tests/faults/powercut_fs.py), issue 22.

Seeded cuts at the N-th filesystem operation of every operation, and one cut right after
a clean ingest (the process exited normally): what a clean close vouches for — the Merkle
tree levels, the offsets, an original's mode 0444 — must already be durable then."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import powercut
from tests.faults.conftest import SEED, scaled
from tests.faults.report import run_power_cuts
from tests.faults.scenario import Base, Operation

REASON = powercut.fuse_unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.root,
              pytest.mark.skipif(REASON is not None, reason=REASON or "")]
OPERATIONS = ("ingest", "label", "evidence", "hold", "delete", "disc", "checkpoint")


@pytest.mark.parametrize("name", OPERATIONS)
def test_power_cut_at_seeded_points(name: str,
                                    faults_station: tuple[Base, dict[str, Operation], Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    base, operations, root = faults_station
    with capsys.disabled():
        print(f"\npower cuts for {name}: FAULTS_SEED={SEED}")
    row = run_power_cuts(base, operations[name], scaled(1), SEED, root, log=print)
    assert row.points == scaled(1)
    assert not row.failures, "\n".join(row.failures)


def test_power_cut_after_a_clean_ingest(
        faults_station: tuple[Base, dict[str, Operation], Path]) -> None:
    """The issue's two findings: originals back at their creation mode (the chmod never
    fsynced) and tree levels / offsets a durable state.json vouched for, missing or short."""
    base, operations, root = faults_station
    scratch = root / "cut-after-ingest"
    scratch.mkdir(exist_ok=True)
    operation = operations["ingest"]
    reference = powercut.reference_run(base, operation, scratch)
    outcome = powercut.power_cut(base, operation, reference, reference.ops + 1, scratch)
    assert not outcome.mid_operation
    assert "originals 0444" in outcome.checks
    assert outcome.ok, outcome.describe()
