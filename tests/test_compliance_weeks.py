"""R15 at scale (issue 16): the catalog keeps each clip's duty bits and the per-week counts
(``catalog/duties.py``), and each case's (officer, device) pairs (``catalog/indexes.py``),
by triggers, and the compliance report adds up whole weeks and pairs from them instead of
judging every clip.

Two properties, on a real catalog driven through random changes of every table a duty
reads: the bits and weeks the triggers kept equal the ones judged afresh from the tables
as they are; and a report of any period and moment is the same whether its whole weeks
come from the kept counts or every clip is judged one by one (the path every period
without a whole week takes)."""

from __future__ import annotations

import gc
import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station import compliance
from evidence_station.catalog import Catalog
from evidence_station.catalog.duties import (
    BITS_SQL,
    BLOCK_WEEKS,
    COUNT_COLUMNS,
    FLAG_KINDS,
    block_of,
    blocks_within,
    fill_duties,
)
from evidence_station.catalog.indexes import fill_case_pairs
from evidence_station.compliance import Options

ZONE = ZoneInfo("Asia/Shanghai")
KINDS = [kind for kinds in FLAG_KINDS.values() for kind in kinds] + ["overlap"]


Kept = tuple[dict[str, int | None], set[tuple[object, ...]], set[tuple[object, ...]]]


COUNTED = "select * from compliance_weeks union all select * from compliance_blocks"


def kept(conn: sqlite3.Connection) -> Kept:
    bits = dict(conn.execute("select clip_id, duty_bits from clips").fetchall())
    weeks = set(conn.execute(COUNTED).fetchall())
    pairs = set(conn.execute("select * from case_pairs").fetchall())
    return bits, weeks, pairs


def judged_afresh(conn: sqlite3.Connection) -> Kept:
    bits = dict(conn.execute(f"select c.clip_id, {BITS_SQL} from clips c").fetchall())
    conn.execute("savepoint afresh")
    fill_duties(conn)
    fill_case_pairs(conn)
    weeks = set(conn.execute(COUNTED).fetchall())
    pairs = set(conn.execute("select * from case_pairs").fetchall())
    conn.execute("rollback to afresh")
    conn.execute("release afresh")
    return bits, weeks, pairs


def recorded(rng: random.Random) -> str | None:
    day = date(2026, 3, 1) + timedelta(days=rng.randrange(120))
    roll = rng.random()
    if roll < 0.08:
        return None  # the camera gave no time
    if roll < 0.11:  # not a time at all (the projection never writes one; the catalog is a file)
        return rng.choice(["unknown", "2026-04-31T10:00:00+08:00", "2026-02-30T10:00:00+08:00",
                           "2026-04-xxT10:00:00+08:00", "2026-05"])
    return f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+08:00"


