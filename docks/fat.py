"""Read file times straight from a FAT12/16/32 volume's directory entries.

FAT stores each file's modification time as the camera's local wall-clock time. The
FUSE helper we must use where the kernel has no FAT module (fusefat) reports these
times one month late, so the mtimes it shows are never trusted: this module walks the
directory tree on the block device itself (read-only) and gives the exact stamps, which
the dock then interprets in the station's time zone. Only directory metadata is read;
file contents always come through the mounted filesystem and the ingest pipeline.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ATTR_LFN = 0x0F
ATTR_VOLUME = 0x08
ATTR_DIR = 0x10
MAX_ENTRIES = 1_000_000  # a corrupt FAT with a cycle must not loop forever


class FatError(ValueError):
    """The device does not hold a FAT filesystem we can read."""


@dataclass(frozen=True)
class Geometry:
    bytes_per_sector: int
    sectors_per_cluster: int
    fat_offset: int
    root_offset: int  # FAT12/16 fixed root directory
    root_entries: int
    data_offset: int
    root_cluster: int  # FAT32
    bits: int  # 12, 16 or 32

    @property
    def cluster_size(self) -> int:
        return self.bytes_per_sector * self.sectors_per_cluster


def geometry(boot: bytes) -> Geometry:
    """Pure: the layout described by a FAT boot sector (Microsoft FAT spec, 'BPB')."""
    if len(boot) < 512 or boot[510:512] != b"\x55\xaa":
        raise FatError("no FAT boot sector signature")
    bps, spc, reserved, fats, root_entries, total16, _media, fat16 = struct.unpack_from(
        "<HBHBHHBH", boot, 11)
    total32, fat32 = struct.unpack_from("<II", boot, 32)
    if bps not in (512, 1024, 2048, 4096) or spc == 0 or spc & (spc - 1) or fats == 0:
        raise FatError("implausible FAT boot sector")
    fat_size = fat16 or fat32
    total = total16 or total32
    root_sectors = (root_entries * 32 + bps - 1) // bps
    first_data = reserved + fats * fat_size + root_sectors
    clusters = (total - first_data) // spc
    bits = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    root_cluster = struct.unpack_from("<I", boot, 44)[0] if bits == 32 else 0
    return Geometry(bps, spc, reserved * bps, (reserved + fats * fat_size) * bps, root_entries,
                    first_data * bps, root_cluster, bits)


def fat_time(date: int, time: int) -> datetime | None:
    """Pure: a FAT date/time pair as a naive local datetime; ``None`` for a zero stamp."""
    if date == 0:
        return None
    try:
        return datetime(1980 + (date >> 9), (date >> 5) & 0x0F, date & 0x1F,
                        time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2)
    except ValueError:
        return None


def _short_name(raw: bytes, case_bits: int) -> str:
    base, ext = raw[:8].rstrip(b" "), raw[8:11].rstrip(b" ")
    if base[:1] == b"\x05":
        base = b"\xe5" + base[1:]
    base_text, ext_text = base.decode("gbk", "replace"), ext.decode("gbk", "replace")
    if case_bits & 0x08:
        base_text = base_text.lower()
    if case_bits & 0x10:
        ext_text = ext_text.lower()
    return f"{base_text}.{ext_text}" if ext_text else base_text


def _lfn_part(entry: bytes) -> str:
    raw = entry[1:11] + entry[14:26] + entry[28:32]
    text = raw.decode("utf-16-le", "replace")
    return text.split("\x00", 1)[0].replace("\uffff", "")


def parse_directory(data: bytes) -> list[tuple[str, int, int, datetime | None]]:
    """Pure: (name, attributes, first cluster, write time) per live entry of a directory."""
    entries = []
    lfn_parts: list[str] = []
    for offset in range(0, len(data) - 31, 32):
        entry = data[offset:offset + 32]
        if entry[0] == 0x00:
            break
        if entry[0] == 0xE5:
            lfn_parts = []
            continue
        attributes = entry[11]
        if attributes == ATTR_LFN:
            # Long names are stored last part first; 0x40 marks that first (last) part.
            if entry[0] & 0x40:
                lfn_parts = [_lfn_part(entry)]
            else:
                lfn_parts.insert(0, _lfn_part(entry))
            continue
        name = "".join(lfn_parts) or _short_name(entry[:11], entry[12])
        lfn_parts = []
        if attributes & ATTR_VOLUME or name in (".", ".."):
            continue
        time, date = struct.unpack_from("<HH", entry, 22)
        cluster = (struct.unpack_from("<H", entry, 20)[0] << 16) | struct.unpack_from("<H", entry, 26)[0]
        entries.append((name, attributes, cluster, fat_time(date, time)))
    return entries


class FatReader:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.geo = geometry(os.pread(fd, 512, 0))

    def _next_cluster(self, cluster: int) -> int | None:
        geo = self.geo
        if geo.bits == 32:
            value = struct.unpack("<I", os.pread(self.fd, 4, geo.fat_offset + cluster * 4))[0] & 0x0FFFFFFF
            end = 0x0FFFFFF8
        elif geo.bits == 16:
            value = struct.unpack("<H", os.pread(self.fd, 2, geo.fat_offset + cluster * 2))[0]
            end = 0xFFF8
        else:
            pair = struct.unpack("<H", os.pread(self.fd, 2, geo.fat_offset + cluster * 3 // 2))[0]
            value = pair >> 4 if cluster & 1 else pair & 0x0FFF
            end = 0xFF8
        return None if value >= end or value < 2 else value

    def _read_chain(self, cluster: int) -> bytes:
        geo = self.geo
        chunks = []
        seen: set[int] = set()
        current: int | None = cluster
        while current is not None and current not in seen and len(seen) < MAX_ENTRIES:
            seen.add(current)
            chunks.append(os.pread(self.fd, geo.cluster_size,
                                   geo.data_offset + (current - 2) * geo.cluster_size))
            current = self._next_cluster(current)
        return b"".join(chunks)

    def usage(self, device_size: int) -> tuple[int, int]:
        """(total, free) bytes of the data area, counting free clusters in the FAT itself
        (the FUSE helper reports no usage; the FSInfo hint may be stale)."""
        geo = self.geo
        clusters = max(0, (device_size - geo.data_offset) // geo.cluster_size)
        if geo.bits == 12:
            return clusters * geo.cluster_size, 0
        width = geo.bits // 8
        table = os.pread(self.fd, (clusters + 2) * width, geo.fat_offset)
        values = memoryview(table).cast("I" if width == 4 else "H")[2:clusters + 2]
        mask = 0x0FFFFFFF if width == 4 else 0xFFFF
        free = sum(1 for value in values if not value & mask)
        return clusters * geo.cluster_size, free * geo.cluster_size

    def _root(self) -> bytes:
        geo = self.geo
        if geo.bits == 32:
            return self._read_chain(geo.root_cluster)
        return os.pread(self.fd, geo.root_entries * 32, geo.root_offset)

    def walk(self) -> dict[bytes, datetime]:
        """Lower-cased relative path (UTF-8) → write time, for every file."""
        times: dict[bytes, datetime] = {}
        stack: list[tuple[bytes, bytes]] = [(b"", self._root())]
        while stack and len(times) < MAX_ENTRIES:
            prefix, data = stack.pop()
            for name, attributes, cluster, when in parse_directory(data):
                rel = prefix + name.lower().encode("utf-8", "surrogateescape")
                if attributes & ATTR_DIR:
                    if cluster >= 2 and len(stack) < 10_000:
                        stack.append((rel + b"/", self._read_chain(cluster)))
                elif when is not None:
                    times[rel] = when
        return times


def fat_usage(device: Path) -> tuple[int, int]:
    """(total, free) bytes of the FAT volume on ``device``."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return FatReader(fd).usage(os.lseek(fd, 0, os.SEEK_END))
    finally:
        os.close(fd)


def fat_file_times(device: Path, zone: str) -> dict[bytes, int]:
    """Lower-cased relative path → mtime in ns since the epoch, the FAT stamp read as
    local time in ``zone`` (the camera's clock zone)."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        local = FatReader(fd).walk()
    finally:
        os.close(fd)
    tz = ZoneInfo(zone)
    return {path: int(when.replace(tzinfo=tz).timestamp()) * 1_000_000_000
            for path, when in local.items()}
