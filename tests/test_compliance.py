"""R15: the compliance report counts, per officer, device and unit, exactly the findings
the station's ledger holds, links every figure to its clips (appendix anchors in the
file, a filtered list on the web), and renders as HTML, PDF and CSV in zh-CN and English.

The station (``tests/compliance_station.py``) is built through the real CLI with the
clock pinned; every expected figure below is one the builder put there on purpose."""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlite_utils

from evidence_station import compliance
from evidence_station.cli import main
from evidence_station.compliance import ComplianceError, Options
from evidence_station.compliance_report import render_csv
from tests.compliance_station import AS_OF, PERIOD, ZONE, Built, compliance_station
from tests.webtools import client, login

__all__ = ["compliance_station"]  # the session fixture, imported for pytest
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
# also the shared review folder where one exists (never created on a CI machine)
SCREENS = [Path("/work/screens/compliance")] if Path("/work/screens").is_dir() else []


def options(start: str = PERIOD[0], end: str = PERIOD[1], **extra: int) -> Options:
    return Options(date.fromisoformat(start), date.fromisoformat(end),
                   datetime(2027, 3, 1, 9, 0, tzinfo=ZONE), ZONE, **extra)


def catalog(built: Built) -> sqlite_utils.Database:
    return sqlite_utils.Database(sqlite3.connect(built.data / "catalog.sqlite"))


def test_options_refuse_a_backwards_period_and_bad_thresholds() -> None:
    with pytest.raises(ComplianceError, match=r"ends .* before it starts"):
        options("2027-01-02", "2027-01-01")
    with pytest.raises(ComplianceError, match="card_full_pct must be between 1 and 100"):
        options(card_full_pct=0)
    with pytest.raises(ComplianceError, match="idle_days"):
        options(idle_days=0)
    bounds = options("2026-11-09", "2026-11-15").params()
    # local days for recorded times, the same instants in UTC for event times
    assert bounds["local_from"] == "2026-11-09" and bounds["local_to"] == "2026-11-16"
    assert bounds["utc_from"] == "2026-11-08T16:00:00" and bounds["utc_to"] == "2026-11-15T16:00:00"
    assert compliance.anchor("officer", "警号/1", "late_storage").isascii()


@pytest.mark.slow
def test_figures_per_officer_device_and_unit(compliance_station: Built) -> None:
    built, db = compliance_station, catalog(compliance_station)
    report = compliance.gather(db, "compliance-test", options())
    by = {(row.group, row.key): row.counts for group in compliance.GROUPS
          for row in report.rows[group]}
    a, b, c = built.clips["CAM-A"], built.clips["CAM-B"], built.clips["CAM-C"]
    officer_a, officer_b = by[("officer", "100001")], by[("officer", "100002")]
    assert officer_a["recordings"] == 4 and officer_a["late_storage"] == 4  # R4
    assert officer_a["statement"] == 4  # R2: no statement in the demo footage
    assert officer_a["restart"] == 1 and officer_a["unlabelled"] == 4  # R3, R5
    assert officer_a["card_full"] == 1 and officer_a["device_idle"] == 1  # R16
    assert officer_b["recordings"] == 4 and officer_b["late_storage"] == 0
    assert officer_b["unlabelled"] == 1  # CAM-C's other clip was deleted
    assert officer_b["no_disc"] == 1 and officer_b["access"] == 2 and officer_b["outside"] == 1
    assert officer_b["deletions"] == 1 and officer_b["device_idle"] == 2
    assert by[("device", "CAM-B")]["access"] == 2 and by[("device", "CAM-C")]["deletions"] == 1
    unit = report.total().counts
    assert unit == {**unit, "recordings": 8, "late_storage": 4, "restart": 1, "unlabelled": 5,
                    "no_disc": 1, "no_transcript": 0, "drift": 0, "access": 2, "outside": 1,
                    "deletions": 1, "device_idle": 3, "card_full": 1}
    assert unit["case_files_late"] is None and not report.wired["case_files_late"]
    assert report.total().rate("late_storage") == 0.5
    # every figure lists exactly its clips
    assert compliance.items(db, report.options, "late_storage", "officer", "100001") == (sorted(a), 4)
    assert compliance.items(db, report.options, "restart", "unit", "")[0] == [a[1]]
    assert compliance.items(db, report.options, "no_disc", "device", "CAM-B")[0] == [b[1]]
    assert compliance.items(db, report.options, "outside", "officer", "100002")[0] == [b[1]]
    assert compliance.items(db, report.options, "deletions", "unit", "")[0] == [c[1]]
    assert compliance.items(db, report.options, "card_full", "unit", "")[0] == ["CAM-A"]
    # weekly series for the plots: every Monday of the period, the recordings in theirs
    assert report.weeks[0] == "2026-10-19" and report.weeks[-1] == "2027-02-22"
    assert len(report.weeks) == 19
    assert report.weekly["recordings"] == {"2026-10-26": 4, "2026-11-09": 2, "2026-11-16": 2}


