"""The one registry of ledger event types: every event the station records is one of these.

``Station.record`` refuses a type that is not here, the catalog projects each type with
the projector registered for it (``catalog.PROJECTORS``) and refuses one it does not
know, and ``check`` compares every table the projection writes. A test holds the code to
it: every type recorded anywhere in the source is registered, every registered type that
projects has a projector. Adding an event type is one entry here, one projector (or
``tables=()``), and the code that records it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    about: str
    # the catalog tables its projection writes; () = recorded only, nothing to project
    tables: tuple[str, ...] = ()


EVENT_TYPES: dict[str, EventType] = {t.name: t for t in (
    # the station and its ledger
    EventType("station.init", "a station's first event: its name and verifier key", ("meta",)),
    EventType("station.upgrade", "the station's software changed (a package upgrade): from, to"),
    EventType("ledger.recovered", "a torn tail after a crash, quarantined"),
    EventType("ledger.export", "intent: an export bundle for an auditor is about to be written"),
    EventType("ledger.export.done", "outcome: the bundle's files are durable (tree size, root)"),
    EventType("report", "an admin report made (retention, compliance)"),
    # witnesses (C2SP tlog-witness): cosignatures are stored, not recorded; alarms are
    EventType("witness.alarm", "a witness refused a checkpoint, or was unreachable too long",
              ("review",)),
    EventType("witness.recovered", "a witness cosigned again after an alarm"),
    # fleet replication (PostgreSQL + S3 Object Lock): alarms only; progress is not an event
    EventType("fleet.alarm", "replication behind too long, or the ledger diverged from the mirror",
              ("review",)),
    EventType("fleet.recovered", "replication caught up again after an alarm"),
    # docking and ingest
    EventType("dock", "a camera or card docked at a port", ("devices",)),
    EventType("session.start", "a docking session began", ("sessions", "devices")),
    EventType("ingest", "one file copied, verified and committed", ("sources", "clips")),
    EventType("session.end", "a docking session ended, with its counts", ("sessions",)),
    EventType("camera.wipe", "intent: committed files are about to be removed from a camera"),
    EventType("camera.wipe.done", "outcome of a camera wipe"),
    EventType("camera.clock", "the camera's clock read against the station's"),
    EventType("camera.clock_set", "the camera's clock set (or the attempt's outcome)"),
    EventType("device.register", "R16: a device entered in the register", ("devices",)),
    # analysis and review
    EventType("analysis", "media facts, statement, drift and flags of a clip",
              ("analysis", "review")),
    EventType("review.flag", "flags raised for review", ("review",)),
    EventType("review.resolve", "a review flag resolved", ("review",)),
    # casework
    EventType("label", "R5: case number, party, handler (and more) of clips",
              ("labels", "label_history")),
    EventType("evidence.designate", "R7: a clip designated as evidence", ("evidence",)),
    EventType("access.view", "R10: a viewing registered", ("access",)),
    EventType("access.copy", "R10: intent of a copy", ("access", "releases")),
    EventType("access.copy.done", "R10: a copy written, with its manifest hash", ("access",)),
    EventType("access.release.request", "R12: a release outside the unit requested", ("releases",)),
    EventType("access.release.approve", "R12: that release approved by another admin",
              ("releases",)),
    # retention
    EventType("retention.sweep", "R6/R9: the daily list of clips past retention"),
    EventType("hold.place", "a legal hold placed", ("holds",)),
    EventType("hold.release", "a legal hold released", ("holds",)),
    EventType("deletion.request", "R11: deletion after retention requested",
              ("deletion_requests",)),
    EventType("deletion", "R11: the tombstone; the file is removed, the hash stays",
              ("deletions", "clips", "deletion_requests")),
    EventType("disc.burn", "R7: an evidence disc burned and read back", ("disc_clips",)),
    EventType("disc.verify", "R7: an evidence disc read back and verified"),
    # R14 case files
    EventType("case.end", "R14: a clerk recorded the day a case's enforcement ended",
              ("case_files",)),
    EventType("case.close", "R14: a case's case file (案卷) recorded as formed", ("case_files",)),
    # accounts
    EventType("user.add", "an account created", ("users",)),
    EventType("user.role", "an account's role changed", ("users",)),
    EventType("user.password", "an account's password changed (the hash is not in the ledger)"),
    EventType("user.disable", "an account disabled", ("users",)),
    EventType("user.enable", "an account enabled again", ("users",)),
    # the scheduled scrub (F34): an alarm per new mismatch, a record per completed pass
    EventType("scrub.alarm", "integrity alarm: a stored original or the ledger does not match "
              "(never repaired)", ("review",)),
    EventType("scrub.pass", "a whole scrub pass completed: start, end, objects, bytes, coverage, "
              "mismatches", ("scrub_passes",)),
)}


def registered(name: str) -> EventType:
    """The registry entry of ``name``; KeyError for a type the station does not know."""
    return EVENT_TYPES[name]
