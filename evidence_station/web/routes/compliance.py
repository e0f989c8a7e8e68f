"""R15 on the web: the compliance tables for a period, each figure a link to the clips
(devices, cases) behind it, the weekly plots and the CSV — for auditors and admins.

Read-only: ``as_of`` sets the report's "as of" like ``report compliance --now`` (a view,
never a write), so an inspector can look at the state on the day of an inspection."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from evidence_station import compliance
from evidence_station.case_files import late_cases
from evidence_station.compliance import DUTY, ComplianceError, Options, Report, Row
from evidence_station.compliance_report import PLOTS, context, period, render_csv, text, weekly_plot
from evidence_station.web.deps import Web, WebContext, WebUser, allowed, lang, page

router = APIRouter()
Inspector = Annotated[WebUser, Depends(allowed("reports"))]
PAGE = 100
ROWS = 100  # officers or devices a table shows at once (a city unit has thousands)


@dataclass(frozen=True)
class Shown:
    """The page of one group's rows the web page shows, and the links around it."""

    rows: list[Row]
    first: int
    last: int
    paged: bool  # more rows than one page: say where this page is
    previous: str | None
    more: str | None


def _page_number(request: Request, group: str) -> int | None:
    asked = request.query_params.get(f"{group}_page", "")
    return int(asked) if asked.isascii() and asked.isdigit() and 0 < len(asked) < 7 else None


