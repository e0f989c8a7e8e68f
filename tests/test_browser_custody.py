"""The chain of custody and the R14 case file in real headless Chromium (Debian's, driven
by Playwright): a clerk finds a case due soon, opens its custody report (recorded as a
reading, proven against a fresh checkpoint), checks it row by row against the ledger,
downloads the CSV, opens a clip's custody in English, and records the case file formed;
an officer gets no custody. Screenshots are saved under the test's tmp dir (and copied to
/work/screens/custody/ when that folder can be written) and looked at."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import load_config
from evidence_station.demo import make_demo_camera
from evidence_station.web.app import create_app
from tests.test_browser import CHROMIUM, free_port
from tests.webtools import PASSWORD, USERS

CASE = "东罚决字〔2026〕88号"
RECORDED = datetime(2026, 11, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SCREENS = Path("/work/screens/custody")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed (make deps installs it)")]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, FixedClock]]:
    """A station whose clips were recorded on 2026-11-03, labelled with one case; the web
    UI's clock is day 25 after that (a reminder is due), pinned, never today's date."""
    data = tmp_path / "data"
    clock = FixedClock(RECORDED + timedelta(hours=6))
    base = ["--data-dir", str(data), "--lang", "en"]
    camera = make_demo_camera(tmp_path / "cam", count=2, seconds=0.5, start=RECORDED)
    assert main([*base, "init", "--station", "custody-web"], clock=clock) == 0
    assert main([*base, "ingest", str(camera)], clock=clock) == 0
    for role, name in USERS.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        extra = ["--officer-id", "010203"] if role == "officer" else []
        assert main([*base, "user", "add", name, "--role", role, "--password-stdin", *extra],
                    clock=clock) == 0
    capture = io.StringIO()
    monkeypatch.setattr("sys.stdout", capture)
    assert main([*base, "clips", "--json"], clock=clock) == 0
    ids = [clip["id"] for clip in json.loads(capture.getvalue())]
    assert main([*base, "label", *ids, "--case-number", CASE, "--party", "张三", "--handler", "李四"],
                clock=clock) == 0
    assert main([*base, "access", "view", ids[0], "--viewer", "赵六", "--approver", "科长",
                 "--reason", "复核"], clock=clock) == 0
    monkeypatch.undo()
    clock.set(RECORDED + timedelta(days=25))
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(create_app(data, load_config(None), clock=clock),
                                             host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", data, clock
    instance.should_exit = True
    thread.join(10)


def _ledger(data: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text().splitlines()]


def _check_rows_against_ledger(page: object, data: Path) -> int:
    """Every row of the report names a ledger event by seq and type, and is verified."""
    events = _ledger(data)
    rows = page.locator("#custody-report table.events tr[data-seq]")  # type: ignore[attr-defined]
    count = rows.count()
    assert count >= 5
    for index in range(count):
        row = rows.nth(index)
        seq = int(row.get_attribute("data-seq"))
        assert row.get_attribute("data-type") == events[seq]["type"]
        assert str(events[seq]["actor"]) in row.inner_text()
        assert "✓" in row.locator("td.proof").inner_text(), row.inner_text()
    return count


def test_custody_and_case_file_pages_in_a_real_browser(server: tuple[str, Path, FixedClock],
                                                       tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, data, _clock = server
    shots = tmp_path / "screens"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN",
                                accept_downloads=True)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS["clerk"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # the case list: day 25 after the last recording, a reminder is due (R14)
        page.goto(f"{base}/cases")
        expect(page.locator("#cases tr.case-due_soon")).to_contain_text(CASE)
        expect(page.locator("#cases tr.case-due_soon")).to_contain_text("即将到期")
        page.screenshot(path=str(shots / "cases-zh.png"), full_page=True)
        page.goto(f"{base}/review")
        expect(page.locator("main table")).to_contain_text("案卷形成期限将至")
        page.locator("#cases, main").first.screenshot(path=str(shots / "review-case-due-zh.png"))
        page.goto(f"{base}/cases")
        page.click(f"#cases a:has-text('{CASE}')")
        expect(page.locator("#case-state")).to_have_text("即将到期")
        expect(page.locator("#case-file")).to_contain_text("2026-12-03")  # the last day
        page.screenshot(path=str(shots / "case-page-zh.png"), full_page=True)

        # the custody of the whole case: recorded, checkpointed, every row verified
        before = len(_ledger(data))
        page.click("button#custody")
        expect(page.locator("#custody-verdict")).to_contain_text("全部校验通过")
        rows = _check_rows_against_ledger(page, data)
        events = _ledger(data)
        reading = next(e for e in reversed(events) if e["type"] == "report")
        assert reading["actor"] == USERS["clerk"] and reading["case_number"] == CASE
        assert int(reading["seq"]) >= before  # type: ignore[call-overload]
        expect(page.locator(f"#custody-report tr[data-seq='{reading['seq']}']")).to_contain_text("✓")
        for text in ("入库", "标注", "调阅登记", "北京时间", "离线复核", "evidence-station-verify"):
            expect(page.locator("#custody-report")).to_contain_text(text)
        page.screenshot(path=str(shots / "custody-case-zh.png"), full_page=True)
        with page.expect_download() as download:
            page.click("button#download-csv")
        saved = tmp_path / "custody.csv"
        download.value.save_as(saved)
        table = list(csv.DictReader(io.StringIO(saved.read_text("utf-8-sig"))))
        assert len(table) == rows + 1 and all(row["verified"] == "yes" for row in table)  # + that reading
        with page.expect_download() as download:
            page.click("button#download-pdf")
        pdf = tmp_path / "custody.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000

        # one clip's custody, in English
        clip = next(e["clip_id"] for e in events if e["type"] == "ingest")
        page.goto(f"{base}/lang/en")
        page.goto(f"{base}/clips/{clip}")
        page.click("button#custody")
        expect(page.locator("#custody-verdict")).to_contain_text("All checks passed")
        expect(page.locator("#custody-report h1")).to_have_text("Chain of custody report")
        _check_rows_against_ledger(page, data)
        page.screenshot(path=str(shots / "custody-clip-en.png"), full_page=True)

        # the case file formed, through the case page's form
        page.goto(f"{base}/lang/zh")
        page.goto(f"{base}/cases/{CASE}")
        page.fill("form[action$='/close'] input[name=on]", "2026-11-27")
        page.click("button#case-close")
        expect(page.locator("#case-state")).to_have_text("已形成")
        page.screenshot(path=str(shots / "case-formed-zh.png"), full_page=True)
        closed = _ledger(data)[-1]
        assert (closed["type"], closed["actor"], closed["formed_on"], closed["on_time"]) == \
            ("case.close", USERS["clerk"], "2026-11-27", True)
        page.click("header form button[type=submit]")  # log out

        # an officer sees their clip but no custody button, and may not post for one
        page.fill("input[name=username]", USERS["officer"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/clips/{clip}")
        expect(page.locator("button#custody")).to_have_count(0)
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = page.request.post(f"{base}/clips/{clip}/custody", form={"csrf_token": token or ""})
        assert answer.status == 403
        browser.close()
    assert sum(1 for e in _ledger(data) if e["type"] == "report") == 4  # case, csv, pdf, clip
    try:
        SCREENS.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copyfile(shot, SCREENS / shot.name)
    except OSError:
        pass  # the copy for the closing note is a convenience, not part of the test
