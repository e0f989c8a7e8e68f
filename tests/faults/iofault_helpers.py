"""Start and steer tests/faults/iofaultfs.py (the FUSE fault filesystem) from a test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import _fuse_available

HERE = Path(__file__).resolve().parent


class FaultFS:
    """One mounted fault filesystem over ``backing``; :meth:`send` a command line."""

    def __init__(self, backing: Path, mount: Path, log: Path | None = None) -> None:
        self.backing = backing
        self.mount = mount
        self.log = log
        backing.mkdir(parents=True, exist_ok=True)
        mount.mkdir(parents=True, exist_ok=True)
        extra = ["--log", str(log)] if log else []
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "iofaultfs.py"), str(backing), str(mount), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not os.path.ismount(mount):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the FUSE fault filesystem did not mount")
            time.sleep(0.05)

    def send(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer.startswith("ok"), answer
        return answer

    def fail(self, op: str, code: str, pattern: str) -> None:
        self.send(f"fail {op} {code} {pattern}")

    def clear(self) -> None:
        self.send("clear")

    def failures(self) -> int:
        return int(self.send("count").split()[1])

    def stop(self) -> None:
        subprocess.run(["fusermount", "-u", "-z", str(self.mount)], check=False,
                       stderr=subprocess.DEVNULL)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def faultfs(tmp_path: Path) -> Iterator[Callable[..., FaultFS]]:
    reason = _fuse_available()
    if reason:
        pytest.skip(reason)
    started: list[FaultFS] = []

    def start(name: str = "faulty", *, log: bool = False) -> FaultFS:
        fs = FaultFS(tmp_path / f"{name}-backing", tmp_path / name,
                     tmp_path / f"{name}.log" if log else None)
        started.append(fs)
        return fs

    yield start
    for fs in started:
        fs.stop()
