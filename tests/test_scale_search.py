"""The web search box walks the trigram index in rowid order and stops at the page
(issue 16): its pages, with every other filter of the queue, are the plain substring
scan's, and the rowid order it relies on is the ledger order, after a rebuild too."""

from __future__ import annotations

from typing import Any

import pytest

from evidence_station.catalog import footage as footage_module
from evidence_station.station import Station
from tests.test_scale_catalog import add_clips


@pytest.fixture
def station(open_station: Any) -> Any:
    with open_station() as opened:
        add_clips(opened, 48)
        yield opened


def scan(station: Station, search: str, **filters: Any) -> list[str]:
    """The same filters over every clip, by hand."""
    found = []
    for row in station.catalog.footage.clip_list_page(limit=10_000):
        label = row["label"] or {}
        if filters.get("unlabelled") and row["label"] is not None:
            continue
        if filters.get("officer_id") and row["officer_id"] != filters["officer_id"]:
            continue
        fields = [row["id"], row["device_id"], row["officer_id"], row["recorded_at"],
                  label.get("case_number"), label.get("party"), label.get("handler")]
        if any(search.lower() in str(field or "").lower() for field in fields):
            found.append(row["id"])
    return found


def paged(station: Station, search: str, **filters: Any) -> list[str]:
    pages = [station.catalog.footage.clip_list_page(search=search, limit=5, offset=offset,
                                                    **filters)
             for offset in range(0, 60, 5)]
    return [row["id"] for page in pages for row in page]


@pytest.mark.parametrize("walk", [footage_module.UNLABELLED_WALK, 0],
                         ids=["few-unlabelled-walked", "trigram-index"])
@pytest.mark.parametrize("filters", [{}, {"unlabelled": True}, {"officer_id": "100002"},
                                     {"unlabelled": True, "officer_id": "100001"}])
def test_search_pages_with_filters_equal_the_scan(station: Station, filters: dict[str, Any],
                                                  walk: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of searching the unlabelled queue (its clips walked when they are few,
    the trigram index otherwise) give the scan's pages."""
    monkeypatch.setattr(footage_module, "UNLABELLED_WALK", walk)
    # common strings (in every clip), a case number, a device, nothing, a quote
    for search in ("CAM", "2026-0", "2026-XC-0012", "xc-00", "cam100003", "100002",
                   'no "such" text', "张1"):
        assert paged(station, search, **filters) == scan(station, search, **filters), \
            (search, filters)


def test_rowid_order_is_ledger_order_after_a_rebuild(station: Station) -> None:
    db = station.catalog.db
    before = [row[0] for row in db.execute("select clip_id from clips order by first_seq")]
    assert [row[0] for row in db.execute("select clip_id from clips order by rowid")] == before
    station.catalog.reset()
    station.catalog.catch_up(station.ledger)
    assert [row[0] for row in db.execute("select clip_id from clips order by rowid")] == before
    assert paged(station, "2026-0") == scan(station, "2026-0")


def test_the_search_page_reads_the_index_in_order(station: Station) -> None:
    """The plan: the trigram index in rowid order (no sort of every match), each clip by
    its rowid."""
    plan = " ".join(str(row[3]) for row in station.catalog.db.execute(
        "explain query plan select c.rowid from clip_search s cross join clips c "
        "on c.rowid = s.rowid where s.clip_search match ? order by s.rowid limit 5", ['"CAM"']))
    assert "TEMP B-TREE" not in plan and "INTEGER PRIMARY KEY" in plan, plan
