"""The auditor's ledger page (paged), verification and the export bundle."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_station.casework.rules import IDENTITY_FIELDS, MASK
from evidence_station.check import check_station
from evidence_station.client import run_as
from evidence_station.errors import EvidenceStationError
from evidence_station.i18n import Lang
from evidence_station.web.deps import PostedForm, Web, WebContext, WebUser, allowed, lang, page

router = APIRouter()
Viewer = Annotated[WebUser, Depends(allowed("ledger.view"))]
Verifier = Annotated[WebUser, Depends(allowed("ledger.verify"))]
Exporter = Annotated[WebUser, Depends(allowed("ledger.export"))]


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, web: Web, user: Viewer, start: int | None = None) -> HTMLResponse:
    """One page of events (the newest by default); only that page is read from the ledger."""
    size_of_page = web.config.web.page_size
    with web.station() as opened:
        size = opened.ledger.size
        first = max(0, size - size_of_page) if start is None else max(0, min(start, size))
        events = [json.loads(event.data)
                  for event in itertools.islice(opened.ledger.events(first), size_of_page)]
        latest = opened.latest_checkpoint()
        checkpoints = opened.checkpoints.recent_notes(5)
    if not user.can("identity.view"):  # R12 also in the raw ledger view
        for event in events:
            for key in IDENTITY_FIELDS:
                if event.get(key):
                    event[key] = MASK
    notes = [path.read_text() for path in checkpoints]
    older = max(first - size_of_page, 0) if first > 0 else None
    newer = first + size_of_page if first + size_of_page < size else None
    return page(request, web, "ledger.html", user, events=list(reversed(events)), size=size,
                first=first, older=older, newer=newer, latest=latest, notes=notes,
                findings=request.session.pop("findings", None))


def _check(web: WebContext) -> list[str]:
    """The whole check (it reads every event and file): in a worker thread, never on the
    event loop, where it stalled every other user's pages."""
    with web.station() as opened:
        report = check_station(opened)
    return [str(finding) for finding in report.findings]


@router.post("/ledger/verify")
async def verify_now(request: Request, web: Web, user: Verifier, data: PostedForm) -> Response:
    request.session["findings"] = await run_in_threadpool(_check, web)
    return RedirectResponse("/ledger", status_code=303)


@router.post("/ledger/export")
async def export_now(request: Request, web: Web, user: Exporter, data: PostedForm) -> Response:
    exports = web.data_dir / "exports"
    out = Path(tempfile.mkdtemp(prefix="bundle-", dir=exports if exports.is_dir() else None))
    try:
        code, _out, err_text = await run_in_threadpool(
            run_as, web.data_dir, web.config, user.username, ["ledger", "export", "--out", str(out)],
            lang(request))
        if code == 0:
            request.session["message"] = str(out)
        else:
            request.session["error"] = err_text.strip() or f"export failed (exit {code})"
    except EvidenceStationError as err:
        chosen: Lang = "en" if lang(request) == "en" else "zh"
        request.session["error"] = err.render(chosen)
    return RedirectResponse("/ledger", status_code=303)