def change(conn: sqlite3.Connection, rng: random.Random, clips: list[str], n: int) -> None:
    """One random change to a table a duty reads, as the projection (or a hand) makes it."""
    # mostly the last few clips, so that changes meet on one clip (evidence, then audio)
    clip = rng.choice(clips[-4:] if rng.random() < 0.9 else clips) if clips else None
    op = max(0, rng.randrange(-3, 17)) if clips else 0  # a fifth of the changes: a new clip
    at = f"2026-{rng.randrange(3, 8):02d}-{rng.randrange(1, 28):02d}T0{rng.randrange(10)}:00:00"
    if op == 0:
        clip_id = f"{n:016x}"
        conn.execute("insert into clips (clip_id, sha256, size, first_seq, ingested_at, "
                     "recorded_at, device_id, officer_id, source_path, flags) values "
                     "(?, ?, 1, ?, ?, ?, ?, ?, 'x', '[]')",
                     (clip_id, f"{n:064x}", n, at, recorded(rng),
                      rng.choice(["CAM-1", "CAM-2", None]), rng.choice(["000001", "000002", None])))
        clips.append(clip_id)
    elif op == 1:
        conn.execute("insert or replace into review (flag_id, clip_id, kind, raised_seq, state) "
                     "values (?, ?, ?, ?, 'open')", (f"f{rng.randrange(300)}", clip,
                                                     rng.choice(KINDS), n))
    elif op == 2:
        conn.execute("update review set state = 'resolved', kind = ? where flag_id = ?",
                     (rng.choice(KINDS), f"f{rng.randrange(300)}"))
    elif op == 3:
        conn.execute("delete from review where flag_id = ?", (f"f{rng.randrange(300)}",))
    elif op == 4:
        media = rng.choice(['{"kind": "audio"}', '{"kind": "audio"}', '{"kind": "video"}', None])
        conn.execute("insert into analysis (clip_id, seq, media, transcript) values (?, ?, ?, ?) "
                     "on conflict (clip_id) do update set media = excluded.media, "
                     "transcript = excluded.transcript",
                     (clip, n, media, rng.choice(["", None, "", "说明"])))
    elif op == 5:
        conn.execute("delete from analysis where clip_id = ?", (clip,))
    elif op == 6:
        conn.execute("insert into labels (clip_id, case_number, seq) values (?, ?, ?) "
                     "on conflict (clip_id) do update set case_number = excluded.case_number",
                     (clip, f"C-{rng.randrange(5)}", n))
    elif op == 7:
        conn.execute("delete from labels where clip_id = ?", (clip,))
    elif op == 8:
        verb, upsert = rng.choice([("insert or replace", ""), (  # as sqlite-utils does either
            "insert", " on conflict (clip_id) do update set transcript = excluded.transcript")])
        conn.execute(f"{verb} into evidence (clip_id, transcript, seq) values (?, ?, ?){upsert}",
                     (clip, rng.choice(["", "记录"]), n))
    elif op == 9:
        conn.execute("delete from evidence where clip_id = ?", (clip,))
    elif op == 10:
        conn.execute("insert or replace into disc_clips (id, seq, clip_id) values (?, ?, ?)",
                     (f"{rng.randrange(3)}:{clip}", n, clip))
    elif op == 11:
        conn.execute("update clips set deleted_at = ? where clip_id = ?",
                     (rng.choice([at, None]), clip))
    elif op == 12:
        columns = rng.choice([["officer_id"], ["device_id"], ["officer_id", "device_id"]])
        values = {"officer_id": rng.choice(["000001", "000003", None]),
                  "device_id": rng.choice(["CAM-1", "CAM-3"])}
        conn.execute(f"update clips set {', '.join(f'{c} = ?' for c in columns)} where clip_id = ?",
                     [*(values[c] for c in columns), clip])
    elif op == 13:
        conn.execute("update clips set recorded_at = ? where clip_id = ?", (recorded(rng), clip))
    # what the projection never does, and the triggers still keep right
    elif op == 14:
        conn.execute("delete from clips where clip_id = ?", (clip,))
        clips.remove(str(clip))
    elif op == 15:
        conn.execute("update review set clip_id = ? where flag_id = ?",
                     (clip, f"f{rng.randrange(300)}"))
    else:
        conn.execute("update or ignore labels set clip_id = ? where clip_id = ?",
                     (clip, rng.choice(clips)))


def random_catalog(path: Path, seed: int, steps: int) -> tuple[Catalog, random.Random]:
    catalog = Catalog(path)
    rng = random.Random(seed)
    clips: list[str] = []
    conn = catalog.db.conn
    for n in range(steps):
        with conn:
            change(conn, rng, clips, n)
    return catalog, rng


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_bits_and_weeks_are_what_the_tables_say(tmp_path: Path, seed: int) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    rng = random.Random(seed)
    clips: list[str] = []
    conn = catalog.db.conn
    seen = 0
    for n in range(1500):
        with conn:
            change(conn, rng, clips, n)
        if n % 5 == 4:
            assert kept(conn) == judged_afresh(conn), f"after step {n}"
            for (bits,) in conn.execute("select duty_bits from clips"):
                seen |= bits or 0
    assert len(clips) > 150
    assert seen == (1 << (len(COUNT_COLUMNS) - 1)) - 1, f"{seen:b}"  # every duty happened
    catalog.close()


