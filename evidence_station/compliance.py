"""R15: the compliance report an inspector can use, as SQL over the catalog.

An inspection (000:31-32, 003:20-22, 001:21) asks, for a period and per officer, per
device and per unit: how much was recorded, what was stored late, what lacks its start
statement, whose camera clock was wrong, which restarts are unexplained, what is still
unlabelled, which evidence has no disc or no transcript, who viewed, copied or released
footage, what was deleted, which case files are late and which devices were not docked
or came back with a full card. Each figure is a count of clips (or devices) that the
report can list, so every cell links to what is behind it.

Everything is aggregated in SQLite, never in Python loops over clips: the catalog holds
10^5–10^6 clips. The catalog judges each clip's duties as they change and counts them
per week, officer and device (``catalog/duties.py``, schema 8; per 8-week block too,
schema 9), so the period's whole weeks are read as those counts, added up in SQL (less
R5's clips too recent to be late yet); the days
before the first Monday and after the last Sunday, and the clips without a recorded
time, go into a temporary table and are judged one by one from the same bits, grouped by
(officer, device, week); one grouped query per event or device duty. Python only builds
the rows of the tables (a year of 100,000 clips: 64 ms instead of 1.4 s; a city unit of
1,000 officers each recording every week: ~60 ms instead of 250). The temporary table
lives in the connection's temp schema, so a reader writes nothing to the catalog and takes no writer lock.

"Per unit" is the station: a catalog holds one unit's footage; the fleet-wide catalog
(PostgreSQL) is where several units are compared.

What each column counts, and by which time:
- clip duties count the period's recordings (recorded time, in the station's zone; the
  ingest time where a clip has none) with the finding as of the report's date;
- event duties (viewings/copies, outside releases, deletions) count registrations whose
  own time falls in the period, attributed to the clip's officer and device;
- device duties (R16) count devices by their state as of the report's date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from evidence_station.catalog.duties import COUNT_COLUMNS, WEEK_SQL, blocks_within, has_bit, week_of

GROUPS = ("officer", "device", "unit")
NOT_WIRED = None  # a duty whose data another feature provides, absent on this station


@dataclass(frozen=True)
class Duty:
    key: str
    rule: str  # the duty list of regulations/README.md, with articles
    basis: str  # clip | event | device | case
    zh: str
    en: str
    rate: bool = False  # also shown as a share of the recordings

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


DUTIES: tuple[Duty, ...] = (
    Duty("recordings", "R15 (000:31)", "clip", "录像数", "Recordings"),
    Duty("late_storage", "R4 (000:26, 004:25, 001:17, 002:22)", "clip", "逾期存储",
         "Stored late", rate=True),
    Duty("statement", "R2 (000:7, 004:7, 002:12, 001:13)", "clip", "缺少或无法识别语音说明",
         "Statement missing or unreadable", rate=True),
    Duty("unanalysed", "R2/R15", "clip", "未分析", "Not analysed"),
    Duty("drift", "R1/R13 (000:7, 004:7, 001:17)", "clip", "时钟偏差超限", "Clock drift over threshold"),
    Duty("restart", "R3 (000:7, 001:15, 002:13)", "clip", "中止后未说明原因",
         "Restart without a stated reason"),
    Duty("unlabelled", "R5 (000:26, 004:25)", "clip", "逾期未标注", "Unlabelled after N days"),
    Duty("no_disc", "R7 (000:27, 004:26, 001:18, 002:21)", "clip", "证据未刻录光盘",
         "Evidence without a disc"),
    Duty("no_transcript", "R8 (002:21)", "clip", "录音证据无文字记录",
         "Audio evidence without a transcript"),
    Duty("access", "R10 (000:28, 004:27, 001:19)", "event", "调阅与复制", "Viewings and copies"),
    Duty("outside", "R12 (000:30, 004:29, 002:24, 001:20)", "event", "向单位外提供",
         "Released outside the unit"),
    Duty("deletions", "R11 (000:29, 004:28, 001:20, 003:22)", "event", "删除", "Deletions"),
    # R14: judged by the case-file rule (case_files.late_cases) and handed in as
    # Options.late_cases by the CLI and the web; None (a bare gather) reads "not judged".
    Duty("case_files_late", "R14 (000:26, 004:25, 002:23)", "case", "案卷逾期未形成",
         "Case files late"),
    Duty("device_idle", "R16 (003:18, 000:7)", "device", "逾期未接入的记录仪",
         "Devices not docked for N days"),
    Duty("card_full", "R16 (003:18, 000:7)", "device", "存储将满的记录仪",
         "Devices docked with a nearly full card"),
)
DUTY = {duty.key: duty for duty in DUTIES}


class ComplianceError(ValueError):
    """A period or threshold the report cannot use (the CLI exits 2 with this text)."""


@dataclass(frozen=True)
class Options:
    start: date
    end: date  # inclusive
    as_of: datetime  # aware; the findings are judged as of this moment
    zone: ZoneInfo
    unlabelled_days: int = 7
    idle_days: int = 30
    card_full_pct: int = 90
    # R14: the case numbers whose case file was late, each with its last day, as the R14
    # rule judged them as of ``as_of`` (``case_files.late_cases``); None = not judged
    late_cases: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ComplianceError(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days > 3660:
            raise ComplianceError("a period longer than ten years is not a compliance period")
        for name, value, low, high in (("unlabelled_days", self.unlabelled_days, 0, 3650),
                                       ("idle_days", self.idle_days, 1, 3650),
                                       ("card_full_pct", self.card_full_pct, 1, 100)):
            if not low <= value <= high:
                raise ComplianceError(f"{name} must be between {low} and {high}, not {value}")

    def params(self) -> dict[str, Any]:
        """The bounds as the catalog stores times: recorded times are local ISO 8601 with
        an offset (compared by local date), event times UTC without a zone suffix (an
        exact-second bound sorts before any fraction of that second)."""
        def utc(day: date) -> str:
            local = datetime.combine(day, time(0), self.zone)
            return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

        offset = datetime.combine(self.start, time(12), self.zone).utcoffset() or timedelta(0)
        as_of = self.as_of.astimezone(UTC)
        weeks_from, weeks_to = self.whole_weeks()
        blocks_from, blocks_to = blocks_within(weeks_from, weeks_to)
        return {
            "local_from": self.start.isoformat(), "local_to": (self.end + timedelta(days=1)).isoformat(),
            "utc_from": utc(self.start), "utc_to": utc(self.end + timedelta(days=1)),
            "shift": f"{int(offset.total_seconds() // 60):+d} minutes",
            "labelled_by": (as_of - timedelta(days=self.unlabelled_days)).strftime("%Y-%m-%dT%H:%M:%S"),
            "idle_before": (as_of - timedelta(days=self.idle_days)).strftime("%Y-%m-%dT%H:%M:%S"),
            "full_pct": self.card_full_pct,
            "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%S"),
            "weeks_from": weeks_from.isoformat(), "weeks_to": weeks_to.isoformat(),
            "blocks_from": blocks_from.isoformat(), "blocks_to": blocks_to.isoformat(),
        }

    def whole_weeks(self) -> tuple[date, date]:
        """The Monday-to-Sunday weeks wholly inside the period, as [first Monday, the
        Monday after the last): the catalog has these weeks counted (compliance_weeks).
        Empty (both the start) when the period holds no whole week."""
        first = self.start + timedelta(days=-self.start.weekday() % 7)
        after = self.end + timedelta(days=1) - timedelta(days=(self.end.weekday() + 1) % 7)
        return (first, after) if after > first else (self.start, self.start)


# Every source yields (item, officer_id, device_id, week); `item` is a clip id or a device id.
# A clip duty is a bit of the clip's ``duty_bits`` (catalog/duties.py: kept by the catalog as
# flags, analyses, labels, evidence and discs are recorded) and, for R5, the report's moment.
CLIP_DUTIES = COUNT_COLUMNS  # recordings, then one per bit


def clip_condition(duty: str, alias: str) -> str:
    """Whether the clip row ``alias`` (clips, or the period table) counts for ``duty``."""
    if duty == "recordings":
        return "1"
    condition = has_bit(duty, f"{alias}.")
    if duty == "unlabelled":
        condition += f" and {alias}.ingested_at < :labelled_by"
    return condition


IN_PERIOD = ("((c.recorded_at >= :local_from and c.recorded_at < :local_to) or "
             "(c.recorded_at is null and c.ingested_at >= :utc_from and c.ingested_at < :utc_to))")
# What compliance_weeks does not count of a period: the days before its first whole week
# and after its last, and the clips without a recorded time (two index ranges and a lookup).
OUTSIDE_WHOLE_WEEKS = (
    "((c.recorded_at >= :local_from and c.recorded_at < :weeks_from) or "
    "(c.recorded_at >= :weeks_to and c.recorded_at < :local_to) or "
    "(c.recorded_at is null and c.ingested_at >= :utc_from and c.ingested_at < :utc_to))")
_EVENT_WEEK = "date(x.{time}, :shift, 'weekday 0', '-6 days')"
EVENT_SOURCES: dict[str, str] = {
    "access": "select x.clip_id item, c.officer_id, c.device_id, " + _EVENT_WEEK.format(time="time")
              + " week from access x join clips c on c.clip_id = x.clip_id "
              "where x.time >= :utc_from and x.time < :utc_to",
    "outside": "select x.clip_id item, c.officer_id, c.device_id, " + _EVENT_WEEK.format(time="time")
               + " week from access x join clips c on c.clip_id = x.clip_id "
               "where x.outside = 1 and x.time >= :utc_from and x.time < :utc_to",
    "deletions": "select x.clip_id item, c.officer_id, c.device_id, "
                 + _EVENT_WEEK.format(time="deleted_at")
                 + " week from deletions x join clips c on c.clip_id = x.clip_id "
                 "where x.deleted_at >= :utc_from and x.deleted_at < :utc_to",
}
# R16: a device's last docking is its state; never docked counts from when it was registered
DEVICE_SOURCES: dict[str, str] = {
    "device_idle": "select d.device_id item, d.officer_id, d.device_id, null week from devices d "
                   "where coalesce(d.last_docked, d.last_seen, d.registered_at) < :idle_before",
    "card_full": "select d.device_id item, d.officer_id, d.device_id, null week from devices d "
                 "where d.storage_total > 0 "
                 "and d.storage_free * 100 < d.storage_total * (100 - :full_pct)",
}
# R14: the cases whose case file was late (not formed by its last day, or formed after
# it) with the last day inside the period. The rule (retention/case_files.py: calendar,
# the recorded or last-recording end) is judged in Python by case_files.late_cases and
# handed in as Options.late_cases; _fill_late_cases puts those of the period in a temp
# table for this SQL, joined to the (officer, device) pairs the catalog keeps per case
# (catalog/indexes.py case_pairs; ``cross join`` keeps the temp table outside: SQLite
# knows nothing of its size, and probing it for every pair is what a plan may choose).
CASE_SOURCE = (
    "select distinct f.case_number item, p.officer_id, p.device_id, null week "
    "from temp.cr_case_late f cross join case_pairs p on p.case_number = f.case_number "
    "where f.deadline >= :local_from and f.deadline < :local_to")


def counting(duty: str) -> str:
    """Event duties count registrations (two viewings of one clip are two); the others
    count distinct clips, devices or cases."""
    return "count(*)" if duty in EVENT_SOURCES else "count(distinct item)"


def source_sql(duty: str) -> str:
    """The row source behind one duty: (item, officer_id, device_id, week)."""
    if duty in CLIP_DUTIES:
        return ("select c.clip_id item, c.officer_id, c.device_id, null week from clips c "
                f"where {IN_PERIOD} and {clip_condition(duty, 'c')}")
    if duty in EVENT_SOURCES:
        return EVENT_SOURCES[duty]
    if duty in DEVICE_SOURCES:
        return DEVICE_SOURCES[duty]
    if duty == "case_files_late":
        return CASE_SOURCE
    raise ComplianceError(f"no such duty {duty!r}; one of: {', '.join(DUTY)}")


def _fill_period(db: sqlite_utils.Database, params: Mapping[str, Any],
                 late_cases: Sequence[tuple[str, str]] | None = None) -> None:
    """The period's recordings that its whole weeks do not count (the days before the
    first Monday and after the last Sunday, and clips without a recorded time), with
    their week (Monday), for the report to judge one by one; and R14's late cases."""
    conn = db.conn
    was_open = conn.in_transaction
    conn.execute("drop table if exists temp.cr_period")
    conn.execute("create temp table cr_period (clip_id text primary key, officer_id text, "
                 "device_id text, day text, week text, ingested_at text, duty_bits integer)")
    conn.execute(
        f"insert into temp.cr_period select clip_id, officer_id, device_id, day, {week_of('day')}, "
        "ingested_at, duty_bits from (select clip_id, officer_id, device_id, ingested_at, "
        "duty_bits, coalesce(substr(recorded_at, 1, 10), date(ingested_at, :shift)) day "
        f"from clips c where {OUTSIDE_WHOLE_WEEKS})", dict(params))
    _fill_late_cases(db, late_cases, params)
    if not was_open:
        conn.commit()  # ends the implicit transaction the insert began (temp schema only)


