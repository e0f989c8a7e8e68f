"""Fair copy slots between docks: no port starves while others copy (issue 16).

A docking used to hold one of ``daemon.max_parallel_copies`` slots for its whole session,
so with 24 cameras and a few slots most ports sat in "detected" until a whole camera was
done. Now a dock holds a slot for one turn of at most :data:`QUANTUM` bytes of a file
(deficit round robin): after each turn it gives the slot back and asks again, and when a
slot frees, the waiting port that has been served the fewest bytes in its current
session gets it (start-time fair queueing: a newcomer starts level with the
least-served active port, so it is neither starved nor allowed to monopolise). Turns of
8 MiB, not whole files, keep a port within a few turns of its fair share even when the
files are large and slots are fewer than ports (measured in bench_docks). The rule is a
pure function, :func:`pick_next`; :func:`fair_shares` is the max-min fair split the
benchmark judges ports against.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

QUANTUM = 8 * 1024 * 1024
"""Bytes copied per turn before the slot is offered to the least-served waiting port."""


@dataclass(frozen=True)
class SlotRequest:
    port: str
    size: int  # bytes of the file about to be copied
    ticket: int  # arrival order


def pick_next(waiting: Sequence[SlotRequest], served: Mapping[str, int]) -> SlotRequest:
    """The request to grant next: the least-served port, the earliest request on a tie.

    ``served`` holds the bytes already granted to each port in its current session
    (a port not in it counts as 0). Deterministic, so it is tested as a function."""
    if not waiting:
        raise ValueError("no request is waiting")
    return min(waiting, key=lambda request: (served.get(request.port, 0), request.ticket))


def fair_shares(caps: Sequence[float], total: float) -> list[float]:
    """Max-min fair split of ``total`` throughput between ports that cannot exceed their
    ``caps`` (a USB 2.0 camera cannot go faster than its bus): water-filling — every port
    gets the same share, except that a port capped below it gets its cap and the rest is
    shared by the others. The shares sum to ``min(total, sum(caps))``."""
    shares = [0.0] * len(caps)
    left = min(total, sum(caps))
    open_ports = sorted(range(len(caps)), key=lambda index: caps[index])
    while open_ports:
        level = left / len(open_ports)
        lowest = open_ports[0]
        if caps[lowest] <= level:
            shares[lowest] = caps[lowest]
            left -= caps[lowest]
            open_ports.pop(0)
            continue
        for index in open_ports:
            shares[index] = level
        break
    return shares


class FairSlots:
    """``slots`` copies at once, granted per file by :func:`pick_next`."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = slots
        self._condition = threading.Condition()
        self._waiting: list[SlotRequest] = []
        self._served: dict[str, int] = {}
        self._tickets = 0

    def _acquire(self, port: str, size: int) -> None:
        with self._condition:
            if port not in self._served:
                # A new session starts level with the least-served active one.
                self._served[port] = min(self._served.values(), default=0)
            self._tickets += 1
            request = SlotRequest(port, size, self._tickets)
            self._waiting.append(request)
            try:
                while not (self._free > 0 and pick_next(self._waiting, self._served) is request):
                    self._condition.wait()
            except BaseException:
                self._waiting.remove(request)
                self._condition.notify_all()
                raise
            self._waiting.remove(request)
            self._free -= 1
            self._served[port] += size

    def _release(self) -> None:
        with self._condition:
            self._free += 1
            self._condition.notify_all()

    @contextlib.contextmanager
    def hold(self, port: str, size: int) -> Iterator[Turn]:
        """Wait for this port's turn, then hold a slot while one file is copied, giving it
        back and asking again every :data:`QUANTUM` bytes (``Turn.advance``)."""
        self._acquire(port, min(size, QUANTUM))
        turn = Turn(self, port, size)
        try:
            yield turn
        finally:
            if turn.holding:
                self._release()

    def for_port(self, port: str) -> Callable[[int], AbstractContextManager[Turn]]:
        return lambda size: self.hold(port, size)

    def session_ended(self, port: str) -> None:
        """Forget what the port was served: its next session starts afresh."""
        with self._condition:
            self._served.pop(port, None)
            self._condition.notify_all()


class Turn:
    """One file's use of a copy slot, in turns of :data:`QUANTUM` bytes."""

    def __init__(self, slots: FairSlots, port: str, size: int) -> None:
        self.slots = slots
        self.port = port
        self.left = size - min(size, QUANTUM)  # bytes not yet charged to the port
        self.used = 0
        self.holding = True

    def advance(self, count: int) -> None:
        """``count`` more bytes about to be read; at the end of a turn, let a less-served
        port in (this waits). Called by the copy's reader before it takes a buffer."""
        self.used += count
        if self.used < QUANTUM or self.left <= 0:
            return
        self.used = 0
        charge = min(self.left, QUANTUM)
        self.left -= charge
        self.holding = False
        self.slots._release()
        self.slots._acquire(self.port, charge)
        self.holding = True
