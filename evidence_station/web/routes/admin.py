"""Users and roles, dock status and the settings in force (admins)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence_station.casework.rules import ROLES
from evidence_station.web.deps import PostedForm, Web, WebUser, allowed, page, record

router = APIRouter()
Admin = Annotated[WebUser, Depends(allowed("users.manage"))]


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, web: Web, user: Admin) -> HTMLResponse:
    from evidence_station.scrub import parse_duration, status

    with web.station() as opened:
        users = opened.catalog.accounts.users()
        # F34: the last scrub pass and every open integrity alarm, where an admin looks
        scrub = status(opened, parse_duration(web.config.scrub.every))
    status_path = web.data_dir / "run" / "status.json"
    docks = json.loads(status_path.read_text()).get("docks", []) if status_path.exists() else []
    settings = {"analysis": web.config.analysis.model_dump(mode="json"),
                "daemon": web.config.daemon.model_dump(mode="json"),
                "web": web.config.web.model_dump(mode="json")}
    return page(request, web, "admin.html", user, users=users, roles=ROLES, docks=docks,
                settings=settings, scrub=scrub, fleet=_fleet_status(web))


def _fleet_status(web: Web) -> dict[str, object] | None:
    """Replication lag (DESIGN.md, fleet) from the station's own state: the page never
    waits on the network. None when replication is not configured."""
    if not web.config.fleet.enabled:
        return None
    from evidence_station.fleet.replicate import status

    with web.station() as opened:
        return status(opened)


@router.post("/admin/users")
async def add_user(request: Request, web: Web, user: Admin, data: PostedForm) -> Response:
    # validated, recorded, then the password hash stored: an existing name is refused
    # before anything changes (DESIGN.md, one door)
    await record(request, web, user, "user.add", {
        key: data.get(key) or None for key in ("username", "role", "display_name", "officer_id",
                                               "password")})
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{username}/role")
async def change_role(request: Request, web: Web, user: Admin, data: PostedForm,
                      username: str) -> Response:
    """Takes effect at the user's next request: every request reads the role afresh."""
    await record(request, web, user, "user.role", {"username": username, "role": data.get("role")})
    return RedirectResponse("/admin", status_code=303)