def back_to_schema_7(catalog: Catalog) -> Kept:
    """The catalog as schema 7 left it (no bits, weeks, case pairs or their triggers),
    closed; what schema 8 kept before, for the reopened catalog to match."""
    conn = catalog.db.conn
    want = kept(conn)
    with conn:
        for (name,) in conn.execute("select name from sqlite_master where type = 'trigger' "
                                    "and (name like 'duties_%' or name like 'case_pairs_%')"
                                    ).fetchall():
            conn.execute(f"drop trigger {name}")
        conn.execute("drop table compliance_weeks")
        conn.execute("drop table compliance_blocks")  # schema 9's
        conn.execute("drop table case_pairs")
        conn.execute("drop index idx_clips_unlabelled_ingested")
        for (name,) in conn.execute("select name from sqlite_master where type = 'index' "
                                    "and name like 'idx_clips_duty_%'").fetchall():
            conn.execute(f"drop index {name}")  # schema 9's, on the bits
        conn.execute("alter table clips drop column duty_bits")
        conn.execute("update meta set value = '7' where key = 'schema_version'")
    catalog.close()
    return want


def test_an_older_catalog_is_judged_when_opened(tmp_path: Path) -> None:
    """Schema 7 had neither the bits, the weeks nor the case pairs: opening it fills them."""
    path = tmp_path / "catalog.sqlite"
    catalog, _ = random_catalog(path, 4, 400)
    want = back_to_schema_7(catalog)
    reopened = Catalog(path)
    assert kept(reopened.db.conn) == want
    reopened.close()


