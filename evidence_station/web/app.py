"""Routes. Pages are server-rendered forms (no JavaScript framework); each POST checks
the session's CSRF token and the user's permission before anything is recorded."""

from __future__ import annotations

import json
import mimetypes
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from evidence_station.casework.accounts import AccountStore
from evidence_station.casework.identities import IdentityStore, shown
from evidence_station.casework.rules import IDENTITY_FIELDS, MASK, ROLES, can
from evidence_station.catalog import Catalog
from evidence_station.check import check_station
from evidence_station.client import run_as, submit_as
from evidence_station.config import Config
from evidence_station.errors import EvidenceStationError
from evidence_station.i18n import Lang
from evidence_station.station import Layout, Station
from evidence_station.web.text import text
from hashing.durable import write_file_durably

LOGIN_LIMIT = "5/minute"
SESSION_HOURS = 8


class NotLoggedIn(Exception):
    pass


def local_path(target: object, default: str = "/", host: str | None = None) -> str:
    """Only redirect within this site (no open redirects through `back` or Referer)."""
    parsed = urlsplit(str(target or ""))
    path = parsed.path or default
    foreign = (parsed.scheme or parsed.netloc) and parsed.netloc != host
    if foreign or not path.startswith("/") or path.startswith("//"):
        return default
    return path + (f"?{parsed.query}" if parsed.query else "")


def _secret(data_dir: Path) -> str:
    """The session-signing key, made once per station (0600)."""
    path = data_dir / "web-secret"
    if not path.exists():
        write_file_durably(path, secrets.token_urlsafe(48).encode(), mode=0o600)
    return path.read_text().strip()


