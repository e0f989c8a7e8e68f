"""The web UI in real headless Chromium (Debian's, driven by Playwright): a clerk logs
in, finds the clips of the last docking, labels them, designates one as evidence,
registers a viewing and plays it; an auditor sees those events and verifies the ledger.
Screenshots of the main pages go to ``artifacts/screenshots/``."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from evidence_station.config import load_config
from evidence_station.web.app import create_app
from tests.webtools import PASSWORD, make_station

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed (make deps installs it)")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, demo_camera: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    make_station(data, demo_camera, monkeypatch)
    port = free_port()
    config = uvicorn.Config(create_app(data, load_config(None)), host="127.0.0.1", port=port,
                            log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", data
    instance.should_exit = True
    thread.join(10)


def test_clerk_and_auditor_in_a_real_browser(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, data = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(f"{base}/login")
        page.screenshot(path=str(SHOTS / "login.png"))
        page.fill("input[name=username]", "li")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("未标注片段")
        # the clips of the last docking, all selected, labelled at once
        page.check("input[name=session]")
        page.click("form[method=get] button[type=submit]")
        boxes = page.locator("input[name=clip_ids]")
        count = boxes.count()
        assert count == 2  # the demo camera fixture holds two recordings
        page.screenshot(path=str(SHOTS / "clerk-queue.png"), full_page=True)
        for index in range(count):
            boxes.nth(index).check()
        page.fill("form[action='/clips/label'] input[name=case_number]", "东罚决字〔2026〕12号")
        page.fill("form[action='/clips/label'] input[name=party]", "张三")
        page.fill("form[action='/clips/label'] input[name=handler]", "李四")
        page.click("form[action='/clips/label'] fieldset button[type=submit]")
        expect(page.locator(".message")).to_contain_text("已记录")
        expect(page.locator("p.muted")).to_have_text("没有片段")  # nothing left unlabelled
        # one clip: designate as evidence, register a viewing, play it
        page.goto(f"{base}/clips?show=all")
        page.locator("a[href^='/clips/']").first.click()
        clip_url = page.url
        page.fill("input[name=collector]", "李四")
        page.fill("input[name=collected_at]", "2026-11-03T14:30")
        page.fill("input[name=location]", "人民路")
        page.fill("input[name=fact_to_prove]", "当事人占道经营")
        page.click("form[action$='/evidence'] button[type=submit]")
        expect(page.locator(".message")).to_contain_text("已记录")
        page.fill("input[name=approver]", "wang")
        page.fill("input[name=reason]", "复核录像")
        page.click("form[action$='/view'] button[type=submit]")
        video = page.locator("video#player")
        expect(video).to_be_visible()
        page.wait_for_function("document.querySelector('video#player').readyState >= 1", timeout=20000)
        duration = page.evaluate("document.querySelector('video#player').duration")
        assert duration > 0.5
        assert page.url == clip_url
        page.screenshot(path=str(SHOTS / "clip-page.png"), full_page=True)
        page.click("header form button[type=submit]")  # log out

        # the auditor sees the clerk's events and verifies the ledger
        page.fill("input[name=username]", "zhao")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_contain_text("账本")
        table = page.locator("table").last
        for kind in ("label", "evidence.designate", "access.view"):
            expect(table).to_contain_text(kind)
        page.click("form[action='/ledger/verify'] button")
        expect(page.locator("#verified")).to_be_visible()
        page.screenshot(path=str(SHOTS / "auditor-ledger.png"), full_page=True)
        page.goto(f"{base}/lang/en")
        page.goto(f"{base}/review")
        expect(page.locator("h1")).to_have_text("Review queue")
        page.screenshot(path=str(SHOTS / "review-en.png"), full_page=True)
        browser.close()
    lines = (data / "ledger" / "events.jsonl").read_text().splitlines()
    actors = {(e["type"], e["actor"]) for e in map(json.loads, lines)}
    assert {("label", "li"), ("evidence.designate", "li"), ("access.view", "li")} <= actors
