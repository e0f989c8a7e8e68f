"""The faults report: run crash points and power cuts at given counts, print the figures.

    python -m tests.faults.report [--crash-points 210] [--cuts 105] [--seed 22]
                                  [--operations ingest,label,…] [--json]

``make faults`` runs the full counts. Points are spread evenly over the operations; each
point's position comes from ``random.Random(f"{seed}-{kind}-{operation}-{i}")``, so a
seed names every point and a failure reproduces from the line the report prints. Exit 1
if anything was lost, duplicated or corrupt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults import crashpoints, powercut
from tests.faults.scenario import Base, Operation, Outcome, build_base, operations

AFTER_CRASH = ("re-run unacknowledged steps (ledger recover only if told)",
               "check --verify-data", "rebuilt catalog = live (every projected table)",
               "acknowledged events present", "effects = reference", "no partial files",
               "deleted files gone")
AFTER_CUT = (*AFTER_CRASH, "originals 0444")


@dataclass
class Row:
    operation: str
    kind: str  # "crash" | "cut"
    points: int = 0
    mid_operation: int = 0  # killed / cut before the operation ended
    recovered: int = 0  # `ledger recover` run because a command said so
    lost: int = 0
    duplicated: int = 0
    repeated: int = 0  # a disc burned again by the re-run, and recorded (Operation.repeatable)
    corrupt: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def scratch_root() -> Path:
    """tmpfs when there is one: a kill -9 loses nothing the page cache holds, so crash
    points need no disk, and the power-cut model keeps its own durability."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="es-faults-", dir=parent))


@contextlib.contextmanager
def prepared(work: Path | None = None) -> Iterator[tuple[Base, dict[str, Operation], Path]]:
    root = work or scratch_root()
    try:
        base = build_base(root / "base")
        yield base, operations(base, root / "disc.iso"), root
    finally:
        if work is None:
            shutil.rmtree(root, ignore_errors=True)


