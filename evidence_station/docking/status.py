"""Per-dock status: the live table in the console and ``run/status.json`` for the web UI."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from evidence_station.i18n import Lang, human_bytes, t

STATES = ("detected", "mounting", "copying", "verifying", "committed", "safe_to_unplug",
          "waiting", "error")
STATE_STYLE = {"safe_to_unplug": "bold green", "error": "bold red", "waiting": "yellow",
               "copying": "cyan", "verifying": "cyan", "committed": "green"}


@dataclass
class DockStatus:
    port: str  # usb-1-1.2, loop3, inbox:NAME, demo
    kind: str  # usb | block | folder | demo
    source: str  # device node or folder
    state: str = "detected"
    reason: str | None = None
    device_id: str | None = None
    officer_id: str | None = None
    profile: str | None = None
    label: str | None = None
    files_total: int = 0
    files_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    speed_bps: float = 0.0
    session_id: str | None = None
    receipt: str | None = None
    present: bool = True
    updated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    _rate_mark: tuple[float, int] = field(default=(0.0, 0), repr=False)

    def as_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict (a recursive deep copy): this runs for
        # every dock at every status write, dozens of times a second with 24 docks.
        return {name: getattr(self, name) for name in _PUBLIC_FIELDS}


_PUBLIC_FIELDS = tuple(f.name for f in dataclasses.fields(DockStatus) if not f.name.startswith("_"))


class StatusBoard:
    """Thread-safe table of docks; every change is mirrored to the status JSON."""

    def __init__(self, path: Path, station: str, *, min_interval: float = 0.25) -> None:
        self.path = path
        self.station = station
        self.min_interval = min_interval
        self._docks: dict[str, DockStatus] = {}
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._listeners: list[Any] = []
        self.ready = False  # set once the watchers listen: docking before that is not lost,
        # but tests and the web UI can tell "starting" from "no camera"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(force=True)

    def on_change(self, listener: Any) -> None:
        """``listener(DockStatus)`` after each state change (console log lines)."""
        self._listeners.append(listener)

    def set(self, status: DockStatus) -> None:
        with self._lock:
            self._docks[status.port] = status
        self._changed(status, state_changed=True)

    def update(self, port: str, **changes: Any) -> DockStatus:
        with self._lock:
            status = self._docks[port]
            state_changed = "state" in changes and changes["state"] != status.state
            for key, value in changes.items():
                setattr(status, key, value)
            if "bytes_done" in changes:
                now = time.monotonic()
                mark_time, mark_bytes = status._rate_mark
                if now - mark_time >= 1.0:
                    if mark_time:
                        status.speed_bps = (status.bytes_done - mark_bytes) / (now - mark_time)
                    status._rate_mark = (now, status.bytes_done)
            status.updated_at = datetime.now(UTC).isoformat()
        self._changed(status, state_changed=state_changed)
        return status

    def mark_ready(self) -> None:
        self.ready = True
        self._write(force=True)

    def remove(self, port: str) -> None:
        with self._lock:
            self._docks.pop(port, None)
        self._write(force=True)

    def get(self, port: str) -> DockStatus | None:
        with self._lock:
            return self._docks.get(port)

    def snapshot(self) -> list[DockStatus]:
        with self._lock:
            return [dataclasses.replace(status) for status in self._docks.values()]

    def _changed(self, status: DockStatus, *, state_changed: bool) -> None:
        self._write(force=state_changed)
        if state_changed:
            for listener in self._listeners:
                listener(status)

    def _write(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        with self._lock:
            docks = [status.as_dict() for status in self._docks.values()]
            document = {"station": self.station, "updated_at": datetime.now(UTC).isoformat(),
                        "ready": self.ready, "states": list(STATES), "docks": docks}
            # Readers see the old or the new file, never half of one. Not fsynced: the
            # status is rebuilt at every start, the ledger is what must survive.
            temp = self.path.with_name(self.path.name + ".tmp")
            # One line: ``indent`` would switch json to its pure-Python encoder, ~1 ms a
            # write with 24 docks, and a busy station writes this dozens of times a second.
            temp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
            os.replace(temp, self.path)

    def table(self, lang: Lang) -> Table:
        table = Table(title=t("dock.title", lang), expand=False)
        for key in ("dock.port", "col.device", "col.officer", "dock.files", "dock.bytes",
                    "dock.speed", "dock.state"):
            table.add_column(t(key, lang), overflow="fold")
        rows = self.snapshot()
        if not rows:
            table.add_row(t("dock.none", lang), "", "", "", "", "", "")
        for status in rows:
            style = STATE_STYLE.get(status.state, "")
            state = t(f"state.{status.state}", lang)
            if status.reason:
                state += f": {status.reason}"
            speed = f"{human_bytes(int(status.speed_bps))}/s" if status.state == "copying" else ""
            table.add_row(escape(status.port), escape(status.device_id or ""),
                          escape(status.officer_id or ""),
                          f"{status.files_done}/{status.files_total}",
                          f"{human_bytes(status.bytes_done)}/{human_bytes(status.bytes_total)}",
                          speed, f"[{style}]{escape(state)}[/{style}]" if style else escape(state))
        return table
