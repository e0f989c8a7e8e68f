"""The admin dashboard's figures: integrity alarms, the review queue, disk space and days
left at the current intake, witnesses — and one slot per feature that other parts of the
station provide (scrub, replication).

Each section is a *provider*: a function of the (read-only) station that returns a dict
for the page, or None when the feature is absent on this station. The page shows every
provider in ``PROVIDERS`` in order, so a feature joins the dashboard by adding one entry
(scrub and fleet replication are two such entries). Readers only: nothing here takes
the writer lock or writes to the data dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from evidence_station.station import Station

Provider = Callable[[Station], dict[str, Any] | None]
INTAKE_DAYS = 14  # intake is measured over the last two weeks (a shift pattern repeats)
# review kinds that mean the record itself may be wrong, not that a duty was missed
ALARM_KINDS = ("witness_refused", "witness_unreachable", "missing_files", "media_damaged")


def integrity(station: Station) -> dict[str, Any]:
    """Open alarms: a witness refusing or unreachable, files a camera numbered but never
    delivered, damaged media; and whether the ledger accepts appends (a failed write
    stops the writer until it is reopened and checked)."""
    db = station.catalog.db
    kinds = ", ".join("?" for _ in ALARM_KINDS)
    by_kind = dict(db.execute(
        f"select kind, count(*) from review where state = 'open' and kind in ({kinds}) "
        "group by kind", list(ALARM_KINDS)).fetchall())
    recovered = db.execute("select value from meta where key = 'applied_seq'").fetchone()
    return {"alarms": sum(by_kind.values()), "by_kind": by_kind,
            "applied_seq": int(recovered[0]) if recovered else -1,
            "ledger_size": station.ledger.size}


def review_queue(station: Station) -> dict[str, Any]:
    rows = station.catalog.db.execute(
        "select kind, count(*) from review where state = 'open' group by kind order by 2 desc"
    ).fetchall()
    return {"open": sum(count for _, count in rows), "by_kind": dict(rows)}


def intake_per_day(station: Station, now: datetime, days: int = INTAKE_DAYS) -> float:
    """Bytes stored per day over the last ``days`` (new content only: a duplicate file
    takes no space), from the catalog, in SQL."""
    since = (now.astimezone(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
    total = station.catalog.db.execute(
        "select coalesce(sum(size), 0) from clips where ingested_at >= ? and deleted_at is null",
        [since]).fetchone()[0]
    return float(total) / days


def disk(station: Station) -> dict[str, Any]:
    """Free space on the store's file system and how many days it lasts at the intake of
    the last two weeks (None: no intake, it lasts)."""
    usage = shutil.disk_usage(station.layout.root)
    per_day = intake_per_day(station, station.clock.now())
    reserve = station.config.ingest.reserve_mib * 1024 * 1024
    usable = max(0, usage.free - reserve)
    return {"total": usage.total, "free": usage.free, "used_pct": round(usage.used * 100 / usage.total, 1)
            if usage.total else 0.0, "intake_per_day": per_day, "intake_days": INTAKE_DAYS,
            "days_left": None if per_day <= 0 else usable / per_day}


def witnesses(station: Station) -> dict[str, Any] | None:
    """Each configured witness: the size it last cosigned, when, and any open alarm."""
    if not station.config.witness.urls:
        return None
    from evidence_station.witness.client import WitnessClient

    statuses = WitnessClient(station, station.config.witness).load()
    return {"witnesses": [{"name": s.name, "url": s.url, "acked_size": s.acked_size,
                           "acked_at": s.acked_at, "alarm": s.alarm, "last_error": s.last_error}
                          for s in statuses],
            "ledger_size": station.ledger.size}


def scrub(station: Station) -> dict[str, Any]:
    """The scheduled scrub (F34): the last complete pass, its coverage and mismatches, the
    integrity alarms still open, and when the next pass is due."""
    from evidence_station.scrub import parse_duration
    from evidence_station.scrub import status as scrub_status

    found = scrub_status(station, parse_duration(station.config.scrub.every))
    last = found["last_pass"] or {}
    return {"last_pass": (last.get("ended_at") or "—")[:16].replace("T", " "),
            "coverage": f"{last['coverage']:.2f} %" if last else "—",
            "mismatches": last.get("mismatch_count", 0),
            "open_alarms": len(found["open_alarms"]),
            "next_due": (found["next_due"] or "—")[:16].replace("T", " ")}


def replication(station: Station) -> dict[str, Any] | None:
    """Fleet replication: how far the mirror is behind (events, files, bytes), the last
    success and error, from the station's own state (the page never waits on the network).
    None when replication is not configured."""
    if not station.config.fleet.enabled:
        return None
    from evidence_station.fleet.replicate import status as fleet_status

    found = fleet_status(station)
    return {"events_behind": found["events_behind"], "files_behind": found["files_behind"],
            "bytes_behind": found["bytes_behind"],
            "last_success": (found["last_success"] or "—")[:16].replace("T", " "),
            "last_error": found["last_error"] or "—", "alarm": found["alarm"] or "—"}


PROVIDERS: dict[str, Provider] = {
    "integrity": integrity,
    "review": review_queue,
    "disk": disk,
    "witness": witnesses,
    "scrub": scrub,
    "replication": replication,
}


def sections(station: Station) -> dict[str, dict[str, Any] | None]:
    """Every provider's section; one that fails shows its error instead of hiding the page."""
    result: dict[str, dict[str, Any] | None] = {}
    for name, provider in PROVIDERS.items():
        try:
            result[name] = provider(station)
        except Exception as err:  # a broken section must not hide the others
            result[name] = {"error": f"{type(err).__name__}: {err}"}
    return result
