"""Power cuts: the data dir on ``powercut_fs.py``, cut at the N-th operation, powered up.

The whole data dir is served by the power-cut filesystem while an operation runs. A
reference run counts the operation's state-changing filesystem operations; a cut point
picks N from a seed (or "after the operation finished and the process exited cleanly",
which is where caches a clean close vouches for must already be durable). At the cut the
filesystem kills the running command and, once unmounted, leaves only what was durable.
Then the same recovery and checks as after a crash point, plus: every original is mode
0444 again.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
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

FILESYSTEM = Path(__file__).with_name("powercut_fs.py")


def fuse_unavailable() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if shutil.which("fusermount") is None:
        return "fusermount not installed (Debian package fuse)"
    if os.geteuid() != 0:
        return "mounting FUSE here needs root"
    try:
        import fuse  # noqa: F401
    except (ImportError, OSError) as err:
        return f"fusepy/libfuse2 unavailable: {err}"
    return None


class Mount:
    """One power-cut mount of ``backing`` at ``mountpoint`` (started and stopped by us)."""

    def __init__(self, backing: Path, mountpoint: Path, state: Path, cut_after: int | None):
        self.backing, self.mountpoint, self.state = backing, mountpoint, state
        if state.exists():
            shutil.rmtree(state)
        mountpoint.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(FILESYSTEM), str(backing), str(mountpoint), str(state)]
        if cut_after is not None:
            command += ["--cut-after", str(cut_after)]
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.ismount(mountpoint):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("the power-cut filesystem did not mount")
            time.sleep(0.02)

    def power_up(self) -> tuple[int, bool]:
        """Unmount (the cut, if it has not come yet); the backing dir is then the durable
        state. Returns the operations seen and whether the cut came mid-operation."""
        for attempt in range(50):
            done = subprocess.run(["fusermount", "-u", str(self.mountpoint)],
                                  capture_output=True, check=False)
            if done.returncode == 0 or not os.path.ismount(self.mountpoint):
                break
            time.sleep(0.1 if attempt < 49 else 0)
        else:
            subprocess.run(["fusermount", "-u", "-z", str(self.mountpoint)], check=False)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise RuntimeError("the power-cut filesystem did not stop") from None
        ops = int((self.state / "ops").read_text())
        return ops, (self.state / "cut").exists()


@dataclass
class CutReference:
    ops: int
    ledger: bytes


def reference_run(base: Base, operation: Operation, scratch: Path) -> CutReference:
    backing = fresh_copy(base, scratch / "backing")
    mount = Mount(backing, scratch / "mnt", scratch / "fsstate", None)
    try:
        for step in operation.steps:
            result = run_step(step, mount.mountpoint, base.config)
            assert result.code == 0, (operation.name, step, result.stdout, result.stderr)
    finally:
        ops, _ = mount.power_up()
    reference = CutReference(ops, ledger_bytes(backing))
    shutil.rmtree(backing)
    return reference


def pick(reference: CutReference, rng: random.Random) -> int:
    """N: one in five cuts comes after the operation ended cleanly (N past the end)."""
    if rng.random() < 0.2:
        return reference.ops + 1
    return rng.randint(1, reference.ops)


def power_cut(base: Base, operation: Operation, reference: CutReference, cut_after: int,
              scratch: Path) -> Outcome:
    backing = fresh_copy(base, scratch / "backing")
    where = "after the end" if cut_after > reference.ops else f"op {cut_after}/{reference.ops}"
    outcome = Outcome(operation.name, f"cut at {where}")
    acknowledged: list[StepResult | None] = []
    mount = Mount(backing, scratch / "mnt", scratch / "fsstate", cut_after)
    try:
        for step in operation.steps:
            result = run_step(step, mount.mountpoint, base.config)
            if result.code == 0 and not result.killed:
                # what it acknowledged, read beside the mount: the cut may have come after
                # it answered (a page the kernel wrote back later), and then the mount says EIO
                result.ledger_after = ledger_bytes(backing)
                acknowledged.append(result)
                continue
            acknowledged.append(None)
            break
    finally:
        _, came = mount.power_up()
    # what a step acknowledged is judged on the powered-up disk (ledger_after was read live)
    outcome.mid_operation = came
    finish(operation, backing, base.config, acknowledged, outcome)
    verify(operation, base, backing, reference.ledger, acknowledged, outcome, scratch,
           originals_read_only=True)
    shutil.rmtree(backing)
    return outcome
