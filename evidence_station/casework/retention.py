"""Retention at the station: facts from the catalog, rules from ``retention.policy``.

Requests (holds, deletion requests, approved deletions, sweeps) become ledger events
through ``casework.service``; an approved deletion is recorded as a tombstone *before* the
stored file is removed, so a crash in between leaves a recorded deletion and a file still
there (``check`` notes it), never a missing file nobody accounted for.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from evidence_station.clock import local_today
from evidence_station.config import Config
from evidence_station.station import Station
from retention.policy import ClipFacts, Policy, Retention, classify


def policy_of(config: Config) -> Policy:
    retention = config.retention
    return Policy(retention.general_months, retention.litigation_months,
                  tuple(retention.long_term_categories))


# R1/R13: review flags that say the clip's recorded time is not yet trustworthy.
TIME_FLAG_KINDS = ("clock_drift", "clock_ahead", "overlap")


def today(station: Station) -> date:
    """The station's date: the only one retention and deletion are judged by."""
    return local_today(station.clock, station.config.station.timezone)


def as_of(config: Config, moment: datetime) -> date:
    """The date a read-only listing or report is "as of" (``--now``); never used to write."""
    zone = ZoneInfo(config.station.timezone)
    return (moment.astimezone(zone) if moment.tzinfo else moment).date()


def _local_date(value: str | None, zone: ZoneInfo) -> date | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return (parsed.astimezone(zone) if parsed.tzinfo else parsed).date()


def clip_facts(station: Station, clip_id: str | None = None) -> list[ClipFacts]:
    """What retention needs to know of each stored (not deleted) clip."""
    zone = ZoneInfo(station.config.station.timezone)
    catalog = station.catalog
    sql = ("select c.clip_id, c.sha256, c.recorded_at, c.ingested_at, l.case_number, l.category, "
           "(select min(h.time) from label_history h where h.clip_id = c.clip_id and "
           "h.case_number = l.case_number) labelled_at, e.clip_id is not null as evidence, "
           "(select json_group_array(r.kind) from review r where r.clip_id = c.clip_id and "
           f"r.state = 'open' and r.kind in ({', '.join(repr(k) for k in TIME_FLAG_KINDS)})) "
           "time_flags "
           "from clips c left join labels l on l.clip_id = c.clip_id "
           "left join evidence e on e.clip_id = c.clip_id where c.deleted_at is null")
    params: list[str] = []
    if clip_id:
        sql += " and c.clip_id = ?"
        params.append(clip_id)
    result = []
    for row in catalog.db.query(sql + " order by c.first_seq", params):
        ingested = _local_date(row["ingested_at"], zone)
        assert ingested is not None
        result.append(ClipFacts(
            row["clip_id"], row["sha256"], _local_date(row["recorded_at"], zone), ingested,
            row["case_number"], row["category"], _local_date(row["labelled_at"], zone),
            bool(row["evidence"]), tuple(catalog.active_holds(row["clip_id"])),
            tuple(sorted(set(json.loads(row["time_flags"] or "[]"))))))
    return result


def retention_of(station: Station, clip_id: str) -> Retention | None:
    facts = clip_facts(station, clip_id)
    return classify(facts[0], policy_of(station.config)) if facts else None


def remove_stored_file(station: Station, sha256: str) -> None:
    """After the tombstone is durable: remove the object (read-only, so unlink only)."""
    path = station.store.path_for(sha256)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
