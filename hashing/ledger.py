"""The append-only ledger: hash-chained canonical JSON events in one file.

``events.jsonl`` is the record (DESIGN.md, "Ledger format"): one canonical event per
line, ``seq`` from 0, each ``prev`` the SHA-256 of the previous line's bytes. An event
counts once ``fsync`` returns. Beside it live caches that can always be rebuilt from
the events: ``offsets.bin`` (byte offset of each event) and ``tree/`` (the stored
Merkle tree). They are extended only after the events they describe are durable.
``state.json`` is written on a clean close, after the caches were fsynced; it is trusted
only when checks a power cut cannot pass hold (every tree level's count is
``size >> level``, the last offset points at the last event and its bytes hash as
recorded). Otherwise the caches are rebuilt and the whole chain is re-checked.

Failure (DESIGN.md, "The write path", "Failure"; sunlight's ``errFatal``): when a write
or fsync of an append fails, the events file is cut back to the last durable event and
fsynced, cache entries past it are dropped, and the writer refuses every further append
(:class:`LedgerFatalError`) until the ledger is reopened, which re-checks it.

A torn or garbled tail (a crash in the middle of a write) is detected on open and
reported with :class:`TornTailError`. It is never silently rewritten: recovery moves the
broken bytes into a quarantine file, keeps every complete event, and appends a
``ledger.recovered`` event that names the quarantine file and the bytes' SHA-256.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import struct
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashing.canonical import canonical_json
from hashing.durable import fsync_directory, make_directories_durably, write_file_durably
from hashing.event_scan import ZERO_HASH
from hashing.merkle import leaf_hash
from hashing.tree import TreeStore

EVENTS_FILE = "events.jsonl"
RESERVED_FIELDS = frozenset({"seq", "time", "station", "type", "actor", "prev"})
_OFFSET = struct.Struct("<Q")


class LedgerError(Exception):
    """Base for ledger problems; ``str()`` says what and what to do."""


class LedgerBusyError(LedgerError):
    """Another process holds the ledger for writing."""


class LedgerCorruptError(LedgerError):
    """A complete event in the middle of the ledger is broken: tampering or disk damage."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"ledger event seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class LedgerWriteError(LedgerError):
    """Writing or fsyncing an append failed; the ledger was put back at its last durable
    event (the failed events were not recorded) and this writer stops."""

    def __init__(self, path: Path, *, last_seq: int, cause: OSError,
                 cut_error: OSError | None = None, sync_error: OSError | None = None) -> None:
        what = os.strerror(cause.errno) if cause.errno else str(cause)
        todo = ("free space or fix the disk (see `dmesg`); then the ledger is reopened and "
                "re-checked before the next change (or restart the station), and the change "
                "can be made again")
        if cut_error is None:
            kept = (f"the ledger was put back at its last durable event seq {last_seq}; the "
                    "change that failed was NOT recorded")
            if sync_error is not None:
                kept += (f" (the cut is not on disk yet: fsync failed again, "
                         f"{os.strerror(sync_error.errno or 0)}; should the station stop before "
                         "the disk is fixed, its next start reports a torn tail: then run "
                         "`evidence-station ledger recover`)")
        else:
            kept = (f"cutting it back to the last durable event seq {last_seq} failed too "
                    f"({os.strerror(cut_error.errno or 0)}); the change that failed was NOT "
                    "acknowledged")
            todo = ("fix the disk (see `dmesg`), then restart the station; if it reports a "
                    "torn tail, run `evidence-station ledger recover`, which keeps every "
                    "complete event and quarantines the torn one")
        super().__init__(f"{path}: writing to the ledger failed ({what}); {kept}. "
                         f"No further change is recorded by this process: {todo}.")
        self.path = path
        self.last_seq = last_seq
        self.cause = cause


class LedgerFatalError(LedgerError):
    """An append refused because an earlier write of this writer failed."""

    def __init__(self, path: Path, first: LedgerWriteError) -> None:
        super().__init__(
            f"{path}: the ledger writer stopped after a failed write and records nothing more "
            "until the ledger is reopened and checked (restart the station: the daemon, or "
            f"run the command again). The failure was: {first}"
        )
        self.path = path
        self.first = first


class TornTailError(LedgerError):
    """The ledger ends with an incomplete or unreadable event (crash during a write)."""

    def __init__(self, path: Path, complete_events: int, torn: bytes) -> None:
        super().__init__(
            f"{path}: the last {len(torn)} bytes after event seq {complete_events - 1} are an "
            "incomplete event (probably a crash while writing). Nothing has been changed. "
            "Run `evidence-station ledger recover` to keep every complete event, move the "
            "broken bytes to a quarantine file and record the recovery in the ledger."
        )
        self.path = path
        self.complete_events = complete_events
        self.torn = torn


