"""The witness: check an ``add-checkpoint`` request and cosign it, or say why not.

Every rule and status code is from C2SP tlog-witness, "add-checkpoint":

* 400 — the body is not a request, the checkpoint cannot be parsed, or the old size is
  larger than the checkpoint's size;
* 404 — the checkpoint's origin is not a log this witness follows;
* 403 — no signature by a key the witness trusts for that origin, or a line with a
  trusted key's name and id whose signature fails;
* 409 — the old size is not the size of the latest checkpoint the witness cosigned for
  the origin (zero if none); the body is that size and a newline, ``text/x.tlog.size``;
* 422 — a size-0 checkpoint without the empty tree's root, a non-empty proof from size 0,
  a consistency proof that does not verify, or equal sizes with different roots;
* 200 — the new checkpoint is persisted, then the body is our cosignature line.

The check of the old size and the update of the state are one SQLite transaction
(``BEGIN IMMEDIATE``, so also across processes on the same file) under a lock, because
the spec warns that otherwise two requests can roll the witness back. The state is
persisted (``synchronous=FULL``) before the answer is sent: a witness killed at any point
holds either the old or the new checkpoint, never a cosignature it did not record.

A known origin with a valid signature that fails a consistency check is logged in the
``refusal`` table ("the witness MAY log the request … as it might be proof of log
misbehavior"): the forked checkpoint is kept as evidence.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.witness.protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    RequestMalformed,
    parse_request,
)
from hashing.checkpoint import Checkpoint, CheckpointMalformedError, read_checkpoint
from hashing.cosignature import Cosigner, add_signature_lines
from hashing.merkle import EMPTY_ROOT, ProofError, verify_consistency
from hashing.note import NoteError, Verifier, split_note

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, content type, body."""

    status: int
    body: str
    content_type: str = TEXT


@dataclass(frozen=True)
class Held:
    """The latest checkpoint the witness cosigned for one origin."""

    origin: str
    size: int
    root: bytes
    note: str  # the log's note with our cosignature: what GET …/checkpoint serves


