"""Web login sessions, kept on the station (never in the ledger, never only in a cookie).

A signed cookie that carries the user name cannot be taken back: it kept working after a
logout, a password change or a disabled account. So the cookie carries only a random
session id; the session itself is a row here, and ending it is deleting the row:
- ``logout`` ends one session;
- the service's act step ends every session of an account whose password changed or that
  was disabled (``end_all``), whichever process performs it (daemon or in-process);
- the web UI checks the row on every request (idle timeout, absolute lifetime).

The file is ``web-sessions.sqlite`` in the data dir (mode 0600 from creation, like
``accounts.sqlite``). Only a SHA-256 of each id is stored, so a copy of the file logs
nobody in. SQLite's rollback journal with ``synchronous=FULL`` makes a deletion durable
before it returns; no WAL, so no side files outlive a connection (an in-process command
run by root must not leave root-owned files the web UI could not open).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SESSIONS_FILE = "web-sessions.sqlite"
TOUCH_EVERY_S = 30.0  # last-seen is written at most this often (one fsync, not one a request)
MAX_GRANTS = 50

SCHEMA = """
create table if not exists login_sessions (
    id_hash text primary key,
    username text not null,
    created_at real not null,
    last_seen real not null,
    grants text not null default '[]'
);
create index if not exists login_sessions_username on login_sessions (username);
"""


def sessions_path(data_dir: Path) -> Path:
    return data_dir / SESSIONS_FILE


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class LoginSession:
    """A live session: whose it is, since when, and the clips it registered viewings of (R10)."""

    session_id: str
    username: str
    created_at: float
    last_seen: float
    grants: tuple[str, ...]


class LoginSessions:
    """The session table. Safe to share between the web UI's worker threads."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=10.0,
                                  isolation_level=None)
        self.db.execute("pragma journal_mode=delete")
        self.db.execute("pragma synchronous=full")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def create(self, username: str) -> str:
        """A new session for ``username``; returns the id that goes into the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self.db.execute("insert into login_sessions (id_hash, username, created_at, last_seen) "
                            "values (?, ?, ?, ?)", [_hash(session_id), username, now, now])
        return session_id

    def get(self, session_id: str, *, idle_s: float, lifetime_s: float) -> LoginSession | None:
        """The session if it exists and has neither idled out nor outlived its lifetime; an
        expired one is deleted. A hit counts as activity (idle timer restarts)."""
        now = self.clock()
        key = _hash(session_id)
        with self._lock:
            row = self.db.execute("select username, created_at, last_seen, grants from login_sessions "
                                  "where id_hash = ?", [key]).fetchone()
            if row is None:
                return None
            username, created_at, last_seen, grants = row
            if now - last_seen > idle_s or now - created_at > lifetime_s or now < created_at:
                self.db.execute("delete from login_sessions where id_hash = ?", [key])
                return None
            if now - last_seen >= TOUCH_EVERY_S:
                self.db.execute("update login_sessions set last_seen = ? where id_hash = ?", [now, key])
                last_seen = now
        return LoginSession(session_id, username, created_at, last_seen, tuple(json.loads(grants)))

    def grant(self, session_id: str, clip_id: str) -> None:
        """Remember that this session registered a viewing of ``clip_id`` (R10)."""
        key = _hash(session_id)
        with self._lock:
            row = self.db.execute("select grants from login_sessions where id_hash = ?", [key]).fetchone()
            if row is None:
                return
            grants = [g for g in json.loads(row[0]) if g != clip_id]
            grants = [*grants, clip_id][-MAX_GRANTS:]
            self.db.execute("update login_sessions set grants = ? where id_hash = ?",
                            [json.dumps(grants), key])

    def end(self, session_id: str) -> None:
        with self._lock:
            self.db.execute("delete from login_sessions where id_hash = ?", [_hash(session_id)])

    def end_all(self, username: str) -> int:
        """End every session of ``username``; how many there were."""
        with self._lock:
            return self.db.execute("delete from login_sessions where username = ?", [username]).rowcount

    def purge(self, *, idle_s: float, lifetime_s: float) -> int:
        """Delete sessions that have expired (kept small; called at login)."""
        now = self.clock()
        with self._lock:
            return self.db.execute("delete from login_sessions where last_seen < ? or created_at < ?",
                                   [now - idle_s, now - lifetime_s]).rowcount

    def count(self, username: str) -> int:
        with self._lock:
            row = self.db.execute("select count(*) from login_sessions where username = ?",
                                  [username]).fetchone()
        return int(row[0])


def end_sessions_of(data_dir: Path, username: str) -> int:
    """End every web session of ``username`` (the act of ``user.password`` and
    ``user.disable``). No file yet means no session was ever made: nothing to end, and
    nothing is created here (a root-owned file would lock the web UI out)."""
    path = sessions_path(data_dir)
    if not path.exists():
        return 0
    store = LoginSessions(path)
    try:
        return store.end_all(username)
    finally:
        store.close()
