"""What the catalog needs to answer at 10^6 clips (issue 16): indexes for every search
the CLI and the web UI make, and ``clips.labelled`` for the clerk's default queue.

Schema 6. Without these, ``clips --officer-id``, a date search, the web clip queue
("unlabelled" is its default) and a clip's page each read every clip; with them each is
an index range of at most one page. ``clips.labelled`` is kept by triggers on ``labels``
inside SQLite, so every writer of ``labels`` (the projection, a rebuild, ``check``'s fresh
projection) keeps it right without knowing of it; ``check`` compares it like any other
column. Each statement is idempotent: an older catalog is migrated by running them.
"""

from __future__ import annotations

import sqlite3

# name -> (table, columns): a search or page order each one serves
INDEXES: dict[str, tuple[str, str]] = {
    "idx_clips_first_seq": ("clips", "first_seq"),  # every list is in ledger order
    # date searches, and R15's lists in recorded order: counted and paged from the index
    # alone (schema 9; replaces sqlite-utils' idx_clips_recorded_at on recorded_at only)
    "idx_clips_recorded_clip": ("clips", "recorded_at, clip_id"),
    "idx_clips_officer_seq": ("clips", "officer_id, first_seq"),  # clips --officer-id, officers' own
    "idx_clips_device_seq": ("clips", "device_id, first_seq"),  # clips --device-id
    "idx_clips_labelled_seq": ("clips", "labelled, first_seq"),  # the web queue, --unlabelled
    "idx_sources_session": ("sources", "session_id"),  # clips --session, the last docking
    "idx_sessions_start_seq": ("sessions", "start_seq"),  # the last docking session
    "idx_review_state_seq": ("review", "state, raised_seq"),  # the review queue, paged
}

TRIGGERS = {
    # A clip is labelled while it has a row in labels (the projection upserts it).
    "clips_labelled_on_label": (
        "create trigger if not exists clips_labelled_on_label after insert on labels "
        "begin update clips set labelled = 1 where clip_id = new.clip_id; end"),
    "clips_labelled_on_moved_label": (  # a label moved to another clip (never today)
        "create trigger if not exists clips_labelled_on_moved_label after update of clip_id "
        "on labels begin update clips set labelled = exists (select 1 from labels l "
        "where l.clip_id = clips.clip_id) where clip_id in (old.clip_id, new.clip_id); end"),
    "clips_unlabelled_on_delete": (
        "create trigger if not exists clips_unlabelled_on_delete after delete on labels "
        "begin update clips set labelled = 0 where clip_id = old.clip_id; end"),
    # A clip ingested after its label (a label never precedes an ingest today; if a
    # replay ever orders them so, the column still says the truth).
    "clips_labelled_on_ingest": (
        "create trigger if not exists clips_labelled_on_ingest after insert on clips "
        "begin update clips set labelled = exists (select 1 from labels l "
        "where l.clip_id = new.clip_id) where clip_id = new.clip_id; end"),
}


# The web queue's search box: a substring of the clip id, device, officer, recording time,
# case number, party or handler (never reporter or complainant, R12). A trigram index
# answers a substring of 3 characters or more from the index instead of a scan of every
# clip. One row per clip, rowid = the clip's rowid; the fields joined by newlines, which a
# search text never holds, so a match never spans two fields.
SEARCH_TEXT = (
    "coalesce(c.clip_id, '') || char(10) || coalesce(c.device_id, '') || char(10) || "
    "coalesce(c.officer_id, '') || char(10) || coalesce(c.recorded_at, '') || char(10) || "
    "coalesce(l.case_number, '') || char(10) || coalesce(l.party, '') || char(10) || "
    "coalesce(l.handler, '')")


def _refresh(clip_id: str) -> str:
    return (f"delete from clip_search where rowid = (select rowid from clips where clip_id = {clip_id}); "
            f"insert into clip_search (rowid, clip_id, body) select c.rowid, c.clip_id, {SEARCH_TEXT} "
            f"from clips c left join labels l on l.clip_id = c.clip_id where c.clip_id = {clip_id};")


SEARCH_TRIGGERS = {
    "clip_search_on_clip": f"create trigger if not exists clip_search_on_clip after insert on clips "
                           f"begin {_refresh('new.clip_id')} end",
    "clip_search_on_label": f"create trigger if not exists clip_search_on_label after insert on labels "
                            f"begin {_refresh('new.clip_id')} end",
    "clip_search_on_relabel": f"create trigger if not exists clip_search_on_relabel after update on "
                              f"labels begin {_refresh('new.clip_id')} end",
    "clip_search_on_unlabel": f"create trigger if not exists clip_search_on_unlabel after delete on "
                              f"labels begin {_refresh('old.clip_id')} end",
}


