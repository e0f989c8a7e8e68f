"""One station's data directory: store, catalog, ledger, keys, checkpoints.

``init`` creates it; :meth:`Station.open` hands out the parts. Opening for writing
takes the ledger's writer lock, removes leftover temp copies, brings the catalog up to
the ledger, and closes any docking session a crash left open with an explicit
``session.end`` event, so what happened is in the ledger rather than guessed.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence_station.catalog import Catalog
from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config
from evidence_station.errors import (
    AlreadyInitialisedError,
    IntegrityAlarm,
    LedgerProblem,
    NotInitialisedError,
)
from evidence_station.event_types import EVENT_TYPES
from evidence_station.group_commit import committer_for
from evidence_station.install import remember_software_version
from evidence_station.store import Store
from hashing import durable
from hashing.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointHistoryError,
    CheckpointStore,
    open_checkpoint,
    sign_checkpoint,
)
from hashing.durable import write_file_durably
from hashing.ledger import Draft, Event, Ledger, LedgerError, TornTailError, check_draft
from hashing.note import Signer, Verifier

STATION_FILE = "station.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A globally unique origin (C2SP tlog-checkpoint: "a schema-less URL containing neither
# Unicode spaces nor plus (U+002B)"): a DNS-style host with a dot, then a path.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_URL_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+(?:/[A-Za-z0-9._-]+)+$")
_MAX_URL_NAME = 200


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def station_file(self) -> Path:
        return self.root / STATION_FILE

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def signer_key(self) -> Path:
        return self.root / "keys" / "station.key"

    @property
    def verifier_key(self) -> Path:
        return self.root / "keys" / "station.vkey"


def is_url_name(station: str) -> bool:
    """A schema-less URL-like station name (``ybj.dxh.wuhan.example/station-01``)."""
    return "/" in station


def origin_for(station: str) -> str:
    """The checkpoint origin of a station (DESIGN.md, "Witnesses"): a URL-like name is
    used verbatim, so it is unique across every witness that follows it; a short name
    keeps the origin stations had before origins were global, ``evidence-station/NAME``."""
    return station if is_url_name(station) else f"evidence-station/{station}"


def check_station_name(station: str) -> None:
    """Refuse a name that is neither a short name nor a schema-less URL-like origin."""
    if is_url_name(station):
        if "://" in station:
            raise LedgerProblem(
                detail=f"站点名称 {station!r} 不要带协议头 (https://) / give the name without a "
                "scheme: ybj.dxh.wuhan.example/station-01")
        if len(station) > _MAX_URL_NAME or not _URL_NAME.match(station):
            raise LedgerProblem(
                detail=f"站点名称 {station!r} 不是 主机名/路径 形式 / is not a schema-less URL "
                "such as ybj.dxh.wuhan.example/station-01 (lower-case host with a dot, then "
                f"/path of letters, digits, '.', '_' or '-'; ≤ {_MAX_URL_NAME})")
        return
    if not _NAME.match(station):
        raise LedgerProblem(
            detail=f"station name {station!r}: use letters, digits, '.', '_' or '-' (≤ 64), "
            "or a schema-less URL such as ybj.dxh.wuhan.example/station-01"
        )


def init_station(data_dir: Path, station: str, actor: str, clock: Clock = SYSTEM_CLOCK) -> Verifier:
    """Create the data directory, empty ledger, catalog and Ed25519 key (0600)."""
    layout = Layout(data_dir)
    if layout.station_file.exists():
        existing = json.loads(layout.station_file.read_text())
        raise AlreadyInitialisedError(data_dir=data_dir, station=existing.get("station"))
    check_station_name(station)
    # The daemon's user owns the data dir, and only it (and root) may enter: footage, labels,
    # accounts and the ledger's lock are nobody else's business (DESIGN.md, one door).
    durable.make_directories_durably(data_dir, mode=0o700)
    os.chmod(data_dir, 0o700)
    (data_dir / "keys").mkdir(mode=0o700, exist_ok=True)
    durable.fsync_directory(data_dir)  # its mode and the keys/ name, before anything relies on them
    signer = Signer.generate(origin_for(station))
    write_file_durably(layout.signer_key, (signer.encode() + "\n").encode(), mode=0o600)
    write_file_durably(layout.verifier_key, (signer.verifier.encode() + "\n").encode())
    Store.create(layout.store)
    Ledger.create(layout.ledger)
    with Ledger.open(layout.ledger, station=station, writable=True, now=clock.now) as ledger:
        ledger.append(Draft("station.init", actor, {
                                                    "verifier_key": signer.verifier.encode()}))
        catalog = Catalog(layout.catalog)
        catalog.catch_up(ledger)
        catalog.close()
        _issue_checkpoint(ledger, signer, CheckpointStore(layout.ledger))
    write_file_durably(
        layout.station_file,
        json.dumps({"station": station, "origin": origin_for(station)}).encode(),
    )
    remember_software_version(data_dir)  # an upgrade is measured from here (install.py)
    return signer.verifier


def _issue_checkpoint(ledger: Ledger, signer: Signer, checkpoints: CheckpointStore) -> tuple[Checkpoint, str]:
    checkpoint = Checkpoint(signer.name, ledger.size, ledger.root())
    note = sign_checkpoint(checkpoint, signer)
    previous = checkpoints.latest_note()
    proof = None
    if previous is not None:
        old = open_checkpoint(previous, signer.verifier)
        if old.size <= ledger.size:
            proof = ledger.consistency_proof(old.size)
    checkpoints.publish(note, checkpoint, signer.verifier, proof)
    return checkpoint, note


class Station:
    def __init__(self, layout: Layout, config: Config, name: str, ledger: Ledger,
                 catalog: Catalog, store: Store, clock: Clock = SYSTEM_CLOCK) -> None:
        self.layout = layout
        self.clock = clock  # the one "now" of this station (DESIGN.md, "Clock")
        self.config = config
        self.name = name
        self.ledger = ledger
        self.catalog = catalog
        self.store = store
        self.checkpoints = CheckpointStore(layout.ledger)
        self.notices: list[str] = []
        # Dock threads share the ledger writer and the catalog connection.
        self.lock = threading.RLock()
        self._owns_ledger = True

    def view(self) -> Station:
        """The same station (ledger writer, lock, store, clock) with its own catalog
        connection: what a request served by the daemon works on, so requests on other
        threads never share a SQLite connection."""
        other = Station(self.layout, self.config, self.name, self.ledger, Catalog(self.layout.catalog),
                        self.store, self.clock)
        other.lock = self.lock
        other._owns_ledger = False
        return other

    @classmethod
    def open(cls, data_dir: Path, config: Config, *, writable: bool = False,
             recover: bool = False, clock: Clock = SYSTEM_CLOCK) -> Station:
        layout = Layout(data_dir)
        if not layout.station_file.exists():
            raise NotInitialisedError(data_dir=data_dir)
        name = json.loads(layout.station_file.read_text())["station"]
        try:
            ledger = Ledger.open(layout.ledger, station=name, writable=writable, recover=recover,
                                 now=clock.now)
        except TornTailError as err:
            raise LedgerProblem(detail=str(err)) from err
        except LedgerError as err:
            raise LedgerProblem(detail=str(err)) from err
        catalog = Catalog(layout.catalog)
        station = cls(layout, config, name, ledger, catalog, Store(layout.store), clock)
        if writable:
            station._recover_after_crash()
        return station

    def _recover_after_crash(self) -> None:
        removed = self.store.remove_leftover_temps()
        if removed:
            self.notices.append(f"removed {removed} unfinished temp copies from an interrupted run")
        # issue 22: half-done durable writes (checkpoint, receipts, state) of a killed run
        stale = durable.remove_stale_temps(self.layout.root, skip=frozenset({"store"}))
        if stale:
            self.notices.append(f"removed {len(stale)} unfinished temp files from an "
                                "interrupted run")
        if self.catalog.replay_needed:  # a newer projection: replay the ledger into it
            self.catalog.reset()
            self.catalog.replay_needed = False
        self.catalog.catch_up(self.ledger)
        for session in self.catalog.docking.running_sessions():
            self.record(Draft(
                "session.end", "station",
                {"session_id": session["session_id"], "state": "interrupted",
                 "reason": "station stopped during the session (crash or power loss)",
                 "counts": self.catalog.docking.session_counts(session["session_id"]), "problems": []},
            ))
            self.notices.append(f"session {session['session_id']} was left open; marked interrupted")

    # -- writing -------------------------------------------------------------------------
    def record(self, draft: Draft) -> Event:
        """Append one durable ledger event and project it into the catalog.

        Only registered event types are recorded (``event_types``). Events recorded by
        several threads at once share one fsync (:mod:`evidence_station.group_commit`);
        each caller returns only once its own event is durable and catalogued. A draft
        the ledger would refuse fails alone, never the other events of its batch. The
        fields are copied here: the caller cannot change them while the draft waits."""
        draft = Draft(draft.type, draft.actor, dict(draft.fields), draft.time)
        return committer_for(self).commit(self, lambda _station, _in_batch: draft)

    def refuse_bad(self, draft: Draft) -> None:
        """Raise ``ValueError`` for a draft this station would not record: a type not in
        the registry, or what the ledger refuses (:func:`hashing.ledger.check_draft`)."""
        if draft.type not in EVENT_TYPES:
            raise ValueError(f"event type {draft.type!r} is not in the registry "
                             "(evidence_station/event_types.py)")
        check_draft(draft)

    def append_durably(self, drafts: list[Draft]) -> list[Event]:
        """Append ``drafts`` (already passed :meth:`refuse_bad`) with one write and one
        fsync, then project them; the caller holds :attr:`lock`. The catalog catches up
        from the ledger rather than applying just these events: if projecting an earlier
        event failed (a locked database), it is applied first, in order, never skipped."""
        assert self.holds_lock(), "append_durably without the writer lock"
        self._reopen_failed_ledger()
        try:
            events = self.ledger.append_many(drafts)
        except LedgerError as err:  # LedgerWriteError / LedgerFatalError: what and what to do
            raise LedgerProblem(detail=str(err)) from err
        self.catalog.catch_up(self.ledger)
        return events

    def holds_lock(self) -> bool:
        """Whether this thread holds :attr:`lock` (an ``RLock``: it may, re-entering).
        ``_is_owned`` is CPython's own test, which ``threading.Condition`` uses too."""
        return bool(self.lock._is_owned())  # type: ignore[attr-defined]

    def _reopen_failed_ledger(self) -> None:
        """DESIGN.md "Failure": after a failed write the writer records nothing until it is
        reopened and checked. Do that before the next change or checkpoint, so the station
        is usable again once the disk is, without a restart; if it still fails, say so."""
        if self.ledger.failed is None:
            return
        try:
            self.ledger.reopen()
        except LedgerError as err:
            raise LedgerProblem(detail=str(err)) from err
        except OSError as err:
            raise LedgerProblem(detail=f"reopening the ledger after a failed write: {err}; "
                                "free space or fix the disk, then try again") from err
        self.notices.append("the ledger was reopened and re-checked after a failed write")

    def recover_ledger(self) -> bool:
        """``ledger recover`` in a station that is already open (the daemon's): a writer
        stopped by a failed write whose cut-back failed too is reopened with its torn
        tail quarantined. True when it had to be."""
        with self.lock:
            if self.ledger.failed is None:
                return False
            try:
                self.ledger.reopen(recover=True)
            except LedgerError as err:
                raise LedgerProblem(detail=str(err)) from err
            self.catalog.catch_up(self.ledger)
            return True

    @property
    def signer(self) -> Signer:
        return Signer.parse(self.layout.signer_key.read_text())

    @property
    def verifier(self) -> Verifier:
        return Verifier.parse(self.layout.verifier_key.read_text())

    def issue_checkpoint(self, *, witness: bool = True) -> tuple[Checkpoint, str]:
        """Sign a checkpoint of the ledger as it is, then ask the configured witnesses to
        cosign it (DESIGN.md, "Witnesses"). The witnesses are asked outside the writer
        lock; an unreachable one costs at most ``[witness] timeout_s`` and is then left
        to the schedule, so a station offline from its witnesses keeps working."""
        with self.lock:
            if self.ledger.writable:
                self._reopen_failed_ledger()
            try:
                issued = _issue_checkpoint(self.ledger, self.signer, self.checkpoints)
            except CheckpointHistoryError as err:  # the ledger does not extend the latest
                raise self._another_history(str(err)) from err
            except CheckpointError as err:  # the latest cannot be read or is not our signature
                raise self._unreadable_checkpoint(err) from err
            except OSError as err:  # a full or failing disk under ledger/checkpoints
                raise LedgerProblem(detail=(
                    f"issuing a checkpoint failed: {err}. The previous checkpoint is still the "
                    "latest and nothing else changed; free space or fix the disk, then issue "
                    "it again (`evidence-station ledger checkpoint`)")) from err
        if witness and self.config.witness.urls and self.ledger.writable:
            from evidence_station.witness.client import ask_witnesses

            ask_witnesses(self)
        return issued

    def checkpoint_covering(self, size: int) -> tuple[Checkpoint, str]:
        """A signed checkpoint of at least ``size`` events: the latest one if it covers
        them, else a new one. Either way it is of this ledger: a latest of another history
        is an integrity alarm (:meth:`latest_of_this_ledger`), as signing over it would be
        (:meth:`issue_checkpoint` refuses a rollback loudly). When 24 docks end their
        sessions together, their ``session.end`` events share a batch and the first dock's
        checkpoint covers the others': they need not each sign and fsync one. A reused
        checkpoint not yet cosigned is offered to the witnesses, as a new one would be."""
        latest = self.reusable_checkpoint(size)
        if latest is None:
            return self.issue_checkpoint()
        if self.config.witness.urls and self.ledger.writable \
                and self.cosigned_note(latest[0].size) is None:
            from evidence_station.witness.client import ask_witnesses

            ask_witnesses(self)
        return latest

    def latest_of_this_ledger(self) -> tuple[Checkpoint, str] | None:
        """The latest checkpoint, checked to be of this ledger (its size within the
        ledger's, its root the ledger's root at that size); None before the first.

        Whoever hands out a checkpoint it did not just sign, or builds proofs on one
        (receipts, discs, copies, witnesses, the fleet mirror), takes it from here: one
        left by another history (the events file restored alone, cut back and grown
        again, edited) is an integrity alarm, never a proof against a root that is not
        this ledger's."""
        with self.lock:
            try:
                latest = self.latest_checkpoint()
            except OSError as err:
                raise LedgerProblem(detail=f"reading the latest checkpoint failed: {err}") from err
            except CheckpointError as err:
                raise self._unreadable_checkpoint(err) from err
            if latest is None:
                return None
            checkpoint = latest[0]
            if checkpoint.size > self.ledger.size \
                    or self.ledger.root(checkpoint.size) != checkpoint.root:
                raise self._another_history(
                    f"the latest checkpoint (size {checkpoint.size}, root "
                    f"{checkpoint.root.hex()[:16]}…) is not of this ledger ({self.ledger.size} "
                    "events)")
            return latest

    def reusable_checkpoint(self, size: int) -> tuple[Checkpoint, str] | None:
        """The latest checkpoint if it covers ``size`` events (checked to be of this
        ledger: :meth:`latest_of_this_ledger`), else None."""
        latest = self.latest_of_this_ledger()
        return latest if latest is not None and size <= latest[0].size else None

    def _another_history(self, detail: str) -> IntegrityAlarm:
        return IntegrityAlarm(detail=(
            f"{detail}. Nothing was signed and the latest checkpoint is kept. The events file "
            f"{self.layout.ledger / 'events.jsonl'} is not the history the station signed "
            "(restored alone, cut back or edited): stop using the station, run "
            "`evidence-station check`, and restore the ledger from its fleet mirror or a "
            "backup that matches the checkpoint"))

    def _unreadable_checkpoint(self, err: CheckpointError) -> IntegrityAlarm:
        return IntegrityAlarm(detail=(
            f"the latest checkpoint {self.checkpoints.latest_path} cannot be read or is not "
            f"signed with this station's key ({err}). Nothing was signed; run "
            "`evidence-station check`, and put back the newest entry of "
            f"{self.checkpoints.history} that verifies, or a backup"))

    def cosigned_note(self, size: int) -> str | None:
        """The checkpoint of ``size`` with every witness cosignature gathered for it, or
        None when no witness has cosigned it."""
        from evidence_station.witness.client import cosigned_note

        return cosigned_note(self.layout.ledger, size)

    def best_note(self, checkpoint: Checkpoint, note: str) -> str:
        """What to hand out for ``checkpoint``: the cosigned note when there is one."""
        return self.cosigned_note(checkpoint.size) or note

    def latest_checkpoint(self) -> tuple[Checkpoint, str] | None:
        note = self.checkpoints.latest_note()
        if note is None:
            return None
        return open_checkpoint(note, self.verifier), note

    def close(self) -> None:
        self.catalog.close()
        if self._owns_ledger:
            self.ledger.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
