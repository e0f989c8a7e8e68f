"""One whole scrub pass: re-hash every stored original and re-verify the ledger (F34).

What a clean pass proves, at the time it ran:
* every file the ledger or the catalog says is stored (approved deletions excepted) is in
  the store under its SHA-256 name, a regular file of mode 0444, of the recorded size,
  and its bytes — re-read from the disk, not the page cache — hash to its name;
* the store holds nothing else: an object the ledger does not record is found too;
* the ledger's hash chain is intact from seq 0, every event canonical, every entry of the
  stored Merkle tree and of the offset cache agrees with the events (so every inclusion
  proof handed out is right, not only the root), and the latest signed checkpoint
  verifies with the station key and matches the events it covers.

What it does not prove: that a file was not changed and changed back between passes, or
that the station key was not stolen (witnesses answer that).

A mismatch is an **integrity alarm, never a repair** (invariant 2), raised the moment it
is found (a pass over a large store takes days): a ``scrub.alarm`` ledger event by the
acting account (``station`` for the schedule) carrying a review flag on the clip, a
journald line at priority crit, and a row on the web admin page. Nothing in the store or
the ledger is touched. An alarm already open in the review queue for the same file and
finding is not raised again; every pass still lists it.

Every completed pass is a ``scrub.pass`` event (start, end, objects, bytes, coverage,
every mismatch), projected into ``scrub_passes`` so ``scrub status`` reads the catalog.
**A scheduled pass interrupted by a restart resumes**: it saves where it is (the last
object re-hashed, in ``sha256`` order, with its counts and mismatches) to
``run/scrub-progress.json`` every ``SAVE_EVERY_S`` and when stopped; the next start
re-verifies the ledger and goes on after that object, and the ``scrub.pass`` event says
how often it was resumed. A crash loses at most ``SAVE_EVERY_S`` of reading; a lost or
unreadable progress file, or one older than the window the schedule allows, means the
pass starts again from the first object. ``scrub run`` always makes a fresh whole pass.

Concurrency: the pass reads beside the writer (never the ledger's writer lock); it holds
the station's in-process lock only for short batches of tree lookups (the writer appends
to the tree) and to record what it found. An object an
ingest has published but not yet recorded is no "extra": an extra is judged only if the
file existed when the pass started and is still unrecorded, checked under the writer's
lock, when the pass ends (an ingest records under that lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from evidence_station.catalog import clip_id_for
from evidence_station.identity import Actor
from evidence_station.scrub.pace import MB, Pacer
from evidence_station.station import Station
from hashing.checkpoint import CheckpointError
from hashing.durable import write_file_durably
from hashing.event_scan import scan_events
from hashing.merkle import leaf_hash, node_hash

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
READ_ONLY = 0o444
PROGRESS_FILE = "scrub-progress.json"  # in DATA_DIR/run: where a scheduled pass resumes
SAVE_EVERY_S = 30.0
MAX_LISTED = 1000  # mismatches kept in one scrub.pass event (the count is always exact)
_HEX = frozenset("0123456789abcdef")

# What a mismatch found (the review flag's kind is ``integrity_<what>``).
FOUND = ("changed", "missing", "mode", "unreadable", "extra", "ledger", "checkpoint")


@dataclass(frozen=True)
class Mismatch:
    """One thing the pass found wrong."""

    what: str  # one of FOUND
    detail: str
    sha256: str | None = None
    clip_id: str | None = None
    path: str | None = None  # relative to the data dir
    seq: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes two passes' findings "the same alarm"."""
        return (f"integrity_{self.what}", self.sha256 or self.path or self.detail)


@dataclass
class PassResult:
    pass_id: str
    trigger: str
    started_at: datetime
    ended_at: datetime | None = None
    events: int = 0
    objects: int = 0  # files re-hashed to the end
    bytes: int = 0  # bytes re-read and hashed
    expected_objects: int = 0
    expected_bytes: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    alarms: list[int] = field(default_factory=list)  # seqs of the scrub.alarm events raised
    seq: int | None = None  # the scrub.pass event
    completed: bool = False
    resumed: int = 0  # how many times this pass was resumed after a restart

    @property
    def coverage_bp(self) -> int:
        """Share of the recorded bytes re-read and hashed this pass, in basis points (the
        ledger holds no floats); a missing or unreadable file is what lowers it."""
        if self.expected_bytes == 0:
            return 10_000 if self.completed else 0
        return 10_000 * min(self.bytes, self.expected_bytes) // self.expected_bytes

    @property
    def coverage(self) -> float:
        """The same in percent."""
        return self.coverage_bp / 100

    @property
    def ok(self) -> bool:
        return not self.mismatches


