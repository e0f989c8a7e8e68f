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
from hashing.durable import fsync_directory
from retention.policy import ClipFacts, Policy, Retention, classify


def policy_of(config: Config) -> Policy:
    retention = config.retention
    return Policy(retention.general_months, retention.litigation_months,
                  tuple(retention.long_term_categories))


# R1/R13: review flags that say the clip's recorded time is not yet trustworthy.
TIME_FLAG_KINDS = ("clock_drift", "clock_ahead", "overlap", "statement_unsure")


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
    result = []
    for row in catalog.casework.retention_rows(TIME_FLAG_KINDS, clip_id):
        ingested = _local_date(row["ingested_at"], zone)
        assert ingested is not None
        result.append(ClipFacts(
            row["clip_id"], row["sha256"], _local_date(row["recorded_at"], zone), ingested,
            row["case_number"], row["category"], _local_date(row["labelled_at"], zone),
            bool(row["evidence"]), tuple(catalog.casework.active_holds(row["clip_id"])),
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
    # R11 + issue 22 (power cut after a completed approval): an unlink is a name change,
    # durable only once its directory is fsynced; without this the footage came back.
    with contextlib.suppress(FileNotFoundError):  # no folder: no name to make durable
        fsync_directory(path.parent)
