"""Crash points: kill -9 an operation at its N-th state-changing system call.

A reference run of the operation under ``strace -f`` lists every system call that changes
state (writes, fsyncs, renames, unlinks, truncates, chmods, mkdirs — the Python code's,
SQLite's and xorriso's alike). A crash point picks one of them from a seed and runs the
operation again with ``strace -e inject=SYSCALL:signal=KILL:when=M``: the process gets
SIGKILL on entry to the M-th call of that kind, before it runs — exactly where a crash
could stop it. The same seed picks the same call, so a failure reproduces with
``FAULTS_SEED`` (printed by the test and the report).
"""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.faults.scenario import (
    Base,
    Operation,
    Outcome,
    StepResult,
    finish,
    fresh_copy,
    ledger_bytes,
    run_step,
    verify,
)

MUTATING = ("write", "pwrite64", "writev", "pwritev", "pwritev2", "fsync", "fdatasync",
            "rename", "renameat", "renameat2", "unlink", "unlinkat", "ftruncate", "truncate",
            "fchmod", "chmod", "fchmodat", "mkdir", "mkdirat", "rmdir", "link", "linkat",
            "msync")
_CALL = re.compile(r"^(\d+)\s+([a-z0-9_]+)\(")


@dataclass
class Reference:
    """One fault-free run: each step's state-changing calls in order, and the final ledger."""

    calls: list[list[tuple[int, str]]]
    ledger: bytes

    @property
    def total(self) -> int:
        return sum(len(step) for step in self.calls)


def strace_prefix(output: Path, *extra: str) -> list[str]:
    return ["strace", "-f", "-qq", "-o", str(output), "-e", f"trace={','.join(MUTATING)}",
            "-e", "signal=none", "-s", "0", *extra]


def reference_run(base: Base, operation: Operation, scratch: Path) -> Reference:
    data = fresh_copy(base, scratch / "reference")
    calls = []
    for index, step in enumerate(operation.steps):
        trace = scratch / f"reference-{index}.strace"
        result = run_step(step, data, base.config, prefix=strace_prefix(trace))
        assert result.code == 0, (operation.name, step, result.stdout, result.stderr)
        calls.append(parse_trace(trace))
    reference = Reference(calls, ledger_bytes(data))
    shutil.rmtree(data)
    return reference


def parse_trace(trace: Path) -> list[tuple[int, str]]:
    found = []
    for line in trace.read_text(errors="replace").splitlines():
        match = _CALL.match(line)
        if match:
            found.append((int(match.group(1)), match.group(2)))
    return found


@dataclass(frozen=True)
class CrashPoint:
    step: int
    syscall: str
    occurrence: int  # the M-th call of this kind in its thread
    index: int  # position among all the operation's state-changing calls

    def __str__(self) -> str:
        return f"step {self.step + 1}, {self.syscall} #{self.occurrence} (call {self.index})"


def pick(reference: Reference, rng: random.Random) -> CrashPoint:
    index = rng.randrange(reference.total)
    position = index
    for step, calls in enumerate(reference.calls):
        if position < len(calls):
            pid, syscall = calls[position]
            occurrence = Counter(calls[: position + 1])[(pid, syscall)]
            return CrashPoint(step, syscall, occurrence, index)
        position -= len(calls)
    raise AssertionError("unreachable")


def crash_point(base: Base, operation: Operation, reference: Reference, point: CrashPoint,
                scratch: Path) -> Outcome:
    """Run the operation, kill it at ``point``, finish it and check everything."""
    data = fresh_copy(base, scratch / "crash")
    outcome = Outcome(operation.name, str(point))
    acknowledged: list[StepResult | None] = []
    for index, step in enumerate(operation.steps):
        if index < point.step:
            result = run_step(step, data, base.config)
            acknowledged.append(result if result.code == 0 else None)
            continue
        inject = ["-e", f"inject={point.syscall}:signal=KILL:when={point.occurrence}"]
        result = run_step(step, data, base.config,
                          prefix=strace_prefix(Path("/dev/null"), *inject))
        acknowledged.append(result if result.code == 0 and not result.killed else None)
        outcome.mid_operation = result.killed
        break
    finish(operation, data, base.config, acknowledged, outcome)
    verify(operation, base, data, reference.ledger, acknowledged, outcome, scratch)
    shutil.rmtree(data)
    return outcome
