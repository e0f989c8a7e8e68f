"""The PostgreSQL side: the ledger mirror, checkpoints and the fleet-wide catalog.

``ledger_event (origin, seq, body)`` holds every station's events as their canonical
bytes, exactly (DESIGN.md, "Beyond one station"). The catalog tables beside it
(``fleet_clip``) are a projection of those rows, written in the same transaction as the
rows they come from, so the catalog never runs ahead of or behind the mirror.

Idempotence: ``(origin, seq)`` is the primary key, a batch is appended under a
per-origin advisory lock after re-reading the mirror's head, so replays, restarts and two
daemons of one station never duplicate a row; a row already there must be the same bytes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evidence_station.fleet import FleetError

SCHEMA = """
create table if not exists ledger_event (
    origin text not null,
    seq bigint not null check (seq >= 0),
    body bytea not null,
    primary key (origin, seq)
);
create table if not exists fleet_station (
    origin text primary key,
    station text not null,
    verifier_key text not null,
    first_seen timestamptz not null default now()
);
create table if not exists fleet_checkpoint (
    origin text not null,
    size bigint not null,
    note text not null,
    -- consistency proof (hex, one per line) from the origin's previous stored checkpoint
    proof_from bigint,
    proof text not null default '',
    received_at timestamptz not null default now(),
    primary key (origin, size)
);
create table if not exists fleet_clip (
    origin text not null,
    clip_id text not null,
    sha256 text not null,
    size bigint not null,
    device_id text,
    officer_id text,
    recorded_at timestamptz,
    ingested_at timestamptz not null,
    case_number text,
    party text,
    handler text,
    category text,
    evidence boolean not null default false,
    holds integer not null default 0,
    deleted_at timestamptz,
    seq bigint not null,
    primary key (origin, clip_id)
);
create index if not exists fleet_clip_case on fleet_clip (case_number);
create index if not exists fleet_clip_sha on fleet_clip (sha256);
create index if not exists fleet_clip_device on fleet_clip (device_id);
create index if not exists fleet_clip_officer on fleet_clip (officer_id);
create table if not exists fleet_object (
    sha256 text primary key,
    size bigint not null,
    retain_until timestamptz not null,
    legal_hold boolean not null,
    version_id text,
    origin text not null,
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);
create table if not exists fleet_alarm (
    id bigserial primary key,
    origin text not null,
    at timestamptz not null default now(),
    kind text not null,
    detail text not null
);
"""


def connect(url: str, timeout_s: float) -> Any:
    """A psycopg connection with the schema in place; a clear error when it cannot be."""
    import psycopg

    try:
        conn = psycopg.connect(url, connect_timeout=max(1, int(timeout_s)), autocommit=True)
    except psycopg.Error as err:
        raise FleetError(f"PostgreSQL {_safe(url)}: {_first_line(err)}") from err
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(7306541)")  # one schema creator at a time
            conn.execute(SCHEMA)
    except psycopg.errors.InsufficientPrivilege as err:
        # a station's role may only insert (README, fleet): the owner made the tables
        made = conn.execute("select to_regclass('ledger_event') is not null").fetchone()
        if made is not None and made[0]:
            return conn
        conn.close()
        raise FleetError(f"PostgreSQL {_safe(url)}: the fleet tables do not exist and this role "
                         f"may not create them ({_first_line(err)}); run `fleet push` once as the "
                         "database owner") from err
    except psycopg.Error as err:
        conn.close()
        raise FleetError(f"PostgreSQL {_safe(url)}: cannot create the fleet tables: "
                         f"{_first_line(err)}") from err
    return conn


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _safe(url: str) -> str:
    """The URL without its password (it goes into messages and status files)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[-1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{host}")
    return urlunsplit(parts)


@dataclass(frozen=True)
class Head:
    """What the mirror holds of one origin."""

    size: int  # events 0 .. size-1 are mirrored
    last_body: bytes | None
    verifier_key: str | None
    checkpoint_size: int | None
    checkpoint_note: str | None


def head(conn: Any, origin: str) -> Head:
    row = conn.execute("select max(seq) from ledger_event where origin = %s", [origin]).fetchone()
    last = row[0]
    body = None
    if last is not None:
        body = bytes(conn.execute("select body from ledger_event where origin = %s and seq = %s",
                                  [origin, last]).fetchone()[0])
    key = conn.execute("select verifier_key from fleet_station where origin = %s",
                       [origin]).fetchone()
    checkpoint = conn.execute("select size, note from fleet_checkpoint where origin = %s "
                              "order by size desc limit 1", [origin]).fetchone()
    return Head(0 if last is None else last + 1, body, key[0] if key else None,
                checkpoint[0] if checkpoint else None, checkpoint[1] if checkpoint else None)


def register_station(conn: Any, origin: str, station: str, verifier_key: str) -> None:
    conn.execute("insert into fleet_station (origin, station, verifier_key) values (%s, %s, %s) "
                 "on conflict (origin) do nothing", [origin, station, verifier_key])


def append_events(conn: Any, origin: str, start: int, bodies: Sequence[bytes]) -> int:
    """Append ``bodies`` as seq ``start`` … in one transaction, projecting each into the
    fleet catalog. Returns how many rows were new. Under the origin's advisory lock the
    head is read again: rows another daemon sent meanwhile are compared byte for byte
    (any difference is a divergence), never inserted twice."""
    from evidence_station.fleet import DivergedError

    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [origin])
        row = conn.execute("select max(seq) from ledger_event where origin = %s",
                           [origin]).fetchone()
        mirrored = 0 if row[0] is None else row[0] + 1
        if mirrored < start:
            raise FleetError(f"mirror of {origin} holds {mirrored} events; cannot append at {start}")
        overlap = min(mirrored - start, len(bodies))
        if overlap:
            held = conn.execute("select seq, body from ledger_event where origin = %s and seq >= %s "
                                "and seq < %s order by seq", [origin, start, start + overlap])
            for seq, body in held:
                if bytes(body) != bodies[seq - start]:
                    raise DivergedError(f"{origin} seq {seq}: the mirror holds other bytes")
        fresh = bodies[overlap:]
        if not fresh:
            return 0
        first = start + overlap
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into ledger_event (origin, seq, body) values (%s, %s, %s)",
                [(origin, first + index, body) for index, body in enumerate(fresh)])
        ingests: list[list[Any]] = []  # consecutive ingests go in one pipelined statement
        for index, body in enumerate(fresh):
            event = json.loads(body)
            if event.get("type") == "ingest":
                ingests.append(_clip_row(origin, first + index, event))
                continue
            _insert_clips(conn, ingests)
            project(conn, origin, first + index, event)
        _insert_clips(conn, ingests)
        return len(fresh)