@pytest.mark.slow
def test_a_narrow_period_counts_only_its_recordings_and_events(compliance_station: Built) -> None:
    db = catalog(compliance_station)
    week = compliance.gather(db, "compliance-test", options("2026-11-09", "2026-11-15"))
    assert week.total().counts["recordings"] == 2 and week.total().counts["access"] == 0
    assert [row.key for row in week.rows["device"] if row.counts["recordings"]] == ["CAM-B"]
    viewing = compliance.gather(db, "compliance-test", options("2026-11-20", "2026-11-20"))
    assert viewing.total().counts["access"] == 2 and viewing.total().counts["recordings"] == 0


@pytest.mark.slow
def test_case_files_late_counts_the_cases_the_r14_rule_judged_late(compliance_station: Built) -> None:
    """R14: the CLI and the web hand in the cases the case-file rule judged late
    (``case_files.late_cases``); the column counts those whose last day is in the period,
    per officer of their labelled clips; a bare gather reads "not judged"."""
    db = catalog(compliance_station)
    report = compliance.gather(db, "compliance-test",
                               replace(options(), late_cases=(("B-1", "2026-12-09"),)))
    assert report.wired["case_files_late"] and report.total().counts["case_files_late"] == 1
    by_officer = {row.key: row.counts["case_files_late"] for row in report.rows["officer"]}
    assert by_officer == {"100001": 0, "100002": 1}
    outside = compliance.gather(db, "compliance-test",
                                replace(options(), late_cases=(("B-1", "2030-01-01"),)))
    assert outside.total().counts["case_files_late"] == 0  # its last day is not in the period


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("pdftoppm") is None,
                    reason="chromium and poppler-utils needed (make deps installs them)")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cli_report_html_pdf_csv(compliance_station: Built, tmp_path: Path, lang: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    built = compliance_station
    base = ["--data-dir", str(built.data), "--lang", lang]
    events = built.data / "ledger" / "events.jsonl"
    before = events.read_bytes()
    # bad input: a clear error, exit 2, nothing written anywhere
    code = main([*base, "report", "compliance", "--from", "2027-01-02", "--to", "2027-01-01",
                 "--out", str(tmp_path / "bad" / "c")], clock=built.clock)
    assert code == 2 and "before it starts" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() and events.read_bytes() == before
    code = main([*base, "report", "compliance", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--now", AS_OF, "--out", str(tmp_path / "c")], clock=built.clock)
    assert code == 0, capsys.readouterr()
    html = (tmp_path / "c.html").read_text()
    if lang == "zh":
        assert "执法全过程记录合规报告" in html and "按警号" in html and "逾期存储" in html
        assert "Recordings" not in html and "By officer" not in html
    else:
        assert "Compliance report" in html and "By officer" in html and "逾期存储" not in html
    # every non-zero figure links to its appendix entry, which lists the clips
    for target in set(re.findall(r'href="#(cell-[^"]+)"', html)):
        assert f'id="{target}"' in html, target
    late = compliance.anchor("officer", "100001", "late_storage")
    entry = html[html.index(f'id="{late}"'):]
    entry = entry[:entry.index("</p>")]
    assert all(clip in entry for clip in built.clips["CAM-A"])
    assert html.count("data:image/png;base64,") == 2  # recordings and findings per week
    rows = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_text(encoding="utf-8-sig"))))
    header, unit = rows[0], next(row for row in rows if row[0] == "unit")
    assert dict(zip(header, unit, strict=True))["late_storage"] == "4"
    assert dict(zip(header, unit, strict=True))["case_files_late"].isdigit()  # R14 judged
    listed = (tmp_path / "c-items.csv").read_text(encoding="utf-8-sig")
    assert f"deletions,\"R11 (000:29, 004:28, 001:20, 003:22)\",{built.clips['CAM-C'][1]}" in listed
    assert events.read_bytes().count(b'"type":"report"') == before.count(b'"type":"report"') + 1
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "2", str(tmp_path / "c.pdf"),
                    str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 2 and pages[0].stat().st_size > 20_000
    for folder in (ARTIFACTS, *SCREENS):
        folder.mkdir(parents=True, exist_ok=True)
        for number, png in enumerate(pages, 1):
            shutil.copyfile(png, folder / f"compliance-pdf-{lang}-page{number}.png")