def system_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-23T18:17:49.123456Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"



@dataclass(frozen=True)
class Event:
    seq: int
    data: bytes  # canonical bytes, no newline
    fields: Mapping[str, Any] = field(repr=False)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def type(self) -> str:
        return str(self.fields["type"])


@dataclass(frozen=True)
class Draft:
    """An event not yet in the ledger: type, actor and type-specific fields."""

    type: str
    actor: str
    fields: Mapping[str, Any]
    time: str | None = None


def _refuse_reserved(draft: Draft) -> None:
    clash = RESERVED_FIELDS.intersection(draft.fields)
    if clash:
        raise ValueError(f"event fields may not set {sorted(clash)}")


def check_draft(draft: Draft) -> None:
    """Raise the ``ValueError`` :meth:`Ledger.append_many` would raise for ``draft``
    (a reserved field, a float or a value JSON cannot hold), without appending: a caller
    that batches drafts of several threads refuses a bad one before it joins a batch."""
    _refuse_reserved(draft)
    canonical_json({**draft.fields, "type": draft.type, "actor": draft.actor,
                    "time": draft.time})


def _parse_line(seq: int, line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LedgerCorruptError(seq, f"not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise LedgerCorruptError(seq, "not a JSON object")
    return value


class Ledger:
    """One station's ledger directory. Use :meth:`open`; one writer at a time."""

    def __init__(self, directory: Path, station: str, writable: bool, lock_fd: int | None,
                 now: Callable[[], datetime] = system_now) -> None:
        self.directory = directory
        self._now = now  # the station's clock: event times come from it, never from here
        self.station = station
        self.writable = writable
        self._lock_fd = lock_fd
        self.path = directory / EVENTS_FILE
        self.tree = TreeStore(directory / "tree")
        self._offsets_path = directory / "offsets.bin"
        self._size = 0
        self._end_offset = 0
        self._last_hash = ZERO_HASH
        self._events_fd: int | None = None
        # Set by a failed append: from then on this writer records nothing (sunlight's
        # errFatal), because what is on disk and what we think is on disk may differ.
        self._fatal: LedgerWriteError | None = None
        # A reader after a crash, with no writer running: complete events in the file
        # past what the caches cover (acknowledged, durable, not yet cached). The reader
        # serves the cached prefix; the next writing start rebuilds the caches.
        self.uncached_events = 0

    # -- opening ----------------------------------------------------------------------
    @classmethod
    def create(cls, directory: Path) -> None:
        """Create an empty ledger directory (``init``)."""
        make_directories_durably(directory)
        if (directory / EVENTS_FILE).exists():
            raise LedgerError(f"{directory / EVENTS_FILE} already exists; refusing to replace it")
        write_file_durably(directory / EVENTS_FILE, b"", mode=0o644)

    @classmethod
    def open(
        cls, directory: Path, *, station: str, writable: bool = False, recover: bool = False,
        now: Callable[[], datetime] = system_now,
    ) -> Ledger:
        """Open the ledger. A writer holds an exclusive lock until :meth:`close`.

        Readers never touch the lock (DESIGN.md: readers never take the writer lock, so a
        page view can never make a writer fail). A reader trusts the caches when the last
        clean close vouches for them, and otherwise reads the prefix that the caches and
        the events file agree on — a running writer repairs the rest.
        """
        if not (directory / EVENTS_FILE).exists():
            raise LedgerError(
                f"no ledger at {directory}; run `evidence-station init --station NAME` first"
            )
        if not writable:
            reader = cls(directory, station, False, None, now)
            try:
                reader._open_as_reader()
            except BaseException:
                reader.tree.close()
                raise
            return reader
        lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise LedgerBusyError(
                f"{directory}: another evidence-station process is writing the ledger "
                "(the daemon or another command)"
            ) from None
        ledger = cls(directory, station, writable, lock_fd, now)
        try:
            ledger._open_alone(recover=recover)
        except BaseException:
            ledger.tree.close()
            os.close(lock_fd)
            raise
        return ledger

    def _open_as_reader(self) -> None:
        state = self._read_state()
        file_size = self.path.stat().st_size
        if state is not None and state.get("bytes") == file_size and self._caches_match(state):
            self._size = int(state["events"])
            self._end_offset = file_size
            self._last_hash = str(state["last_hash"])
            return
        if self._offsets_path.exists():
            self._open_beside_writer()
        if not self._writer_running() and file_size > self._end_offset:
            with open(self.path, "rb") as handle:
                handle.seek(self._end_offset)
                rest = handle.read()
            if not rest.endswith(b"\n"):  # no writer, and an unfinished line: a crash mid-write
                raise TornTailError(self.path, self._size + rest.count(b"\n"),
                                    rest[rest.rfind(b"\n") + 1:])
            self.uncached_events = rest.count(b"\n")

    def _writer_running(self) -> bool:
        """Whether some process holds the writer lock — asked of the kernel (/proc/locks),
        so the question takes no lock itself."""
        try:
            info = os.stat(self.directory / "lock")
            locks = Path("/proc/locks").read_text()
        except OSError:
            return False
        key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino} "
        return any("FLOCK" in line and key in line for line in locks.splitlines())

    def _state_path(self) -> Path:
        return self.directory / "state.json"

    def _open_alone(self, *, recover: bool) -> None:
        file_size = self.path.stat().st_size
        state = self._read_state()
        if state is not None and state.get("bytes") == file_size and self._caches_match(state):
            self._size = int(state["events"])
            self._end_offset = file_size
            self._last_hash = str(state["last_hash"])
        else:
            self._rebuild_caches(recover=recover)
        if self.writable:
            # Mark the caches as "in use": a crash from here on forces a rebuild.
            with contextlib.suppress(FileNotFoundError):
                self._state_path().unlink()
            if self._events_fd is None:
                self._events_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _read_state(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self._state_path().read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _caches_match(self, state: Mapping[str, Any]) -> bool:
        """Whether the caches a clean close vouched for really describe the events.

        Checks a power cut (or a close that never made them durable) cannot pass: every
        tree level holds ``size >> level`` hashes, ``offsets.bin`` holds one offset per
        event, and the last offset points at a complete last line that ends the file,
        hashes to the recorded ``last_hash`` and is the last leaf of the tree."""
        try:
            count = int(state.get("events", -1))
            end = int(state.get("bytes", -1))
            last_hash = str(state.get("last_hash", ""))
        except (TypeError, ValueError):
            return False
        if count < 0 or not self.tree.matches(count):
            return False
        try:
            offsets_size = self._offsets_path.stat().st_size
        except FileNotFoundError:
            offsets_size = 0
        if offsets_size != count * _OFFSET.size:
            return False
        if count == 0:
            return end == 0 and last_hash == ZERO_HASH
        with open(self._offsets_path, "rb") as offsets:
            offsets.seek((count - 1) * _OFFSET.size)
            (start,) = _OFFSET.unpack(offsets.read(_OFFSET.size))
        if not 0 <= start < end:
            return False
        with open(self.path, "rb") as handle:
            handle.seek(start)
            line = handle.read(end - start)
        if len(line) != end - start or not line.endswith(b"\n") or b"\n" in line[:-1]:
            return False
        body = line[:-1]
        if hashlib.sha256(body).hexdigest() != last_hash:
            return False
        return self._leaf_matches(count - 1, body)

    def _open_beside_writer(self) -> None:
        count = min(self.tree.size, self._offsets_path.stat().st_size // _OFFSET.size)
        with open(self.path, "rb") as handle, open(self._offsets_path, "rb") as offsets:
            while count > 0:
                offsets.seek((count - 1) * _OFFSET.size)
                (start,) = _OFFSET.unpack(offsets.read(_OFFSET.size))
                handle.seek(start)
                line = handle.readline()
                if line.endswith(b"\n") and self._leaf_matches(count - 1, line[:-1]):
                    self._size = count
                    self._end_offset = start + len(line)
                    self._last_hash = hashlib.sha256(line[:-1]).hexdigest()
                    return
                count -= 1
        self._size, self._end_offset, self._last_hash = 0, 0, ZERO_HASH

    def _leaf_matches(self, seq: int, body: bytes) -> bool:
        """The stored leaf hash of ``seq`` is that of its bytes (a cache a crash left
        stale is not trusted past the last event it hashes correctly)."""
        try:
            return self.tree.leaf_hash(seq) == leaf_hash(body)
        except (IndexError, OSError, ValueError):
            return False

    def _rebuild_caches(self, *, recover: bool) -> None:
        """Re-derive offsets and tree from the events, checking the chain on the way."""
        self.tree.reset()
        offsets = bytearray()
        prev = ZERO_HASH
        seq = 0
        position = 0
        batch: list[bytes] = []
        torn = b""
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    torn = line
                    break
                body = line[:-1]
                try:
                    value = _parse_line(seq, body)
                except LedgerCorruptError:
                    rest = handle.read()
                    if not rest:
                        torn = line  # a garbled last line: the tail was torn
                        break
                    raise
                if value.get("seq") != seq:
                    raise LedgerCorruptError(seq, f"has seq {value.get('seq')!r}")
                if value.get("prev") != prev:
                    raise LedgerCorruptError(
                        seq, "its prev does not match the previous event (chain broken)"
                    )
                offsets += _OFFSET.pack(position)
                batch.append(leaf_hash(body))
                if len(batch) >= 65536:
                    self.tree.append(batch)
                    batch = []
                prev = hashlib.sha256(body).hexdigest()
                position += len(line)
                seq += 1
        self.tree.append(batch)
        self.tree.flush()
        self._offsets_path.write_bytes(bytes(offsets))
        self._size, self._end_offset, self._last_hash = seq, position, prev
        if torn:
            if not (recover and self.writable):
                raise TornTailError(self.path, seq, torn)
            self._quarantine_torn_tail(torn)

    def _quarantine_torn_tail(self, torn: bytes) -> None:
        stamp = self._now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        quarantine = self.directory / f"torn-tail-after-{self._size}-{stamp}.bin"
        write_file_durably(quarantine, torn, mode=0o444)
        fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, self._end_offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._events_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self.append(
            Draft(
                type="ledger.recovered",
                actor="station",
                fields={
                    "torn_bytes": len(torn),
                    "torn_sha256": hashlib.sha256(torn).hexdigest(),
                    "quarantine_file": quarantine.name,
                    "complete_events_kept": self._size,
                },
            )
        )

    # -- reading ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._size

    @property
    def last_hash(self) -> str:
        return self._last_hash

    def root(self, size: int | None = None) -> bytes:
        return self.tree.root(self._size if size is None else size)

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        return self.tree.inclusion_proof(seq, self._size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self.tree.consistency_proof(old_size, self._size if new_size is None else new_size)

    def event(self, seq: int) -> Event:
        if not 0 <= seq < self._size:
            raise IndexError(f"no event seq {seq} (ledger has {self._size})")
        with open(self._offsets_path, "rb") as offsets:
            offsets.seek(seq * _OFFSET.size)
            (start,) = _OFFSET.unpack(offsets.read(_OFFSET.size))
        with open(self.path, "rb") as handle:
            handle.seek(start)
            body = handle.readline()[:-1]
        return Event(seq, body, _parse_line(seq, body))

    def events(self, start: int = 0) -> Generator[Event, None, None]:
        """Every event from ``start`` in order (parsed, not re-verified)."""
        for seq, body in self.raw_events(start):
            yield Event(seq, body, _parse_line(seq, body))

    def raw_events(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        if start >= self._size:
            return
        with open(self._offsets_path, "rb") as offsets:
            offsets.seek(start * _OFFSET.size)
            (position,) = _OFFSET.unpack(offsets.read(_OFFSET.size))
        with open(self.path, "rb") as handle:
            handle.seek(position)
            for seq in range(start, self._size):
                yield seq, handle.readline()[:-1]

    # -- writing --------------------------------------------------------------------------
    def append(self, draft: Draft) -> Event:
        return self.append_many([draft])[0]

    def append_many(self, drafts: list[Draft]) -> list[Event]:
        """Append events and make them durable with one fsync (batched commit)."""
        if self._fatal is not None:
            raise LedgerFatalError(self.path, self._fatal)
        if not self.writable or self._events_fd is None:
            raise LedgerError("ledger is open read-only")
        events: list[Event] = []
        lines: list[bytes] = []
        leaves: list[bytes] = []
        offsets = bytearray()
        prev = self._last_hash
        position = self._end_offset
        now = rfc3339(self._now())  # one commit, one time: the batch becomes durable together
        for offset_in_batch, draft in enumerate(drafts):
            _refuse_reserved(draft)
            value: dict[str, Any] = dict(draft.fields)
            value.update(
                seq=self._size + offset_in_batch,
                time=draft.time or now,
                station=self.station,
                type=draft.type,
                actor=draft.actor,
                prev=prev,
            )
            body = canonical_json(value)
            events.append(Event(value["seq"], body, value))
            lines.append(body + b"\n")
            leaves.append(leaf_hash(body))
            offsets += _OFFSET.pack(position)
            position += len(body) + 1
            prev = hashlib.sha256(body).hexdigest()
        # The events first, durable; only then the caches (sunlight: new state is swapped
        # in only after it is persisted). A reader sizes the ledger by the caches, so it
        # never sees hashes of an event that may yet be cut away.
        failing = self.path  # which file a failure is about, for the message
        try:
            data = b"".join(lines)
            view = memoryview(data)
            while view:
                written = os.write(self._events_fd, view)
                view = view[written:]
            os.fdatasync(self._events_fd)
            if self._size == 0:
                fsync_directory(self.directory)
            failing = self.tree.directory
            self.tree.append(leaves)
            self.tree.flush()
            failing = self._offsets_path
            with open(self._offsets_path, "ab") as handle:
                handle.write(offsets)
        except OSError as err:
            raise self._fail(err, failing) from err
        self._size += len(events)
        self._end_offset = position
        self._last_hash = prev
        return events

    def _fail(self, err: OSError, failing: Path) -> LedgerWriteError:
        """Put the ledger back at its last durable event and stop this writer.

        The events file is cut to the end of the last acknowledged event and fsynced
        (after a failed fsync the kernel may have dropped the pages: what is on disk is
        unknown, so the cut is what makes it known); cache entries past it are dropped.
        None of the failed batch was acknowledged, so nothing acknowledged is lost."""
        cut_error: OSError | None = None
        sync_error: OSError | None = None
        assert self._events_fd is not None
        try:
            os.ftruncate(self._events_fd, self._end_offset)
        except OSError as again:
            cut_error = again
        else:
            try:
                os.fsync(self._events_fd)
            except OSError as again:
                sync_error = again
        with contextlib.suppress(OSError):
            self.tree.rollback(self._size)
        with contextlib.suppress(OSError):
            if self._offsets_path.stat().st_size > self._size * _OFFSET.size:
                os.truncate(self._offsets_path, self._size * _OFFSET.size)
        self._fatal = LedgerWriteError(failing, last_seq=self._size - 1, cause=err,
                                       cut_error=cut_error, sync_error=sync_error)
        return self._fatal

    def reopen(self, *, recover: bool = False) -> None:
        """After a failed write, open this writer again as a fresh open would: the caches
        are rebuilt and the whole chain re-checked (no clean close vouches for them), and
        appends are accepted again only if that succeeds. Holds on to the writer lock
        throughout, so no other process can slip in between. With ``recover``, a torn tail
        (a write whose cut-back failed too) is quarantined as ``ledger recover`` does."""
        if not self.writable or self._lock_fd is None:
            raise LedgerError("only the writer can be reopened")
        failure = self._fatal
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
        with contextlib.suppress(OSError):
            self.tree.close()
        self.tree = TreeStore(self.directory / "tree")
        self._size, self._end_offset, self._last_hash = 0, 0, ZERO_HASH
        self._fatal = None
        with contextlib.suppress(FileNotFoundError):
            self._state_path().unlink()  # whatever it said, it is not trusted now
        try:
            self._rebuild_caches(recover=recover)  # a torn tail: quarantined only if asked
            if self._events_fd is None:
                self._events_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except BaseException:
            self._fatal = failure  # still stopped: the caller learns why from the raise
            raise

    @property
    def failed(self) -> LedgerWriteError | None:
        """The write failure that stopped this writer, if any (then reopen it)."""
        return self._fatal

    def close(self) -> None:
        """Release the writer. A clean close vouches for the caches in ``state.json``,
        written only after the caches themselves are durable (DESIGN.md, "Durable means
        fsynced, in order"); a writer that failed, or whose caches cannot be made
        durable, vouches for nothing, so the next open rebuilds and re-checks them."""
        if self._fatal is not None:
            self._pending_drop()
        with contextlib.suppress(OSError):
            self.tree.close()
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
            if self._fatal is None:
                try:
                    self._sync_caches()
                    write_file_durably(
                        self._state_path(),
                        json.dumps({"events": self._size, "bytes": self._end_offset,
                                    "last_hash": self._last_hash}).encode(),
                    )
                except OSError:
                    pass  # not vouched for: the next open rebuilds the caches
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _pending_drop(self) -> None:
        with contextlib.suppress(OSError):
            self.tree.rollback(self._size)

    def _sync_caches(self) -> None:
        self.tree.sync()
        fd = os.open(self._offsets_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(self.directory)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
