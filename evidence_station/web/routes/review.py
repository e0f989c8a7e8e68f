"""The review queue (analysis flags, R1–R4) and resolving a flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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
        flags, more = queue_page(case_review_items(opened), opened.catalog.flags.review,
                                 start=(number - 1) * size, size=size)
    return page(request, web, "review.html", user, flags=flags, page_number=number,
                prev_link=f"/review?page={number - 1}" if number > 1 else None,
                next_link=f"/review?page={number + 1}" if more else None)


def queue_page(cases: list[dict[str, Any]], flags: Callable[..., list[dict[str, Any]]], *,
               start: int, size: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of the review queue and whether another follows. R14's case files due or
    late come first, then the open flags (paged in SQL by ``flags(limit=, offset=)``), as
    one list: thousands of late cases at scale must not make one page of a megabyte."""
    shown = cases[start:start + size]
    room = size - len(shown)
    rest = flags(limit=room + 1, offset=max(0, start - len(cases)))
    return shown + rest[:room], len(cases) > start + size or len(rest) > room


@router.post("/review/{flag_id}/resolve")
async def resolve(request: Request, web: Web, user: Resolver, data: PostedForm,
                  flag_id: str) -> Response:
    await record(request, web, user, "review.resolve",
                 {"flag_id": flag_id, "resolution": data.get("resolution")})
    return RedirectResponse("/review", status_code=303)