class Progress:
    """What a terminal shows (``scrub run``); the default shows nothing."""

    def begin(self, objects: int, total_bytes: int) -> None:
        """The pass knows what it will read."""

    def advance(self, count: int) -> None:
        """``count`` more bytes were hashed."""


class Interrupted(Exception):
    """The daemon is stopping: the pass ends without a ``scrub.pass`` event."""


@dataclass(frozen=True)
class _Expected:
    sha256: str
    size: int
    clip_id: str


def run_pass(station: Station, actor: Actor, *, trigger: str, max_read_mb_s: float,
             progress: Progress | None = None, stopping: Callable[[], bool] = lambda: False,
             pacer: Pacer | None = None, resume_within: timedelta | None = None) -> PassResult:
    """One whole pass over ``station`` (the writer's station or a view of it), raising each
    alarm as it is found and, once complete, recording its ``scrub.pass`` event, both as
    ``actor``. Reads are paced at ``max_read_mb_s``, slower while a docking session runs
    (:func:`docks_copying`).

    With ``resume_within`` (the schedule's passes), the pass saves where it is to
    ``run/scrub-progress.json`` now and then and when stopped, and a pass started within
    that time before is resumed from there instead of started again. Without it (``scrub
    run``) the pass is whole and fresh and leaves the schedule's progress alone."""
    progress = progress or Progress()
    limiter = pacer or Pacer(max_read_mb_s * MB, lambda: docks_copying(station))
    state = _PassState.begin(station, actor, trigger, resume_within)
    result = state.result
    ingested = _verify_ledger(station, state)
    expected, deleted = _expected_objects(station, ingested)
    result.expected_objects = len(expected)
    result.expected_bytes = sum(item.size for item in expected.values())
    progress.begin(len(expected), result.expected_bytes)
    found_before = _listed_objects(station)
    try:
        for sha256 in sorted(expected):
            if state.after is not None and sha256 <= state.after:
                continue  # re-hashed before the restart
            if stopping():
                raise Interrupted()
            _scrub_object(station, expected[sha256], state, limiter, progress, stopping)
            state.done(sha256)
    except Interrupted:
        state.save()
        raise
    _judge_extras(station, found_before, expected, deleted, state)
    result.ended_at = station.clock.now()
    result.completed = True
    _record_pass(station, actor, result, max_read_mb_s)
    state.forget()
    return result


