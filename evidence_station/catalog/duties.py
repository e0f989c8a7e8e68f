"""R15's clip duties kept by the catalog (schema 8), so that a year's compliance report
adds up weeks instead of judging every clip (issue 16: 1.4 s for a year of 100,000 clips,
against 100 ms for a web page).

Each clip carries ``duty_bits``: one bit per clip duty (``DUTY_BITS``), true when the
catalog shows the finding now — a flag raised, no analysis, no label, evidence without a
disc or without a transcript. ``compliance_weeks`` holds, per Monday-week of the clip's
recorded day, officer and device, how many clips there are and how many have each bit.
Triggers on every table a duty reads (clips, review, analysis, labels, evidence,
disc_clips) keep both right inside SQLite, like ``clips.labelled`` and ``case_last``: the
projection, a rebuild and ``check``'s fresh projection all keep them without knowing of
them, and ``check`` compares them with that fresh projection. A row an ``insert or
replace`` throws out fires its delete triggers only with ``recursive_triggers`` on, which
sqlite-utils sets on every catalog connection (``Catalog.db``): write through it.

Only what is a fact of the catalog is kept. The report's own moment (``unlabelled``
counts clips ingested more than N days before it) is applied when the report is made,
and a clip without a recorded time has no week here: its day is its ingest time in the
station's zone, which the catalog does not know, so the report judges those clips one by
one (they are the rare ones whose camera gave no time).
"""

from __future__ import annotations

import sqlite3

# The review-flag kinds (analysis/rules.py ARTICLES) behind each flag duty. A flag counts
# whether it is open or resolved: a resolution explains a finding, it does not undo it.
FLAG_KINDS: dict[str, tuple[str, ...]] = {
    "late_storage": ("late_storage",),
    # no speech model means nobody can show a statement was made: reported, not hidden
    "statement": ("statement_unreadable", "statement_needed"),
    "drift": ("clock_drift", "clock_ahead"),
    "restart": ("interruption_unexplained",),
}