def create_app(data_dir: Path, config: Config) -> FastAPI:
    app = FastAPI(title="evidence-station", docs_url=None, redoc_url=None, openapi_url=None)
    limiter = Limiter(key_func=get_remote_address)
    app.state.limiter = limiter
    app.add_middleware(SessionMiddleware, secret_key=_secret(data_dir), same_site="strict",
                       max_age=SESSION_HOURS * 3600, session_cookie="es_session")
    templates = Environment(loader=PackageLoader("evidence_station", "templates/web"),
                            autoescape=select_autoescape(["html"]))
    accounts = AccountStore(data_dir / "accounts.sqlite")
    identities = IdentityStore(data_dir / "identities.sqlite")

    def mask_identities(label: dict[str, Any] | None, role: str) -> dict[str, Any] | None:
        return shown(label, role, identities)

    @contextmanager
    def station() -> Iterator[Station]:
        opened = Station.open(data_dir, config)
        try:
            yield opened
        finally:
            opened.close()

    def lang(request: Request) -> str:
        return str(request.session.get("lang", "zh"))

    def csrf_token(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return str(request.session["csrf"])

    def lookup_user(username: str) -> dict[str, Any] | None:
        """Who is logged in needs the catalog only, not the ledger a Station opens too."""
        catalog = Catalog(Layout(data_dir).catalog)
        try:
            return catalog.user(username)
        finally:
            catalog.close()

    def current_user(request: Request) -> dict[str, Any]:
        username = request.session.get("user")
        if not username:
            raise NotLoggedIn()
        user = lookup_user(str(username))
        if user is None:
            request.session.clear()
            raise NotLoggedIn()
        return user

    def allow(user: dict[str, Any], action: str) -> None:
        if not can(user["role"], action):
            raise HTTPException(403, f"{user['username']} ({user['role']}) may not {action}")

    async def form(request: Request) -> dict[str, Any]:
        """The posted form, after the CSRF check (synchronizer token in the signed session)."""
        data = await request.form()
        sent = str(data.get("csrf_token", ""))
        if not sent or not secrets.compare_digest(sent, str(request.session.get("csrf", ""))):
            raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
        return {key: data.getlist(key) if key == "clip_ids" else data.get(key) for key in data}

    def page(request: Request, name: str, user: dict[str, Any] | None, **context: Any) -> HTMLResponse:
        current = lang(request)
        role = user["role"] if user else None
        body = templates.get_template(name).render(
            t=lambda key, **kw: text(key, current, **kw), lang=current, user=user,
            can=lambda action: can(role, action),
            csrf=csrf_token(request), message=request.session.pop("message", None),
            error=request.session.pop("error", None), **context)
        return HTMLResponse(body)

    async def record(request: Request, user: dict[str, Any], kind: str,
                     fields: dict[str, Any]) -> None:
        """Record through casework.service off the event loop (it may wait for the ledger)."""
        try:
            seq = await run_in_threadpool(submit_as, data_dir, config, user["username"], kind, fields)
        except EvidenceStationError as err:
            request.session["error"] = str(err)
            return
        request.session["message"] = text("done", lang(request), seq=seq)

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if request.url.path.startswith("/media/"):
            return Response("log in first", status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(RateLimitExceeded)
    async def throttled(request: Request, exc: RateLimitExceeded) -> Response:
        return Response("too many login attempts; wait a minute", status_code=429)

    # -- session ------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None)

    @app.post("/login")
    @limiter.limit(LOGIN_LIMIT)
    async def login(request: Request) -> Response:
        data = await form(request)
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        known = lookup_user(username) is not None
        if not (accounts.verify(username, password) and known):
            request.session["error"] = text("login.failed", lang(request))
            return RedirectResponse("/login", status_code=303)
        chosen_lang = lang(request)
        request.session.clear()  # a fresh session after login (no fixation)
        request.session.update(user=username, lang=chosen_lang, csrf=secrets.token_urlsafe(32),
                               grants=[])
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/lang/{choice}")
    def switch_lang(request: Request, choice: str) -> Response:
        request.session["lang"] = "en" if choice == "en" else "zh"
        return RedirectResponse(local_path(request.headers.get("referer"), host=request.url.netloc),
                                status_code=303)

    @app.get("/")
    def home(request: Request) -> Response:
        user = current_user(request)
        target = {"auditor": "/ledger", "admin": "/admin"}.get(user["role"], "/clips")
        return RedirectResponse(target, status_code=303)

    # -- clips --------------------------------------------------------------------------
    def visible_clips(opened: Station, user: dict[str, Any]) -> list[dict[str, Any]]:
        rows = opened.catalog.clips()
        if can(user["role"], "clips.all"):
            return rows
        allow(user, "clips.own")
        return [row for row in rows if user.get("officer_id") and row["officer_id"] == user["officer_id"]]

    @app.get("/clips", response_class=HTMLResponse)
    def clips_page(request: Request, show: str = "unlabelled", q: str = "",
                   session: str = "") -> HTMLResponse:
        user = current_user(request)
        with station() as opened:
            rows = visible_clips(opened, user)
            labels = {row["id"]: mask_identities(opened.catalog.label_of(row["id"]), user["role"])
                      for row in rows}
            sessions = opened.catalog.sessions()
            if session:
                in_session = {c["id"] for c in opened.catalog.clips(session_id=session)}
                rows = [row for row in rows if row["id"] in in_session]
        if show == "unlabelled":
            rows = [row for row in rows if labels[row["id"]] is None]
        if q:
            needle = q.lower()
            rows = [row for row in rows if needle in json.dumps(
                [row["id"], row["device_id"], row["officer_id"], row["recorded_at"],
                 labels[row["id"]]], ensure_ascii=False).lower()]
        last = sessions[-1]["session_id"] if sessions else ""
        return page(request, "clips.html", user, rows=rows, labels=labels, show=show, q=q,
                    session=session, last_session=last)

    @app.post("/clips/label")
    async def label_clips(request: Request) -> Response:
        user = current_user(request)
        data = await form(request)
        allow(user, "label")
        await record(request, user, "label", {
            "clip_ids": list(data.get("clip_ids") or []), "case_number": data.get("case_number"),
            "party": data.get("party"), "handler": data.get("handler"),
            "reporter": data.get("reporter") or None, "complainant": data.get("complainant") or None})
        return RedirectResponse(local_path(data.get("back"), "/clips"), status_code=303)

    def one_clip(opened: Station, user: dict[str, Any], clip_id: str) -> dict[str, Any]:
        matches = [row for row in visible_clips(opened, user) if row["id"] == clip_id]
        if not matches:
            raise HTTPException(404, "no such clip, or not yours to see")
        return matches[0]

    @app.get("/clips/{clip_id}", response_class=HTMLResponse)
    def clip_page(request: Request, clip_id: str) -> HTMLResponse:
        user = current_user(request)
        with station() as opened:
            clip = one_clip(opened, user, clip_id)
            label = mask_identities(opened.catalog.label_of(clip_id), user["role"])
            history = [mask_identities(h, user["role"]) for h in opened.catalog.label_history(clip_id)]
            designation = opened.catalog.evidence_of(clip_id)
            access = opened.catalog.access_of(clip_id)
        playable = clip_id in request.session.get("grants", [])
        return page(request, "clip.html", user, clip=clip, label=label, history=history,
                    designation=designation, access=access, playable=playable)

    @app.post("/clips/{clip_id}/evidence")
    async def designate(request: Request, clip_id: str) -> Response:
        user = current_user(request)
        data = await form(request)
        allow(user, "evidence")
        fields = {key: data.get(key) for key in
                  ("collector", "collected_at", "location", "fact_to_prove")}
        if data.get("transcript"):
            fields["transcript"] = data.get("transcript")
        await record(request, user, "evidence.designate", {"clip_id": clip_id, **fields})
        return RedirectResponse(f"/clips/{clip_id}", status_code=303)

    @app.post("/clips/{clip_id}/view")
    async def register_view(request: Request, clip_id: str) -> Response:
        """R10: viewing is registered (viewer = the logged-in user) before the player opens."""
        user = current_user(request)
        data = await form(request)
        allow(user, "clips.play")
        before = request.session.get("message")
        await record(request, user, "access.view", {
            "clip_id": clip_id, "viewer": user["username"], "approver": data.get("approver"),
            "reason": data.get("reason"), "outside": bool(data.get("outside"))})
        if request.session.get("message") != before and "error" not in request.session:
            request.session["grants"] = [*request.session.get("grants", []), clip_id][-50:]
        return RedirectResponse(f"/clips/{clip_id}", status_code=303)

    @app.get("/media/{clip_id}")
    def media(request: Request, clip_id: str) -> Response:
        """The clip's bytes, read-only, with range requests — only after a registered viewing."""
        user = current_user(request)
        allow(user, "clips.play")
        if clip_id not in request.session.get("grants", []):
            raise HTTPException(403, "register the viewing first (R10)")
        with station() as opened:
            clip = one_clip(opened, user, clip_id)
            path = opened.store.path_for(clip["sha256"])
        kind = mimetypes.guess_type(clip["source_path"])[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-store"})

    # -- review -------------------------------------------------------------------------
    @app.get("/review", response_class=HTMLResponse)
    def review_page(request: Request) -> HTMLResponse:
        user = current_user(request)
        if not (can(user["role"], "review.resolve") or can(user["role"], "ledger.view")):
            raise HTTPException(403, "not allowed")
        with station() as opened:
            flags = opened.catalog.review()
        return page(request, "review.html", user, flags=flags)

    @app.post("/review/{flag_id}/resolve")
    async def resolve(request: Request, flag_id: str) -> Response:
        user = current_user(request)
        data = await form(request)
        allow(user, "review.resolve")
        await record(request, user, "review.resolve", {"flag_id": flag_id,
                                                 "resolution": data.get("resolution")})
        return RedirectResponse("/review", status_code=303)

    # -- auditor ------------------------------------------------------------------------
    @app.get("/ledger", response_class=HTMLResponse)
    def ledger_page(request: Request, start: int | None = None) -> HTMLResponse:
        user = current_user(request)
        allow(user, "ledger.view")
        with station() as opened:
            size = opened.ledger.size
            first = max(0, size - 50) if start is None else max(0, min(start, size))
            events = [json.loads(event.data) for event in opened.ledger.events(first)][:50]
            latest = opened.latest_checkpoint()
            checkpoints = sorted((opened.layout.ledger / "checkpoints").glob("*.note"))[-5:]
        if not can(user["role"], "identity.view"):  # R12 also in the raw ledger view
            for event in events:
                for key in IDENTITY_FIELDS:
                    if event.get(key):
                        event[key] = MASK
        notes = [path.read_text() for path in reversed(checkpoints)]
        return page(request, "ledger.html", user, events=list(reversed(events)), size=size,
                    first=first, latest=latest, notes=notes, findings=request.session.pop(
                        "findings", None))

    @app.post("/ledger/verify")
    async def verify_now(request: Request) -> Response:
        user = current_user(request)
        await form(request)
        allow(user, "ledger.verify")
        with station() as opened:
            report = check_station(opened)
        request.session["findings"] = [str(finding) for finding in report.findings]
        return RedirectResponse("/ledger", status_code=303)

    @app.post("/ledger/export")
    async def export_now(request: Request) -> Response:
        user = current_user(request)
        await form(request)
        allow(user, "ledger.export")

        out = Path(tempfile.mkdtemp(prefix="bundle-", dir=data_dir / "exports"
                                    if (data_dir / "exports").is_dir() else None))
        try:
            code, _out, err_text = await run_in_threadpool(
                run_as, data_dir, config, user["username"], ["ledger", "export", "--out", str(out)],
                lang(request))
            if code == 0:
                request.session["message"] = str(out)
            else:
                request.session["error"] = err_text.strip() or f"export failed (exit {code})"
        except EvidenceStationError as err:
            chosen: Lang = "en" if lang(request) == "en" else "zh"
            request.session["error"] = err.render(chosen)
        return RedirectResponse("/ledger", status_code=303)

    # -- admin --------------------------------------------------------------------------
    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request) -> HTMLResponse:
        user = current_user(request)
        allow(user, "users.manage")
        with station() as opened:
            users = opened.catalog.users()
        status_path = data_dir / "run" / "status.json"
        docks = json.loads(status_path.read_text()).get("docks", []) if status_path.exists() else []
        settings = {"analysis": config.analysis.model_dump(mode="json"),
                    "daemon": config.daemon.model_dump(mode="json")}
        return page(request, "admin.html", user, users=users, roles=ROLES, docks=docks,
                    settings=settings)

    @app.post("/admin/users")
    async def add_user(request: Request) -> Response:
        user = current_user(request)
        data = await form(request)
        allow(user, "users.manage")
        # validated, recorded, then the password hash stored: an existing name is refused
        # before anything changes (DESIGN.md, one door)
        await record(request, user, "user.add", {key: data.get(key) or None for key in
                                                 ("username", "role", "display_name", "officer_id",
                                                  "password")})
        return RedirectResponse("/admin", status_code=303)

    @app.post("/admin/users/{username}/role")
    async def change_role(request: Request, username: str) -> Response:
        user = current_user(request)
        data = await form(request)
        allow(user, "users.manage")
        await record(request, user, "user.role", {"username": username, "role": data.get("role")})
        return RedirectResponse("/admin", status_code=303)

    return app
