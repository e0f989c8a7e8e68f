"""The app: routers per area (``web.routes``), the shared station context, and the two
answers every route may give (not logged in; not allowed). Pages are server-rendered
forms (no JavaScript framework); each POST checks the CSRF token and the user's
permission before anything is recorded, and every change goes through the service."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.middleware.sessions import SessionMiddleware

from evidence_station.casework.accounts import AccountStore
from evidence_station.casework.identities import IdentityStore
from evidence_station.casework.logins import LoginSessions, sessions_path
from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config
from evidence_station.web.deps import NotLoggedIn, WebContext
from evidence_station.web.routes import (
    admin,
    cases,
    clips,
    compliance,
    dashboard,
    dock,
    ledger,
    review,
    session,
)
from evidence_station.web.routes.session import local_path
from evidence_station.web.throttle import LoginThrottle
from hashing.durable import write_file_durably

__all__ = ["create_app", "local_path"]


def _secret(data_dir: Path) -> str:
    """The cookie-signing key, made once per station (0600). The cookie carries the
    session id, the language, the CSRF token and one-shot messages; who is logged in is
    decided by the station-side session (``casework.logins``), not by the cookie."""
    path = data_dir / "web-secret"
    if not path.exists():
        write_file_durably(path, secrets.token_urlsafe(48).encode(), mode=0o600)
    return path.read_text().strip()


def create_app(data_dir: Path, config: Config, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    app = FastAPI(title="evidence-station", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=_secret(data_dir), same_site="strict",
                       max_age=int(config.web.lifetime_hours * 3600), session_cookie="es_session")
    app.state.web = WebContext(
        data_dir=data_dir, config=config,
        templates=Environment(loader=PackageLoader("evidence_station", "templates/web"),
                              autoescape=select_autoescape(["html"])),
        accounts=AccountStore(data_dir / "accounts.sqlite"),
        identities=IdentityStore(data_dir / "identities.sqlite"),
        logins=LoginSessions(sessions_path(data_dir)),
        throttle=LoginThrottle(config.web.login_failures_per_minute), clock=clock)

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if request.url.path.startswith("/media/"):
            return Response("log in first", status_code=401)
        return RedirectResponse("/login", status_code=303)

    for area in (session, cases, clips, review, ledger, admin):
        app.include_router(area.router)
    for area in (compliance, dock, dashboard):  # issue 19: R15 report, dock screen, dashboard
        app.include_router(area.router)
    return app
