"""The dock screen shows the daemon's status file with the terminal table's words, to the
station's own screen without a login and to anyone else only after one; the admin
dashboard's figures come from the catalog and the disk, the scrub's last pass, and
replication that reads "not available" until it is configured."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from evidence_station import dashboard
from evidence_station.clock import FixedClock
from evidence_station.config import Config, load_config
from evidence_station.docking.status import STATES, DockStatus, StatusBoard
from evidence_station.i18n import t
from evidence_station.station import Station
from evidence_station.web.app import create_app
from evidence_station.web.routes.dock import board
from tests.compliance_station import ZONE, Built, compliance_station
from tests.webtools import login

__all__ = ["compliance_station"]


def terminal(status_board: StatusBoard, lang: str) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(status_board.table(lang))  # type: ignore[arg-type]
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_state_reads_as_in_the_terminal_table(tmp_path: Path, lang: str) -> None:
    status_board = StatusBoard(tmp_path / "run" / "status.json", "station-01", min_interval=0)
    for number, state in enumerate(STATES):
        status_board.set(DockStatus(port=f"usb-{number}", kind="usb", source="/dev/sdz",
                                    state=state, device_id=f"CAM-{number}", officer_id="100001",
                                    reason="只读挂载失败" if state == "error" else None,
                                    files_total=4, files_done=2, bytes_total=4 << 20,
                                    bytes_done=1 << 20, speed_bps=512 * 1024))
    shown = board(tmp_path, lang)  # type: ignore[arg-type]
    table = terminal(status_board, lang)
    assert [dock["state"] for dock in shown["docks"]] == list(STATES)
    for dock in shown["docks"]:
        assert dock["state_text"] == t(f"state.{dock['state']}", lang)  # type: ignore[arg-type]
        assert dock["state_text"] in table
    by_state = {dock["state"]: dock for dock in shown["docks"]}
    assert by_state["safe_to_unplug"]["banner"] == "safe"
    assert by_state["error"]["banner"] == "error" and by_state["error"]["reason"] == "只读挂载失败"
    copying = by_state["copying"]
    assert copying["speed"] == "512.0 KiB/s" and copying["eta"] == "0:06"  # 3 MiB at 512 KiB/s
    assert copying["files"] == "2/4" and copying["percent"] == 25
    assert by_state["verifying"]["eta"] == ""  # time left only while copying
    assert board(tmp_path / "nowhere", lang)["running"] is False  # type: ignore[arg-type]


def test_only_the_stations_own_screen_skips_the_login(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    StatusBoard(data / "run" / "status.json", "station-01").set(
        DockStatus(port="usb-1", kind="usb", source="/dev/sdz", state="safe_to_unplug",
                   device_id="CAM-A", officer_id="100001"))
    config = load_config(None)
    local = TestClient(create_app(data, config), client=("127.0.0.1", 40000), follow_redirects=False)
    page = local.get("/dock")
    assert page.status_code == 200 and "可以拔出" in page.text and "CAM-A" in page.text
    assert local.get("/dock/status").json()["docks"][0]["state_text"] == "可以拔出"
    # a clerk's PC, and the proxy on the station itself once it is configured as one
    remote = TestClient(create_app(data, config), client=("10.0.0.8", 40000), follow_redirects=False)
    assert remote.get("/dock").status_code == 303 and remote.get("/dock/status").status_code == 303
    proxied = Config.model_validate({"web": {"trusted_proxies": ["127.0.0.1"]}})
    behind = TestClient(create_app(data, proxied), client=("127.0.0.1", 40000), follow_redirects=False)
    assert behind.get("/dock").status_code == 303


@pytest.mark.slow
def test_dock_screen_for_a_logged_in_user(compliance_station: Built) -> None:
    web = TestClient(create_app(compliance_station.data, load_config(None)), follow_redirects=False)
    login(web, "zhou")  # an officer may look at the docks
    answer = web.get("/dock")
    assert answer.status_code == 200 and "接入服务未运行" in answer.text  # no daemon here


@pytest.mark.slow
def test_dashboard_figures(compliance_station: Built) -> None:
    built = compliance_station
    clock = FixedClock(datetime(2026, 11, 17, 9, 0, tzinfo=ZONE))
    with Station.open(built.data, load_config(None), writable=False, clock=clock) as station:
        found = dashboard.sections(station)
        db = station.catalog.db
        recent = db.execute("select sum(size) from clips where device_id in ('CAM-B', 'CAM-C') "
                            "and deleted_at is null").fetchone()[0]
    review = found["review"]
    assert review is not None and review["open"] == 13  # 8 statements (R2), 4 late, 1 restart
    assert review["by_kind"]["late_storage"] == 4 and review["by_kind"]["interruption_unexplained"] == 1
    assert found["integrity"]["alarms"] == 0
    disk = found["disk"]
    assert disk["intake_per_day"] == pytest.approx(recent / 14)  # CAM-B and CAM-C, not CAM-A
    assert disk["days_left"] == pytest.approx((disk["free"] - 256 * 1024 * 1024) / (recent / 14))
    assert found["witness"] is None and found["replication"] is None  # neither configured
    scrub = found["scrub"]  # F34: never run here, due one interval after the first event
    assert scrub is not None and scrub["last_pass"] == "—" and scrub["open_alarms"] == 0
    assert scrub["next_due"] != "—"
    web = TestClient(create_app(built.data, load_config(None)), follow_redirects=False)
    login(web, "zhao")  # an auditor: not the admin's dashboard
    assert web.get("/dashboard").status_code == 403
    web = TestClient(create_app(built.data, load_config(None)), follow_redirects=False)
    login(web, "wang")
    page = web.get("/dashboard").text
    for words in ("完整性告警", "待复核", "存储空间", "下次巡检", "本站未启用复制"):
        assert words in page


def test_a_failing_provider_shows_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(station: Station) -> dict[str, object] | None:
        raise OSError("replication database unreachable")

    monkeypatch.setattr(dashboard, "PROVIDERS", {"replication": broken})
    assert dashboard.sections(None) == {  # type: ignore[arg-type]
        "replication": {"error": "OSError: replication database unreachable"}}
