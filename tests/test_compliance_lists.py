"""R15: the list behind a clip figure (issue 16: a whole unit's year at 10^6 clips).

``compliance.items`` lists a clip figure's clips in recorded order (undated clips last,
by ingest time), one index range per part: the duty's partial index or
``(recorded_at, clip_id)``. On a catalog driven through random changes of every table a
duty reads (tests/test_compliance_weeks.py), every cell's list read page by page is
exactly the clips the report counts in that cell, in that order, and the queries use the
indexes that make them an index range (a query whose condition is spelt differently from
the partial index's silently reads the whole year again)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from evidence_station import compliance
from evidence_station.catalog import Catalog
from evidence_station.catalog.duties import COUNT_COLUMNS, DUTY_BITS, DUTY_INDEXES
from evidence_station.compliance import Options
from tests.test_compliance_weeks import ZONE, random_catalog


def reference(conn: sqlite3.Connection, options: Options, duty: str, group: str,
              key: str) -> list[str]:
    """The cell's clips as the report's own source selects them, sorted in Python."""
    rows = conn.execute(
        f"select c.clip_id, c.recorded_at, c.ingested_at, c.officer_id, c.device_id from clips c "
        f"where {compliance.IN_PERIOD} and {compliance.clip_condition(duty, 'c')}",
        options.params()).fetchall()
    column = {"officer": 3, "device": 4}.get(group)
    mine = [row for row in rows if column is None or (row[column] or "") == key]
    return [row[0] for row in sorted(
        mine, key=lambda r: (0, r[1], r[0]) if r[1] is not None else (1, r[2], r[0]))]


def page_by_page(db: sqlite_utils.Database, options: Options, duty: str, group: str, key: str,
                 size: int) -> tuple[list[str], int]:
    found: list[str] = []
    totals = set()
    for offset in range(0, 100_000, size):
        page, total = compliance.items(db, options, duty, group, key, limit=size, offset=offset)
        totals.add(total)
        assert len(page) == min(size, max(0, total - offset))
        found += page
        if offset + size >= total:
            break
    assert len(totals) == 1  # every page says the same total
    return found, totals.pop()


def test_every_clip_figure_lists_its_clips_page_by_page(tmp_path: Path) -> None:
    catalog, rng = random_catalog(tmp_path / "catalog.sqlite", 7, 2500)
    db, listed = catalog.db, 0
    periods = [(date(2026, 3, 1), date(2026, 6, 28)), (date(2026, 4, 1), date(2026, 4, 30))]
    periods += [(start, start + timedelta(days=rng.randrange(60)))
                for start in (date(2026, 2, 20) + timedelta(days=rng.randrange(120))
                              for _ in range(3))]
    for start, end in periods:
        as_of = datetime(2026, 3, 1, 9, tzinfo=ZONE) + timedelta(days=rng.randrange(150))
        options = Options(start, end, as_of, ZONE, unlabelled_days=rng.choice([0, 7, 30]))
        report = compliance.gather(db, "s", options)
        for group in compliance.GROUPS:
            # the file's appendix: every cell's first clips at once, in the same order
            appendix = {duty: compliance.cell_items(db, options, duty, group, limit=5)
                        for duty in COUNT_COLUMNS}
            for row in report.rows[group]:
                for duty in COUNT_COLUMNS:
                    found, total = page_by_page(db, options, duty, group, row.key,
                                                rng.choice([1, 3, 7, 50]))
                    assert total == row.counts[duty], (group, row.key, duty)
                    assert found == reference(db.conn, options, duty, group, row.key), (
                        group, row.key, duty, start, end)
                    cell = "" if group == "unit" else row.key
                    assert appendix[duty].get(cell, ([], 0)) == (found[:5], total)
                    # what the web list shows of them, in the same order
                    assert [r["id"] for r in compliance.item_rows(db, "clip", found[:9])] == found[:9]
                    listed += total
    assert listed > 2000
    catalog.close()


def test_a_page_past_the_end_is_empty_and_keeps_the_total(tmp_path: Path) -> None:
    catalog, _ = random_catalog(tmp_path / "catalog.sqlite", 8, 600)
    options = Options(date(2026, 1, 1), date(2026, 12, 31), datetime(2026, 12, 31, tzinfo=ZONE),
                      ZONE)
    _, total = compliance.items(catalog.db, options, "recordings", "unit", "")
    assert total > 50
    assert compliance.items(catalog.db, options, "recordings", "unit", "",
                            limit=10, offset=total) == ([], total)
    assert compliance.items(catalog.db, options, "recordings", "unit", "",  # never "no limit"
                            limit=-1) == ([], total)
    catalog.close()


@pytest.mark.parametrize("duty", ["recordings", *DUTY_BITS])
def test_a_unit_list_is_an_index_range(tmp_path: Path, duty: str) -> None:
    """The plan of each dated query: the duty's partial index (or the recorded-order index
    for all recordings), never a scan of the clips nor a sort of the whole period."""
    catalog, _ = random_catalog(tmp_path / "catalog.sqlite", 9, 200)
    conn = catalog.db.conn
    with conn:  # every clip with every bit: each part has rows, so each query runs
        conn.execute(f"update clips set duty_bits = {(1 << len(DUTY_BITS)) - 1}")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    options = Options(date(2026, 1, 1), date(2026, 12, 31), datetime(2026, 12, 31, tzinfo=ZONE),
                      ZONE)
    assert compliance.items(catalog.db, options, duty, "unit", "", limit=10)[1] > 10
    conn.set_trace_callback(None)
    dated = [sql for sql in statements if "c.recorded_at >=" in sql]
    assert len(dated) == 2  # the count and the page
    index = "idx_clips_recorded_clip" if duty == "recordings" else f"idx_clips_duty_{duty}"
    for sql in dated:
        plan = " | ".join(row[3] for row in conn.execute(f"explain query plan {sql}"))
        assert f"USING COVERING INDEX {index}" in plan or f"USING INDEX {index}" in plan, plan
        assert "SCAN" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
    catalog.close()


def test_a_schema_8_catalog_gets_the_list_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog, _ = random_catalog(path, 10, 400)
    options = Options(date(2026, 1, 1), date(2026, 12, 31), datetime(2026, 12, 31, tzinfo=ZONE),
                      ZONE)
    want = {duty: compliance.items(catalog.db, options, duty, "unit", "") for duty in COUNT_COLUMNS}
    conn = catalog.db.conn
    with conn:  # as schema 8 left it: sqlite-utils' index on recorded_at, no duty indexes
        for name in [*DUTY_INDEXES, "idx_clips_recorded_clip"]:
            conn.execute(f"drop index {name}")
        conn.execute("create index idx_clips_recorded_at on clips (recorded_at)")
        conn.execute("update meta set value = '8' where key = 'schema_version'")
    catalog.close()
    reopened = Catalog(path)
    names = {row[0] for row in reopened.db.conn.execute(
        "select name from sqlite_master where type = 'index'")}
    assert {*DUTY_INDEXES, "idx_clips_recorded_clip"} <= names
    assert "idx_clips_recorded_at" not in names  # the new one's prefix: one index to keep
    assert {duty: compliance.items(reopened.db, options, duty, "unit", "")
            for duty in COUNT_COLUMNS} == want
    reopened.close()