def _fill_late_cases(db: sqlite_utils.Database, late_cases: Sequence[tuple[str, str]] | None,
                     params: Mapping[str, Any]) -> None:
    """R14's late cases whose last day is in the period, for CASE_SOURCE (temp schema: a
    reader writes nothing)."""
    conn = db.conn
    was_open = conn.in_transaction
    conn.execute("drop table if exists temp.cr_case_late")
    conn.execute("create temp table cr_case_late (case_number text primary key, deadline text)")
    conn.executemany("insert or ignore into temp.cr_case_late values (?, ?)",
                     [(case, deadline) for case, deadline in late_cases or ()
                      if params["local_from"] <= deadline < params["local_to"]])
    if not was_open:
        conn.commit()  # ends the implicit transaction the insert began (temp schema only)


def _clip_counts_sql(params: Mapping[str, Any], by_week: bool) -> str:
    """SQL: every clip duty counted per (officer_id, device_id, week), as rows to add up —
    the period's clips outside its whole weeks one by one from ``temp.cr_period`` (the
    first part: it names the columns); the whole weeks as the catalog keeps them, for the
    tables as the whole 8-week blocks and the weeks around them (catalog/duties.py; a
    block's row carries its block in the ``week`` column, which the tables do not group
    by); less the clips too recent to be late for R5 (-1 each)."""
    columns = ", ".join(COUNT_COLUMNS)
    parts = ["select coalesce(officer_id, '') officer_id, coalesce(device_id, '') device_id, "
             "week, " + ", ".join(f"case when {clip_condition(key, 'p')} then 1 else 0 end {key}"
                                  for key in COUNT_COLUMNS) + " from temp.cr_period p"]
    if params["weeks_from"] < params["weeks_to"]:
        if by_week:
            parts.append(f"select officer_id, device_id, week, {columns} from compliance_weeks "
                         "where week >= :weeks_from and week < :weeks_to")
        else:
            parts.append(f"select officer_id, device_id, block, {columns} from compliance_blocks "
                         "where block >= :blocks_from and block < :blocks_to")
            parts += [f"select officer_id, device_id, week, {columns} from compliance_weeks "
                      f"where week >= :{low} and week < :{high}"
                      for low, high in (("weeks_from", "blocks_from"), ("blocks_to", "weeks_to"))]
        recent = ", ".join("-1" if key == "unlabelled" else "0" for key in COUNT_COLUMNS)
        parts.append(
            f"select coalesce(officer_id, ''), coalesce(device_id, ''), {WEEK_SQL.format(c='c')}, "
            # by ingest time: the recent handful, never every unlabelled clip of the weeks
            f"{recent} from clips c indexed by idx_clips_unlabelled_ingested "
            "where c.labelled = 0 and c.deleted_at is null "
            "and c.ingested_at >= :labelled_by and c.recorded_at >= :weeks_from "
            f"and c.recorded_at < :weeks_to and {has_bit('unlabelled', 'c.')}")
    return " union all ".join(parts)