@pytest.mark.slow
def test_web_tables_show_a_page_of_officers_and_devices(compliance_station: Built,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A city unit has thousands of cameras: the page shows ROWS of each group at a time
    (the report file and the CSV list them all)."""
    from evidence_station.web.routes import compliance as route

    monkeypatch.setattr(route, "ROWS", 2)
    web = client(compliance_station.data)
    login(web, "zhao")
    period = f"from={PERIOD[0]}&to={PERIOD[1]}&as_of={AS_OF}"

    def devices(text: str) -> list[str]:
        table = text.split('id="group-device"', 1)[1].split("</table>", 1)[0]
        return re.findall(r'<td class="key">([^<]+)</td>', table)

    first = web.get(f"/reports/compliance?{period}").text
    assert devices(first) == ["CAM-A", "CAM-B"]
    more = re.findall(r'href="(/reports/compliance\?[^"]*device_page=2[^"]*)"', first)
    assert len(more) == 1 and "第 1–2 行，共 3 行" in first
    second = web.get(more[0].replace("&amp;", "&")).text
    assert devices(second) == ["CAM-C"]
    assert 'device_page=3' not in second and "第 3–3 行，共 3 行" in second
    assert re.search(r'href="[^"]*device_page=1[^"]*" rel="prev"', second)
    for odd in ("x", "²", "0", "9" * 5000):  # not a page number: the first page, never a 500
        answer = web.get(f"/reports/compliance?{period}&device_page={odd}")
        assert answer.status_code == 200 and devices(answer.text) == ["CAM-A", "CAM-B"], odd
    assert devices(web.get(f"/reports/compliance?{period}&device_page=99").text) == ["CAM-C"]
    # the officer table's page is kept when the device table turns
    both = web.get(f"/reports/compliance?{period}&officer_page=2").text
    assert re.search(r'officer_page=2[^"]*device_page=2', both)


def test_web_figures_link_to_filtered_clip_lists(compliance_station: Built) -> None:
    built = compliance_station
    web = client(built.data)
    login(web, "zhou")  # an officer: not an inspector
    assert web.get("/reports/compliance").status_code == 403
    web = client(built.data)
    login(web, "zhao")  # an auditor
    period = f"from={PERIOD[0]}&to={PERIOD[1]}&as_of={AS_OF}"
    page = web.get(f"/reports/compliance?{period}")
    assert page.status_code == 200 and "按警号" in page.text
    links = re.findall(r'href="(/reports/compliance/items\?[^"]+)"', page.text)
    late = next(link for link in links if "duty=late_storage" in link and "group=officer" in link)
    listed = web.get(late.replace("&amp;", "&"))
    assert listed.status_code == 200
    assert sorted(re.findall(r'href="/clips/(\w+)"', listed.text)) == sorted(built.clips["CAM-A"])
    devices = next(link for link in links if "duty=card_full" in link and "group=unit" in link)
    assert "CAM-A" in web.get(devices.replace("&amp;", "&")).text
    # the weekly plots are images of their own (the page never waits for the drawing)
    plots = re.findall(r'<img class="plot"[^>]* src="(/reports/compliance/plot/\d\.png\?[^"]+)"',
                       page.text)
    assert len(plots) == 2
    for plot in plots:
        image = web.get(plot.replace("&amp;", "&"))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
    assert web.get(f"/reports/compliance/plot/2.png?{period}").status_code == 404
    one_week = f"from={PERIOD[0]}&to={PERIOD[0]}&as_of={AS_OF}"
    assert 'class="plot"' not in web.get(f"/reports/compliance?{one_week}").text
    assert web.get(f"/reports/compliance/plot/0.png?{one_week}").status_code == 404
    officer = client(built.data)
    login(officer, "zhou")
    assert officer.get(plots[0].replace("&amp;", "&")).status_code == 403
    answer = web.get(f"/reports/compliance.csv?{period}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0].startswith("\ufeffgroup,key,recordings")
    assert web.get("/reports/compliance?from=2027-01-02&to=2027-01-01").status_code == 400
    assert web.get(f"/reports/compliance/items?{period}&duty=nothing&group=unit").status_code == 400


@pytest.mark.slow
def test_csv_has_every_row_and_rate(compliance_station: Built) -> None:
    report = compliance.gather(catalog(compliance_station), "compliance-test", options())
    rows = list(csv.reader(io.StringIO(render_csv(report, "en").lstrip("\ufeff"))))
    assert [row[:2] for row in rows[2:]] == [["officer", "100001"], ["officer", "100002"],
                                             ["device", "CAM-A"], ["device", "CAM-B"],
                                             ["device", "CAM-C"], ["unit", "compliance-test"]]
    assert rows[0][-2:] == ["late_storage_rate", "statement_rate"] and rows[-1][-2] == "0.5000"

