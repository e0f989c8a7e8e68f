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


def search_available(conn: sqlite3.Connection) -> bool:
    """Whether this catalog has the trigram search index (SQLite >= 3.34 with FTS5)."""
    return conn.execute(
        "select 1 from sqlite_master where name = 'clip_search'").fetchone() is not None


def ensure_scale_schema(conn: sqlite3.Connection) -> None:
    """Add ``clips.labelled`` (filled from ``labels``), the triggers and the indexes, and
    the trigram search index where SQLite has one (else the search scans, as before)."""
    columns = {row[1] for row in conn.execute("pragma table_info(clips)")}
    with conn:
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
        for name, (table, columns_sql) in INDEXES.items():
            conn.execute(f"create index if not exists {name} on {table} ({columns_sql})")
