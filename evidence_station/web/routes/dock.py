"""The dock screen: the station's own monitor shows every port live, readable from two
metres — device, officer, files, bytes, speed, time left, and a large green 可以拔出 or
red 错误 with the reason.

The daemon writes ``DATA_DIR/run/status.json`` on every change (``docking.status``); this
page polls it once a second (``/dock/status``) and the server words every field, so the
screen shows exactly the states and texts of the terminal table (``StatusBoard.table``).

Who may look: a logged-in account with ``docks.view``, or the station's own screen — a
browser on the station itself (a loopback peer that is not a configured proxy), so a
kiosk needs no login that would time out. Behind a reverse proxy on the same host, list
the proxy in ``[web] trusted_proxies`` (the login throttle needs that too): then its
requests are not the station's screen and need a login.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from evidence_station.docking.status import STATES
from evidence_station.i18n import Lang, human_bytes, t
from evidence_station.web.deps import Web, WebContext, WebUser, lang, page, session_user

router = APIRouter()
LOOPBACK = ("127.0.0.1", "::1")
BANNER = {"safe_to_unplug": "safe", "error": "error"}  # the two states shown large


def station_screen(request: Request, web: WebContext) -> bool:
    """The request comes from a browser on the station itself, not through a proxy."""
    host = request.client.host if request.client else None
    if host not in LOOPBACK:
        return False
    address = ipaddress.ip_address(host)
    return not any(address in network for network in web.config.web.trusted_proxies)


def viewer(request: Request, web: WebContext) -> WebUser | None:
    """None for the station's own screen; else the session's user, who must see docks."""
    if station_screen(request, web):
        return None
    user = session_user(request, web)
    if not user.can("docks.view"):
        raise HTTPException(403, f"{user.username} ({user.role}) may not see the docks")
    return user


def _eta(remaining: int, speed: float) -> str:
    if speed <= 0 or remaining <= 0:
        return ""
    seconds = int(remaining / speed)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def worded(dock: dict[str, Any], language: Lang) -> dict[str, Any]:
    """One port as the screen shows it; the state words are the terminal table's."""
    state = str(dock.get("state") or "detected")
    if state not in STATES:
        state = "error"
    copying = state == "copying"
    speed = float(dock.get("speed_bps") or 0.0)
    done, total = int(dock.get("bytes_done") or 0), int(dock.get("bytes_total") or 0)
    return {
        "port": dock.get("port") or "", "state": state, "banner": BANNER.get(state, "busy"),
        "state_text": t(f"state.{state}", language), "reason": dock.get("reason") or "",
        "device_id": dock.get("device_id") or "", "officer_id": dock.get("officer_id") or "",
        "files": f"{dock.get('files_done') or 0}/{dock.get('files_total') or 0}",
        "bytes": f"{human_bytes(done)}/{human_bytes(total)}",
        "percent": round(done * 100 / total) if total else (100 if state == "safe_to_unplug" else 0),
        "speed": f"{human_bytes(int(speed))}/s" if copying else "",
        "eta": _eta(total - done, speed) if copying else "",
    }


def board(data_dir: Path, language: Lang) -> dict[str, Any]:
    """The status file as the screen shows it; no file means the daemon is not running."""
    path = data_dir / "run" / "status.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        # not written yet, or replaced between open and read (os.replace is atomic, a
        # half-read file is not possible; a missing one is the daemon not running)
        return {"running": False, "station": "", "updated_at": "", "docks": []}
    docks = [worded(dock, language) for dock in document.get("docks", [])]
    return {"running": True, "ready": bool(document.get("ready")),
            "station": document.get("station", ""), "updated_at": document.get("updated_at", ""),
            "docks": docks}


@router.get("/dock", response_class=HTMLResponse)
def dock_screen(request: Request, web: Web) -> HTMLResponse:
    user = viewer(request, web)
    current: Lang = "en" if lang(request) == "en" else "zh"
    return page(request, web, "dock.html", user, board=board(web.data_dir, current),
                states={state: t(f"state.{state}", current) for state in STATES})


@router.get("/dock/status")
def dock_status(request: Request, web: Web) -> JSONResponse:
    viewer(request, web)
    current: Lang = "en" if lang(request) == "en" else "zh"
    return JSONResponse(board(web.data_dir, current), headers={"Cache-Control": "no-store"})
