"""R15: the compliance report rendered — HTML (tables first, weekly plots, an appendix
that lists the clips behind every cell), PDF from the same HTML, and CSV — in zh-CN or
English. The figures come from :mod:`evidence_station.compliance` (SQL over the catalog).

The same tables render on the web page (``/reports/compliance``), where a cell links to a
filtered clip list instead of the appendix; both use ``templates/web/_compliance_tables.html``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from jinja2 import Environment, PackageLoader, select_autoescape

from evidence_station.compliance import (
    DUTIES,
    DUTY,
    GROUPS,
    Options,
    Report,
    anchor,
    cell_items,
    cells,
    gather,
    items,
)
from evidence_station.pdf import html_to_pdf
from hashing.durable import write_file_durably

# Report text, zh-CN first (the language test renders both and looks for untranslated keys).
TEXT: dict[str, tuple[str, str]] = {
    "title": ("执法全过程记录合规报告", "Compliance report: enforcement recording"),
    "station": ("工作站", "Station"),
    "period": ("统计期间", "Period"),
    "as_of": ("截至", "As of"),
    "made": ("生成时间", "Made"),
    "basis": ("统计口径", "How it is counted"),
    "basis.clip": ("录像类指标按录制时间（本站时区；无录制时间的按入库时间）统计期间内的录像，"
                   "判定截至报告日期。",
                   "Recording figures count the period's recordings (recorded time in the station's "
                   "zone; ingest time where there is none), judged as of the report date."),
    "basis.event": ("调阅、复制、对外提供与删除按登记时间统计，计入该录像的警号与产品序号。",
                    "Viewings, copies, releases and deletions count by their own time, attributed to "
                    "the clip's officer and device."),
    "basis.device": ("记录仪指标按截至报告日期的状态统计：{idle} 天未接入；"
                     "最近一次接入时存储已用超过 {pct}%。",
                     "Device figures are the state as of the report date: not docked for {idle} days; "
                     "card more than {pct}% full at the last docking."),
    "basis.unlabelled": ("逾期未标注：入库超过 {days} 天仍无案号、当事人、承办人。",
                         "Unlabelled: stored more than {days} days ago and still without case "
                         "number, party and handler."),
    "basis.unit": ("“本单位”为本工作站的全部录像。", "\"Unit\" is all footage of this station."),
    "group.officer": ("按警号", "By officer"),
    "group.device": ("按记录仪（产品序号）", "By device"),
    "group.unit": ("本单位合计", "Unit total"),
    "col.officer": ("警号", "Officer"),
    "col.device": ("产品序号", "Device"),
    "col.unit": ("单位", "Unit"),
    "col.rule": ("依据", "Rule"),
    "col.duty": ("指标", "Figure"),
    "col.count": ("数量", "Count"),
    "col.rate": ("比例", "Rate"),
    "col.items": ("录像 / 记录仪", "Clips / devices"),
    "none": ("（无）", "(none)"),
    "not_wired": ("未接入", "not wired"),
    "not_wired.note": ("“案卷逾期未形成”（R14）待案卷功能（case close）接入后统计。",
                       "\"Case files late\" (R14) is counted once case files (case close) are wired in."),
    "weekly": ("按周趋势", "Weekly trend"),
    "plot.recordings": ("每周录像数", "Recordings per week"),
    "plot.findings": ("每周问题数", "Findings per week"),
    "plot.week": ("周（周一）", "week (Monday)"),
    "plot.count": ("数量", "count"),
    "appendix": ("附录：各项数字对应的录像", "Appendix: the clips behind each figure"),
    "appendix.more": ("另有 {count} 项未列出（见 CSV 或网页）",
                      "{count} more not listed (see the CSV or the web page)"),
    "back": ("返回表格", "back to the tables"),
    "checkpoint": ("当前签名检查点", "Current signed checkpoint"),
    "no_rows": ("期间内没有录像", "No recordings in the period"),
    "form.from": ("起", "From"), "form.to": ("止", "To"), "form.show": ("统计", "Show"),
    "form.csv": ("下载 CSV", "Download CSV"),
    "items.title": ("{duty}：{group} {key}", "{duty}: {group} {key}"),
    "items.count": ("共 {count} 项", "{count} in all"),
    "rows.shown": ("第 {first}–{last} 行，共 {count} 行", "rows {first}–{last} of {count}"),
    "rows.next": ("下一页", "next rows"),
    "rows.previous": ("上一页", "previous rows"),
}
APPENDIX_LIMIT = 200  # per cell in the file; the CSV and the web page list them all


def text(key: str, lang: str, **values: object) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**values)


def _templates() -> Environment:
    return Environment(loader=PackageLoader("evidence_station", "templates"),
                       autoescape=select_autoescape(["html"]))


PLOTS = 2  # recordings per week, findings per week


def weekly_plot(report: Report, lang: str, number: int) -> str | None:
    """Per-week plot ``number`` (0: recordings, 1: the clip findings R1–R5) as a base64 PNG,
    where a trend is easier to see than in a table; None for a period of one week (the
    table says it)."""
    if len(report.weeks) < 2 or not 0 <= number < PLOTS:
        return None
    from retention.reports import line_plot

    weeks = report.weeks
    if number == 0:
        recordings = [report.weekly.get("recordings", {}).get(week, 0) for week in weeks]
        return line_plot(weeks, {text("plot.recordings", lang): recordings},
                         text("plot.recordings", lang), text("plot.week", lang),
                         text("plot.count", lang), bars=True)
    findings = {DUTY[key].title(lang): [report.weekly.get(key, {}).get(week, 0) for week in weeks]
                for key in ("late_storage", "statement", "drift", "restart", "unlabelled")
                if key in report.weekly}
    return line_plot(weeks, findings, text("plot.findings", lang), text("plot.week", lang),
                     text("plot.count", lang))


def weekly_plots(report: Report, lang: str) -> list[str]:
    """Every per-week plot, for the report file (the web page loads each as an image)."""
    return [plot for number in range(PLOTS) if (plot := weekly_plot(report, lang, number))]


def context(report: Report, lang: str, link: Callable[[str, str, str], str]) -> dict[str, Any]:
    """What both templates need: the tables, the words, and how a cell links."""
    options = report.options
    return {
        "report": report, "duties": DUTIES, "groups": GROUPS,
        "tt": lambda key, **values: text(key, lang, **values), "link": link,
        "pct": lambda value: "" if value is None else f"{value * 100:.1f}%",
        "notes": [text("basis.clip", lang), text("basis.event", lang),
                  text("basis.unlabelled", lang, days=options.unlabelled_days),
                  text("basis.device", lang, idle=options.idle_days, pct=options.card_full_pct),
                  text("basis.unit", lang),
                  *([] if report.wired["case_files_late"] else [text("not_wired.note", lang)])],
    }


def render_html(db: sqlite_utils.Database, report: Report, lang: str, checkpoint: str,
                made: datetime) -> str:
    appendix = []
    listed: dict[tuple[str, str], dict[str, tuple[list[str], int]]] = {}
    for group, row, duty in cells(report):  # gather() filled the period table
        if (duty, group) not in listed:
            listed[(duty, group)] = cell_items(db, report.options, duty, group,
                                               limit=APPENDIX_LIMIT)
        found, total = listed[(duty, group)].get("" if group == "unit" else row.key, ([], 0))
        appendix.append({"id": anchor(group, row.key, duty), "group": group, "key": row.key,
                         "duty": DUTY[duty], "items": found, "more": total - len(found)})
    return _templates().get_template("compliance_report.html").render(
        lang=lang, **context(report, lang, lambda group, key, duty: "#" + anchor(group, key, duty)),
        plots=weekly_plots(report, lang), appendix=appendix, checkpoint=checkpoint,
        made=made.astimezone(report.options.zone).isoformat(timespec="seconds"))


def render_csv(report: Report, lang: str) -> str:
    """One line per (group, key): every figure, then the rates; UTF-8 with a BOM so a
    spreadsheet opened by a double click reads the Chinese headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["group", "key", *(duty.key for duty in DUTIES),
                     *(f"{duty.key}_rate" for duty in DUTIES if duty.rate)])
    writer.writerow([text("col.duty", lang), "", *(duty.title(lang) for duty in DUTIES),
                     *(duty.title(lang) + " %" for duty in DUTIES if duty.rate)])
    for group in GROUPS:
        for row in report.rows[group]:
            writer.writerow([group, row.key, *("" if row.counts.get(duty.key) is None
                                               else row.counts[duty.key] for duty in DUTIES),
                             *("" if row.rate(duty.key) is None else f"{row.rate(duty.key):.4f}"
                               for duty in DUTIES if duty.rate)])
    return "\ufeff" + buffer.getvalue()


