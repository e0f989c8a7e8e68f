"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) signed by the station.

Body: ``<origin>\\n<tree size>\\n<base64 root>\\n``. The store keeps every checkpoint
issued and replaces the latest only with one that *extends* it (checked with a
consistency proof), so a rollback fails loudly, as in sunlight's ``ctlog.go``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import heapq
import os
from dataclasses import dataclass
from pathlib import Path

from hashing.durable import fsync_directory, make_directories_durably, write_files_durably
from hashing.merkle import HASH_SIZE, ProofError, verify_consistency
from hashing.note import NoteError, NoteMalformedError, Signer, Verifier, open_note, split_note


class CheckpointError(ValueError):
    """A checkpoint is malformed, badly signed, or does not extend the previous one."""


class CheckpointHistoryError(CheckpointError):
    """A new checkpoint that does not extend the latest: the ledger is not the history the
    latest checkpoint was signed over (rolled back, cut, restored alone, edited)."""


class CheckpointMalformedError(CheckpointError):
    """The checkpoint cannot be parsed at all (its note or its body has the wrong shape),
    as opposed to one that parses but is badly signed: verifiers exit 2, not 1."""

# C2SP tlog-checkpoint sizes are uint64; a longer line is not a size (and int() of a
# 5000-digit line raises ValueError past Python's digit limit instead of our error).
_MAX_SIZE_DIGITS = 20


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointMalformedError(
                "checkpoint body must be origin, size, root hash lines")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin:
            raise CheckpointMalformedError("line 1 (origin) is empty")
        # isascii: str.isdigit() also accepts "²" and Arabic-Indic digits
        if (not (size_text.isascii() and size_text.isdigit())
                or (size_text != "0" and size_text.startswith("0"))
                or len(size_text) > _MAX_SIZE_DIGITS):
            raise CheckpointMalformedError(
                f"line 2 (tree size) {size_text[:40]!r} is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CheckpointMalformedError(
                f"line 3 (root hash) {root_text[:60]!r} is not base64") from err
        if len(root) != HASH_SIZE:
            raise CheckpointMalformedError(
                f"line 3 (root hash) has {len(root)} bytes, want {HASH_SIZE}")
        return cls(origin, int(size_text), root)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    return signer.sign(checkpoint.body())


def read_checkpoint(note: str) -> Checkpoint:
    """Parse ``note`` without checking any signature: only its shape, so a verifier can
    refuse unreadable input (:class:`CheckpointMalformedError`) before judging keys."""
    try:
        text, _signatures = split_note(note)
    except NoteMalformedError as err:
        raise CheckpointMalformedError(str(err)) from err
    return Checkpoint.parse_body(text)


def open_checkpoint(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    try:
        text = open_note(note, verifier)
    except NoteMalformedError as err:
        raise CheckpointMalformedError(str(err)) from err
    except NoteError as err:
        raise CheckpointError(str(err)) from err
    checkpoint = Checkpoint.parse_body(text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


class CheckpointStore:
    """``latest`` plus one file per issued checkpoint under ``history/``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.latest_path = directory / "checkpoint"
        self.history = directory / "checkpoints"

    def latest_note(self) -> str | None:
        try:
            return self.latest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def recent_notes(self, count: int) -> list[Path]:
        """The ``count`` newest history entries, newest first. Names are zero-padded tree
        sizes, so the largest names are the newest; one directory scan, no sort of every
        entry (a station issues a checkpoint per docking session: thousands, issue 16)."""
        try:
            with os.scandir(self.history) as entries:
                names = heapq.nlargest(count, (entry.name for entry in entries
                                               if entry.name.endswith(".note")))
        except FileNotFoundError:
            return []
        return [self.history / name for name in names]

    def publish(
        self,
        note: str,
        checkpoint: Checkpoint,
        verifier: Verifier,
        consistency_proof: list[bytes] | None,
    ) -> None:
        """Make ``note`` the latest checkpoint if it extends the current latest."""
        previous_note = self.latest_note()
        if previous_note is not None:
            previous = open_checkpoint(previous_note, verifier)
            if checkpoint.size < previous.size:
                raise CheckpointHistoryError(
                    f"refusing rollback: new checkpoint size {checkpoint.size} is smaller than "
                    f"the latest {previous.size}"
                )
            try:
                verify_consistency(
                    old_size=previous.size,
                    new_size=checkpoint.size,
                    old_root=previous.root,
                    new_root=checkpoint.root,
                    proof=consistency_proof or [],
                )
            except ProofError as err:
                raise CheckpointHistoryError(
                    f"refusing checkpoint at size {checkpoint.size}: it does not extend the "
                    f"latest checkpoint at size {previous.size} ({err}); the ledger history "
                    "has been changed"
                ) from err
        make_directories_durably(self.history)
        entry = self.history / f"{checkpoint.size:012d}.note"
        new_entry = not entry.exists()
        try:
            # The history entry durably in place before the latest names it; both files'
            # fsyncs at once (one journal commit), then each rename + directory fsync.
            write_files_durably([(entry, note.encode()), (self.latest_path, note.encode())])
        except OSError:
            # A failed step leaves the previous durable state (DESIGN.md, "Failure"): the
            # latest is still the previous checkpoint, so its history entry goes too.
            if new_entry:
                with contextlib.suppress(OSError):
                    entry.unlink()
                    fsync_directory(self.history)
            raise
