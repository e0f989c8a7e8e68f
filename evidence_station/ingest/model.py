"""Records passed between the ingest stages."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from docks.listing import CameraFile, display_path
from evidence_station.ingest.flags import Flag


def path_encoding(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("gbk")
        return "gbk"
    except UnicodeDecodeError:
        return "unknown"


@dataclass(frozen=True)
class PlannedFile:
    file: CameraFile
    recorded_at: datetime | None
    flags: tuple[Flag, ...]
    already_ingested: bool = False
    file_seq: int | None = None  # the camera's running number from the name, if it has one

    @property
    def display(self) -> str:
        return display_path(self.file.rel_path)

    @property
    def path_b64(self) -> str:
        return base64.b64encode(self.file.rel_path).decode("ascii")

    @property
    def encoding(self) -> str:
        return path_encoding(self.file.rel_path)


@dataclass(frozen=True)
class Problem:
    """A camera entry that was not ingested, and why (shown on the receipt)."""

    path: str
    path_b64: str
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "path_b64": self.path_b64, "reason": self.reason,
                "detail": self.detail}


@dataclass(frozen=True)
class Outcome:
    """What happened to one planned file."""

    item: PlannedFile
    status: str  # committed | duplicate | already | failed
    clip_id: str | None = None
    sha256: str | None = None
    ledger_seq: int | None = None
    flags: tuple[Flag, ...] = ()
    problem: Problem | None = None


@dataclass
class Plan:
    device_id: str
    officer_id: str | None
    to_copy: list[PlannedFile] = field(default_factory=list)
    already: list[PlannedFile] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    @property
    def bytes_to_copy(self) -> int:
        return sum(item.file.size for item in self.to_copy)


@dataclass
class SessionResult:
    session_id: str
    source: str
    device_id: str
    officer_id: str | None
    state: str = "completed"  # completed | interrupted
    reason: str | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    checkpoint_size: int = 0
    checkpoint_root: str = ""
    checkpoint_note: str = ""
    error: Exception | None = None  # the store failure that stopped the session, if any

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def bytes_committed(self) -> int:
        return sum(o.item.file.size for o in self.outcomes if o.status == "committed")

    @property
    def safe_to_unplug(self) -> bool:
        """Every recording on the camera is in the store and the ledger."""
        return self.state == "completed" and all(
            outcome.status in ("committed", "duplicate", "already") for outcome in self.outcomes
        )

    def counts(self) -> dict[str, int]:
        return {
            "seen": len(self.outcomes) + len(self.skipped),
            "committed": self.count("committed"),
            "duplicate": self.count("duplicate"),
            "already": self.count("already"),
            "skipped": len(self.skipped),
            "failed": self.count("failed"),
            "bytes": self.bytes_committed,
        }


class Reporter(Protocol):
    """How the pipeline tells a console, the daemon table or a test what it is doing."""

    def planned(self, plan: Plan) -> None: ...

    def file_started(self, item: PlannedFile) -> None: ...

    def advanced(self, count: int) -> None: ...

    def verifying(self, item: PlannedFile) -> None: ...

    def file_finished(self, outcome: Outcome) -> None: ...


class SilentReporter:
    def planned(self, plan: Plan) -> None:
        pass

    def file_started(self, item: PlannedFile) -> None:
        pass

    def advanced(self, count: int) -> None:
        pass

    def verifying(self, item: PlannedFile) -> None:
        pass

    def file_finished(self, outcome: Outcome) -> None:
        pass