# R14 needs each case's last labelled recording (the day its enforcement ended unless a
# clerk records it). Computing it from every labelled clip on every review page read all
# of them (2.3 s at 95,000 clips, issue 16), so schema 7 keeps it in ``case_last``, by
# triggers like ``clips.labelled``: every writer of ``labels`` keeps it right. A clip's
# moment is its recorded time, else its ingest time (as ``case_files.case_facts`` always
# took it); ``last_jd`` orders the instants whatever their offsets (``julianday``), and
# ``last_text`` is the original string, from which the rule takes the station-local day.
CLIP_MOMENT_JD = "coalesce(julianday(c.recorded_at), julianday(c.ingested_at))"
CLIP_MOMENT_TEXT = ("case when julianday(c.recorded_at) is not null then c.recorded_at "
                    "else c.ingested_at end")
CASE_LAST_TABLE = ("create table if not exists case_last (case_number text primary key, "
                   "last_jd real, last_text text)")


def _raise_case_last(case_number: str, clip_id: str) -> str:
    """A clip joins a case: the case's last moment becomes the later of the two."""
    return (f"insert into case_last (case_number, last_jd, last_text) "
            f"select {case_number}, {CLIP_MOMENT_JD}, {CLIP_MOMENT_TEXT} from clips c "
            f"where c.clip_id = {clip_id} and coalesce({case_number}, '') != '' "
            f"on conflict (case_number) do update set last_jd = excluded.last_jd, "
            f"last_text = excluded.last_text where case_last.last_jd is null or "
            f"excluded.last_jd > case_last.last_jd;")


def _recompute_case_last(case_number: str, when: str) -> str:
    """A clip left a case: the case's last moment again from its clips (or no row)."""
    return (f"delete from case_last where case_number = {case_number} and ({when}) and not "
            f"exists (select 1 from labels l where l.case_number = {case_number}); "
            f"update case_last set (last_jd, last_text) = (select {CLIP_MOMENT_JD}, "
            f"{CLIP_MOMENT_TEXT} from labels l join clips c on c.clip_id = l.clip_id "
            f"where l.case_number = {case_number} order by 1 desc limit 1) "
            f"where case_number = {case_number} and ({when});")


CASE_LAST_TRIGGERS = {
    "case_last_on_label": "create trigger if not exists case_last_on_label after insert on labels "
                          f"begin {_raise_case_last('new.case_number', 'new.clip_id')} end",
    "case_last_on_relabel": (
        "create trigger if not exists case_last_on_relabel after update of case_number on labels "
        f"begin {_raise_case_last('new.case_number', 'new.clip_id')} "
        f"{_recompute_case_last('old.case_number', 'old.case_number is not new.case_number')} end"),
    "case_last_on_unlabel": "create trigger if not exists case_last_on_unlabel after delete on labels "
                            f"begin {_recompute_case_last('old.case_number', '1')} end",
    # a clip ingested after its label (never today; a replay that ordered them so stays right)
    "case_last_on_ingest": (
        "create trigger if not exists case_last_on_ingest after insert on clips begin "
        + _raise_case_last("(select case_number from labels where clip_id = new.clip_id)",
                           "new.clip_id") + " end"),
}


# R15 counts a late case for every officer and device whose clips it holds (the R14
# figure of the compliance report). Reading every label of every late case for that took
# 0.63 s a year at 10^6 clips (~390 clips a case), so schema 8 keeps, per case, how many
# of its clips each (officer, device) pair recorded, by triggers on ``labels`` and on
# ``clips`` (a clip given to another officer or device), like ``case_last``.
CASE_PAIRS_TABLE = (
    "create table if not exists case_pairs (case_number text not null, officer_id text not null, "
    "device_id text not null, clips integer not null, "
    "primary key (case_number, officer_id, device_id)) without rowid")


def _pair(case_number: str, officer: str, device: str, source: str, sign: str) -> str:
    """One clip in (``+``) or out of (``-``) its case's (officer, device) pair; ``source``
    is the row the values come from (``from ... where ...``)."""
    pair = f"{case_number}, coalesce({officer}, ''), coalesce({device}, '')"
    if sign == "+":
        return (f"insert into case_pairs (case_number, officer_id, device_id, clips) "
                f"select {pair}, 1 {source} and coalesce({case_number}, '') != '' "
                f"on conflict (case_number, officer_id, device_id) do update set clips = clips + 1;")
    return (f"update case_pairs set clips = clips - 1 where (case_number, officer_id, device_id) = "
            f"(select {pair} {source}); "
            f"delete from case_pairs where (case_number, officer_id, device_id) = "
            f"(select {pair} {source}) and clips <= 0;")


def _label_pair(case_number: str, clip_id: str, sign: str) -> str:
    return _pair(case_number, "c.officer_id", "c.device_id",
                 f"from clips c where c.clip_id = {clip_id}", sign)


def _clip_pair(row: str, sign: str) -> str:
    return _pair("l.case_number", f"{row}.officer_id", f"{row}.device_id",
                 f"from labels l where l.clip_id = {row}.clip_id", sign)