def _in(kinds: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{kind}'" for kind in kinds) + ")"  # constants, never input


# Each clip duty as a condition on one row ``c`` of clips, looked up through the indexes
# (review.clip_id and the primary keys of labels, evidence and analysis, disc_clips.clip_id).
# The order is the bit order: a new duty goes at the end (schema version up, bits refilled).
DUTY_BITS: dict[str, str] = {
    **{key: "exists (select 1 from review r where r.clip_id = c.clip_id "
            f"and r.kind in {_in(kinds)})" for key, kinds in FLAG_KINDS.items()},
    "unanalysed": "not exists (select 1 from analysis a where a.clip_id = c.clip_id)",
    # R5: and ingested more than N days before the report's moment (applied by the report)
    "unlabelled": "c.deleted_at is null "
                  "and not exists (select 1 from labels l where l.clip_id = c.clip_id)",
    "no_disc": "c.deleted_at is null "
               "and exists (select 1 from evidence e where e.clip_id = c.clip_id) "
               "and not exists (select 1 from disc_clips d where d.clip_id = c.clip_id)",
    "no_transcript": "exists (select 1 from evidence e join analysis a on a.clip_id = e.clip_id "
                     "where e.clip_id = c.clip_id and case when json_valid(a.media) "
                     "then json_extract(a.media, '$.kind') end = 'audio' "  # never refuse a write
                     "and coalesce(e.transcript, '') = '' and coalesce(a.transcript, '') = '')",
}
BIT = {key: 1 << index for index, key in enumerate(DUTY_BITS)}


def has_bit(duty: str, alias: str) -> str:
    """SQL: the clip row ``alias`` (``c.``, or '' in an index) has ``duty``'s bit. The one
    spelling of the test: SQLite uses a partial index only for a query whose WHERE holds
    the index's own condition term for term (``DUTY_INDEXES``)."""
    return f"({alias}duty_bits & {BIT[duty]}) != 0"


# Schema 9: per duty, its clips in recorded order (the compliance report's list behind a
# figure: a whole unit's year is one index range of only the clips with the bit, counted
# and paged without reading the clips). R5's list also tests the ingest time.
DUTY_INDEXES = {
    f"idx_clips_duty_{key}": (
        f"create index if not exists idx_clips_duty_{key} on clips (recorded_at, clip_id"
        + (", ingested_at" if key == "unlabelled" else "") + f") where {has_bit(key, '')}")
    for key in DUTY_BITS}
COUNT_COLUMNS = ("recordings", *DUTY_BITS)  # compliance_weeks' counts, in this order

BITS_SQL = " | ".join(f"(({condition}) << {index})"
                      for index, condition in enumerate(DUTY_BITS.values()))


def week_of(day: str) -> str:
    """SQL: the Monday of a local ISO day. A day that is not one (the projection never
    writes such a time, but the catalog is a file) is its own week, so that a period's
    whole weeks hold exactly the clips whose recorded time falls in them as text."""
    return (f"(case when date({day}, '+0 days') = {day} "
            f"then date({day}, 'weekday 0', '-6 days') else {day} end)")


# The week a dated clip is counted in (recorded_at: local ISO time with offset)
WEEK_SQL = week_of("substr({c}.recorded_at, 1, 10)")

WEEKS_TABLE = (
    "create table if not exists compliance_weeks (week text not null, officer_id text not null, "
    "device_id text not null, " + ", ".join(f"{name} integer not null default 0"
                                            for name in COUNT_COLUMNS)
    + ", primary key (week, officer_id, device_id)) without rowid")


def _count(sign: str, bits: str) -> str:
    """The count columns of one clip: 1 recording and its ``bits``, with ``sign``."""
    return ", ".join([f"{sign}1"] + [f"{sign}({bits} >> {index} & 1)"
                                     for index in range(len(DUTY_BITS))])


def _key(alias: str) -> str:
    return (f"{WEEK_SQL.format(c=alias)}, coalesce({alias}.officer_id, ''), "
            f"coalesce({alias}.device_id, '')")


def _add(key: str, bits: str, sign: str) -> str:
    """Add (``+``) or take away (``-``) one clip counted with ``bits`` in the week of the
    clip row ``key`` (``old`` or ``new``); nothing when it was never judged (bits null)
    or has no recorded time."""
    columns = ", ".join(COUNT_COLUMNS)
    updates = ", ".join(f"{name} = {name} + excluded.{name}" for name in COUNT_COLUMNS)
    return (f"insert into compliance_weeks (week, officer_id, device_id, {columns}) "
            f"select {_key(key)}, {_count(sign, bits)} "
            f"where {bits} is not null and {key}.recorded_at is not null "
            f"on conflict (week, officer_id, device_id) do update set {updates};")


def _drop_empty(key: str) -> str:
    """The week row a clip left, if no clip is counted in it any more (a fresh projection
    has no such row, and ``check`` compares them)."""
    return (f"delete from compliance_weeks where (week, officer_id, device_id) = "
            f"(select {_key(key)}) and recordings = 0;")


def _judge(clip_id: str) -> str:
    """Judge the clip's duties again; ``duties_counted`` moves its week counts."""
    return (f"update clips set duty_bits = (select {BITS_SQL} from clips c "
            f"where c.clip_id = {clip_id}) where clip_id = {clip_id};")


def _triggers() -> dict[str, str]:
    """A change to a table a duty reads judges its clip again; a clip judged again, moved
    to another week, officer or device, or removed, moves its counts (``duties_counted``,
    ``duties_moved``, ``duties_removed``: the only triggers that touch compliance_weeks)."""
    triggers: dict[str, str] = {}
    watched = {  # table -> the columns a duty reads (besides clip_id)
        "review": "kind", "analysis": "media, transcript", "labels": None,
        "evidence": "transcript", "disc_clips": None}
    for table, columns in watched.items():
        triggers[f"duties_on_{table}_insert"] = (
            f"after insert on {table} begin {_judge('new.clip_id')} end")
        triggers[f"duties_on_{table}_delete"] = (
            f"after delete on {table} begin {_judge('old.clip_id')} end")
        of = f" of clip_id, {columns}" if columns else " of clip_id"
        triggers[f"duties_on_{table}_update"] = (
            f"after update{of} on {table} begin {_judge('old.clip_id')} "
            f"{_judge('new.clip_id')} end")
    triggers["duties_on_clip_insert"] = (  # a new clip: judged for the first time
        f"after insert on clips begin {_judge('new.clip_id')} end")
    # judged again: out of its week with the old bits, in with the new (the same week)
    triggers["duties_counted"] = (
        "after update of duty_bits on clips begin "
        + _add("new", "old.duty_bits", "-") + _add("new", "new.duty_bits", "+") + " end")
    # deleted (a tombstone), re-dated or given to another officer or device: the counts
    # move from the old week to the new one as they were, then the clip is judged again
    triggers["duties_moved"] = (
        "after update of clip_id, recorded_at, officer_id, device_id, deleted_at on clips begin "
        + _add("old", "old.duty_bits", "-") + _drop_empty("old")
        + _add("new", "old.duty_bits", "+") + _judge("new.clip_id") + " end")
    triggers["duties_removed"] = (
        "after delete on clips begin "
        + _add("old", "old.duty_bits", "-") + _drop_empty("old") + " end")
    return {name: f"create trigger if not exists {name} {body}" for name, body in triggers.items()}


TRIGGERS = _triggers()


def fill_duties(conn: sqlite3.Connection) -> None:
    """Judge every clip and count the weeks (a catalog older than schema 8)."""
    conn.execute(f"update clips set duty_bits = (select {BITS_SQL} from clips c "
                 "where c.clip_id = clips.clip_id)")
    conn.execute("delete from compliance_weeks")
    columns = ", ".join(COUNT_COLUMNS)
    sums = ", ".join(["count(*)"] + [f"sum(c.duty_bits >> {index} & 1)"
                                     for index in range(len(DUTY_BITS))])
    conn.execute(f"insert into compliance_weeks (week, officer_id, device_id, {columns}) "
                 f"select {_key('c')}, {sums} from clips c where c.recorded_at is not null "
                 "group by 1, 2, 3")


def ensure_duties_schema(conn: sqlite3.Connection) -> None:
    """Schema 8: ``clips.duty_bits``, ``compliance_weeks`` and their triggers; schema 9:
    the duties' partial indexes (idempotent).

    One transaction: Python's sqlite3 runs DDL in autocommit, so without the explicit
    ``begin`` a crash during the fill left the column added and the clips never judged
    (the next open saw the column and skipped the fill; the weeks read 0)."""
    if not conn.in_transaction:
        conn.execute("begin")
    columns = {row[1] for row in conn.execute("pragma table_info(clips)")}
    fresh = "duty_bits" not in columns
    if fresh:
        conn.execute("alter table clips add column duty_bits integer")
    conn.execute(WEEKS_TABLE)
    if fresh:  # before the triggers: judging every clip once, not once more per trigger
        fill_duties(conn)
    # R5's "ingested more than N days ago": the report takes the recent unlabelled clips of
    # its weeks back out, found here (a handful: only unlabelled clips are in this index)
    conn.execute("create index if not exists idx_clips_unlabelled_ingested on clips "
                 "(ingested_at) where labelled = 0 and deleted_at is null")
    for sql in [*TRIGGERS.values(), *DUTY_INDEXES.values()]:
        conn.execute(sql)