def test_an_upgrade_cut_short_is_done_again_whole(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies while judging an older catalog's clips: nothing of schema 8 stays,
    and the next open does all of it (a column added but never filled read 0 in every week)."""
    from evidence_station.catalog import duties

    path = tmp_path / "catalog.sqlite"
    catalog, _ = random_catalog(path, 6, 400)
    want = back_to_schema_7(catalog)
    judge = duties.fill_duties

    def dies(conn: sqlite3.Connection) -> None:
        judge(conn)
        raise KeyboardInterrupt  # stands for the kill: the transaction never commits

    monkeypatch.setattr(duties, "fill_duties", dies)
    with pytest.raises(KeyboardInterrupt):
        Catalog(path)
    gc.collect()  # the dead catalog's connection goes, as with the process
    monkeypatch.setattr(duties, "fill_duties", judge)
    with sqlite3.connect(path) as raw:
        assert "duty_bits" not in {row[1] for row in raw.execute("pragma table_info(clips)")}
    reopened = Catalog(path)
    assert kept(reopened.db.conn) == want and want[1]
    reopened.close()


def test_a_report_from_kept_weeks_is_the_report_judged_clip_by_clip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, rng = random_catalog(tmp_path / "catalog.sqlite", 5, 3000)
    db = catalog.db
    whole_weeks = Options.whole_weeks
    periods = [(date(2026, 3, 1), date(2026, 6, 28)), (date(2026, 3, 2), date(2026, 3, 15)),
               (date(2026, 1, 1), date(2026, 12, 31)),
               (date(2026, 4, 1), date(2026, 4, 30))]
    for _ in range(12):
        start = date(2026, 2, 20) + timedelta(days=rng.randrange(120))
        periods.append((start, start + timedelta(days=rng.randrange(40))))
    compared = 0
    for start, end in periods:
        as_of = datetime(2026, 3, 1, 9, tzinfo=ZONE) + timedelta(days=rng.randrange(150))
        options = Options(start, end, as_of, ZONE, unlabelled_days=rng.choice([0, 7, 30]))
        weekly = compliance.gather(db, "s", options)
        monkeypatch.setattr(Options, "whole_weeks", lambda self: (self.start, self.start))
        one_by_one = compliance.gather(db, "s", options)
        monkeypatch.setattr(Options, "whole_weeks", whole_weeks)
        for group in compliance.GROUPS:
            assert ([(row.key, row.counts) for row in weekly.rows[group]]
                    == [(row.key, row.counts) for row in one_by_one.rows[group]]), (start, end)
        for duty in COUNT_COLUMNS:
            assert ({week: n for week, n in weekly.weekly[duty].items() if n}
                    == {week: n for week, n in one_by_one.weekly[duty].items() if n}), duty
        compared += weekly.total().counts["recordings"] or 0
    assert compared > 1000
    catalog.close()


def test_whole_weeks_of_a_period() -> None:
    def weeks(start: str, end: str) -> tuple[str, str]:
        first, after = Options(date.fromisoformat(start), date.fromisoformat(end),
                               datetime(2027, 1, 1, tzinfo=ZONE), ZONE).whole_weeks()
        return first.isoformat(), after.isoformat()

    assert weeks("2026-11-02", "2026-11-08") == ("2026-11-02", "2026-11-09")  # Mon..Sun
    assert weeks("2026-11-03", "2026-11-15") == ("2026-11-09", "2026-11-16")
    assert weeks("2026-11-03", "2026-11-14") == ("2026-11-03", "2026-11-03")  # none whole
    assert weeks("2026-01-01", "2026-12-31") == ("2026-01-05", "2026-12-28")


def test_a_schema_8_catalog_counts_blocks_when_opened(tmp_path: Path) -> None:
    """Schema 8's clip triggers counted only the weeks: opening the catalog fills the
    blocks and replaces those triggers, so that later changes count both (a trigger left
    as it was would let the blocks fall behind unseen)."""
    path = tmp_path / "catalog.sqlite"
    catalog, rng = random_catalog(path, 11, 500)
    conn = catalog.db.conn
    with conn:
        conn.execute("drop table compliance_blocks")
        for name in ("duties_counted", "duties_moved", "duties_removed"):  # as schema 8's: weeks only
            conn.execute(f"drop trigger {name}")
            conn.execute(f"create trigger {name} after update of duty_bits on clips begin "
                         "select 1; end")
        conn.execute("update meta set value = '8' where key = 'schema_version'")
    catalog.close()
    reopened = Catalog(path)
    conn = reopened.db.conn
    assert kept(conn) == judged_afresh(conn)
    clips = [row[0] for row in conn.execute("select clip_id from clips order by first_seq")]
    for n in range(500, 900):
        with conn:
            change(conn, rng, clips, n)
    assert kept(conn) == judged_afresh(conn)
    reopened.close()


def test_blocks_of_weeks_in_sql_and_python_agree() -> None:
    """``block_of`` (SQL, in the triggers) and ``blocks_within`` (Python, the report's
    bounds) cut the weeks at the same Mondays, before the epoch too (a camera at 1970)."""
    conn = sqlite3.connect(":memory:")

    def block_in_sql(week: str) -> str:
        return str(conn.execute(f"select {block_of(':w')}", {"w": week}).fetchone()[0])

    rng = random.Random(5)
    for _ in range(400):
        monday = date(1969, 12, 29) + timedelta(weeks=rng.randrange(4000))
        block = date.fromisoformat(block_in_sql(monday.isoformat()))
        assert block <= monday < block + timedelta(weeks=BLOCK_WEEKS) and block.weekday() == 0
        after = monday + timedelta(weeks=rng.randrange(40))
        first, last = blocks_within(monday, after)
        assert monday <= first <= last <= after
        inside = [week for week in (monday + timedelta(weeks=n)
                                    for n in range((after - monday).days // 7))
                  if first <= week < last]
        blocks = {date.fromisoformat(block_in_sql(week.isoformat())) for week in inside}
        # the weeks inside are whole blocks, and every whole block inside is used
        assert len(inside) == BLOCK_WEEKS * len(blocks)
        assert all(first <= b and b + timedelta(weeks=BLOCK_WEEKS) <= last for b in blocks)
        assert (after - monday).days < 2 * 7 * BLOCK_WEEKS or first < last
    assert block_in_sql("2026-04-31") == "2026-04-31"  # not a date: its own block, as its week