class WitnessState:
    """Latest cosigned size and root per origin, in SQLite (``witness.sqlite``).

    One row per origin, replaced only inside :meth:`transaction`; ``refusal`` keeps the
    validly signed checkpoints that were refused for inconsistency."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # isolation_level=None: we say BEGIN IMMEDIATE ourselves (the lock is taken before
        # the old size is read, not at the first write).
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")  # a commit is durable when it returns
        self.db.execute("pragma busy_timeout=10000")
        self.db.execute("create table if not exists checkpoint (origin text primary key, "
                        "size integer not null, root blob not null, note text not null, "
                        "updated_at text not null)")
        self.db.execute("create table if not exists refusal (id integer primary key, "
                        "origin text not null, status integer not null, reason text not null, "
                        "old_size integer not null, note text not null, at text not null)")
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("begin immediate")
            try:
                yield self.db
            except BaseException:
                self.db.execute("rollback")
                raise
            self.db.execute("commit")

    def held(self, origin: str, db: sqlite3.Connection | None = None) -> Held | None:
        row = (db or self.db).execute(
            "select size, root, note from checkpoint where origin = ?", (origin,)).fetchone()
        return None if row is None else Held(origin, int(row[0]), bytes(row[1]), str(row[2]))

    def refusals(self, origin: str | None = None) -> list[dict[str, object]]:
        rows = self.db.execute(
            "select origin, status, reason, old_size, note, at from refusal "
            + ("where origin = ? " if origin else "") + "order by id", (origin,) if origin else ())
        return [dict(zip(("origin", "status", "reason", "old_size", "note", "at"), row, strict=True))
                for row in rows]

    def close(self) -> None:
        self.db.close()


class Witness:
    """A witness: its cosigning key, the logs it follows (origin → trusted keys), its state."""

    def __init__(self, cosigner: Cosigner, logs: list[Verifier], state: WitnessState,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.cosigner = cosigner
        self.logs: dict[str, list[Verifier]] = {}
        for verifier in logs:  # "the key's name is the log's origin" (DESIGN.md)
            self.logs.setdefault(verifier.name, []).append(verifier)
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            request = parse_request(body)
            checkpoint = read_checkpoint(request.note)
        except (RequestMalformed, CheckpointMalformedError) as err:
            return Answer(400, f"bad request: {err}\n")
        trusted = self.logs.get(checkpoint.origin)
        if trusted is None:
            return Answer(404, f"unknown log {checkpoint.origin!r}\n")
        refusal = _check_signature(request.note, trusted)
        if refusal is not None:
            return Answer(403, refusal)
        if request.old_size > checkpoint.size:
            return Answer(400, f"old size {request.old_size} is larger than the checkpoint's "
                               f"{checkpoint.size}\n")
        return self._extend(request, checkpoint)

    def _extend(self, request: AddCheckpoint, checkpoint: Checkpoint) -> Answer:
        body = checkpoint_body(request.note)
        with self.state.transaction() as db:
            held = self.state.held(checkpoint.origin, db)
            held_size, held_root = (held.size, held.root) if held else (0, EMPTY_ROOT)
            if request.old_size != held_size:
                return Answer(409, f"{held_size}\n", SIZE_CONTENT_TYPE)
            problem = _inconsistency(request, checkpoint, held_root)
            if problem is not None:
                self._log_refusal(db, request, checkpoint, problem)
                return Answer(422, problem + "\n")
            timestamp = max(1, int(self.clock.now().timestamp()))
            line = self.cosigner.cosign(body, timestamp)
            kept = add_signature_lines(request.note, [line])
            db.execute("insert into checkpoint (origin, size, root, note, updated_at) "
                       "values (?, ?, ?, ?, ?) on conflict(origin) do update set "
                       "size = excluded.size, root = excluded.root, note = excluded.note, "
                       "updated_at = excluded.updated_at",
                       (checkpoint.origin, checkpoint.size, checkpoint.root, kept,
                        self.clock.now().isoformat()))
        # committed (durable) above; only now is the cosignature handed out
        return Answer(200, line)

    def _log_refusal(self, db: sqlite3.Connection, request: AddCheckpoint,
                     checkpoint: Checkpoint, problem: str) -> None:
        log.critical("witness: refused %s at size %d: %s", checkpoint.origin, checkpoint.size,
                     problem)
        db.execute("insert into refusal (origin, status, reason, old_size, note, at) "
                   "values (?, 422, ?, ?, ?, ?)",
                   (checkpoint.origin, problem, request.old_size, request.note,
                    self.clock.now().isoformat()))

    def latest(self, origin_hash: str) -> Answer:
        """GET <origin hash>/checkpoint (tlog-witness, "Monitor Retrieval Mechanism")."""
        import hashlib

        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                held = self.state.held(origin)
                if held is not None:
                    return Answer(200, held.note)
        return Answer(404, "no checkpoint cosigned for that origin\n")


def checkpoint_body(note: str) -> str:
    """The note's text (the three checkpoint lines and any extension lines)."""
    text, _ = split_note(note)
    return text


def _check_signature(note: str, trusted: list[Verifier]) -> str | None:
    """Why the note is not signed by the log (403), or None. Signatures by unknown keys are
    ignored ("it MUST ignore signatures from unknown keys")."""
    text, signatures = split_note(note)
    found = False
    for name, raw in signatures:
        for verifier in trusted:
            if name != verifier.name or raw[:4] != verifier.key_id:
                continue
            try:
                verifier.public_key.verify(raw[4:], text.encode())
            except InvalidSignature:
                return f"the signature by {name} does not verify\n"
            found = True
    if not found:
        return "no signature by a key this witness trusts for the origin\n"
    return None


def _inconsistency(request: AddCheckpoint, checkpoint: Checkpoint, held_root: bytes) -> str | None:
    """Why the checkpoint does not extend the one held (422), or None."""
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        return "a checkpoint of size 0 must have the empty tree's root"
    if request.old_size == 0 and request.proof:
        return "the consistency proof must be empty from size 0"
    try:
        verify_consistency(old_size=request.old_size, new_size=checkpoint.size,
                           old_root=held_root, new_root=checkpoint.root, proof=request.proof)
    except ProofError as err:
        return (f"checkpoint at size {checkpoint.size} does not extend the one cosigned at size "
                f"{request.old_size}: {err}")
    return None


def load_witness(data_dir: Path, logs: list[str], name: str | None,
                 clock: Clock = SYSTEM_CLOCK) -> Witness:
    """The witness of a station's data dir: its key (made on first use) and state there."""
    from evidence_station.witness.keys import witness_cosigner

    verifiers = []
    for line in logs:
        try:
            verifiers.append(Verifier.parse(line))
        except NoteError as err:
            from evidence_station.errors import ConfigError

            raise ConfigError(path="[witness_server] logs", detail=str(err)) from err
    cosigner = witness_cosigner(data_dir, name)
    return Witness(cosigner, verifiers, WitnessState(data_dir / "witness.sqlite"), clock)