def _shown(report: Report, request: Request, query: str) -> dict[str, Shown]:
    """ROWS officers and ROWS devices at a time; a page past the end shows the last one."""
    shown = {}
    for group, rows in report.rows.items():
        last_page = max(1, -(-len(rows) // ROWS))
        number = min(_page_number(request, group) or 1, last_page)
        start = (number - 1) * ROWS
        page_rows = rows[start:start + ROWS]
        others = "".join(f"&{other}_page={page}" for other in report.rows
                         if other != group and (page := _page_number(request, other)))

        def link(to: int, group: str = group, others: str = others) -> str:
            return f"/reports/compliance?{query}{others}&{group}_page={to}#group-{group}"

        shown[group] = Shown(page_rows, start + 1, start + len(page_rows), last_page > 1,
                             link(number - 1) if number > 1 else None,
                             link(number + 1) if number < last_page else None)
    return shown


def _options(web: WebContext, start: str | None, end: str | None, as_of: str | None,
             unlabelled_days: int, idle_days: int, card_full_pct: int, now: datetime) -> Options:
    zone = ZoneInfo(web.config.station.timezone)
    try:
        moment = (datetime.combine(date.fromisoformat(as_of), datetime.max.time(), zone)
                  if as_of else now.astimezone(zone))
        first, last = period(start or None, end or None, moment.date())
        return Options(first, last, moment, zone, unlabelled_days, idle_days, card_full_pct)
    except (ValueError, ComplianceError) as err:
        raise HTTPException(400, f"compliance report: {err}") from err


def _query(options: Options, as_of: str | None, **extra: Any) -> str:
    values: dict[str, Any] = {"from": options.start.isoformat(), "to": options.end.isoformat(),
                              "unlabelled_days": options.unlabelled_days,
                              "idle_days": options.idle_days,
                              "card_full_pct": options.card_full_pct}
    if as_of:
        values["as_of"] = as_of
    return urlencode({**values, **extra})


@router.get("/reports/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, web: Web, user: Inspector, as_of: str | None = None,
                    unlabelled_days: int = 7, idle_days: int = 30,
                    card_full_pct: int = 90) -> HTMLResponse:
    """The period's query names are the CLI's, ``from`` and ``to`` (read as they come)."""
    start, end = request.query_params.get("from"), request.query_params.get("to")
    current = lang(request)
    with web.station() as opened:
        options = _options(web, start, end, as_of, unlabelled_days, idle_days, card_full_pct,
                           opened.clock.now())
        options = replace(options, late_cases=late_cases(opened, options.as_of.date()))  # R14
        report = compliance.gather(opened.catalog.db, opened.name, options, series=False)
    query = _query(options, as_of)
    items = f"/reports/compliance/items?{query}&group="

    def link(group: str, key: str, duty: str) -> str:
        # once per non-zero cell (10^4 at 10^6 clips): the period's query is encoded once
        return f"{items}{group}&key={quote_plus(key)}&duty={duty}"

    # the plots are images of their own: drawing them (~0.15 s each) never holds the page
    plots = [f"/reports/compliance/plot/{number}.png?{query}"
             for number in range(PLOTS) if len(report.weeks) >= 2]
    return page(request, web, "compliance.html", user, **context(report, current, link),
                plots=plots, query=query, as_of=as_of or "", shown=_shown(report, request, query))


@router.get("/reports/compliance/plot/{number}.png")
def compliance_plot(request: Request, web: Web, user: Inspector, number: int,
                    as_of: str | None = None, unlabelled_days: int = 7, idle_days: int = 30,
                    card_full_pct: int = 90) -> Response:
    """One weekly plot of the page's report (the same period and thresholds)."""
    with web.station() as opened:
        options = _options(web, request.query_params.get("from"), request.query_params.get("to"),
                           as_of, unlabelled_days, idle_days, card_full_pct, opened.clock.now())
        report = compliance.gather(opened.catalog.db, opened.name, options)  # R14 not plotted
    plot = weekly_plot(report, lang(request), number)
    if plot is None:
        raise HTTPException(404, f"no weekly plot {number} for a period of one week")
    return Response(base64.b64decode(plot), media_type="image/png",
                    headers={"Cache-Control": "no-store"})  # the tables beside it are live


@router.get("/reports/compliance.csv")
def compliance_csv(request: Request, web: Web, user: Inspector, as_of: str | None = None,
                   unlabelled_days: int = 7, idle_days: int = 30,
                   card_full_pct: int = 90) -> Response:
    with web.station() as opened:
        options = _options(web, request.query_params.get("from"), request.query_params.get("to"),
                           as_of, unlabelled_days, idle_days, card_full_pct, opened.clock.now())
        options = replace(options, late_cases=late_cases(opened, options.as_of.date()))  # R14
        report = compliance.gather(opened.catalog.db, opened.name, options)
    name = f"compliance-{options.start}-{options.end}.csv"
    return Response(render_csv(report, lang(request)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/compliance/items", response_class=HTMLResponse)
def compliance_items(request: Request, web: Web, user: Inspector, duty: str, group: str,
                     key: str = "", as_of: str | None = None, unlabelled_days: int = 7,
                     idle_days: int = 30, card_full_pct: int = 90, page_number: int = 1) -> HTMLResponse:
    """The clips (devices, cases) behind one figure: a filtered list, paged in SQL."""
    if duty not in DUTY or group not in compliance.GROUPS:
        raise HTTPException(400, f"no such figure: {duty!r} by {group!r}")
    current = lang(request)
    with web.station() as opened:
        options = _options(web, request.query_params.get("from"), request.query_params.get("to"),
                           as_of, unlabelled_days, idle_days, card_full_pct, opened.clock.now())
        if duty == "case_files_late":  # R14's rule reads every case: only for its own list
            options = replace(options, late_cases=late_cases(opened, options.as_of.date()))
        offset = (max(1, page_number) - 1) * PAGE
        found, total = compliance.items(opened.catalog.db, options, duty, group, key,
                                        limit=PAGE, offset=offset)
        rows = compliance.item_rows(opened.catalog.db, DUTY[duty].basis, found)
    query = _query(options, as_of, group=group, key=key, duty=duty)
    more = f"/reports/compliance/items?{query}&page_number={page_number + 1}" \
        if offset + len(found) < total else None
    return page(request, web, "compliance_items.html", user, duty=DUTY[duty], group=group, key=key,
                rows=rows, total=total, more=more, options=options,
                back="/reports/compliance?" + _query(options, as_of),
                tt=lambda k, **values: text(k, current, **values))
