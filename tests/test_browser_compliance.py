"""The compliance report, the dock screen and the admin dashboard in Debian's Chromium
(Playwright), with screenshots saved to ``artifacts/screenshots/`` and
``/work/screens/compliance/`` to be looked at.

- the compliance report: an auditor opens the period, follows a figure to its clips and
  on to one clip; the same page in English;
- the dock screen driven by the daemon's status writer through every state (copying with
  speed and time left, an error with its reason, 可以拔出), and driven by a real daemon
  docking a folder camera until it reads 可以拔出;
- the admin dashboard.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from evidence_station.clock import SYSTEM_CLOCK, Clock, FixedClock
from evidence_station.config import Config, load_config
from evidence_station.demo import make_demo_camera
from evidence_station.docking.status import DockStatus, StatusBoard
from evidence_station.web.app import create_app
from tests.compliance_station import AS_OF, PASSWORD, PERIOD, ZONE, Built, compliance_station
from tests.docking_helpers import DaemonProcess, write_config

__all__ = ["compliance_station"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# artifacts/ in the tree; also the shared review folder where one exists (this project's
# workstations), never created on a CI machine
SHOTS = [Path(__file__).resolve().parent.parent / "artifacts" / "screenshots",
         *([Path("/work/screens/compliance")] if Path("/work/screens").is_dir() else [])]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed (make deps installs it)")]


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS[0] / name), full_page=full_page)
    for folder in SHOTS[1:]:
        shutil.copyfile(SHOTS[0] / name, folder / name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(data: Path, config: Config, clock: Clock = SYSTEM_CLOCK) -> Iterator[str]:
    """The web UI in a thread of this process, on 127.0.0.1 (the station's own screen)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(data, config, clock), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def browser(locale: str = "zh-CN", width: int = 1400, height: int = 900) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield instance.new_page(viewport={"width": width, "height": height}, locale=locale)
        finally:
            instance.close()


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_compliance_report_and_dashboard(compliance_station: Built) -> None:
    from playwright.sync_api import expect

    built = compliance_station
    period = f"from={PERIOD[0]}&to={PERIOD[1]}&as_of={AS_OF}"
    # the day after CAM-C docked: the last 14 days hold CAM-B's and CAM-C's intake
    clock = FixedClock(datetime(2026, 11, 17, 9, 0, tzinfo=ZONE))
    with serve(built.data, load_config(None), clock) as base, browser() as page:
        log_in(page, base, "zhao")
        page.click("header a[href='/reports/compliance']")
        expect(page.locator("h1")).to_have_text("执法全过程记录合规报告")
        page.goto(f"{base}/reports/compliance?{period}")
        expect(page.locator("h2#group-officer")).to_have_text("按警号")
        officer_a = page.locator("table.compliance").first.locator("tr", has_text="100001")
        expect(officer_a.locator("td.finding").first).to_be_visible()
        shot(page, "compliance-web-zh.png")
        # R4 of officer 100001: the figure links to its four clips
        officer_a.locator("a[href*='duty=late_storage']").click()
        expect(page.locator("h1")).to_contain_text("逾期存储")
        expect(page.locator("#items a[href^='/clips/']")).to_have_count(4)
        shot(page, "compliance-web-items-zh.png")
        page.locator("#items a[href^='/clips/']").first.click()
        expect(page).to_have_url(f"{base}/clips/{sorted(built.clips['CAM-A'])[0]}")
        page.goto(f"{base}/lang/en")
        page.goto(f"{base}/reports/compliance?{period}")
        expect(page.locator("h2#group-device")).to_have_text("By device")
        shot(page, "compliance-web-en.png")
        page.click("header form button[type=submit]")  # log out
        log_in(page, base, "wang")
        page.goto(f"{base}/lang/zh")
        page.goto(f"{base}/dashboard")
        expect(page.locator("#review .big")).to_have_text("13")
        expect(page.locator("#days-left")).not_to_have_text("∞")  # intake measured
        expect(page.locator("#scrub")).to_contain_text("下次巡检")  # F34: no pass yet, one due
        expect(page.locator("#replication")).to_contain_text("本站未启用复制")
        shot(page, "dashboard-zh.png")


def test_dock_screen_follows_the_status_writer(tmp_path: Path) -> None:
    """The daemon's status writer (``StatusBoard``) steps one port through its states and
    fails another; the screen follows within its polling second."""
    from playwright.sync_api import expect

    data = tmp_path / "data"
    data.mkdir()
    status = StatusBoard(data / "run" / "status.json", "station-01", min_interval=0)
    status.mark_ready()
    with serve(data, load_config(None)) as base, browser(width=1600, height=1000) as page:
        page.goto(f"{base}/dock")  # the station's own screen: no login
        expect(page.locator("#none")).to_be_visible()
        status.set(DockStatus(port="usb-1-1", kind="usb", source="/dev/sdb", state="detected"))
        card = page.locator(".dock[data-port='usb-1-1']")
        expect(card).to_have_attribute("data-state", "detected")
        status.update("usb-1-1", state="copying", device_id="CAM-0042", officer_id="100001",
                      files_total=12, files_done=4, bytes_total=12 << 30, bytes_done=4 << 30,
                      speed_bps=80 << 20)
        status.set(DockStatus(port="usb-1-2", kind="usb", source="/dev/sdc", state="error",
                              device_id="CAM-0077", officer_id="100002",
                              reason="记录仪在复制过程中被拔出；已入库的文件已记录，重新接入即可继续"))
        expect(card).to_have_attribute("data-state", "copying")
        expect(card.locator(".speed")).to_have_text("80.0 MiB/s")
        expect(card.locator(".eta")).to_have_text("1:42")  # 8 GiB at 80 MiB/s
        expect(page.locator(".dock[data-port='usb-1-2'] .banner")).to_contain_text("错误")
        shot(page, "dock-copying-and-error.png", full_page=False)
        status.update("usb-1-1", state="verifying", files_done=12, bytes_done=12 << 30)
        expect(card).to_have_attribute("data-state", "verifying")
        status.update("usb-1-1", state="safe_to_unplug")
        expect(card.locator(".banner.safe")).to_have_text("可以拔出")
        shot(page, "dock-safe-to-unplug.png", full_page=False)
        page.goto(f"{base}/lang/en")
        page.goto(f"{base}/dock")
        expect(card.locator(".banner.safe")).to_have_text("safe to unplug")
        shot(page, "dock-en.png", full_page=False)


def test_dock_screen_with_a_real_daemon(tmp_path: Path) -> None:
    """A real daemon docks a folder camera from its inbox; the screen, opened before the
    camera arrives, ends on a green 可以拔出 for it."""
    from playwright.sync_api import expect

    data, inbox = tmp_path / "data", tmp_path / "inbox"
    inbox.mkdir()
    config_path = write_config(tmp_path / "config.toml", inbox_dirs=[str(inbox)])
    daemon = DaemonProcess(data, config_path)
    try:
        with serve(data, load_config(config_path)) as base, browser(width=1600, height=1000) as page:
            page.goto(f"{base}/dock")
            expect(page.locator("#none")).to_be_visible()
            # every state the page shows, as it shows it
            page.evaluate("""() => { window.seen = [];
                new MutationObserver(() => document.querySelectorAll('.dock').forEach(d =>
                  window.seen.push(d.dataset.state))).observe(document.getElementById('docks'),
                  {childList: true, subtree: true, attributes: true}); }""")
            camera = make_demo_camera(tmp_path / "staging" / "cam-7", count=6, seconds=2.0)
            camera.rename(inbox / "cam-7")  # arrives at once, like a card reader's folder
            card = page.locator(".dock").first
            expect(card.locator(".banner.safe")).to_have_text("可以拔出", timeout=90_000)
            expect(card.locator(".files")).to_have_text("6/6")
            shot(page, "dock-daemon-safe.png", full_page=False)
            seen = page.evaluate("window.seen")
            assert seen and seen[-1] == "safe_to_unplug"
    finally:
        assert daemon.stop() == 0, daemon.output()
