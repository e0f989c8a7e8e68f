"""Case pages (R14 case files: the end, the last day, "case file formed") and the chain
of custody of a clip or a case (clerks, auditors, admins).

Reading a custody report is a registered act: the page is the answer to a POST (CSRF
checked) that first records the reading through the one door (a ``report`` event), then
asks for a checkpoint so the report's events — its own reading included — are proven
against it. Without the daemon, or when the checkpoint cannot be issued, the events after
the latest checkpoint are shown as pending, never as verified."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_station.case_files import case_states
from evidence_station.casework.identities import shown
from evidence_station.client import run_as
from evidence_station.custody import CustodyReport, make_report, select_clips
from evidence_station.custody_render import render_body, render_csv, render_html
from evidence_station.errors import EvidenceStationError
from evidence_station.pdf import PdfError, html_to_pdf
from evidence_station.web.deps import PostedForm, Web, WebUser, allowed, lang, page, record
from evidence_station.web.routes.clips import one_clip

router = APIRouter()
Custodian = Annotated[WebUser, Depends(allowed("custody"))]
CaseClerk = Annotated[WebUser, Depends(allowed("casefile"))]
Reader = Annotated[WebUser, Depends(allowed("clips.all"))]


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, web: Web, user: Reader) -> HTMLResponse:
    """Every case number with its R14 state, the late and due ones first."""
    with web.station() as opened:
        states = case_states(opened)
    order = {"late": 0, "due_soon": 1, "open": 2, "formed_late": 3, "formed": 4, "no_end": 5}
    states.sort(key=lambda s: (order.get(s.state, 9), s.deadline or s.ended_on or s.formed_on
                               or opened.clock.now().date(), s.case_number))
    return page(request, web, "cases.html", user, states=states)


@router.get("/cases/{case_number:path}", response_class=HTMLResponse)
def case_page(request: Request, web: Web, user: Reader, case_number: str) -> HTMLResponse:
    with web.station() as opened:
        states = case_states(opened, case_number=case_number)
        if not states:
            raise HTTPException(404, "no recording is labelled with that case number")
        ids = [row["clip_id"] for row in opened.catalog.case_files.labelled_recordings(case_number)]
        clips = [one_clip(opened, user, clip_id) for clip_id in ids]
        labels = {clip_id: shown(opened.catalog.casework.label_of(clip_id), user.role, web.identities)
                  for clip_id in ids}
        recorded = opened.catalog.case_files.case_file(case_number)
    return page(request, web, "case.html", user, state=states[0], clips=clips, labels=labels,
                recorded=recorded, case_number=case_number, quoted=quote(case_number, safe=""))


@router.post("/cases/{case_number:path}/end")
async def case_end(request: Request, web: Web, user: CaseClerk, data: PostedForm,
                   case_number: str) -> Response:
    await record(request, web, user, "case.end",
                 {"case_number": case_number, "ended_on": data.get("on")})
    return RedirectResponse(f"/cases/{quote(case_number, safe='')}", status_code=303)


@router.post("/cases/{case_number:path}/close")
async def case_close(request: Request, web: Web, user: CaseClerk, data: PostedForm,
                     case_number: str) -> Response:
    await record(request, web, user, "case.close",
                 {"case_number": case_number, "formed_on": data.get("on")})
    return RedirectResponse(f"/cases/{quote(case_number, safe='')}", status_code=303)


@router.post("/clips/{clip_id}/custody", response_model=None)
async def clip_custody(request: Request, web: Web, user: Custodian, data: PostedForm,
                       clip_id: str) -> Response:
    with web.station() as opened:
        one_clip(opened, user, clip_id)
    return await _custody(request, web, user, data, {"clip_ids": [clip_id]},
                          back=f"/clips/{clip_id}", name=clip_id)


@router.post("/cases/{case_number:path}/custody", response_model=None)
async def case_custody(request: Request, web: Web, user: Custodian, data: PostedForm,
                       case_number: str) -> Response:
    return await _custody(request, web, user, data, {"case_number": case_number},
                          back=f"/cases/{quote(case_number, safe='')}", name="case")


async def _custody(request: Request, web: Web, user: WebUser, data: dict[str, Any],
                   selection: dict[str, Any], *, back: str, name: str) -> Response:
    shape = str(data.get("format") or "web")
    if shape not in ("web", "csv", "pdf"):
        raise HTTPException(400, "format is web, csv or pdf")
    seq = await record(request, web, user, "report", {"kind": "custody", "formats": [shape],
                                                      **selection})
    if seq is None:  # refused: the reason is on the page we go back to
        return RedirectResponse(back, status_code=303)
    request.session.pop("message", None)
    # a checkpoint that covers this reading (clerks, auditors and admins may issue one)
    await run_in_threadpool(_checkpoint, web, user)
    report = await run_in_threadpool(_report, web, user, selection, seq)
    current = lang(request)
    if shape == "csv":
        return Response(("\ufeff" + render_csv(report)).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="custody-{name}.csv"'})
    if shape == "pdf":
        try:
            pdf = await run_in_threadpool(_pdf, report, current)
        except PdfError as err:
            raise HTTPException(503, str(err)) from err
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="custody-{name}.pdf"'})
    return page(request, web, "custody.html", user, body=render_body(report, current), back=back,
                action=request.url.path, ok=report.ok)


def _checkpoint(web: Web, user: WebUser) -> None:
    with contextlib.suppress(EvidenceStationError):  # then later events show as pending
        run_as(web.data_dir, web.config, user.username, ["ledger", "checkpoint"], clock=web.clock)


def _report(web: Web, user: WebUser, selection: dict[str, Any], seq: int) -> CustodyReport:
    with web.station() as opened:
        latest = opened.latest_checkpoint()
        note = opened.best_note(*latest) if latest else ""
        clips = select_clips(opened, selection.get("clip_ids") or [], selection.get("case_number"))
        return make_report(opened, clips, note=note, made_by=f"{user.username} ({user.role})",
                           case_number=selection.get("case_number"), report_seq=seq)


def _pdf(report: CustodyReport, current: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="custody-") as work:
        html = Path(work) / "custody.html"
        html.write_text(render_html(report, current), encoding="utf-8")
        return html_to_pdf(html, Path(work) / "custody.pdf").read_bytes()