def spread(total: int, names: list[str]) -> dict[str, int]:
    share = {name: total // len(names) for name in names}
    for name in names[: total % len(names)]:
        share[name] += 1
    return share


def _tally(row: Row, outcome: Outcome, seed: int, index: int) -> None:
    row.points += 1
    row.mid_operation += int(outcome.mid_operation)
    row.recovered += int(outcome.recovered_torn_tail)
    row.lost += len(outcome.lost)
    row.duplicated += len(outcome.duplicated)
    row.repeated += len(outcome.repeated)
    row.corrupt += len(outcome.corrupt)
    if not outcome.ok:
        row.failures.append(f"seed {seed} {row.kind} #{index}: {outcome.describe()}")


def run_crash_points(base: Base, operation: Operation, count: int, seed: int, root: Path,
                     log: Callable[[str], None] = print) -> Row:
    row = Row(operation.name, "crash")
    if count <= 0:
        return row
    started = time.monotonic()
    scratch = root / f"crash-{operation.name}"
    scratch.mkdir(exist_ok=True)
    reference = crashpoints.reference_run(base, operation, scratch)
    for index in range(count):
        rng = random.Random(f"{seed}-crash-{operation.name}-{index}")
        point = crashpoints.pick(reference, rng)
        outcome = crashpoints.crash_point(base, operation, reference, point, scratch)
        _tally(row, outcome, seed, index)
        log(f"crash {operation.name} #{index} (seed {seed}) at {point}: "
            f"{'ok' if outcome.ok else outcome.describe()}")
    shutil.rmtree(scratch, ignore_errors=True)
    row.seconds = time.monotonic() - started
    return row


def run_power_cuts(base: Base, operation: Operation, count: int, seed: int, root: Path,
                   log: Callable[[str], None] = print) -> Row:
    row = Row(operation.name, "cut")
    if count <= 0:
        return row
    started = time.monotonic()
    scratch = root / f"cut-{operation.name}"
    scratch.mkdir(exist_ok=True)
    reference = powercut.reference_run(base, operation, scratch)
    for index in range(count):
        rng = random.Random(f"{seed}-cut-{operation.name}-{index}")
        cut_after = powercut.pick(reference, rng)
        outcome = powercut.power_cut(base, operation, reference, cut_after, scratch)
        _tally(row, outcome, seed, index)
        log(f"cut {operation.name} #{index} (seed {seed}) {outcome.point}: "
            f"{'ok' if outcome.ok else outcome.describe()}")
    shutil.rmtree(scratch, ignore_errors=True)
    row.seconds = time.monotonic() - started
    return row


def run_interleaved(base: Base, ops: dict[str, Operation], names: list[str],
                    crash_share: dict[str, int], cut_share: dict[str, int], seed: int,
                    root: Path, log: Callable[[str], None], first: int = 0,
                    stop: int | None = None) -> list[Row]:
    """Point i of every operation before point i + 1 of any, so a run cut short still
    covers every operation; the running table is printed every 25 points. Each point's
    seed is the same as in :func:`run_crash_points` / :func:`run_power_cuts`."""
    crash_refs, cut_refs = {}, {}
    rows: dict[tuple[str, str], Row] = {}
    for name in names:
        for kind in ("crash", "cut"):
            rows[name, kind] = Row(name, kind)
            scratch = root / f"{kind}-{name}"
            scratch.mkdir(exist_ok=True)
        if crash_share[name] > first:
            crash_refs[name] = crashpoints.reference_run(base, ops[name], root / f"crash-{name}")
        if cut_share[name] > first:
            cut_refs[name] = powercut.reference_run(base, ops[name], root / f"cut-{name}")
    done = 0
    last = max([*crash_share.values(), *cut_share.values(), 0])
    for index in range(first, last if stop is None else min(stop, last)):
        for name in names:
            for kind, share in (("crash", crash_share), ("cut", cut_share)):
                if index >= share[name]:
                    continue
                started = time.monotonic()
                rng = random.Random(f"{seed}-{kind}-{name}-{index}")
                scratch = root / f"{kind}-{name}"
                if kind == "crash":
                    point = crashpoints.pick(crash_refs[name], rng)
                    outcome = crashpoints.crash_point(base, ops[name], crash_refs[name], point,
                                                      scratch)
                else:
                    cut_after = powercut.pick(cut_refs[name], rng)
                    outcome = powercut.power_cut(base, ops[name], cut_refs[name], cut_after,
                                                 scratch)
                row = rows[name, kind]
                _tally(row, outcome, seed, index)
                row.seconds += time.monotonic() - started
                log(f"{kind} {name} #{index} (seed {seed}) {outcome.point}: "
                    f"{'ok' if outcome.ok else outcome.describe()}")
                done += 1
                if done % 25 == 0:
                    log(table([r for r in rows.values() if r.points]))
    return list(rows.values())


def table(rows: list[Row]) -> str:
    header = (f"{'operation':<11} {'fault':<6} {'points':>6} {'mid-op':>6} {'recover':>7} "
              f"{'lost':>4} {'dup':>4} {'again':>5} {'corrupt':>7} {'seconds':>8}")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row.operation:<11} {row.kind:<6} {row.points:>6} {row.mid_operation:>6} "
                     f"{row.recovered:>7} {row.lost:>4} {row.duplicated:>4} {row.repeated:>5} "
                     f"{row.corrupt:>7} "
                     f"{row.seconds:>8.0f}")
    totals = {kind: [r for r in rows if r.kind == kind] for kind in ("crash", "cut")}
    for kind, kept in totals.items():
        if kept:
            lines.append(f"{'all':<11} {kind:<6} {sum(r.points for r in kept):>6} "
                         f"{sum(r.mid_operation for r in kept):>6} "
                         f"{sum(r.recovered for r in kept):>7} {sum(r.lost for r in kept):>4} "
                         f"{sum(r.duplicated for r in kept):>4} "
                         f"{sum(r.repeated for r in kept):>5} "
                         f"{sum(r.corrupt for r in kept):>7} "
                         f"{sum(r.seconds for r in kept):>8.0f}")
    lines.append("checked after each crash point: " + "; ".join(AFTER_CRASH))
    lines.append("checked after each power cut: " + "; ".join(AFTER_CUT))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crash-points", type=int, default=210)
    parser.add_argument("--cuts", type=int, default=105)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FAULTS_SEED", "22")))
    parser.add_argument("--operations", default="")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--first-index", type=int, default=0,
                        help="resume: skip each operation's points before this index")
    parser.add_argument("--stop-index", type=int, default=None,
                        help="run each operation's points before this index only")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    reason = powercut.fuse_unavailable()
    if reason and args.cuts:
        print(f"power cuts skipped: {reason}", file=sys.stderr)
        args.cuts = 0
    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    print(f"faults report: seed {args.seed}, {args.crash_points} crash points, {args.cuts} "
          "power cuts (replication is not part of this station build: not covered)",
          flush=True)
    with prepared() as (base, ops, root):
        names = [n for n in args.operations.split(",") if n] or list(ops)
        rows = run_interleaved(base, ops, names, spread(args.crash_points, names),
                               spread(args.cuts, names), args.seed, root, log,
                               first=args.first_index, stop=args.stop_index)
    rows = [row for row in rows if row.points]
    print(table(rows))
    failures = [failure for row in rows for failure in row.failures]
    for failure in failures:
        print("FAILED " + failure)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], ensure_ascii=False, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
