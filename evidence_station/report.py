"""Admin reports (R15): gather the figures from the station, build with
``retention.reports``, write HTML and PDF, and record that the report was made."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from evidence_station.casework.retention import as_of, clip_facts, policy_of, today
from evidence_station.casework.service import expired_now
from evidence_station.pdf import html_to_pdf
from evidence_station.station import Station
from hashing.durable import make_directories_durably, write_file_durably
from retention import reports
from retention.policy import classify


def _checkpoint(station: Station) -> str:
    """The current signed checkpoint, printed on every report."""
    if station.ledger.writable:
        return station.issue_checkpoint()[1]
    latest = station.latest_checkpoint()
    return latest[1] if latest else "(no checkpoint yet)"


def build(station: Station, kind: str, now: datetime | None = None) -> str:
    day = as_of(station.config, now) if now else today(station)
    catalog = station.catalog
    if kind == "retention":
        states = [classify(facts, policy_of(station.config)) for facts in clip_facts(station)]
        holds = catalog.casework.open_holds()
        requests = catalog.casework.deletion_requests()
        return reports.retention_report(
            station=station.name, today=day, classes=dict(Counter(s.klass for s in states)),
            expiries=[s.expires for s in states if s.expires and not s.held],
            expired=expired_now(station, day), holds=holds, requests=requests,
            deletions=catalog.casework.deletions(), checkpoint=_checkpoint(station))
    if kind == "compliance":
        flags = catalog.flags.review()
        drifts = catalog.footage.drifts()
        access = catalog.casework.access_register()
        totals = {"clips": catalog.counts()["clips"], "open flags": len(flags),
                  **{kind: count for kind, count in Counter(f["kind"] for f in flags).items()},
                  "views": sum(1 for a in access if a["kind"] == "view"),
                  "copies": sum(1 for a in access if a["kind"] == "copy")}
        return reports.compliance_report(station=station.name, today=day, flags=flags,
                                         drifts=drifts, access=access, totals=totals,
                                         checkpoint=_checkpoint(station))
    raise ValueError(f"unknown report {kind!r}")


def write_report(station: Station, kind: str, out: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """``out`` without suffix gets ``.html`` and ``.pdf`` beside each other."""
    html_path, pdf_path = out.with_suffix(".html"), out.with_suffix(".pdf")
    make_directories_durably(html_path.parent)
    write_file_durably(html_path, build(station, kind, now).encode())
    html_to_pdf(html_path, pdf_path)
    return html_path, pdf_path
