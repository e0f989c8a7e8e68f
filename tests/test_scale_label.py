"""A session's ``label`` request checks and projects its clips in batches (issue 16):
the same refusals and the same labels as one at a time, past the 500-id chunk too."""

from __future__ import annotations

from typing import Any

import pytest

from evidence_station.casework.service import perform
from evidence_station.errors import RefusedError
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station
from tests.test_scale_catalog import add_clips, catalog_findings

ROOT_ACTOR = Actor(ROOT_ACCOUNT, "admin", 0, "cli")


@pytest.fixture
def station(open_station: Any) -> Any:
    with open_station() as opened:
        yield opened


def test_a_missing_clip_is_refused_by_name_and_nothing_is_labelled(station: Station) -> None:
    ids = add_clips(station, 8)
    size = station.ledger.size
    with pytest.raises(RefusedError, match="no clip 'ffffffffffffffff'"):
        perform(station, ROOT_ACTOR, "label", {
            "clip_ids": [ids[4], "ffffffffffffffff"], "case_number": "2026-A-1", "party": "甲",
            "handler": "乙"})
    with pytest.raises(RefusedError, match=f"no clip '{ids[1][:10]}'"):  # not a prefix
        perform(station, ROOT_ACTOR, "label", {"clip_ids": [ids[1][:10]],
                                               "case_number": "2026-A-1", "party": "甲",
                                               "handler": "乙"})
    with pytest.raises(RefusedError, match=f"no clip '{ids[2].upper()}'"):  # exact ids only
        perform(station, ROOT_ACTOR, "label", {"clip_ids": [ids[2].upper()],
                                               "case_number": "2026-A-1", "party": "甲",
                                               "handler": "乙"})
    assert station.ledger.size == size
    assert station.catalog.casework.label_of(ids[4]) is None


def test_a_label_of_many_clips_keeps_each_clips_other_keys(station: Station) -> None:
    ids = add_clips(station, 520)  # more than one 500-id chunk
    perform(station, ROOT_ACTOR, "label", {"clip_ids": ids[:3], "case_number": "2026-B-1",
                                           "party": "甲", "handler": "乙", "reporter": "丙"})
    perform(station, ROOT_ACTOR, "label", {"clip_ids": ids, "case_number": "2026-B-2",
                                           "party": "甲", "handler": "丁"})
    labels = station.catalog.casework.labels_of(ids)
    assert set(labels) == set(ids)
    assert all(labels[c]["case_number"] == "2026-B-2" for c in ids)
    kept = station.catalog.casework.label_of(ids[0])
    assert kept is not None and kept["handler"] == "丁" and kept["reporter"] == labels[ids[0]]["reporter"]
    assert kept["reporter"] is not None  # a key the event leaves out keeps its value
    assert station.catalog.footage.existing_clip_ids([*ids, "nope"]) == set(ids)
    assert not catalog_findings(station)  # the same rows as a fresh projection
