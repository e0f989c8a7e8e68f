"""What a block device is: size, filesystem, label, and the USB port it hangs off.

Filled from udev's properties when udevd runs (``ID_FS_TYPE``, ``ID_FS_LABEL``, …) and by
probing the device with ``blkid -p`` when only kernel uevents are available, so the
station works the same on a minimal machine and on a full desktop.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Devices the station never treats as a dock: RAM disks, compressed swap, device-mapper,
# software RAID, optical drives (those are for burning, not docking).
IGNORED_PREFIXES = ("ram", "zram", "dm-", "md", "sr", "nbd")


@dataclass(frozen=True)
class UsbInfo:
    vendor_id: str  # "vvvv"
    product_id: str  # "pppp"
    serial: str | None
    manufacturer: str | None
    product: str | None
    port: str  # sysfs name of the USB device, e.g. "1-1.2": the physical port path

    @property
    def usb_id(self) -> str:
        return f"{self.vendor_id}:{self.product_id}".lower()


@dataclass(frozen=True)
class Filesystem:
    type: str | None  # vfat, exfat, ext4 …; None when nothing recognisable
    label: str | None
    uuid: str | None
    partition_table: str | None  # "dos"/"gpt" on a whole disk whose partitions dock instead
    probed_by: str = "none"  # udev (its ID_FS_* properties) | blkid (our own probe) | none


@dataclass(frozen=True)
class BlockDevice:
    devnode: Path
    sys_name: str  # loop3, sdb1
    devtype: str  # disk | partition
    size: int  # bytes; 0 = no medium (detached loop device, empty card reader)
    removable: bool
    filesystem: Filesystem
    usb: UsbInfo | None

    @property
    def port(self) -> str:
        """The dock's name in the status table: USB port path, else the device name."""
        return f"usb-{self.usb.port}" if self.usb else self.sys_name

    @property
    def is_loop(self) -> bool:
        return self.sys_name.startswith("loop")


def parse_blkid(output: str) -> Filesystem:
    """Pure: ``blkid -p -o export`` output → :class:`Filesystem`."""
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    usage = values.get("USAGE")
    fs_type = values.get("TYPE") if usage in (None, "filesystem") else None
    return Filesystem(fs_type, values.get("LABEL"), values.get("UUID"), values.get("PTTYPE"),
                      "blkid")


def probe_filesystem(devnode: Path) -> Filesystem:
    """Low-level probe of the device itself (no cache): works without udevd."""
    result = subprocess.run(["blkid", "-p", "-o", "export", "--", str(devnode)],
                            capture_output=True, text=True, timeout=30, check=False)
    if result.returncode not in (0, 2):  # 2 = nothing recognisable
        return Filesystem(None, None, None, None)
    return parse_blkid(result.stdout)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace").strip() if isinstance(value, bytes) else str(value)


def usb_ancestry(device: Any) -> UsbInfo | None:
    """The USB device a block device hangs off (camera in mass-storage mode), if any."""
    usb = device.find_parent("usb", "usb_device")
    if usb is None:
        return None
    attrs = usb.attributes
    return UsbInfo(
        vendor_id=_text(attrs.get("idVendor")) or "0000",
        product_id=_text(attrs.get("idProduct")) or "0000",
        serial=_text(attrs.get("serial")),
        manufacturer=_text(attrs.get("manufacturer")),
        product=_text(attrs.get("product")),
        port=usb.sys_name,
    )


def describe(device: Any, *, trust_udev: bool) -> BlockDevice | None:
    """A pyudev block :class:`Device` as a :class:`BlockDevice`; ``None`` if ignored.

    ``ID_FS_*`` properties are used only when udevd is live (``trust_udev``): without it
    pyudev still reads the udev database, which may be stale from an earlier udevd and
    describe a medium that is no longer there. Otherwise the device itself is probed.
    """
    if device.device_node is None or device.sys_name.startswith(IGNORED_PREFIXES):
        return None
    size_attr = device.attributes.get("size")
    size = int(size_attr) * 512 if size_attr else 0
    removable = _text(device.attributes.get("removable")) == "1"
    properties = dict(device.properties)
    devnode = Path(device.device_node)
    if size == 0:
        filesystem = Filesystem(None, None, None, None)
    elif trust_udev and ("ID_FS_TYPE" in properties or "ID_PART_TABLE_TYPE" in properties):
        filesystem = Filesystem(properties.get("ID_FS_TYPE") or None,
                                properties.get("ID_FS_LABEL"), properties.get("ID_FS_UUID"),
                                properties.get("ID_PART_TABLE_TYPE"), "udev")
    else:
        filesystem = probe_filesystem(devnode)
    return BlockDevice(devnode, device.sys_name, device.device_type or "disk", size,
                       removable, filesystem, usb_ancestry(device))


def mounted_devices(mountinfo: Path = Path("/proc/self/mountinfo"), *,
                    exclude_under: Path | None = None) -> set[str]:
    """``major:minor`` of every block device mounted anywhere except under our own
    private mount folder (a device someone else mounted is never docked)."""
    numbers = set()
    for line in mountinfo.read_text().splitlines():
        fields = line.split()
        if len(fields) <= 4:
            continue
        if exclude_under is not None and fields[4].startswith(str(exclude_under) + "/"):
            continue
        numbers.add(fields[2])
    return numbers
