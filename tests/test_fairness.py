"""The copy-slot scheduler between docks as pure functions, and FairSlots on threads."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence_station.docking.fairness import (
    QUANTUM,
    FairSlots,
    SlotRequest,
    fair_shares,
    pick_next,
)


def test_least_served_port_goes_first_ties_by_arrival() -> None:
    waiting = [SlotRequest("usb-1", 10, 1), SlotRequest("usb-2", 10, 2), SlotRequest("usb-3", 10, 3)]
    assert pick_next(waiting, {"usb-1": 300, "usb-2": 100, "usb-3": 100}).port == "usb-2"
    assert pick_next(waiting, {}).port == "usb-1"  # nobody served yet: first come
    assert pick_next(waiting, {"usb-1": 5}).port == "usb-2"  # unknown ports count as 0


def test_nothing_waiting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no request"):
        pick_next([], {})


def test_many_small_files_do_not_starve_a_port_of_big_files() -> None:
    """Simulate grants: port A has 1 MB files, port B 50 MB files, one slot. Over time
    both get the same bytes within one file of B."""
    served: dict[str, int] = {}
    granted = {"A": 0, "B": 0}
    for ticket in range(400):
        waiting = [SlotRequest("A", 1, ticket), SlotRequest("B", 50, ticket + 1)]
        chosen = pick_next(waiting, served)
        served[chosen.port] = served.get(chosen.port, 0) + chosen.size
        granted[chosen.port] += chosen.size
    assert abs(granted["A"] - granted["B"]) <= 50


@given(st.lists(st.floats(min_value=1, max_value=500), min_size=1, max_size=24),
       st.floats(min_value=1, max_value=5000))
def test_fair_shares_are_max_min_fair(caps: list[float], total: float) -> None:
    shares = fair_shares(caps, total)
    assert sum(shares) == pytest.approx(min(total, sum(caps)))
    for cap, share in zip(caps, shares, strict=True):
        assert share <= cap + 1e-9
    # a port below its cap has the largest share of all (nobody gets more than it)
    uncapped = [share for cap, share in zip(caps, shares, strict=True) if share < cap - 1e-6]
    if uncapped:
        assert max(shares) == pytest.approx(uncapped[0])


def test_fair_shares_examples() -> None:
    # 20 USB 2.0 cameras at 35 MB/s and 4 USB 3 at 120, on a 600 MB/s store
    shares = fair_shares([35.0] * 20 + [120.0] * 4, 600.0)
    assert shares[:20] == [pytest.approx(25.0)] * 20 and shares[20] == pytest.approx(25.0)
    shares = fair_shares([35.0] * 20 + [120.0] * 4, 1000.0)
    assert shares[0] == pytest.approx(35.0) and shares[-1] == pytest.approx(75.0)


def test_fair_slots_bound_the_copies_and_serve_every_port() -> None:
    slots = FairSlots(2)
    active = 0
    peak = 0
    lock = threading.Lock()
    order: list[str] = []

    def dock(port: str) -> None:
        nonlocal active, peak
        take = slots.for_port(port)
        for _ in range(5):
            with take(10):
                with lock:
                    active += 1
                    peak = max(peak, active)
                    order.append(port)
                time.sleep(0.002)
                with lock:
                    active -= 1
        slots.session_ended(port)

    threads = [threading.Thread(target=dock, args=(f"p{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert peak <= 2 and sorted(order) == sorted([f"p{n}" for n in range(6)] * 5)


def test_a_waiting_port_is_served_before_a_busier_one() -> None:
    """Deterministic: B was served 1 byte, A (a big file) 101; with the only slot held,
    A asks first and B second — B gets the slot first when it frees."""
    slots = FairSlots(1)
    with slots.hold("B", 1):
        pass
    with slots.hold("A", 100):  # A's session starts level with B's (1), then 100 more
        pass
    order: list[str] = []
    waiters = []
    with slots.hold("A", 1):
        for port in ("A", "B"):
            def wait(port: str = port) -> None:
                with slots.hold(port, 1):
                    order.append(port)
            thread = threading.Thread(target=wait)
            thread.start()
            waiters.append(thread)
            while len(slots._waiting) < len(waiters):
                time.sleep(0.001)
    for thread in waiters:
        thread.join(10)
    assert order == ["B", "A"]


def test_a_new_session_starts_level_with_the_least_served() -> None:
    slots = FairSlots(2)
    with slots.hold("A", 1000):
        pass
    with slots.hold("B", 10):
        pass
    assert slots._served == {"A": 1000, "B": 1010}
    slots.session_ended("A")
    with slots.hold("A", 5):
        pass
    assert slots._served["A"] == 1015


def test_a_big_file_gives_the_slot_back_after_each_turn() -> None:
    """One slot; A copies a file of three turns, B waits with one turn: B copies between
    A's first and second turn, not after A's whole file."""
    slots = FairSlots(1)
    order: list[str] = []
    a_started = threading.Event()

    def a() -> None:
        with slots.hold("A", 3 * QUANTUM) as turn:
            a_started.set()
            while len(slots._waiting) < 1:  # B is waiting
                time.sleep(0.001)
            for number in range(3):
                order.append(f"A{number}")
                turn.advance(QUANTUM)

    def b() -> None:
        a_started.wait(10)
        with slots.hold("B", QUANTUM) as turn:
            order.append("B0")
            turn.advance(QUANTUM)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["A0", "B0", "A1", "A2"]