class _PassState:
    """A pass in progress: its result, the alarms already raised, and (for the schedule's
    passes) the progress file a restart resumes from. The file is a cache, not evidence:
    alarms are ledger events the moment they are found, and a lost or unreadable file only
    means the next pass starts from the first object."""

    def __init__(self, station: Station, actor: Actor, result: PassResult,
                 started_wall: float, path: Path | None, after: str | None) -> None:
        self.station = station
        self.actor = actor
        self.result = result
        self.started_wall = started_wall
        self.path = path
        self.after = after
        self.saved_at = time.monotonic()
        with station.lock:
            station.catalog.catch_up(station.ledger)
            self.raised = _open_alarm_keys(station)

    @classmethod
    def begin(cls, station: Station, actor: Actor, trigger: str,
              resume_within: timedelta | None) -> _PassState:
        path = station.layout.root / "run" / PROGRESS_FILE if resume_within else None
        saved = _load_progress(path) if path is not None else None
        now = station.clock.now()
        if saved is not None and resume_within is not None:
            started = datetime.fromisoformat(saved["started_at"])
            if timedelta(0) <= now - started <= resume_within:
                result = PassResult(
                    pass_id=saved["pass_id"], trigger=saved["trigger"], started_at=started,
                    objects=saved["objects"], bytes=saved["bytes"],
                    mismatches=[Mismatch(**m) for m in saved["mismatches"]],
                    alarms=list(saved["alarms"]), resumed=saved["resumed"] + 1)
                log.info("scrub: resuming pass %s after %s", result.pass_id, saved["after"])
                return cls(station, actor, result, saved["started_wall"], path, saved["after"])
        result = PassResult(pass_id=f"scrub-{now:%Y%m%dT%H%M%S.%fZ}", trigger=trigger,
                            started_at=now)
        return cls(station, actor, result, _wall_now(), path, None)

    def found(self, mismatch: Mismatch) -> None:
        """Journald crit at once, and a ``scrub.alarm`` event with its review flag unless
        the same alarm is still open. Never a repair: nothing here writes to the store."""
        if any(known.key == mismatch.key for known in self.result.mismatches):
            return  # found before the restart (the ledger is verified again on resume)
        self.result.mismatches.append(mismatch)
        log.critical("完整性告警 integrity alarm: %s %s: %s", mismatch.what,
                     mismatch.path or mismatch.sha256 or "", mismatch.detail)
        from evidence_station.casework.service import record_own

        kind, key = mismatch.key
        with self.station.lock:
            if (kind, key) in self.raised:
                return
            self.raised.add((kind, key))
            figures = {"key": key, "found": mismatch.what, "detail": mismatch.detail[:500],
                       "sha256": mismatch.sha256, "path": mismatch.path,
                       "event_seq": mismatch.seq, "pass_id": self.result.pass_id}
            event = record_own(self.station, self.actor, "scrub.alarm", {
                "pass_id": self.result.pass_id, **_mismatch_fields(mismatch),
                "flags": [{"flag_id": f"S{self.station.ledger.size}",
                           "clip_id": mismatch.clip_id, "kind": kind, "article": "R11",
                           "figures": figures}]})
        self.result.alarms.append(event.seq)

    def done(self, sha256: str) -> None:
        self.after = sha256
        if self.path is not None and time.monotonic() - self.saved_at >= SAVE_EVERY_S:
            self.save()

    def save(self) -> None:
        if self.path is None or self.after is None:
            return
        result = self.result
        state = {"pass_id": result.pass_id, "trigger": result.trigger,
                 "started_at": result.started_at.isoformat(), "started_wall": self.started_wall,
                 "after": self.after, "objects": result.objects, "bytes": result.bytes,
                 "mismatches": [asdict(m) for m in result.mismatches],
                 "alarms": result.alarms, "resumed": result.resumed}
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        write_file_durably(self.path, json.dumps(state).encode(), mode=0o600)
        self.saved_at = time.monotonic()

    def forget(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _load_progress(path: Path) -> dict[str, Any] | None:
    """The saved progress, or None when there is none or it is not usable."""
    try:
        saved = json.loads(path.read_bytes())
        datetime.fromisoformat(saved["started_at"])
        for key, kind in (("pass_id", str), ("trigger", str), ("after", str),
                          ("objects", int), ("bytes", int), ("resumed", int),
                          ("started_wall", float), ("mismatches", list), ("alarms", list)):
            if not isinstance(saved[key], kind):
                return None
        for mismatch in saved["mismatches"]:
            Mismatch(**mismatch)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return saved  # type: ignore[no-any-return]


def docks_copying(station: Station) -> bool:
    """A docking session (daemon dock or CLI ``ingest``) is running: its ``session.start``
    is in the catalog and its ``session.end`` not yet. Read on the pass's own catalog
    connection, so it sees sessions of every process that writes this station."""
    return bool(list(station.catalog.db.query(
        "select 1 from sessions where state = 'running' limit 1")))


def _wall_now() -> float:
    """Real time, only to compare with file ctimes (which the kernel stamps in real time;
    the station clock may be pinned in tests)."""
    return time.time()


# -- the ledger ------------------------------------------------------------------------------
def _verify_ledger(station: Station, state: _PassState) -> dict[str, int]:
    """Chain, canonical form, Merkle tree vs its cache, and the latest checkpoint; returns
    sha256 → size of every file the (verified prefix of the) ledger says is stored."""
    ledger = station.ledger
    result = state.result
    rel = str(ledger.path.relative_to(station.layout.root))
    latest = None
    try:  # the checkpoint first, then the size: a checkpoint issued meanwhile is not "ahead"
        latest = station.latest_checkpoint()
    except CheckpointError as err:
        state.found(Mismatch("checkpoint", f"the latest checkpoint does not "
                                          f"verify with the station key: {err}",
                                          path="ledger/checkpoint"))
    size = ledger.size
    root_at = {size}
    if latest is not None and latest[0].size <= size:
        root_at.add(latest[0].size)
    caches = _CacheCheck(station, size)
    try:
        with open(ledger.path, "rb") as handle:
            lines = (caches.feed(line) for _, line in zip(range(size), handle, strict=False))
            scan = scan_events(lines, root_at=root_at)
        if not scan.findings:  # a broken chain is the finding; its caches are moot
            caches.finish()
    finally:
        caches.close()
    result.events = scan.count
    for problem in caches.problems:
        state.found(problem)
    for finding in scan.findings:
        state.found(Mismatch("ledger", f"event {finding.seq}: {finding.reason}",
                                          path=rel, seq=finding.seq))
    if not scan.findings:
        if scan.count != size:
            state.found(Mismatch(
                "ledger", f"{scan.count} events read, the ledger counts {size}", path=rel))
        elif scan.root != ledger.root(size):
            state.found(Mismatch(
                "ledger", f"the stored Merkle tree (cache) disagrees with the events at size "
                f"{size}", path="ledger/tree"))
        if latest is not None:
            checkpoint = latest[0]
            if checkpoint.size > size:
                state.found(Mismatch(
                    "checkpoint", f"the signed checkpoint covers {checkpoint.size} events, the "
                    f"ledger has {size}: events were removed", path="ledger/checkpoint"))
            elif scan.roots.get(checkpoint.size) != checkpoint.root:
                state.found(Mismatch(
                    "checkpoint", f"the first {checkpoint.size} events do not give the signed "
                    "checkpoint's root: signed history was rewritten", path="ledger/checkpoint"))
    return dict(scan.ingested)


class _CacheCheck:
    """Every entry of the stored Merkle tree and of ``offsets.bin`` against the events, not
    just the root: a cache entry a power cut or a disk damaged gives wrong inclusion proofs
    (receipts, discs, access copies) or serves the wrong event, while the root can still
    match. Fed each event line while the chain is scanned (one read of the ledger); the
    tree is read through its public lookups in short batches under the writer's lock,
    since the writer appends to it meanwhile."""

    BATCH = 4096

    def __init__(self, station: Station, size: int) -> None:
        self.station = station
        self.size = size
        self.position = 0
        self.count = 0
        self.stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees
        self.pending: list[tuple[int, int, bytes]] = []  # (level, index, computed)
        self.problems: list[Mismatch] = []
        self.offsets: BinaryIO | None = None
        try:
            self.offsets = open(station.ledger.directory / "offsets.bin", "rb")  # noqa: SIM115
        except OSError as err:
            self.problems.append(Mismatch("ledger", f"offsets.bin cannot be read ({err})",
                                          path="ledger/offsets.bin"))

    def feed(self, line: bytes) -> bytes:
        if not self.problems:
            self._offset(self.count, self.position)
            node = leaf_hash(line[:-1] if line.endswith(b"\n") else line)
            level, index = 0, self.count
            self.pending.append((0, index, node))
            while self.stack and self.stack[-1][0] == level:
                _, left = self.stack.pop()
                node, level, index = node_hash(left, node), level + 1, index // 2
                self.pending.append((level, index, node))
            self.stack.append((level, node))
            if len(self.pending) >= self.BATCH:
                self._compare()
        self.position += len(line)
        self.count += 1
        return line

    def _offset(self, seq: int, position: int) -> None:
        raw = self.offsets.read(8) if self.offsets is not None else b""
        if len(raw) != 8 or int.from_bytes(raw, "little") != position:
            self.problems.append(Mismatch(
                "ledger", f"offsets.bin entry {seq} does not point at event {seq}: the offset "
                "cache disagrees with the events", path="ledger/offsets.bin", seq=seq))

    def _compare(self) -> None:
        tree = self.station.ledger.tree
        with self.station.lock:
            for level, index, computed in self.pending:
                width = 1 << level
                try:
                    stored = tree.subtree_hash(index * width, (index + 1) * width)
                except (IndexError, OSError, ValueError) as err:
                    stored = f"unreadable ({err})".encode()
                if stored != computed:
                    self.problems.append(Mismatch(
                        "ledger", f"the stored Merkle tree (cache) level {level} entry {index} "
                        "disagrees with the events: inclusion proofs from it would be wrong",
                        path=f"ledger/tree/level-{level:02d}.bin", seq=index * width))
                    break
        self.pending = []

    def finish(self) -> None:
        if not self.problems:
            self._compare()

    def close(self) -> None:
        if self.offsets is not None:
            self.offsets.close()


def _expected_objects(station: Station,
                      ingested: dict[str, int]) -> tuple[dict[str, _Expected], set[str]]:
    """What the ledger and the catalog say is stored, approved deletions excepted. Both
    are asked: a tampered ledger stops the scan early, an edited catalog may drop a row."""
    expected: dict[str, _Expected] = {}
    for sha256, size in ingested.items():
        expected[sha256] = _Expected(sha256, int(size), clip_id_for(sha256))
    db = station.catalog.db
    deleted = {str(row["sha256"]) for row in db.query("select sha256 from deletions")}
    for row in db.query("select clip_id, sha256, size from clips where deleted_at is null"):
        sha256 = str(row["sha256"])
        if sha256 not in deleted:
            expected.setdefault(sha256, _Expected(sha256, int(row["size"]), str(row["clip_id"])))
    for sha256 in deleted:
        expected.pop(sha256, None)
    return expected, deleted


# -- the store -------------------------------------------------------------------------------
def _scrub_object(station: Station, item: _Expected, state: _PassState, limiter: Pacer,
                  progress: Progress, stopping: Callable[[], bool]) -> None:
    path = station.store.path_for(item.sha256)
    rel = str(path.relative_to(station.layout.root))
    result = state.result

    def found(what: str, detail: str) -> None:
        state.found(Mismatch(what, detail, item.sha256, item.clip_id, rel))

    try:
        info = path.lstat()
    except FileNotFoundError:
        found("missing", "the ledger records this file, the store does not have it")
        return
    if not stat.S_ISREG(info.st_mode):
        found("changed", f"is not a regular file (mode {stat.filemode(info.st_mode)})")
        return
    if stat.S_IMODE(info.st_mode) != READ_ONLY:
        found("mode", f"mode {stat.S_IMODE(info.st_mode):04o}, originals are 0444 (read-only)")
    sized = "" if info.st_size == item.size else \
        f"{info.st_size} bytes where the ledger says {item.size}; "
    try:
        digest, count = _hash_throttled(path, limiter, progress, stopping)
    except OSError as err:
        found("unreadable", f"{sized}reading it failed: {err.strerror or err}")
        return
    result.bytes += count
    result.objects += 1
    if digest != item.sha256:  # one finding per file: a wrong size is a change too
        found("changed", f"{sized}its bytes hash to {digest}: the original was altered or "
              "the disk damaged it")


def _hash_throttled(path: Path, limiter: Pacer, progress: Progress,
                    stopping: Callable[[], bool]) -> tuple[str, int]:
    """SHA-256 of ``path`` read from the disk (the clean cached pages dropped first and
    after each chunk, so a bad sector is not hidden by the cache and the cache stays the
    docks'), paced by ``limiter``, on the calling (idle-priority) thread."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        digest = hashlib.sha256()
        size = os.fstat(fd).st_size
        offset = 0
        while True:
            if offset < size and stopping():  # a file read to its end is finished first
                raise Interrupted()
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            os.posix_fadvise(fd, offset, len(chunk), os.POSIX_FADV_DONTNEED)
            offset += len(chunk)
            progress.advance(len(chunk))
            limiter.take(len(chunk))  # paid after the read: the average holds either way
        return digest.hexdigest(), offset
    finally:
        os.close(fd)


def _listed_objects(station: Station) -> dict[Path, float]:
    """Every entry under ``store/objects`` with its ctime, at the start of the pass."""
    listed: dict[Path, float] = {}
    for path in station.store.iter_objects():
        with contextlib.suppress(FileNotFoundError):
            listed[path] = path.lstat().st_ctime
    return listed


def _judge_extras(station: Station, listed: dict[Path, float], expected: dict[str, _Expected],
                  deleted: set[str], state: _PassState) -> None:
    candidates = {path: ctime for path, ctime in listed.items()
                  if not (path.name in expected and path == station.store.path_for(path.name))}
    if not candidates:
        return
    with station.lock:  # an ingest records under this lock: what is unrecorded now stays so
        station.catalog.catch_up(station.ledger)
        recorded = {str(row["sha256"]) for row in
                    station.catalog.db.query("select sha256 from clips where deleted_at is null")}
    for path, ctime in sorted(candidates.items()):
        name = path.name
        well_named = len(name) == 64 and set(name) <= _HEX and path == station.store.path_for(name)
        if well_named and name in recorded and name not in deleted:
            continue  # recorded while the pass ran (published just before it started)
        if ctime > state.started_wall:
            continue  # appeared during the pass: the next pass judges it
        rel = str(path.relative_to(station.layout.root))
        if name in deleted and well_named:
            detail = ("its deletion was approved and recorded, yet the file is still stored "
                      "(the removal after the tombstone did not happen)")
        elif well_named:
            detail = ("stored, but no ledger event records it (planted, or an ingest "
                      "interrupted between storing and recording; docking that camera again "
                      "records it)")
        else:
            detail = "not a stored original's name or place: nothing in the store may be here"
        state.found(Mismatch("extra", detail, name if well_named else None,
                             clip_id_for(name) if well_named else None, rel))


# -- alarms and the record -------------------------------------------------------------------
def _open_alarm_keys(station: Station) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for flag in station.catalog.flags.review():
        if str(flag["kind"]).startswith("integrity_"):
            figures = flag.get("figures") or {}
            keys.add((str(flag["kind"]), str(figures.get("key", ""))))
    return keys


def _mismatch_fields(mismatch: Mismatch) -> dict[str, Any]:
    """A mismatch as event fields (``seq`` is the ledger's own field: ``event_seq``)."""
    fields = {key: value for key, value in asdict(mismatch).items() if value is not None}
    if "seq" in fields:
        fields["event_seq"] = fields.pop("seq")
    return fields


def _record_pass(station: Station, actor: Actor, result: PassResult,
                 max_read_mb_s: float) -> None:
    from evidence_station.casework.service import record_own

    assert result.ended_at is not None
    with station.lock:
        event = record_own(station, actor, "scrub.pass", {
            "pass_id": result.pass_id, "trigger": result.trigger,
            "started_at": result.started_at.isoformat(), "ended_at": result.ended_at.isoformat(),
            "events": result.events, "objects": result.objects, "bytes": result.bytes,
            "expected_objects": result.expected_objects,
            "expected_bytes": result.expected_bytes, "coverage_bp": result.coverage_bp,
            "mismatch_count": len(result.mismatches),
            "mismatches": [_mismatch_fields(m) for m in result.mismatches[:MAX_LISTED]],
            "alarms": result.alarms, "resumed": result.resumed,
            "max_read_bytes_s": int(max_read_mb_s * MB)})
    result.seq = event.seq


# -- status ----------------------------------------------------------------------------------
def last_pass(station: Station) -> dict[str, Any] | None:
    """The last completed pass, from the catalog (``scrub_passes``)."""
    db = station.catalog.db
    if "scrub_passes" not in db.table_names():
        return None
    rows = list(db.query("select * from scrub_passes order by seq desc limit 1"))
    if not rows:
        return None
    row = dict(rows[0])
    row["mismatches"] = json.loads(row["mismatches"] or "[]")
    return row


def due_after(station: Station, every: timedelta) -> datetime | None:
    """``every`` after the end of the last completed pass (after the station's first event
    when none completed yet), but never before now; None for an empty ledger."""
    last = last_pass(station)
    if last is not None:
        since = datetime.fromisoformat(str(last["ended_at"]))
    elif station.ledger.size:
        since = datetime.fromisoformat(str(station.ledger.event(0).fields["time"]))
    else:
        return None
    return max(since + every, station.clock.now())


def status(station: Station, every: timedelta) -> dict[str, Any]:
    """What ``scrub status`` says: the last complete pass, when the next is due, and every
    mismatch that pass found (with the open integrity alarms of the review queue)."""
    last = last_pass(station)
    due = due_after(station, every)
    next_due = due.isoformat() if due is not None else None
    alarms = [flag for flag in station.catalog.flags.review()
              if str(flag["kind"]).startswith("integrity_")]
    return {
        "last_pass": None if last is None else {
            key: last[key] for key in ("pass_id", "seq", "actor", "trigger", "started_at",
                                       "ended_at", "events", "objects", "bytes",
                                       "expected_objects", "expected_bytes", "coverage",
                                       "mismatch_count")},
        "next_due": next_due,
        "every_s": int(every.total_seconds()),
        "mismatches": [] if last is None else [
            {"clip_id": m.get("clip_id"), "sha256": m.get("sha256"), "found": m["what"],
             "detail": m["detail"], "path": m.get("path"), "event_seq": m.get("event_seq")}
            for m in last["mismatches"]],
        "open_alarms": [{"flag_id": flag["flag_id"], "clip_id": flag["clip_id"],
                         "kind": flag["kind"], "raised_at": flag["raised_at"],
                         "sha256": (flag.get("figures") or {}).get("sha256"),
                         "detail": (flag.get("figures") or {}).get("detail")}
                        for flag in alarms],
    }
