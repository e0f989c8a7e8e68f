"""The docking rules as pure functions: probing output, mount choice, candidates,
acceptance, FAT directory entries, the status file and journald lines."""

from __future__ import annotations

import json
import logging
import struct
from datetime import datetime
from pathlib import Path

import pytest

from docks.blockdev import BlockDevice, Filesystem, UsbInfo, parse_blkid
from docks.detect import is_dock_candidate, resolve_source
from docks.fat import FatError, fat_time, geometry, parse_directory
from docks.mount import MountError, mount_command
from evidence_station.docking.register import decide, identity_keys
from evidence_station.docking.status import DockStatus, StatusBoard
from evidence_station.logs import JournalFormatter

NO_FS = Filesystem(None, None, None, None)
EXFAT = Filesystem("exfat", "DSJ", "7F2F-DB63", None, "blkid")
USB = UsbInfo("2b5f", "0101", "SN123", "Vendor", "Recorder", "1-1.2")


def device(name: str = "loop3", size: int = 1 << 26, fs: Filesystem = EXFAT, *,
           usb: UsbInfo | None = None, removable: bool = False) -> BlockDevice:
    return BlockDevice(Path(f"/dev/{name}"), name, "disk", size, removable, fs, usb)


def test_parse_blkid() -> None:
    fs = parse_blkid("DEVNAME=/dev/loop0\nLABEL=CAM01\nUUID=B54D-B40D\nTYPE=vfat\nUSAGE=filesystem\n")
    assert fs == Filesystem("vfat", "CAM01", "B54D-B40D", None, "blkid")
    assert parse_blkid("PTTYPE=dos\n") == Filesystem(None, None, None, "dos", "blkid")
    assert parse_blkid("TYPE=crypto_LUKS\nUSAGE=crypto\n").type is None  # not a filesystem
    assert parse_blkid("").type is None


@pytest.mark.parametrize(("fs", "kernel", "expected"), [
    ("vfat", {"vfat", "ext4"}, ["mount", "-t", "vfat", "-o", "ro,nosuid,nodev,noexec", "--"]),
    ("vfat", {"ext4"}, ["fusefat", "-o", "ro,nosuid,nodev,noexec"]),
    ("exfat", {"fuseblk"}, ["mount.exfat-fuse", "-o", "ro,nosuid,nodev,noexec"]),
    ("exfat", {"exfat"}, ["mount", "-t", "exfat", "-o", "ro,nosuid,nodev,noexec", "--"]),
])
def test_mount_is_always_read_only(fs: str, kernel: set[str], expected: list[str]) -> None:
    command = mount_command(fs, Path("/dev/loop3"), Path("/m"), kernel)
    assert command[:len(expected)] == expected and command[-2:] == ["/dev/loop3", "/m"]


@pytest.mark.parametrize("fs", ["ntfs", "ext4", None])
def test_unknown_filesystem_is_reported_not_guessed(fs: str | None) -> None:
    with pytest.raises(MountError, match="not one a camera uses"):
        mount_command(fs, Path("/dev/sdb1"), Path("/m"), {"vfat", "exfat", "ntfs", "ext4"})


@pytest.mark.parametrize(("candidate", "mounted", "expected"), [
    (device(), False, True),  # an attached loop image
    (device(size=0), False, False),  # a detached loop device
    (device(), True, False),  # mounted by someone else
    (device("sdb", usb=USB), False, True),
    (device("sdc", removable=True), False, True),  # a card reader slot
    (device("vda"), False, False),  # the system disk
    (device("sdb", fs=Filesystem(None, None, None, "dos"), usb=USB), False, False),  # partitions dock
    (device("sdb", fs=NO_FS, usb=USB), False, True),  # reported as unreadable, not ignored
])
def test_dock_candidates(candidate: BlockDevice, mounted: bool, expected: bool) -> None:
    assert is_dock_candidate(candidate, mounted) is expected


def test_uevent_source() -> None:
    assert resolve_source("kernel") == "kernel"
    with pytest.raises(ValueError, match="auto, udev or kernel"):
        resolve_source("netlink")


def test_identity_and_acceptance() -> None:
    usb_camera = device("sdb", usb=USB)
    assert identity_keys(usb_camera, "DSJ7001") == ["DSJ7001", "usb:SN123", "vol:7F2F-DB63"]
    assert identity_keys(None, None) == []
    stick = decide(keys=["usb:SN123"], profile_matched=False, registered=None, is_folder=False)
    assert (stick.accepted, stick.reason, stick.device_id) == (False, "unknown_storage", "usb:SN123")
    registered = decide(keys=["usb:SN123"], profile_matched=False, is_folder=False,
                        registered={"device_id": "usb:SN123", "officer_id": "010203"})
    assert (registered.accepted, registered.officer_id) == (True, "010203")
    camera = decide(keys=["DSJ7001"], profile_matched=True, registered=None, is_folder=False)
    assert (camera.accepted, camera.reason) == (True, "profile")
    folder = decide(keys=[], profile_matched=False, registered=None, is_folder=True)
    assert (folder.accepted, folder.device_id) == (True, None)


