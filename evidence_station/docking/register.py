"""The device register (R16) and who may be docked: identity as pure functions.

A camera is known by what it says about itself: the device id (产品序号) in its file
names, its USB serial, or its volume's UUID. Storage that matches a vendor profile, or
whose identity was registered by a clerk or admin, is a dock; anything else (a stray USB
stick) waits for someone to accept it and is never ingested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from docks.blockdev import BlockDevice


def identity_keys(device: BlockDevice | None, named_device_id: str | None) -> list[str]:
    """Every id this camera can be registered under, the preferred first."""
    keys = []
    if named_device_id:
        keys.append(named_device_id)
    if device is not None:
        if device.usb and device.usb.serial:
            keys.append(f"usb:{device.usb.serial}")
        if device.filesystem.uuid:
            keys.append(f"vol:{device.filesystem.uuid}")
    return keys


@dataclass(frozen=True)
class Decision:
    accepted: bool
    device_id: str | None  # the id the session is recorded under
    officer_id: str | None  # the registered officer, when the names do not say
    reason: str  # profile | registered | folder | unknown_storage


def decide(*, keys: list[str], profile_matched: bool, registered: dict[str, object] | None,
           is_folder: bool) -> Decision:
    """Pure: may this volume be ingested, and under which ids?

    Folders were put in an inbox by a person, so they are accepted; block devices need a
    matching vendor profile or a registered identity.
    """
    officer = str(registered["officer_id"]) if registered and registered.get("officer_id") else None
    device_id = str(registered["device_id"]) if registered else (keys[0] if keys else None)
    if registered:
        return Decision(True, device_id, officer, "registered")
    if profile_matched:
        return Decision(True, device_id, None, "profile")
    if is_folder:
        return Decision(True, device_id, None, "folder")
    return Decision(False, device_id, None, "unknown_storage")
