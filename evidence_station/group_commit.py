"""Group commit: events of several threads made durable by one ledger fsync.

With 24 docks at once, one ``fdatasync`` per event serialises them on the ledger, and
under the copies' write-back one takes 20–30 ms here (bench_docks): the docks' ``dock``
and ``session.start`` events alone held the last camera back ~0.45 s. Here the first
committer to arrive becomes the leader: it takes every event queued at that moment (its
own and those of threads that arrived while the previous batch was being written),
appends them with :meth:`hashing.ledger.Ledger.append_many` — one write, one fsync —
projects them into the catalog, and only then wakes each waiter with its event. So
invariant 1 is unchanged: no event is acknowledged before it is durable and catalogued;
a failed batch fails every event in it (none is acknowledged). Every
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
    done: threading.Event = field(default_factory=threading.Event)
    event: Event | None = None
    error: BaseException | None = None


class GroupCommitter:
    """One per ledger writer (shared by every view of a station)."""

    def __init__(self, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False
        self.batches = 0  # how many fsyncs served how many events (tests, benchmarks)
        self.events = 0

    def commit(self, station: Station, make: DraftMaker) -> Event:
        """Return the durable, catalogued event built by ``make``; raise if it is not."""
        waiter = _Waiter(make)
        with self._lock:
            self._queue.append(waiter)
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            self._lead(station)
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        assert waiter.event is not None
        return waiter.event

    def _lead(self, station: Station) -> None:
        while True:
            with self._lock:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
                if not batch:
                    self._leading = False
                    return
            self._write(station, batch)

    def _write(self, station: Station, batch: list[_Waiter]) -> None:
        try:
            with station.lock:
                seen: set[str] = set()
                drafts = []
                for waiter in batch:
                    draft = waiter.make(station, seen)
                    clip_id = draft.fields.get("clip_id")
                    if isinstance(clip_id, str):
                        seen.add(clip_id)
                    drafts.append(draft)
                # One write, one fsync; projected before anyone is told ("counted" means
                # catalogued too).
                events = station.append_durably(drafts)
                self.batches += 1
                self.events += len(events)
        except BaseException as err:  # handed to every waiter of the batch
            for waiter in batch:
                waiter.error = err
                waiter.done.set()
            return
        for waiter, event in zip(batch, events, strict=True):
            waiter.event = event
            waiter.done.set()


_COMMITTERS: weakref.WeakKeyDictionary[Ledger, GroupCommitter] = weakref.WeakKeyDictionary()
_COMMITTERS_LOCK = threading.Lock()


def committer_for(station: Station) -> GroupCommitter:
    """The group committer of this station's ledger writer (views share it)."""
    with _COMMITTERS_LOCK:
        found = _COMMITTERS.get(station.ledger)
        if found is None:
            found = _COMMITTERS[station.ledger] = GroupCommitter()
        return found
