"""The scheduled scrub (F34): re-hash the whole store and re-verify the ledger, politely.

``scrubber`` is one pass (what it proves, what a mismatch does); ``pace`` is how it reads
(throttle, idle I/O priority, the schedule's duration). :func:`run_idle` runs a pass on a
thread of its own made idle first: the priority change is per-thread and cannot be
undone without privileges, so it never lands on a scheduler or control-socket thread.
"""

from __future__ import annotations

import threading
from typing import Any

from evidence_station.durations import parse_duration
from evidence_station.identity import Actor
from evidence_station.scrub.pace import become_idle
from evidence_station.scrub.scrubber import (
    Interrupted,
    Mismatch,
    PassResult,
    Progress,
    run_pass,
    status,
)
from evidence_station.station import Station

__all__ = ["Interrupted", "Mismatch", "PassResult", "Progress", "parse_duration", "run_idle",
           "run_pass", "status"]


def run_idle(station: Station, actor: Actor, **options: Any) -> PassResult:
    """:func:`run_pass` on a new thread in the idle I/O class at nice 19; its result or
    its exception comes back to the caller."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        become_idle()
        try:
            outcome["result"] = run_pass(station, actor, **options)
        except BaseException as err:  # handed to the caller's thread
            outcome["error"] = err

    thread = threading.Thread(target=work, name="scrub", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    result: PassResult = outcome["result"]
    return result