def _clip_sums(db: sqlite_utils.Database, params: Mapping[str, Any], by: str
               ) -> Iterator[tuple[Any, dict[str, int]]]:
    """The clip duties added up in SQL by ``by`` (officer and device, or week): a city
    unit's year is ~50,000 (officer, device, week) rows, too many to add up in Python
    (~1 µs a cell, nine cells a row) inside a web page's 100 ms."""
    sums = ", ".join(f"sum({key})" for key in COUNT_COLUMNS)
    width = len(by.split(","))
    sql = _clip_counts_sql(params, by_week=by == "week")
    for row in db.execute(f"select {by}, {sums} from ({sql}) group by {by}", dict(params)):
        key = tuple(row[:width]) if width > 1 else row[0]
        yield key, dict(zip(COUNT_COLUMNS, row[width:], strict=True))


@dataclass
class Row:
    """One line of a table: an officer, a device, or the unit."""

    group: str
    key: str  # '' for "none recorded" (a clip without an officer id)
    counts: dict[str, int | None] = field(default_factory=dict)

    def rate(self, duty: str) -> float | None:
        recordings, value = self.counts.get("recordings") or 0, self.counts.get(duty)
        return None if not recordings or value is None else value / recordings


@dataclass
class Report:
    station: str
    options: Options
    rows: dict[str, list[Row]]  # group -> rows
    weeks: list[str]
    weekly: dict[str, dict[str, int]]  # duty -> week -> count
    wired: dict[str, bool]

    def total(self) -> Row:
        return self.rows["unit"][0]


