"""The review queue (analysis flags, R1–R4) and resolving a flag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence_station.case_files import review_items as case_review_items
from evidence_station.web.deps import CurrentUser, PostedForm, Web, WebUser, allowed, page, record

router = APIRouter()
Resolver = Annotated[WebUser, Depends(allowed("review.resolve"))]


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, web: Web, user: CurrentUser,
                number: Annotated[int, Query(alias="page", ge=1)] = 1) -> HTMLResponse:
    """Clerks resolve flags; auditors and admins may look. One page of open flags, paged
    in SQL like the clip queue."""
    if not (user.can("review.resolve") or user.can("ledger.view")):
        raise HTTPException(403, "not allowed")
    size = web.config.web.page_size
    with web.station() as opened:
        flags = opened.catalog.flags.review(limit=size + 1, offset=(number - 1) * size)
        more = len(flags) > size
        flags = flags[:size]
        if number == 1:
            flags = case_review_items(opened) + flags  # R14: case files due or late, first
    return page(request, web, "review.html", user, flags=flags, page_number=number,
                prev_link=f"/review?page={number - 1}" if number > 1 else None,
                next_link=f"/review?page={number + 1}" if more else None)


@router.post("/review/{flag_id}/resolve")
async def resolve(request: Request, web: Web, user: Resolver, data: PostedForm,
                  flag_id: str) -> Response:
    await record(request, web, user, "review.resolve",
                 {"flag_id": flag_id, "resolution": data.get("resolution")})
    return RedirectResponse("/review", status_code=303)
