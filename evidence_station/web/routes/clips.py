"""The clip queue (paged in SQL), one clip's page, labels, evidence designation, the R10
viewing register and the clip bytes behind it."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_station.casework.identities import shown
from evidence_station.casework.rules import IDENTITY_FIELDS
from evidence_station.station import Station
from evidence_station.web.deps import CurrentUser, PostedForm, Web, WebUser, allowed, page, record
from evidence_station.web.routes.session import local_path

router = APIRouter()
Labeller = Annotated[WebUser, Depends(allowed("label"))]
Designator = Annotated[WebUser, Depends(allowed("evidence"))]
Player = Annotated[WebUser, Depends(allowed("clips.play"))]


def own_officer(user: WebUser) -> str | None:
    """None when the user sees every clip; else the only officer whose clips they see
    ("" for an officer account without an officer id: then none)."""
    if user.can("clips.all"):
        return None
    if not user.can("clips.own"):
        raise HTTPException(403, f"{user.username} ({user.role}) may not see clips")
    return user.officer_id or ""


def one_clip(opened: Station, user: WebUser, clip_id: str) -> dict[str, Any]:
    """The clip, if this user may see it (an officer only their own)."""
    officer = own_officer(user)
    clip = opened.catalog.footage.clip(clip_id)  # by primary key: O(1) at any catalog size
    if clip is None or (officer is not None and (not officer or clip["officer_id"] != officer)):
        raise HTTPException(404, "no such clip, or not yours to see")
    return clip


@router.get("/clips", response_class=HTMLResponse)
def clips_page(request: Request, web: Web, user: CurrentUser, show: str = "unlabelled", q: str = "",
               session: str = "", number: Annotated[int, Query(alias="page", ge=1)] = 1,
               ) -> HTMLResponse:
    """One page of clips; filtering and paging happen in the catalog query, so a station
    with a million clips sends one page, not the whole list."""
    officer = own_officer(user)
    size = web.config.web.page_size
    with web.station() as opened:
        rows = [] if officer == "" else opened.catalog.footage.clip_list_page(
            officer_id=officer, unlabelled=show == "unlabelled", session_id=session or None,
            search=q.strip() or None, limit=size + 1, offset=(number - 1) * size)
        last = opened.catalog.docking.last_session_id() or ""  # one row, not every session
    has_next = len(rows) > size
    query = {"show": show, "q": q, "session": session}

    def link(target: int) -> str:
        return "/clips?" + urlencode({**{k: v for k, v in query.items() if v}, "page": target})

    return page(request, web, "clips.html", user, rows=rows[:size], show=show, q=q,
                session=session, last_session=last, page_number=number,
                prev_link=link(number - 1) if number > 1 else None,
                next_link=link(number + 1) if has_next else None,
                back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""))


def label_request(data: dict[str, Any]) -> dict[str, Any]:
    """The label request from the form. An empty reporter/complainant box keeps what the
    clip has (absent = keep); only its "clear" box removes it on purpose."""
    fields: dict[str, Any] = {"clip_ids": list(data.get("clip_ids") or []),
                              "case_number": data.get("case_number"), "party": data.get("party"),
                              "handler": data.get("handler")}
    for key in IDENTITY_FIELDS:
        value = str(data.get(key) or "").strip()
        if value:
            fields[key] = value
        elif data.get(f"clear_{key}"):
            fields[key] = None
    return fields


@router.post("/clips/label")
async def label_clips(request: Request, web: Web, user: Labeller, data: PostedForm) -> Response:
    await record(request, web, user, "label", label_request(data))
    return RedirectResponse(local_path(data.get("back"), "/clips"), status_code=303)


@router.get("/clips/{clip_id}", response_class=HTMLResponse)
def clip_page(request: Request, web: Web, user: CurrentUser, clip_id: str) -> HTMLResponse:
    with web.station() as opened:
        clip = one_clip(opened, user, clip_id)
        label = shown(opened.catalog.casework.label_of(clip_id), user.role, web.identities)
        history = [shown(h, user.role, web.identities)
                   for h in opened.catalog.casework.label_history(clip_id)]
        designation = opened.catalog.casework.evidence_of(clip_id)
        access = opened.catalog.casework.access_of(clip_id)
    return page(request, web, "clip.html", user, clip=clip, label=label, history=history,
                designation=designation, access=access, playable=clip_id in user.grants)


@router.post("/clips/{clip_id}/evidence")
async def designate(request: Request, web: Web, user: Designator, data: PostedForm,
                    clip_id: str) -> Response:
    fields = {key: data.get(key) for key in ("collector", "collected_at", "location", "fact_to_prove")}
    if data.get("transcript"):
        fields["transcript"] = data.get("transcript")
    await record(request, web, user, "evidence.designate", {"clip_id": clip_id, **fields})
    return RedirectResponse(f"/clips/{clip_id}", status_code=303)


@router.post("/clips/{clip_id}/view")
async def register_view(request: Request, web: Web, user: Player, data: PostedForm,
                        clip_id: str) -> Response:
    """R10: viewing is registered (viewer = the logged-in user) before the player opens;
    the grant to play belongs to this station-side session and ends with it."""
    seq = await record(request, web, user, "access.view", {
        "clip_id": clip_id, "viewer": user.username, "approver": data.get("approver"),
        "reason": data.get("reason"), "outside": bool(data.get("outside"))})
    if seq is not None:
        await run_in_threadpool(web.logins.grant, user.session_id, clip_id)
    return RedirectResponse(f"/clips/{clip_id}", status_code=303)


@router.get("/media/{clip_id}")
def media(web: Web, user: Player, clip_id: str) -> Response:
    """The clip's bytes, read-only, with range requests — only after a registered viewing."""
    if clip_id not in user.grants:
        raise HTTPException(403, "register the viewing first (R10)")
    with web.station() as opened:
        clip = one_clip(opened, user, clip_id)
        path = opened.store.path_for(clip["sha256"])
    kind = mimetypes.guess_type(clip["source_path"])[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-store"})
