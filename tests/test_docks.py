"""Docking with real parts: FAT32/exFAT camera images on loop devices, kernel and udev
uevents, FUSE mounts, the daemon as a separate process reporting through status.json."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from docks.detect import udevd_running
from docks.fat import fat_file_times
from evidence_station.config import load_config
from evidence_station.station import Station
from tests.docking_helpers import (
    ZONE,
    DaemonProcess,
    attach,
    build_image,
    detach,
    fuse_abort,
    port_of,
    tools_missing,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.root,
              pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))]

DEVICE, OFFICER = "DSJ7001", "010203"


def stamp(*parts: int) -> float:
    return datetime(*parts, tzinfo=ZoneInfo(ZONE)).timestamp()  # type: ignore[misc]


def gat947_camera(root: Path, media_cache: Path, *, device: str = DEVICE, count: int = 3,
                  hour: int = 8) -> Path:
    """DCIM/100MEDIA with real MP4s named 产品序号_警号_时间_序号, file times = name times."""
    folder = root / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    for number in range(count):
        when = (2026, 11, 23, hour, 10 * number, 0)
        name = f"{device}_{OFFICER}_{datetime(*when):%Y%m%d%H%M%S}_{number + 1:04d}.MP4"
        shutil.copyfile(media_cache / f"clip{number % 4}.mp4", folder / name)
        os.utime(folder / name, (stamp(*when), stamp(*when)))
    return root


def write_wav(path: Path, seconds: float, seed: int) -> None:
    """A real PCM WAV recording (what voice recorders write), of noise, quickly."""
    rng = random.Random(seed)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(rng.randbytes(int(seconds * 48000) * 4))


def attached_loops() -> str:
    return subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=False).stdout


def dock_until_safe(daemon: DaemonProcess, image: Path, loops: list[str]) -> str:
    """Attach ``image`` as a camera and wait until its port says safe to unplug."""
    devnode = attach(image)
    loops.append(devnode)
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"), port=port_of(devnode))
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    return devnode


@pytest.fixture
def loops() -> Iterator[list[str]]:
    """Loop devices a test attaches, detached at the end; the next test starts only when
    every detach has completed (a detach waits for the last user of the device). A loop
    device attached before the test (a killed earlier run's camera) would be docked by
    every daemon of the test: say so instead of failing later for a reason hard to see."""
    assert not attached_loops(), (
        f"loop devices attached before the test (detach them: losetup -d): {attached_loops()}")
    attached: list[str] = []
    yield attached
    for devnode in attached:
        detach(devnode)
    deadline = time.monotonic() + 20
    while attached_loops() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not attached_loops(), f"loop devices still attached: {attached_loops()}"


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[object]:
    started: list[DaemonProcess] = []

    def start(**daemon_config: object) -> DaemonProcess:
        data = tmp_path / "data"
        config = write_config(tmp_path / "config.toml", **daemon_config)
        process = DaemonProcess(data, config)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop()


def open_station(process: DaemonProcess) -> Station:
    return Station.open(process.data_dir, load_config(process.data_dir.parent / "config.toml"))


def ledger_events(process: DaemonProcess, kind: str) -> list[dict[str, object]]:
    lines = (process.data_dir / "ledger" / "events.jsonl").read_bytes().splitlines()
    return [event for event in map(json.loads, lines) if event["type"] == kind]


def test_fat_times_read_from_the_volume_not_the_fuse_helper(tmp_path: Path, media_cache: Path) -> None:
    """fusefat shows FAT times a month late; the station reads the directory entries."""
    source = gat947_camera(tmp_path / "src", media_cache)
    image = build_image(tmp_path / "fat.img", "vfat", source)
    times = fat_file_times(image, ZONE)
    expected = {f"dcim/100media/{p.name.lower()}".encode(): int(p.stat().st_mtime) * 10**9
                for p in (source / "DCIM" / "100MEDIA").iterdir()}
    assert times == expected


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_loop_camera_docks_to_safe_to_unplug(fs: str, tmp_path: Path, media_cache: Path,
                                             loops: list[str], daemon_factory: object) -> None:
    source = gat947_camera(tmp_path / "src", media_cache)
    image = build_image(tmp_path / f"{fs}.img", fs, source, label="DSJ7001")
    before = image.read_bytes()
    daemon = daemon_factory(uevent_source="kernel")  # type: ignore[operator]
    devnode = attach(image)
    loops.append(devnode)
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error", "waiting"),
                           port=port_of(devnode))
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    assert (dock["device_id"], dock["officer_id"], dock["profile"]) == (DEVICE, OFFICER, "gat947")
    assert dock["files_done"] == dock["files_total"] == 3
    # the mount is gone, the camera image is byte-for-byte what it was (never written)
    assert not (daemon.data_dir / "run" / "mounts" / port_of(devnode)).exists()
    detach(devnode)
    daemon.wait_for(lambda s: not any(d["port"] == port_of(devnode) for d in s["docks"]))
    assert image.read_bytes() == before
    assert daemon.stop() == 0

    with open_station(daemon) as station:
        clips = station.catalog.footage.clips()
        assert len(clips) == 3
        # FAT/exFAT local times, read in the camera's zone, equal the source files' times
        by_name = {p.name.upper(): p.stat().st_mtime for p in (source / "DCIM" / "100MEDIA").iterdir()}
        for clip in clips:
            source_row = station.catalog.footage.sources_of(clip["id"])[0]
            name = source_row["source_path"].rsplit("/", 1)[-1].upper()
            assert abs(datetime.fromisoformat(source_row["file_mtime"]).timestamp() - by_name[name]) < 2
        devices = {row["device_id"]: row for row in station.catalog.docking.devices()}
        assert devices[DEVICE]["last_port"] == port_of(devnode)
        assert devices[DEVICE]["storage_total"] > 0 and devices[DEVICE]["storage_free"] > 0
    dock_event = ledger_events(daemon, "dock")[0]
    assert dock_event["accepted"] is True and dock_event["filesystem"]["type"] == fs  # type: ignore[index]
    assert dock_event["filesystem"]["probed_by"] == "blkid"  # type: ignore[index]
    session = ledger_events(daemon, "session.start")[0]
    receipt = (daemon.data_dir / "receipts" / f"{session['session_id']}.txt").read_text()
    for clip in clips:
        assert clip["sha256"] in receipt
    assert "— evidence-station/test-station " in receipt  # the checkpoint's signature line
    html = (daemon.data_dir / "receipts" / f"{session['session_id']}.html").read_text()
    assert clips[0]["sha256"] in html and "<table" in html


def test_two_cameras_at_once(tmp_path: Path, media_cache: Path, loops: list[str],
                             daemon_factory: object) -> None:
    images = []
    for index, fs in enumerate(("vfat", "exfat")):
        source = gat947_camera(tmp_path / f"src{index}", media_cache, device=f"DSJ700{index + 2}",
                               hour=9 + index)
        images.append(build_image(tmp_path / f"cam{index}.img", fs, source))
    daemon = daemon_factory(uevent_source="kernel", max_parallel_copies=2)  # type: ignore[operator]
    devnodes = [attach(image) for image in images]
    loops.extend(devnodes)
    for devnode in devnodes:
        dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"),
                               port=port_of(devnode))
        assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    daemon.stop()
    ingests = ledger_events(daemon, "ingest")
    # Both cameras hold the same three recordings' bytes: stored once, a source for each.
    assert sorted(str(e["device_id"]) for e in ingests) == ["DSJ7002"] * 3 + ["DSJ7003"] * 3
    assert sum(1 for e in ingests if e["duplicate"]) == 3
    with open_station(daemon) as station:
        assert len(station.catalog.footage.clips()) == 3
    assert len(ledger_events(daemon, "session.end")) == 2


def test_unplug_mid_copy_is_interrupted_then_resumed(tmp_path: Path, loops: list[str],
                                                     daemon_factory: object) -> None:
    source = tmp_path / "src"
    folder = source / "RECORD" / "20261123"
    folder.mkdir(parents=True)
    for number in range(8):
        write_wav(folder / f"0830{number:02d}_{number + 1:04d}.WAV", seconds=150, seed=number)
    image = build_image(tmp_path / "big.img", "exfat", source, size_mib=320)
    daemon = daemon_factory(uevent_source="kernel")  # type: ignore[operator]
    devnode = attach(image)
    loops.append(devnode)
    port = port_of(devnode)
    daemon.wait_for(lambda d: d["files_done"] >= 1 and d["state"] in ("copying", "verifying"),
                    port=port, timeout=120)
    subprocess.run(["losetup", "-d", devnode], check=True)  # cable pulled ...
    fuse_abort(daemon.data_dir / "run" / "mounts" / port)  # ... the helper loses its device
    dock = daemon.wait_for(lambda d: d["state"] == "error", port=port)
    assert "unplugged" in dock["reason"] or "disappeared" in dock["reason"], dock
    committed_first = len(ledger_events(daemon, "ingest"))
    assert 1 <= committed_first < 8
    end = ledger_events(daemon, "session.end")[0]
    assert end["state"] == "interrupted"
    left = [p for p in end["problems"] if p["reason"] in ("not_copied", "source_gone")]  # type: ignore[union-attr,index]
    assert len(left) == 8 - committed_first  # the receipt names every file left on the camera

    devnode = attach(image)  # docked again
    loops.append(devnode)
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error") and
                           d["session_id"] != end["session_id"], port=port_of(devnode), timeout=120)
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    daemon.stop()
    ingests = ledger_events(daemon, "ingest")
    assert len(ingests) == 8  # nothing counted twice, nothing lost
    assert len({event["source_path"] for event in ingests}) == 8
    assert not any(event["duplicate"] for event in ingests)
    with open_station(daemon) as station:
        assert len(station.catalog.footage.clips()) == 8
        assert not list(station.store.tmp.iterdir())  # no half-written copy left behind


def test_unknown_usb_storage_waits_until_registered(tmp_path: Path, loops: list[str],
                                                    daemon_factory: object) -> None:
    source = tmp_path / "stick"
    (source / "工作文件").mkdir(parents=True)
    (source / "工作文件" / "报告.docx").write_bytes(b"PK\x03\x04 not evidence")
    (source / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 holiday")
    image = build_image(tmp_path / "stick.img", "vfat", source, label="KINGSTON")
    daemon = daemon_factory(uevent_source="kernel")  # type: ignore[operator]
    devnode = attach(image)
    loops.append(devnode)
    dock = daemon.wait_for(lambda d: d["state"] in ("waiting", "safe_to_unplug", "error"),
                           port=port_of(devnode))
    assert dock["state"] == "waiting" and "device register" in dock["reason"]
    assert dock["device_id"].startswith("vol:")
    assert ledger_events(daemon, "ingest") == []
    time.sleep(1.5)  # still waiting: nothing is ingested on its own
    assert ledger_events(daemon, "ingest") == []

    subprocess.run([sys.executable, "-m", "evidence_station", "--data-dir",
                    str(daemon.data_dir), "device", "register", dock["device_id"], "--officer-id",
                    "010203"], check=True, capture_output=True)
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"),
                           port=port_of(devnode))
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    daemon.stop()
    ingests = ledger_events(daemon, "ingest")
    assert len(ingests) == 1 and ingests[0]["officer_id"] == "010203"  # only the .jpg is a recording
    register = ledger_events(daemon, "device.register")[0]  # through the control socket
    # the actor is the caller's account (root here), told by the kernel, never typed
    assert register["actor"] == "root" and register["auth"]["via"] == "socket"
    assert register["auth"]["uid"] == os.getuid() and len(register["auth"]["request_id"]) == 32


def test_a_device_without_a_readable_filesystem_is_reported(tmp_path: Path, loops: list[str],
                                                            daemon_factory: object) -> None:
    image = tmp_path / "blank.img"
    image.write_bytes(os.urandom(4 * 1024 * 1024))
    daemon = daemon_factory(uevent_source="kernel")  # type: ignore[operator]
    devnode = attach(image)
    loops.append(devnode)
    dock = daemon.wait_for(lambda d: d["state"] == "error", port=port_of(devnode))
    assert "not one a camera uses" in dock["reason"]
    daemon.stop()
    assert ledger_events(daemon, "dock")[0]["accepted"] is False


def test_hostile_inbox_folder_is_ingested_safely(tmp_path: Path, media_cache: Path,
                                                 daemon_factory: object) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    daemon = daemon_factory(usb=False, inbox_dirs=[str(inbox)])  # type: ignore[operator]
    staging = tmp_path / "staging"
    camera = gat947_camera(staging / "cam", media_cache, count=1)
    folder = camera / "DCIM" / "100MEDIA"
    (folder / "escape.MP4").symlink_to("/etc/passwd")
    (folder / "up").symlink_to("../../..")
    gbk = "录像_20261123_090000.MP4".encode("gbk")
    shutil.copyfile(media_cache / "clip3.mp4", os.path.join(bytes(folder), gbk))
    os.rename(camera, inbox / "cam")  # appears at once, as a card reader copy finishing
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"), port="inbox:cam")
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    daemon.stop()
    ingests = ledger_events(daemon, "ingest")
    assert len(ingests) == 2
    gbk_event = next(e for e in ingests if e["source_encoding"] == "gbk")
    assert gbk_event["source_path"].endswith("录像_20261123_090000.MP4")
    end = ledger_events(daemon, "session.end")[0]
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in end["problems"]}  # type: ignore[union-attr]
    assert reasons == {"escape.MP4": "symlink", "up": "symlink"}


@pytest.fixture
def udevd() -> Iterator[None]:
    """udevd running (started here if the machine does not run it), so udev's richer
    events with ID_FS_* properties reach the daemon."""
    binary = Path("/lib/systemd/systemd-udevd")
    started = False
    if not udevd_running():
        if not binary.exists():
            pytest.skip("udev is not installed (make deps installs it)")
        subprocess.run([str(binary), "--daemon"], check=True, capture_output=True)
        started = True
        deadline = time.monotonic() + 10
        while not udevd_running() and time.monotonic() < deadline:
            time.sleep(0.05)
    yield
    if started:
        subprocess.run(["udevadm", "control", "--exit"], check=False, capture_output=True)


def test_udev_events_carry_the_filesystem(tmp_path: Path, media_cache: Path, loops: list[str],
                                          udevd: None, daemon_factory: object) -> None:
    source = gat947_camera(tmp_path / "src", media_cache)
    image = build_image(tmp_path / "cam.img", "exfat", source, label="DSJ7001")
    daemon = daemon_factory(uevent_source="udev")  # type: ignore[operator]
    dock_until_safe(daemon, image, loops)
    daemon.stop()
    event = ledger_events(daemon, "dock")[0]
    assert event["filesystem"] == {"type": "exfat", "label": "DSJ7001",  # type: ignore[comparison-overlap]
                                   "uuid": event["filesystem"]["uuid"], "probed_by": "udev"}  # type: ignore[index]
    assert len(ledger_events(daemon, "ingest")) == 3


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_clock_is_set_only_after_commit_and_reading(fs: str, tmp_path: Path, media_cache: Path,
                                                    loops: list[str], daemon_factory: object) -> None:
    """A unit's own profile declares the recorder's time file (TIMESET.TXT, as documented
    for many small recorders); with set_camera_clock on, the station writes it last."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shipped = (Path(__file__).resolve().parent.parent / "docks" / "profiles" / "gat947.toml").read_text()
    (profiles / "gat947.toml").write_text(
        shipped + '\n[clock]\nfile = "TIMESET.TXT"\nformat = "%Y-%m-%d %H:%M:%S"\n'
        'source = "rcgroups.com #11 key-chain camera notes: TIMESET.TXT, read and erased at power-on"\n')
    source = gat947_camera(tmp_path / "src", media_cache)
    image = build_image(tmp_path / "cam.img", fs, source)
    daemon = daemon_factory(uevent_source="kernel", set_camera_clock=True,  # type: ignore[operator]
                            profile_dirs=[str(profiles)])
    devnode = dock_until_safe(daemon, image, loops)
    detach(devnode, wait=True)
    daemon.stop()
    events = [json.loads(line) for line in
              (daemon.data_dir / "ledger" / "events.jsonl").read_bytes().splitlines()]
    order = [e["type"] for e in events if e["type"] in ("ingest", "camera.clock", "camera.clock_set")]
    assert order == ["ingest"] * 3 + ["camera.clock", "camera.clock_set"]
    clock_set = next(e for e in events if e["type"] == "camera.clock_set")
    assert clock_set["ok"] is True
    written = datetime.strptime(clock_set["content"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(ZONE))
    # the station's time as its ledger recorded the setting (the station's clock decides)
    recorded = datetime.fromisoformat(clock_set["time"].replace("Z", "+00:00"))
    assert abs((written - recorded).total_seconds()) < 5
    # the file is on the card, and the recordings on it are untouched
    check = tmp_path / "check"
    check.mkdir()
    if fs == "vfat":
        subprocess.run(["mcopy", "-s", "-i", str(image), "::/TIMESET.TXT", "::/DCIM", str(check)],
                       check=True, capture_output=True)
    else:
        devnode = attach(image)
        loops.append(devnode)
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        subprocess.run(["mount.exfat-fuse", "-o", "ro", devnode, str(mnt)], check=True, capture_output=True)
        try:
            shutil.copytree(mnt, check, dirs_exist_ok=True)
        finally:
            subprocess.run(["fusermount", "-u", str(mnt)], check=True)
    assert (check / "TIMESET.TXT").read_bytes() == clock_set["content"].encode() + b"\r\n"
    for original in (source / "DCIM" / "100MEDIA").iterdir():
        assert (check / "DCIM" / "100MEDIA" / original.name).read_bytes() == original.read_bytes()


def test_partitioned_card_docks_its_partition(tmp_path: Path, media_cache: Path, loops: list[str],
                                              daemon_factory: object) -> None:
    """A real card or camera is a disk with an MBR and a FAT32 partition: the partition
    docks, the whole disk does not."""
    source = gat947_camera(tmp_path / "src", media_cache)
    image = tmp_path / "card.img"
    sectors, start = 96 * 2048, 2048
    with image.open("wb") as handle:
        handle.truncate(sectors * 512)
    mbr = bytearray(512)
    mbr[446:462] = bytes([0, 0, 0, 0, 0x0C, 0, 0, 0]) + struct.pack("<II", start, sectors - start)
    mbr[510:512] = b"\x55\xaa"
    with image.open("r+b") as handle:
        handle.write(mbr)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "DSJ7001", "--offset", str(start), str(image),
                    str((sectors - start) // 2)], check=True, capture_output=True)
    subprocess.run(["mcopy", "-s", "-m", "-i", f"{image}@@{start * 512}",
                    str(source / "DCIM"), "::/"], check=True, capture_output=True,
                   env={**os.environ, "TZ": ZONE})
    daemon = daemon_factory(uevent_source="kernel")  # type: ignore[operator]
    devnode = subprocess.run(["losetup", "-f", "--show", "-P", str(image)], check=True,
                             capture_output=True, text=True).stdout.strip()
    loops.append(devnode)
    partition = f"{port_of(devnode)}p1"
    if not (Path("/sys/block") / port_of(devnode) / partition).exists():
        # Some kernels skip the scan on attach; partx asks for it (a USB disk gets it).
        subprocess.run(["partx", "-a", devnode], check=True, capture_output=True)
    dock = daemon.wait_for(lambda d: d["state"] in ("safe_to_unplug", "error"), port=partition)
    assert dock["state"] == "safe_to_unplug", json.dumps(dock, ensure_ascii=False)
    assert daemon.dock(port_of(devnode)) is None  # the whole disk is not a dock
    daemon.stop()
    assert len(ledger_events(daemon, "ingest")) == 3


def test_a_full_store_refuses_new_docks_and_deletes_nothing(tmp_path: Path, media_cache: Path,
                                                            tmpfs: Callable[[int], Path]) -> None:
    """Disk pressure: the daemon says the store is full instead of ingesting, and never
    makes room by deleting footage (R11)."""
    store_disk = tmpfs(8 * 1024 * 1024)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(tmp_path / "config.toml", reserve_mib=16, usb=False,
                          inbox_dirs=[str(inbox)])
    daemon = DaemonProcess(store_disk / "data", config)
    try:
        gat947_camera(tmp_path / "staging" / "cam", media_cache)
        os.rename(tmp_path / "staging" / "cam", inbox / "cam")
        dock = daemon.wait_for(lambda d: d["state"] in ("error", "safe_to_unplug"), port="inbox:cam")
        assert dock["state"] == "error" and "store full" in dock["reason"], dock
    finally:
        daemon.stop()
    assert not (store_disk / "data" / "ledger" / "events.jsonl").read_text().count('"type":"ingest"')
    assert len(list((inbox / "cam" / "DCIM" / "100MEDIA").iterdir())) == 3  # camera untouched


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_optional_wipe_removes_only_committed_recordings(fs: str, tmp_path: Path, media_cache: Path,
                                                         loops: list[str], daemon_factory: object) -> None:
    source = gat947_camera(tmp_path / "src", media_cache)
    (source / "notes.txt").write_text("not a recording: stays")
    image = build_image(tmp_path / "cam.img", fs, source)
    daemon = daemon_factory(uevent_source="kernel", wipe_after_commit=True)  # type: ignore[operator]
    devnode = dock_until_safe(daemon, image, loops)
    detach(devnode, wait=True)
    daemon.stop()
    intent = ledger_events(daemon, "camera.wipe")[0]
    done = ledger_events(daemon, "camera.wipe.done")[0]
    assert len(intent["files"]) == 3 and len(done["removed"]) == 3 and done["kept"] == []  # type: ignore[arg-type]
    kinds = [e["type"] for e in map(json.loads, (daemon.data_dir / "ledger" / "events.jsonl")
                                    .read_text().splitlines())]
    assert kinds.index("camera.wipe") > max(i for i, k in enumerate(kinds) if k == "ingest")
    left = tmp_path / "left"
    if fs == "vfat":
        listing = subprocess.run(["mdir", "-/", "-b", "-i", str(image), "::/"], capture_output=True,
                                 text=True, check=True).stdout
        names = [line.rsplit("/", 1)[-1].lower() for line in listing.splitlines()]
        assert "notes.txt" in names and not any(n.endswith(".mp4") for n in names)
    else:
        devnode = attach(image)
        loops.append(devnode)
        left.mkdir()
        subprocess.run(["mount.exfat-fuse", "-o", "ro", devnode, str(left)], check=True,
                       capture_output=True)
        try:
            names = sorted(p.name for p in left.rglob("*") if p.is_file())
        finally:
            subprocess.run(["fusermount", "-u", str(left)], check=True)
        assert names == ["notes.txt"]
    with open_station(daemon) as station:
        for clip in station.catalog.footage.clips():
            assert station.store.path_for(clip["sha256"]).exists()  # the footage is in the store