def _boot_sector_fat32() -> bytes:
    boot = bytearray(512)
    struct.pack_into("<HBHBHHBH", boot, 11, 512, 1, 32, 2, 0, 0, 0xF8, 0)
    struct.pack_into("<II", boot, 32, 131072, 1009)
    struct.pack_into("<I", boot, 44, 2)
    boot[510:512] = b"\x55\xaa"
    return bytes(boot)


def test_fat_geometry_and_times() -> None:
    geo = geometry(_boot_sector_fat32())
    assert (geo.bits, geo.cluster_size, geo.fat_offset, geo.root_cluster) == (32, 512, 16384, 2)
    # FAT type follows the cluster count (Microsoft FAT spec), not the label in the BPB
    sixteen = bytearray(_boot_sector_fat32())
    sixteen[13] = 8
    assert geometry(bytes(sixteen)).bits == 16
    with pytest.raises(FatError):
        geometry(bytes(512))
    # 2026-11-23 14:30:06 → date (46<<9 | 11<<5 | 23), time (14<<11 | 30<<5 | 3)
    date, time = (46 << 9) | (11 << 5) | 23, (14 << 11) | (30 << 5) | 3
    assert fat_time(date, time) == datetime(2026, 11, 23, 14, 30, 6)
    assert fat_time(0, 0) is None
    assert fat_time((46 << 9) | (13 << 5) | 1, 0) is None  # month 13


def _lfn(order: int, text: str, last: bool) -> bytes:
    chars = (text.encode("utf-16-le") + b"\x00\x00").ljust(26, b"\xff")
    entry = bytearray(32)
    entry[0] = order | (0x40 if last else 0)
    entry[1:11], entry[14:26], entry[28:32] = chars[:10], chars[10:22], chars[22:26]
    entry[11] = 0x0F
    return bytes(entry)


def _short(name: bytes, attributes: int, date: int = 0, time: int = 0, case: int = 0) -> bytes:
    entry = bytearray(32)
    entry[:11] = name
    entry[11], entry[12] = attributes, case
    struct.pack_into("<HH", entry, 22, time, date)
    struct.pack_into("<H", entry, 26, 5)
    return bytes(entry)


def test_fat_directory_entries() -> None:
    date = (46 << 9) | (11 << 5) | 23
    data = b"".join([
        _short(b"CAM01      ", 0x08),  # volume label: not a file
        _lfn(2, "3_0001.MP4", True), _lfn(1, "DSJ7001_01020", False),  # 13 characters per part
        _short(b"DSJ700~1MP4", 0x20, date, 14 << 11),
        _short(b"\xe5ELETED MP4", 0x20, date),  # deleted
        _short(b"A       MP4", 0x20, date, 0, case=0x18),  # lower-case 8.3 via NT case bits
        _short(b"DCIM       ", 0x10, date),
        bytes(32),  # end of directory
        _short(b"AFTER   MP4", 0x20, date),
    ])
    entries = [(name, attributes) for name, attributes, _cluster, _when in parse_directory(data)]
    assert entries == [("DSJ7001_010203_0001.MP4", 0x20), ("a.mp4", 0x20), ("DCIM", 0x10)]


def test_status_file_mirrors_the_board(tmp_path: Path) -> None:
    board = StatusBoard(tmp_path / "run" / "status.json", "station-01", min_interval=0)
    board.set(DockStatus("loop3", "block", "/dev/loop3"))
    board.update("loop3", state="copying", bytes_total=10, bytes_done=4, device_id="DSJ7001")
    document = json.loads((tmp_path / "run" / "status.json").read_text())
    assert document["station"] == "station-01"
    assert document["docks"][0]["state"] == "copying" and document["docks"][0]["bytes_done"] == 4
    assert "_rate_mark" not in document["docks"][0]
    board.remove("loop3")
    assert json.loads((tmp_path / "run" / "status.json").read_text())["docks"] == []


def test_journald_priority_prefix() -> None:
    record = logging.LogRecord("docks", logging.WARNING, __file__, 1, "camera %s\nline two",
                               ("loop3",), None)
    assert JournalFormatter("%(name)s: %(message)s").format(record) == "<4>docks: camera loop3\n<4>line two"


def test_systemd_unit_runs_the_daemon_hardened_but_able_to_mount() -> None:
    import configparser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    root = Path(__file__).resolve().parent.parent
    unit.read(root / "systemd" / "evidence-station.service")
    service = unit["Service"]
    assert service["ExecStart"].split()[-1] == "daemon"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert "CAP_SYS_ADMIN" in service["CapabilityBoundingSet"]  # mount(2) and FUSE
    assert "/var/lib/evidence-station" in service["ReadWritePaths"]
    rule = (root / "systemd" / "70-evidence-station.rules").read_text()
    assert 'ENV{UDISKS_IGNORE}="1"' in rule
