"""Logging in and out, the language switch, and the home redirect."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_station.web.deps import CurrentUser, PostedForm, Web, WebContext, lang, page
from evidence_station.web.text import text
from evidence_station.web.throttle import account_key, request_client

router = APIRouter()


def local_path(target: object, default: str = "/", host: str | None = None) -> str:
    """Only redirect within this site (no open redirects through `back` or Referer)."""
    parsed = urlsplit(str(target or ""))
    path = parsed.path or default
    foreign = (parsed.scheme or parsed.netloc) and parsed.netloc != host
    if foreign or not path.startswith("/") or path.startswith("//"):
        return default
    return path + (f"?{parsed.query}" if parsed.query else "")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, web: Web) -> HTMLResponse:
    return page(request, web, "login.html", None)


@router.post("/login")
async def login(request: Request, web: Web, data: PostedForm) -> Response:
    """Throttled per client address and per account name before any password is hashed;
    the hash runs off the event loop; every failure looks the same."""
    username, password = str(data.get("username", "")), str(data.get("password", ""))
    keys = ("address:" + request_client(request, web.config.web.trusted_proxies),
            account_key(username))
    if web.throttle.blocked(*keys):
        return Response(text("login.throttled", lang(request)), status_code=429,
                        media_type="text/plain; charset=utf-8")
    if not await run_in_threadpool(web.authenticate, username, password):
        web.throttle.failed(*keys)
        request.session["error"] = text("login.failed", lang(request))
        return RedirectResponse("/login", status_code=303)
    chosen_lang = lang(request)
    previous = request.session.get("sid")
    session_id = await run_in_threadpool(_start_session, web, username,
                                         previous if isinstance(previous, str) else None)
    request.session.clear()  # a fresh session after login (no fixation)
    request.session.update(sid=session_id, lang=chosen_lang, csrf=secrets.token_urlsafe(32))
    return RedirectResponse("/", status_code=303)


def _start_session(web: WebContext, username: str, previous: str | None) -> str:
    """A new station-side session (durable: an fsync, so not on the event loop)."""
    if previous:
        web.logins.end(previous)
    web.logins.purge(idle_s=web.idle_s, lifetime_s=web.lifetime_s)
    return web.logins.create(username)


@router.post("/logout")
async def logout(request: Request, web: Web, data: PostedForm) -> Response:
    """Ends the session on the station: the cookie is worthless afterwards, even a copy."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        await run_in_threadpool(web.logins.end, session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{choice}")
def switch_lang(request: Request, choice: str) -> Response:
    request.session["lang"] = "en" if choice == "en" else "zh"
    return RedirectResponse(local_path(request.headers.get("referer"), host=request.url.netloc),
                            status_code=303)


@router.get("/")
def home(user: CurrentUser) -> Response:
    target = {"auditor": "/ledger", "admin": "/admin"}.get(user.role, "/clips")
    return RedirectResponse(target, status_code=303)