def render_items_csv(db: sqlite_utils.Database, report: Report) -> str:
    """Every clip (device, case) behind every cell of the unit row: the full appendix."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["duty", "rule", "item"])
    unit = report.total()
    for duty in DUTIES:
        if not unit.counts.get(duty.key):
            continue
        offset = 0
        while True:
            listed, _ = items(db, report.options, duty.key, "unit", unit.key, limit=10_000,
                              offset=offset, fill=False)
            writer.writerows([duty.key, duty.rule, item] for item in listed)
            if len(listed) < 10_000:
                break
            offset += len(listed)
    return "\ufeff" + buffer.getvalue()


def period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """--from/--to as dates; default the last 30 days up to ``today``."""
    last = date.fromisoformat(end) if end else today
    first = date.fromisoformat(start) if start else last - timedelta(days=29)
    return first, last


def write(db: sqlite_utils.Database, station: str, options: Options, lang: str, out: Path,
          checkpoint: str, made: datetime) -> Sequence[Path]:
    """FILE.html, FILE.pdf, FILE.csv and FILE-items.csv beside each other, each durable."""
    report = gather(db, station, options)
    html_path = out.with_suffix(".html")
    csv_path, items_path = out.with_suffix(".csv"), out.with_name(out.stem + "-items.csv")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    write_file_durably(html_path, render_html(db, report, lang, checkpoint, made).encode())
    write_file_durably(csv_path, render_csv(report, lang).encode())
    write_file_durably(items_path, render_items_csv(db, report).encode())
    pdf_path = html_to_pdf(html_path, out.with_suffix(".pdf"))
    return html_path, pdf_path, csv_path, items_path