# -- the fleet catalog: a projection of the mirrored events ---------------------------------
_LABEL_KEYS = ("case_number", "party", "handler", "category")


_INSERT_CLIP = ("insert into fleet_clip (origin, clip_id, sha256, size, device_id, officer_id, "
                "recorded_at, ingested_at, seq) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (origin, clip_id) do nothing")


def _clip_row(origin: str, seq: int, event: dict[str, Any]) -> list[Any]:
    return [origin, event["clip_id"], event["sha256"], event["size"], event.get("device_id"),
            event.get("officer_id"), event.get("recorded_at"), event["time"], seq]


def _insert_clips(conn: Any, rows: list[list[Any]]) -> None:
    if rows:
        with conn.cursor() as cursor:
            cursor.executemany(_INSERT_CLIP, rows)
        rows.clear()


def project(conn: Any, origin: str, seq: int, event: dict[str, Any]) -> None:
    """Apply one event to the fleet catalog (only what fleet search needs)."""
    kind = event.get("type")
    if kind == "ingest":
        _insert_clips(conn, [_clip_row(origin, seq, event)])
    elif kind == "label":
        keys = [key for key in _LABEL_KEYS if key in event]  # a key left out keeps its value
        if keys:
            sets = ", ".join(f"{key} = %s" for key in keys)
            conn.execute(f"update fleet_clip set {sets} where origin = %s and clip_id = any(%s)",
                         [*(event[key] for key in keys), origin, list(event["clip_ids"])])
    elif kind == "evidence.designate":
        conn.execute("update fleet_clip set evidence = true where origin = %s and clip_id = %s",
                     [origin, event["clip_id"]])
    elif kind in ("hold.place", "hold.release"):
        step = 1 if kind == "hold.place" else -1
        conn.execute("update fleet_clip set holds = greatest(0, holds + %s) where origin = %s "
                     "and clip_id = any(%s)", [step, origin, list(event["clip_ids"])])
    elif kind == "deletion":
        conn.execute("update fleet_clip set deleted_at = %s where origin = %s and clip_id = %s",
                     [event["time"], origin, event["clip_id"]])


def add_checkpoint(conn: Any, origin: str, size: int, note: str, proof_from: int | None,
                   proof: Sequence[bytes]) -> bool:
    cursor = conn.execute(
        "insert into fleet_checkpoint (origin, size, note, proof_from, proof) "
        "values (%s, %s, %s, %s, %s) on conflict (origin, size) do nothing",
        [origin, size, note, proof_from, "\n".join(h.hex() for h in proof)])
    return bool(cursor.rowcount)


def raise_alarm(conn: Any, origin: str, kind: str, detail: str) -> None:
    conn.execute("insert into fleet_alarm (origin, kind, detail) values (%s, %s, %s)",
                 [origin, kind, detail])


