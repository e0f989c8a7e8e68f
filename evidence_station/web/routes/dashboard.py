"""The admin dashboard: integrity alarms, the review queue, disk space and days left at
the current intake, witnesses, and the slots for scrub and replication — each section a
provider in ``evidence_station.dashboard`` (None: the feature is absent here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from evidence_station.dashboard import sections
from evidence_station.i18n import human_bytes
from evidence_station.web.deps import Web, WebUser, allowed, page

router = APIRouter()
Admin = Annotated[WebUser, Depends(allowed("settings.view"))]


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, web: Web, user: Admin) -> HTMLResponse:
    with web.station() as opened:
        found = sections(opened)
    return page(request, web, "dashboard.html", user, sections=found, human_bytes=human_bytes)