def gather(db: sqlite_utils.Database, station: str, options: Options, *,
           series: bool = True) -> Report:
    """Every table and (``series``) weekly series of the report, from the catalog. The web
    page draws no plot itself (they are images of their own), so it asks for no series:
    a city unit's year has ~52,000 week rows to add up by week."""
    params = options.params()
    _fill_period(db, params, options.late_cases)
    pairs: dict[str, dict[tuple[str, str], int]] = {}
    weekly: dict[str, dict[str, int]] = {}
    wired = {duty.key: True for duty in DUTIES}
    wired["case_files_late"] = options.late_cases is not None
    for key in CLIP_DUTIES:
        pairs[key], weekly[key] = {}, {}
    for pair, counts in _clip_sums(db, params, "officer_id, device_id"):
        for key, value in counts.items():
            pairs[key][pair] = value
    for week, counts in _clip_sums(db, params, "week") if series else ():
        for key, value in counts.items():
            weekly[key][week] = value
    late: set[str] = set()  # R14: a case shared by two officers is one case for the unit
    for duty in DUTIES:
        if not wired[duty.key] or duty.basis == "clip":
            continue
        if duty.basis == "case":  # one pass over the late cases' clips serves both
            shared: dict[tuple[str, str], int] = {}
            for case, officer, device in db.execute(
                    "select distinct item, coalesce(officer_id, ''), coalesce(device_id, '') "
                    f"from ({CASE_SOURCE})", params):
                late.add(case)
                shared[(officer, device)] = shared.get((officer, device), 0) + 1
            pairs[duty.key] = shared
            continue
        sql = source_sql(duty.key)
        rows = db.execute(
            f"select coalesce(officer_id, ''), coalesce(device_id, ''), {counting(duty.key)} "
            f"from ({sql}) group by 1, 2", params).fetchall()
        pairs[duty.key] = {(officer, device): count for officer, device, count in rows}
        if duty.basis in ("clip", "event") and series:
            weekly[duty.key] = dict(db.execute(
                f"select week, {counting(duty.key)} from ({sql}) where week is not null "
                "group by week", params).fetchall())
    tables: dict[str, list[Row]] = {"officer": [], "device": [], "unit": []}
    for group, index in (("officer", 0), ("device", 1)):
        keys = {pair[index] for counted in pairs.values() for pair in counted}
        by_key = {key: Row(group, key) for key in keys}
        for duty in DUTIES:
            counted = pairs.get(duty.key)
            if counted is None:  # not wired on this station
                for row in by_key.values():
                    row.counts[duty.key] = None
                continue
            sums = dict.fromkeys(by_key, 0)
            for pair, n in counted.items():
                sums[pair[index]] += n
            for key, row in by_key.items():
                row.counts[duty.key] = sums[key]
        tables[group] = [by_key[key] for key in sorted(by_key)]
    unit = Row("unit", station)
    for duty in DUTIES:
        counted = pairs.get(duty.key)
        # a clip or a device is in one (officer, device) pair, a registration is counted
        # where it happened, a case once however many pairs share it
        unit.counts[duty.key] = None if counted is None else (
            len(late) if duty.basis == "case" else sum(counted.values()))
    tables["unit"].append(unit)
    monday = options.start - timedelta(days=options.start.weekday())
    weeks = [(monday + timedelta(weeks=n)).isoformat()
             for n in range((options.end - monday).days // 7 + 1)]  # empty weeks show as 0
    # without the series no duty has a weekly entry (empty, not weeks of zero findings)
    return Report(station, options, tables, weeks, weekly if series else {}, wired)


def items(db: sqlite_utils.Database, options: Options, duty: str, group: str, key: str, *,
          limit: int = 200, offset: int = 0, fill: bool = True) -> tuple[list[str], int]:
    """The clips (or devices, or case numbers) behind one cell, and how many there are:
    what a cell of the report links to. Clips are listed in recorded order (the clips
    without a recorded time last, by ingest time); devices, cases and event clips by id.
    ``fill=False`` reuses the late cases the last ``gather`` or ``items`` on this
    connection filled for the same options."""
    if group not in GROUPS:
        raise ComplianceError(f"no such group {group!r}; one of: {', '.join(GROUPS)}")
    params = options.params()
    values = {**params, "key": key}
    if duty in CLIP_DUTIES:
        condition = clip_condition(duty, "c") + _of_cell(group, key, "c.", " and ")
        return _clip_items(db, condition, values, int(limit), int(offset))
    if fill:
        _fill_late_cases(db, options.late_cases, params)
    sql, where = source_sql(duty), _of_cell(group, key, "", " where ")
    total = int(db.execute(f"select count(distinct item) from ({sql}){where}", values)
                .fetchone()[0])
    found = [str(row[0]) for row in db.execute(
        f"select distinct item from ({sql}){where} order by item limit :limit offset :offset",
        {**values, "limit": int(limit), "offset": int(offset)})]
    return found, total


def _of_cell(group: str, key: str, alias: str, joint: str) -> str:
    """SQL: the rows of one officer's or device's cell (``:key``), nothing for the unit.
    Equality, so that the officer's (device's) index finds the cell's clips."""
    if group == "unit":
        return ""
    column = f"{alias}{group}_id"
    return f"{joint}{column} = :key" if key else f"{joint}({column} is null or {column} = '')"


def _clip_items(db: sqlite_utils.Database, condition: str, values: dict[str, Any],
                limit: int, offset: int) -> tuple[list[str], int]:
    """One clip figure's page: the dated clips of the period in recorded order, then the
    undated ones by ingest time. Each part is one index range (a whole unit's year is
    ~180,000 clips at 10^6: the duty's partial index, catalog/duties.py, holds only the
    clips with its bit, and ``(recorded_at, clip_id)`` answers the order and the count
    without reading the clips), so a page stops at its last row instead of sorting the
    year (0.1–0.6 s before)."""
    dated = ("from clips c where c.recorded_at >= :local_from and c.recorded_at < :local_to "
             f"and {condition}")
    undated = ("from clips c where c.recorded_at is null and c.ingested_at >= :utc_from "
               f"and c.ingested_at < :utc_to and {condition}")
    dated_total = int(db.execute(f"select count(*) {dated}", values).fetchone()[0])
    total = dated_total + int(db.execute(f"select count(*) {undated}", values).fetchone()[0])
    limit, offset = max(0, limit), max(0, offset)  # SQLite reads a negative limit as none
    page = {**values, "limit": limit, "offset": offset}
    found = [str(row[0]) for row in db.execute(
        f"select c.clip_id {dated} order by c.recorded_at, c.clip_id limit :limit offset :offset",
        page)] if offset < dated_total else []
    if len(found) < limit and offset + len(found) < total:
        page.update(limit=limit - len(found), offset=max(0, offset - dated_total))
        found += [str(row[0]) for row in db.execute(
            f"select c.clip_id {undated} order by c.ingested_at, c.clip_id "
            "limit :limit offset :offset", page)]
    return found, total


def cell_items(db: sqlite_utils.Database, options: Options, duty: str, group: str, *,
               limit: int) -> dict[str, tuple[list[str], int]]:
    """The first ``limit`` items of every cell of one duty and group, and each cell's
    number of distinct items, in one query (a window per cell), after ``gather`` filled the
    period: the file's appendix without one query per cell."""
    column = {"officer": "coalesce(officer_id, '')", "device": "coalesce(device_id, '')",
              "unit": "''"}[group]
    if duty in CLIP_DUTIES:  # as ``items`` lists them: recorded order, undated clips last
        rows_sql = (f"select {column} cell, c.clip_id item, c.recorded_at is null undated, "
                    "coalesce(c.recorded_at, c.ingested_at) at from clips c "
                    f"where {IN_PERIOD} and {clip_condition(duty, 'c')}")
        order = "undated, at, item"
    else:
        rows_sql = f"select distinct {column} cell, item from ({source_sql(duty)})"
        order = "item"
    sql = (f"select cell, item, total from (select cell, item, "
           f"row_number() over (partition by cell order by {order}) n, "
           f"count(*) over (partition by cell) total from ({rows_sql})) where n <= :limit "
           "order by cell, n")
    found: dict[str, tuple[list[str], int]] = {}
    rows = db.execute(sql, {**options.params(), "limit": int(limit)}).fetchall()
    for cell, item, total in rows:
        found.setdefault(cell, ([], int(total)))[0].append(str(item))
    return found


def cells(report: Report) -> Iterator[tuple[str, Row, str]]:
    """Every non-zero cell (group, row, duty): what the appendix and the CSV list."""
    for group in GROUPS:
        for row in report.rows[group]:
            for duty in DUTIES:
                if row.counts.get(duty.key):
                    yield group, row, duty.key


def anchor(group: str, key: str, duty: str) -> str:
    """The HTML id of a cell's appendix entry (keys may hold any characters)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else f"_{ord(ch):x}_"
                   for ch in key) or "_"
    return f"cell-{group}-{safe}-{duty}"


def item_rows(db: sqlite_utils.Database, basis: str, found: list[str]) -> list[dict[str, Any]]:
    """What the filtered list shows of each item: a clip's device, officer and times; a
    device's last docking and card; a case number as it is."""
    if not found:
        return []
    marks = ", ".join("?" for _ in found)
    if basis in ("clip", "event"):
        sql = ("select clip_id id, device_id, officer_id, recorded_at, ingested_at, deleted_at "
               f"from clips where clip_id in ({marks})")
    elif basis == "device":
        sql = ("select device_id id, device_id, officer_id, last_docked, last_seen, "
               f"storage_total, storage_free from devices where device_id in ({marks})")
    else:
        return [{"id": item} for item in found]
    by_id = {row["id"]: dict(row) for row in db.query(sql, found)}
    return [by_id[item] for item in found if item in by_id]  # in the list's own order