# -- objects ---------------------------------------------------------------------------------
def object_rows(conn: Any) -> Iterator[dict[str, Any]]:
    with conn.cursor() as cursor:
        cursor.execute("select sha256, size, retain_until, legal_hold, version_id, origin, "
                       "deleted_at from fleet_object order by sha256")
        names = [column.name for column in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


@contextlib.contextmanager
def object_lock(conn: Any, sha256: str) -> Iterator[None]:
    """One uploader of an object at a time across the whole fleet (two daemons of one
    station, or two stations holding the same file): the second waits, then finds the
    object there and verifies it instead of writing a second version."""
    conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", ["object:" + sha256])
    try:
        yield
    finally:
        conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", ["object:" + sha256])


def record_object(conn: Any, *, sha256: str, size: int, retain_until: Any, legal_hold: bool,
                  version_id: str | None, origin: str) -> None:
    """Remember what the bucket holds; retain-until only ever grows (never shortened)."""
    conn.execute(
        "insert into fleet_object (sha256, size, retain_until, legal_hold, version_id, origin) "
        "values (%s, %s, %s, %s, %s, %s) on conflict (sha256) do update set "
        "retain_until = greatest(fleet_object.retain_until, excluded.retain_until), "
        "legal_hold = excluded.legal_hold, "
        "version_id = coalesce(excluded.version_id, fleet_object.version_id), "
        "updated_at = now(), deleted_at = null",
        [sha256, size, retain_until, legal_hold, version_id, origin])


def held_elsewhere(conn: Any, sha256: str, origin: str) -> bool:
    """Another station holds a live clip with these bytes: its object must stay."""
    row = conn.execute("select 1 from fleet_clip where sha256 = %s and origin <> %s and "
                       "deleted_at is null limit 1", [sha256, origin]).fetchone()
    return row is not None


def record_object_deleted(conn: Any, sha256: str) -> None:
    conn.execute("update fleet_object set deleted_at = now(), legal_hold = false "
                 "where sha256 = %s", [sha256])


# -- search ------------------------------------------------------------------------------
SEARCH_FIELDS = ("case_number", "party", "handler", "officer_id", "device_id", "origin")


def search_clips(conn: Any, *, filters: dict[str, str | None], since: str | None = None,
                 until: str | None = None, include_deleted: bool = False,
                 limit: int = 1000) -> list[dict[str, Any]]:
    """Clips across every station by case number, party, handler, officer, device, station
    and date (recorded, else ingested, time; ``since`` inclusive, ``until`` exclusive)."""
    where: list[str] = []
    params: list[Any] = []
    for key, value in filters.items():
        if key not in SEARCH_FIELDS:
            raise ValueError(key)
        if value is not None:
            where.append(f"c.{key} = %s")
            params.append(value)
    when = "coalesce(c.recorded_at, c.ingested_at)"
    if since:
        where.append(f"{when} >= %s::timestamptz")
        params.append(since)
    if until:
        where.append(f"{when} < %s::timestamptz")
        params.append(until)
    if not include_deleted:
        where.append("c.deleted_at is null")
    sql = ("select c.origin, s.station, c.clip_id, c.sha256, c.size, c.device_id, c.officer_id, "
           "c.recorded_at, c.ingested_at, c.case_number, c.party, c.handler, c.category, "
           "c.evidence, c.holds > 0 as held, c.deleted_at, o.sha256 is not null "
           "and o.deleted_at is null as in_bucket "
           "from fleet_clip c left join fleet_station s on s.origin = c.origin "
           "left join fleet_object o on o.sha256 = c.sha256")
    if where:
        sql += " where " + " and ".join(where)
    sql += " order by c.origin, c.seq limit %s"
    params.append(limit)
    cursor = conn.execute(sql, params)
    names = [column.name for column in cursor.description]
    rows = []
    for row in cursor:
        item = dict(zip(names, row, strict=True))
        for key in ("recorded_at", "ingested_at", "deleted_at"):
            if item[key] is not None:
                item[key] = item[key].isoformat()
        rows.append(item)
    return rows


def origins(conn: Any) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in conn.execute(
        "select origin, station, verifier_key from fleet_station order by origin")]


def stream_events(conn: Any, origin: str, batch: int = 5000) -> Iterator[tuple[int, bytes]]:
    """Every mirrored event of ``origin`` in seq order, ``batch`` rows at a time (keyset
    pagination: bounded memory however long the log)."""
    after = -1
    while True:
        rows = conn.execute("select seq, body from ledger_event where origin = %s and seq > %s "
                            "order by seq limit %s", [origin, after, batch]).fetchall()
        if not rows:
            return
        for seq, body in rows:
            yield int(seq), bytes(body)
        after = rows[-1][0]


def checkpoints(conn: Any, origin: str) -> list[tuple[int, str, int | None, list[bytes]]]:
    return [(int(size), note, proof_from, [bytes.fromhex(h) for h in proof.split("\n") if h])
            for size, note, proof_from, proof in conn.execute(
                "select size, note, proof_from, proof from fleet_checkpoint where origin = %s "
                "order by size", [origin])]


def alarms(conn: Any, origin: str | None = None) -> list[dict[str, Any]]:
    sql = "select origin, at, kind, detail from fleet_alarm"
    params: Iterable[Any] = []
    if origin:
        sql += " where origin = %s"
        params = [origin]
    return [{"origin": o, "at": at.isoformat(), "kind": k, "detail": d}
            for o, at, k, d in conn.execute(sql + " order by id", list(params))]
