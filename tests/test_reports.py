"""Reports render with plots, as HTML and as PDF; the PDF is rendered to PNG and checked;
each carries the current signed checkpoint."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.demo import make_demo_camera
from retention.policy import add_months
from retention.reports import expiry_by_month
from tests.accounts import run_as

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("pdftoppm") is None,
                                reason="chromium and poppler-utils needed (make deps installs them)")


def test_expiry_by_month_buckets() -> None:
    from datetime import date

    today = date(2026, 11, 23)
    rows = expiry_by_month([date(2026, 10, 1), date(2026, 11, 30), date(2027, 2, 28),
                            add_months(today, 20)], today)
    assert rows[0] == ("≤2026-11", 2) and dict(rows)["2027-02"] == 1 and len(rows) == 12
    assert sum(count for _, count in rows) == 3  # beyond a year is not shown


@pytest.mark.slow
def test_retention_and_compliance_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"

    docked = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = FixedClock(docked)

    def run(*args: str) -> tuple[int, str]:
        code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
        return code, capsys.readouterr().out

    camera = make_demo_camera(tmp_path / "cam", count=4, seconds=0.5, start=docked - timedelta(hours=3))
    assert run("init", "--station", "reports")[0] == 0
    assert run("ingest", str(camera))[0] == 0
    assert run("analyze")[0] == 0
    ids = [c["id"] for c in json.loads(run("clips", "--json")[1])]
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert run("user", "add", "wang", "--role", "admin", "--password-stdin")[0] == 0
    assert run("hold", ids[0], "--reason", "诉讼中")[0] == 0
    assert run("access", "view", ids[1], "--viewer", "赵六", "--approver", "wang",
               "--reason", "复核")[0] == 0
    clock.set(datetime(2027, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert run("delete", ids[2], "--request", "--reason", "期满")[0] == 0
    assert run_as(data, "wang", "delete", ids[2], "--approve", clock=clock)[0] == 0
    shots = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    # whatever analysis flagged (it depends on whether a speech model is installed) is
    # counted under its duty in the compliance report (tests/test_compliance.py has the
    # figures); here: the report is made, in English as asked, with its tables
    flagged = sorted({flag["kind"] for flag in json.loads(run("review", "--json", "--all")[1])})
    assert flagged
    for kind, words in (("retention", ["保存期限报告", "诉讼中", "wang"]),
                        ("compliance", ["Compliance report", "By officer", "Viewings and copies"])):
        period = ["--from", "2026-11-01"] if kind == "compliance" else []
        code, out = run("report", kind, "--out", str(tmp_path / kind), "--now", "2027-06-01",
                        *period)
        assert code == 0, out
        html = (tmp_path / f"{kind}.html").read_text()
        assert html.count("data:image/png;base64,") >= 1  # per-week plots: the period has weeks
        for word in words:
            assert word in html, (kind, word)
        note = (data / "ledger" / "checkpoints")
        latest = sorted(note.glob("*.note"))[-1].read_text()
        assert latest.splitlines()[0] in html and latest.splitlines()[2] in html  # origin and root
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1",
                        str(tmp_path / f"{kind}.pdf"), str(tmp_path / f"{kind}-page")], check=True)
        page = next(tmp_path.glob(f"{kind}-page*.png"))
        assert page.stat().st_size > 10_000  # text, tables and a plot, not a blank page
        shutil.copyfile(page, shots / f"report-{kind}.png")
    events = (data / "ledger" / "events.jsonl").read_text()
    assert events.count('"type":"report"') == 2
