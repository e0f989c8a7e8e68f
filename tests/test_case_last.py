"""``case_last`` (catalog schema 7): each case's last labelled recording, kept by triggers
on ``labels`` and ``clips`` so the R14 review items need one row per case instead of every
labelled clip (issue 16). Whatever order clips are labelled, relabelled to another case or
unlabelled in, the table gives the day the old per-clip computation gave; a catalog of
schema 6 is filled when it is opened. Also the other pages the 10^6-clip benchmark found
slow: the review queue pages late cases with the flags, and the ledger page reads the
newest checkpoint notes without sorting thousands."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from evidence_station.case_files import local_date
from evidence_station.catalog import Catalog

ZONE = "Asia/Shanghai"
START = datetime(2026, 11, 1, tzinfo=UTC)


def reference(catalog: Catalog) -> dict[str, date | None]:
    """What case_facts computed before schema 7: every labelled clip's local day, the latest."""
    last: dict[str, date | None] = {}
    for row in catalog.case_files.labelled_recordings():
        day = local_date(row["recorded_at"], ZONE) or local_date(row["ingested_at"], ZONE)
        current = last.get(row["case_number"])
        last[row["case_number"]] = max(filter(None, (current, day)), default=None)
    return last


def from_table(catalog: Catalog) -> dict[str, date | None]:
    return {number: local_date(moment, ZONE)
            for number, moment in catalog.case_files.last_recordings().items()}


def add_clip(catalog: Catalog, rng: random.Random, index: int) -> str:
    clip_id = f"{index:016x}"
    moment = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
    offset = rng.choice(["+08:00", "+00:00", "-05:00", "Z", None, "bad"])
    if offset is None:
        recorded = None  # the camera gave no time: the ingest time counts
    elif offset == "bad":
        recorded = "2026-13-45T99:00:00+08:00"  # unparseable: the ingest time counts
    elif offset == "Z":
        recorded = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        hours = int(offset[:3])
        recorded = (moment + timedelta(hours=hours)).replace(tzinfo=None).isoformat() + offset
    ingested = (moment + timedelta(hours=rng.randrange(1, 72))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    catalog.table("clips").insert(
        {"clip_id": clip_id, "sha256": clip_id * 4, "size": 1, "first_seq": index,
         "ingested_at": ingested, "recorded_at": recorded, "device_id": "CAM1",
         "officer_id": "1", "source_path": f"{index}.MP4", "flags": "[]"}, pk="clip_id")
    return clip_id


def test_case_last_follows_labels_relabels_and_unlabels(tmp_path: Path) -> None:
    rng = random.Random(16)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    clips = [add_clip(catalog, rng, index) for index in range(120)]
    cases = [f"2026-XC-{n:03d}" for n in range(6)] + ["", None]
    with catalog.db.conn:
        for step in range(600):
            clip_id = rng.choice(clips)
            if rng.random() < 0.15:
                catalog.db.execute("delete from labels where clip_id = ?", [clip_id])
            else:
                catalog.table("labels").upsert(
                    {"clip_id": clip_id, "case_number": rng.choice(cases), "party": "p",
                     "handler": "h", "labelled_by": "clerk", "labelled_at": "t", "seq": step},
                    pk="clip_id")
            if step % 50 == 0:
                assert from_table(catalog) == reference(catalog), step
    assert from_table(catalog) == reference(catalog)
    assert len(from_table(catalog)) >= 4  # the walk really built cases


def test_a_schema_6_catalog_is_filled_when_opened(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    for index in range(40):
        clip_id = add_clip(catalog, rng, index)
        catalog.table("labels").upsert(
            {"clip_id": clip_id, "case_number": f"C{index % 5}", "labelled_by": "clerk",
             "labelled_at": "t", "seq": index}, pk="clip_id")
    expected = reference(catalog)
    catalog.close()
    conn = sqlite3.connect(path)  # as an older station left it: no case_last, schema 6
    with conn:
        conn.execute("drop table case_last")
        for (name,) in conn.execute("select name from sqlite_master where type = 'trigger' "
                                    "and name like 'case_last%'").fetchall():
            conn.execute(f"drop trigger {name}")
        conn.execute("update meta set value = '6' where key = 'schema_version'")
    conn.close()
    reopened = Catalog(path)
    assert from_table(reopened) == expected
    assert len(expected) == 5


def test_a_clip_labelled_before_its_ingest_counts(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.table("labels").upsert(
        {"clip_id": "00000000000000aa", "case_number": "C1", "labelled_by": "clerk",
         "labelled_at": "t", "seq": 1}, pk="clip_id")
    add_clip(catalog, random.Random(1), 0xAA)
    assert from_table(catalog) == reference(catalog) != {}


def test_the_review_queue_pages_late_cases_and_flags_as_one_list() -> None:
    from evidence_station.web.routes.review import queue_page

    cases = [{"flag_id": f"case:{n}"} for n in range(5)]
    open_flags = [{"flag_id": f"f{n}"} for n in range(4)]

    def flags(*, limit: int, offset: int) -> list[dict[str, str]]:
        return open_flags[offset:offset + limit]

    pages = []
    start, more = 0, True
    while more:
        items, more = queue_page(cases, flags, start=start, size=2)
        pages.append([item["flag_id"] for item in items])
        start += 2
    assert pages == [["case:0", "case:1"], ["case:2", "case:3"], ["case:4", "f0"],
                     ["f1", "f2"], ["f3"]]
    assert queue_page(cases, flags, start=0, size=5) == (cases, True)  # flags follow
    assert queue_page([], flags, start=4, size=2) == ([], False)
    assert queue_page(cases[:2], lambda **_: [], start=0, size=2) == (cases[:2], False)


def test_recent_checkpoint_notes_are_the_newest_first(tmp_path: Path) -> None:
    from hashing.checkpoint import CheckpointStore

    store = CheckpointStore(tmp_path)
    assert store.recent_notes(5) == []
    (tmp_path / "checkpoints").mkdir()
    for size in (1, 12, 3, 2004, 999, 10_015_001, 40):
        (tmp_path / "checkpoints" / f"{size:012d}.note").write_text(str(size))
    (tmp_path / "checkpoints" / "000000000007.note.tmp").write_text("a torn write")
    assert [path.read_text() for path in store.recent_notes(3)] == ["10015001", "2004", "999"]
