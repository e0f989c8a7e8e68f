"""Group commit: events of several threads made durable by one ledger fsync.

With 24 docks at once, one ``fdatasync`` per event serialises them on the ledger, and
under the copies' write-back one takes 20–30 ms here (bench_docks): the docks' ``dock``
and ``session.start`` events alone held the last camera back ~0.45 s. Here the first
committer to arrive becomes the leader: it takes every event queued at that moment (its
own and those of threads that arrived while the previous batch was being written),
appends them with :meth:`hashing.ledger.Ledger.append_many` — one write, one fsync —
projects them into the catalog, and only then wakes each waiter with its event. So
invariant 1 is unchanged: no event is acknowledged before it is durable and catalogued;
a failed write fails every event in it (none is acknowledged), while a draft that cannot
be built or that the ledger would refuse fails its own caller only. Every
:meth:`evidence_station.station.Station.record` goes through here, and ingest's
:func:`evidence_station.ingest.stages.commit` with a draft built in the batch.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hashing.ledger import Draft, Event, Ledger

if TYPE_CHECKING:  # station.py imports this module
    from evidence_station.station import Station

DraftMaker = Callable[["Station", set[str]], Draft]
"""Builds a draft under the writer lock, given the clip ids already in this batch (so two
docks bringing the same content in one batch make one first ingest and one duplicate)."""


@dataclass
class _Waiter:
    make: DraftMaker
    wake: threading.Event = field(default_factory=threading.Event)  # written, or lead now
    lead: bool = False  # this waiter's thread writes the next batches
    finished: bool = False
    event: Event | None = None
    error: BaseException | None = None

    def finish(self, event: Event | None, error: BaseException | None) -> None:
        self.event, self.error, self.finished = event, error, True
        self.wake.set()


class GroupCommitter:
    """One per ledger writer (shared by every view of a station).

    The leader writes batches until its own event is written, then hands the lead to the
    first waiter still queued, so no caller waits longer than for its own batch and the
    ones queued before it, however busy the others keep the ledger."""

    def __init__(self, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False
        self.batches = 0  # how many fsyncs served how many events (tests, benchmarks)
        self.events = 0

    def commit(self, station: Station, make: DraftMaker) -> Event:
        """Return the durable, catalogued event built by ``make``; raise if it is not.

        A thread that holds ``station.lock`` (validation that must see the state its
        record lands on: the one door) writes at once, alone: it cannot wait for a
        leader who needs that lock."""
        if station.holds_lock():
            with station.lock:
                draft = make(station, set())
                station.refuse_bad(draft)
                return station.append_durably([draft])[0]
        waiter = _Waiter(make)
        with self._lock:
            self._queue.append(waiter)
            if not self._leading:
                self._leading = waiter.lead = True
        if not waiter.lead:
            waiter.wake.wait()  # written by a leader, or handed the lead
        if not waiter.finished:
            self._lead(station, waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.event is not None
        return waiter.event

    def _lead(self, station: Station, me: _Waiter) -> None:
        try:
            while not me.finished:
                with self._lock:
                    batch = self._queue[: self.max_batch]
                    self._queue = self._queue[self.max_batch:]
                self._write(station, batch)
        except BaseException as err:
            # Interrupted outside a batch's write (Ctrl-C between two statements): this
            # caller's own event, if still queued, is never written; the lead passes on.
            with self._lock:
                if not me.finished and me in self._queue:
                    self._queue.remove(me)
                    me.finish(None, err)
                self._hand_on()
            raise
        with self._lock:
            self._hand_on()

    def _hand_on(self) -> None:
        """The lead to the first queued waiter, or nobody leads (under ``_lock``)."""
        if self._queue:
            self._queue[0].lead = True
            self._queue[0].wake.set()
        else:
            self._leading = False

    def _write(self, station: Station, batch: list[_Waiter]) -> None:
        """Write ``batch`` with one fsync. A draft that cannot be built or that the ledger
        would refuse fails its own waiter only; a failed write fails the whole batch
        (nothing of it is durable, none of it acknowledged)."""
        drafts: list[Draft] = []
        writing: list[_Waiter] = []
        try:
            with station.lock:
                seen: set[str] = set()
                for waiter in batch:
                    try:
                        draft = waiter.make(station, seen)
                        station.refuse_bad(draft)
                    except Exception as err:  # this draft only (a bad value, a catalog read)
                        waiter.finish(None, err)
                        continue
                    clip_id = draft.fields.get("clip_id")
                    if isinstance(clip_id, str):
                        seen.add(clip_id)
                    drafts.append(draft)
                    writing.append(waiter)
                # One write, one fsync; projected before anyone is told ("counted" means
                # catalogued too).
                events = station.append_durably(drafts) if drafts else []
                self.batches += 1 if drafts else 0
                self.events += len(events)
        except BaseException as err:  # handed to every waiter of the batch not yet told
            for waiter in batch:
                if not waiter.finished:
                    waiter.finish(None, err)
            if not isinstance(err, Exception):
                raise  # an interrupt of the leader's own thread is the leader's too
            return
        for waiter, event in zip(writing, events, strict=True):
            waiter.finish(event, None)


_COMMITTERS: weakref.WeakKeyDictionary[Ledger, GroupCommitter] = weakref.WeakKeyDictionary()
_COMMITTERS_LOCK = threading.Lock()


def committer_for(station: Station) -> GroupCommitter:
    """The group committer of this station's ledger writer (views share it)."""
    with _COMMITTERS_LOCK:
        found = _COMMITTERS.get(station.ledger)
        if found is None:
            found = _COMMITTERS[station.ledger] = GroupCommitter()
        return found