CASE_PAIRS_TRIGGERS = {
    "case_pairs_on_label": "create trigger if not exists case_pairs_on_label after insert on "
                           f"labels begin {_label_pair('new.case_number', 'new.clip_id', '+')} end",
    "case_pairs_on_relabel": (
        "create trigger if not exists case_pairs_on_relabel after update of case_number, clip_id "
        f"on labels begin {_label_pair('old.case_number', 'old.clip_id', '-')} "
        f"{_label_pair('new.case_number', 'new.clip_id', '+')} end"),
    "case_pairs_on_unlabel": "create trigger if not exists case_pairs_on_unlabel after delete on "
                             f"labels begin {_label_pair('old.case_number', 'old.clip_id', '-')} end",
    "case_pairs_on_clip": "create trigger if not exists case_pairs_on_clip after insert on clips "
                          f"begin {_clip_pair('new', '+')} end",
    "case_pairs_on_clip_moved": (
        "create trigger if not exists case_pairs_on_clip_moved after update of clip_id, "
        f"officer_id, device_id on clips begin {_clip_pair('old', '-')} {_clip_pair('new', '+')} end"),
    "case_pairs_on_clip_gone": "create trigger if not exists case_pairs_on_clip_gone after delete "
                               f"on clips begin {_clip_pair('old', '-')} end",
}


def fill_case_pairs(conn: sqlite3.Connection) -> None:
    """Every case's (officer, device) pairs from the labels as they are (schema 8)."""
    conn.execute("delete from case_pairs")
    conn.execute("insert into case_pairs (case_number, officer_id, device_id, clips) "
                 "select l.case_number, coalesce(c.officer_id, ''), coalesce(c.device_id, ''), "
                 "count(*) from labels l join clips c on c.clip_id = l.clip_id "
                 "where coalesce(l.case_number, '') != '' group by 1, 2, 3")


def fill_case_last(conn: sqlite3.Connection) -> None:
    """Every case's last moment from the labels as they are (a catalog older than schema 7).
    SQLite takes the bare columns of a ``max()`` row from that row."""
    conn.execute(f"insert or replace into case_last (case_number, last_jd, last_text) "
                 f"select l.case_number, max({CLIP_MOMENT_JD}), {CLIP_MOMENT_TEXT} from labels l "
                 f"join clips c on c.clip_id = l.clip_id where coalesce(l.case_number, '') != '' "
                 f"group by l.case_number")


def search_available(conn: sqlite3.Connection) -> bool:
    """Whether this catalog has the trigram search index (SQLite >= 3.34 with FTS5)."""
    return conn.execute(
        "select 1 from sqlite_master where name = 'clip_search'").fetchone() is not None


def ensure_scale_schema(conn: sqlite3.Connection) -> None:
    """Add ``clips.labelled`` (filled from ``labels``), the triggers and the indexes, and
    the trigram search index where SQLite has one (else the search scans, as before)."""
    with conn:
        if not conn.in_transaction:  # DDL runs in autocommit otherwise: one transaction,
            conn.execute("begin")    # so a crash never leaves a table created but not filled
        columns = {row[1] for row in conn.execute("pragma table_info(clips)")}
        if not search_available(conn):
            try:
                conn.execute("create virtual table clip_search using "
                             "fts5(clip_id unindexed, body, tokenize = 'trigram')")
            except sqlite3.OperationalError:
                pass  # no FTS5 or no trigram tokenizer: the search box scans (still paged)
            else:
                conn.execute(f"insert into clip_search (rowid, clip_id, body) select c.rowid, "
                             f"c.clip_id, {SEARCH_TEXT} from clips c "
                             "left join labels l on l.clip_id = c.clip_id")
                for sql in SEARCH_TRIGGERS.values():
                    conn.execute(sql)
        if "labelled" not in columns:
            conn.execute("alter table clips add column labelled integer not null default 0")
            conn.execute("update clips set labelled = 1 where clip_id in "
                         "(select clip_id from labels)")
        for sql in TRIGGERS.values():
            conn.execute(sql)
        if conn.execute("select 1 from sqlite_master where name = 'case_last'").fetchone() is None:
            conn.execute(CASE_LAST_TABLE)  # schema 7
            fill_case_last(conn)
        for sql in CASE_LAST_TRIGGERS.values():
            conn.execute(sql)
        if conn.execute("select 1 from sqlite_master where name = 'case_pairs'").fetchone() is None:
            conn.execute(CASE_PAIRS_TABLE)  # schema 8
            fill_case_pairs(conn)
        for sql in CASE_PAIRS_TRIGGERS.values():
            conn.execute(sql)
        for name, (table, columns_sql) in INDEXES.items():
            conn.execute(f"create index if not exists {name} on {table} ({columns_sql})")
        conn.execute("drop index if exists idx_clips_recorded_at")  # its prefix, schema 9
