"""What every route needs, as FastAPI dependencies (frigate's ``api/`` habit): the
station context, the logged-in user checked afresh on each request, the user's permission
for an action, and a posted form after its CSRF check. Routes stay thin: read, or hand
one change to ``casework.service`` through ``client.submit_as``."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from evidence_station.casework.accounts import AccountStore
from evidence_station.casework.identities import IdentityStore
from evidence_station.casework.logins import LoginSession, LoginSessions
from evidence_station.casework.rules import can
from evidence_station.catalog import Catalog
from evidence_station.client import submit_as
from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config
from evidence_station.errors import EvidenceStationError
from evidence_station.station import Layout, Station
from evidence_station.web.text import text
from evidence_station.web.throttle import LoginThrottle


class NotLoggedIn(Exception):
    """No live session: pages redirect to the login form, clip bytes answer 401."""


@dataclass
class WebContext:
    """The station as the web process sees it: one per app, shared by all requests."""

    data_dir: Path
    config: Config
    templates: Environment
    accounts: AccountStore
    identities: IdentityStore
    logins: LoginSessions
    throttle: LoginThrottle
    clock: Clock = SYSTEM_CLOCK  # the station's "now" of the pages (R14 day counts, as-of, intake)
    _accounts_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def idle_s(self) -> float:
        return self.config.web.idle_minutes * 60.0

    @property
    def lifetime_s(self) -> float:
        return self.config.web.lifetime_hours * 3600.0

    @contextmanager
    def station(self) -> Iterator[Station]:
        """A read-only station for one request (readers never take the writer lock)."""
        opened = Station.open(self.data_dir, self.config, clock=self.clock)
        try:
            yield opened
        finally:
            opened.close()

    def lookup_user(self, username: str) -> dict[str, Any] | None:
        """Who is logged in needs the catalog only, not the ledger a Station opens too."""
        catalog = Catalog(Layout(self.data_dir).catalog)
        try:
            return catalog.accounts.user(username)
        finally:
            catalog.close()

    def authenticate(self, username: str, password: str) -> bool:
        """Password right and account active. Blocking (argon2): call it off the event loop.
        The hash is always computed, so an unknown or disabled name costs the same time."""
        with self._accounts_lock:
            verified = self.accounts.verify(username, password)
        row = self.lookup_user(username)
        return verified and row is not None and not row.get("disabled_at")

    def password_changed_after(self, login: LoginSession) -> bool:
        """A session older than the account's password is over, even if the act that ends
        sessions on a password change did not get to run."""
        with self._accounts_lock:
            changed = self.accounts.changed_at(login.username)
        return changed is not None and changed > login.created_at


@dataclass(frozen=True)
class WebUser:
    """The account behind this request, as the catalog says now (role read fresh)."""

    username: str
    role: str
    display_name: str | None
    officer_id: str | None
    session_id: str
    grants: tuple[str, ...]

    def can(self, action: str) -> bool:
        return can(self.role, action)


def web_context(request: Request) -> WebContext:
    context = request.app.state.web
    assert isinstance(context, WebContext)
    return context


Web = Annotated[WebContext, Depends(web_context)]


def session_user(request: Request, web: Web) -> WebUser:
    """The session's user, checked on every request: the session exists and is neither idle
    nor too old, and the account still exists, is not disabled and kept its password."""
    session_id = request.session.get("sid")
    if not isinstance(session_id, str) or not session_id:
        raise NotLoggedIn()
    login = web.logins.get(session_id, idle_s=web.idle_s, lifetime_s=web.lifetime_s)
    row = web.lookup_user(login.username) if login else None
    if login is None or row is None or row.get("disabled_at") or web.password_changed_after(login):
        web.logins.end(session_id)
        request.session.pop("sid", None)
        raise NotLoggedIn()
    return WebUser(row["username"], row["role"], row.get("display_name"), row.get("officer_id"),
                   session_id, login.grants)


CurrentUser = Annotated[WebUser, Depends(session_user)]


def allowed(action: str) -> Callable[[WebUser], WebUser]:
    """A dependency: the current user, who must be allowed ``action`` (else 403)."""
    def check(user: CurrentUser) -> WebUser:
        if not user.can(action):
            raise HTTPException(403, f"{user.username} ({user.role}) may not {action}")
        return user
    return check


def lang(request: Request) -> str:
    return str(request.session.get("lang", "zh"))


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return str(request.session["csrf"])


async def checked_form(request: Request) -> dict[str, Any]:
    """The posted form, after the CSRF check (synchronizer token in the signed session)."""
    data = await request.form()
    sent = str(data.get("csrf_token", ""))
    if not sent or not secrets.compare_digest(sent, str(request.session.get("csrf", ""))):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
    return {key: data.getlist(key) if key == "clip_ids" else data.get(key) for key in data}


PostedForm = Annotated[dict[str, Any], Depends(checked_form)]


def page(request: Request, web: WebContext, name: str, user: WebUser | None,
         **context: Any) -> HTMLResponse:
    current = lang(request)
    role = user.role if user else None
    body = web.templates.get_template(name).render(
        t=lambda key, **kw: text(key, current, **kw), lang=current, user=user,
        can=lambda action: can(role, action),
        csrf=csrf_token(request), message=request.session.pop("message", None),
        error=request.session.pop("error", None), **context)
    return HTMLResponse(body)


async def record(request: Request, web: WebContext, user: WebUser, kind: str,
                 fields: dict[str, Any]) -> int | None:
    """Hand one change to casework.service (through the daemon when it runs), off the event
    loop (it may wait for the ledger). The page shows the outcome; the seq, or None."""
    try:
        seq = await run_in_threadpool(submit_as, web.data_dir, web.config, user.username, kind, fields,
                                      web.clock)
    except EvidenceStationError as err:
        request.session["error"] = str(err)
        return None
    request.session["message"] = text("done", lang(request), seq=seq)
    return seq
