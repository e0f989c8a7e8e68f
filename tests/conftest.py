"""Fixtures that build real things: a station data dir, camera folders of real media,
a FUSE mount with injected faults, a size-limited tmpfs (the beets ``helper`` habit)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evidence_station.config import Config
from evidence_station.demo import make_demo_camera, write_mp4
from evidence_station.station import Station, init_station

ROOT = Path(__file__).resolve().parent.parent


def _sleep_under_faketime() -> None:
    """Let the suite run under libfaketime (issue 12 asks for runs at other dates).

    libfaketime 0.9.10 does not wrap ``sem_clockwait``, which Python 3.11 uses for every
    timed lock wait (``Event.wait``, ``queue.get(timeout=)``): with the monotonic clock
    faked those waits last as long as the fake offset, years. So the dated runs exclude the
    monotonic clock (``faketime --exclude-monotonic``; dates are what is faked, monotonic
    time is not a date), and then libfaketime's ``clock_nanosleep`` wrapper refuses the
    absolute monotonic sleep ``time.sleep`` makes with EINVAL. Only in that case, sleep with
    a timed wait instead, which works there. Nothing changes outside libfaketime."""
    if "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return
    try:
        time.sleep(0.001)
    except OSError:
        def sleep(seconds: float) -> None:
            if seconds < 0:
                raise ValueError("sleep length must be non-negative")
            threading.Event().wait(seconds)
        time.sleep = sleep


_sleep_under_faketime()


@pytest.fixture(scope="session", autouse=True)
def shared_speech_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every station in the suite analyses with the default multilingual model (the
    speech-zh extra is installed by `make test`); assemble it once for the session, not
    once per data dir. Its pin is still checked wherever it is loaded."""
    from evidence_station.analysis.models import MODELS_DIR_ENV

    shared = tmp_path_factory.mktemp("speech-models")
    previous = os.environ.get(MODELS_DIR_ENV)
    os.environ[MODELS_DIR_ENV] = str(shared)
    yield shared
    if previous is None:
        os.environ.pop(MODELS_DIR_ENV, None)
    else:
        os.environ[MODELS_DIR_ENV] = previous


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An initialised station data dir (the sqlite-utils ``fresh_db`` habit)."""
    path = tmp_path / "data"
    init_station(path, "test-station", "tester")
    return path


@pytest.fixture
def config() -> Config:
    # No reserve: the tests' stores are small on purpose.
    return Config.model_validate({"ingest": {"reserve_mib": 0}})


@pytest.fixture
def open_station(data_dir: Path, config: Config) -> Callable[..., Station]:
    def opener(writable: bool = True, cfg: Config | None = None) -> Station:
        return Station.open(data_dir, cfg or config, writable=writable)
    return opener


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real MP4s made once per run and copied into each camera (PyAV is the slow part)."""
    folder = tmp_path_factory.mktemp("media")
    for seed in range(4):
        write_mp4(folder / f"clip{seed}.mp4", seconds=1.0, seed=seed)
    return folder


@pytest.fixture
def camera(tmp_path: Path, media_cache: Path) -> Path:
    """A camera folder: DCIM/100MEDIA with three real recordings named vendor-style."""
    root = tmp_path / "camera"
    folder = root / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    for number in range(3):
        name = f"CAM12345_654321_2026112{number + 1}083000_{number + 1:04d}.MP4"
        shutil.copyfile(media_cache / f"clip{number}.mp4", folder / name)
        stamp = 1795000000 + number * 600
        os.utime(folder / name, (stamp, stamp))
    return root


@pytest.fixture(scope="session")
def demo_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_camera(tmp_path_factory.mktemp("demo") / "cam", count=2, seconds=1.0)


def tree_snapshot(root: Path) -> dict[bytes, tuple[str, int, int]]:
    """Every entry's hash (or link target), mode and mtime: proof the camera was untouched."""
    snapshot = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if os.path.islink(path):
                content = os.readlink(path).hex()
            elif os.path.isfile(path):
                content = hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest()
            else:
                content = "dir"
            snapshot[path] = (content, info.st_mode, info.st_mtime_ns)
    return snapshot


def plant_checkpoint_of_another_history(data_dir: Path) -> str:
    """Make the station's latest checkpoint one of another history: signed with its own key
    at the ledger's size, over another root (what an events file restored alone, or cut
    back and grown again, leaves). Returns the planted note."""
    from evidence_station.station import Layout
    from hashing.checkpoint import Checkpoint, sign_checkpoint
    from hashing.note import Signer

    layout = Layout(data_dir)
    signer = Signer.parse(layout.signer_key.read_text())
    size = len((layout.ledger / "events.jsonl").read_bytes().splitlines())
    note = sign_checkpoint(Checkpoint(signer.name, size, hashlib.sha256(b"another").digest()),
                           signer)
    (layout.ledger / "checkpoint").write_text(note, encoding="utf-8")
    return note


def is_root() -> bool:
    return os.geteuid() == 0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mount size-limited tmpfs filesystems (a real ENOSPC); needs root."""
    if not is_root():
        pytest.skip("mounting tmpfs needs root")
    mounts: list[Path] = []

    def mount(size_bytes: int) -> Path:
        target = tmp_path / f"tmpfs{len(mounts)}"
        target.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(target)],
                       check=True)
        mounts.append(target)
        return target

    yield mount
    for target in mounts:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _fuse_available() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if shutil.which("fusermount") is None:
        return "fusermount not installed (Debian package fuse)"
    try:
        import fuse  # noqa: F401
    except (ImportError, OSError) as err:
        return f"fusepy/libfuse2 unavailable: {err}"
    return None


@pytest.fixture
def fuse_mount(tmp_path: Path) -> Iterator[Callable[..., tuple[Path, subprocess.Popen[bytes]]]]:
    """Serve a folder through tests/fusefs.py with injected faults; yields (mount, process)."""
    reason = _fuse_available()
    if reason:
        pytest.skip(reason)
    started: list[tuple[Path, subprocess.Popen[bytes]]] = []

    def mount(source: Path, *extra: str) -> tuple[Path, subprocess.Popen[bytes]]:
        target = tmp_path / f"fuse{len(started)}"
        target.mkdir()
        process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fusefs.py"),
                                    str(source), str(target), *extra])
        deadline = time.monotonic() + 20
        while not os.path.ismount(target):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("FUSE test filesystem did not mount")
            time.sleep(0.05)
        started.append((target, process))
        return target, process

    yield mount
    for target, process in started:
        subprocess.run(["fusermount", "-u", "-z", str(target)], check=False,
                       stderr=subprocess.DEVNULL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


@pytest.fixture(scope="session")
def cryptography_only_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a bare virtualenv holding only `cryptography` (what an auditor has)."""
    import venv

    env_dir = tmp_path_factory.mktemp("auditor") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "cryptography"], check=True)
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format", "freeze"],
                               capture_output=True, text=True, check=True).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert names <= {"cryptography", "cffi", "pycparser", "pip", "setuptools"}, names
    return python
