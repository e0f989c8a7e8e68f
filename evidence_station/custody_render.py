"""The custody report as a printable page (HTML, printed to PDF by Chromium) and as CSV,
in zh-CN (default) or English. The same page body is embedded in the web UI's custody
page, so what a clerk sees on screen is what the court gets on paper."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from evidence_station.custody import CustodyReport, csv_rows
from evidence_station.pdf import html_to_pdf
from hashing.durable import write_file_durably

FORMATS = ("html", "pdf", "csv")

_TEMPLATES = Environment(loader=PackageLoader("evidence_station", "templates"),
                         autoescape=select_autoescape(["html"]))

TEXT: dict[str, tuple[str, str]] = {
    "title": ("证据保管链报告", "Chain of custody report"),
    "subject": ("对象", "Subject"),
    "case": ("案号", "case number"),
    "station": ("工作站", "Station"),
    "made": ("生成时间", "Made at"),
    "made_by": ("生成人", "Made by"),
    "report_seq": ("本次生成已记入账本", "This report is recorded in the ledger"),
    "clips": ("片段", "Clips"),
    "clip": ("片段", "Clip"),
    "size": ("大小（字节）", "Size (bytes)"),
    "recorded": ("录制时间", "Recorded"),
    "device": ("产品序号", "Device"),
    "officer": ("警号", "Officer"),
    "ingest_seq": ("入库事件", "Ingest event"),
    "file": ("存储文件", "Stored file"),
    "file.ok": ("已重新计算哈希，一致", "re-hashed: SHA-256 and size match"),
    "file.deleted": ("已按 R11 删除，哈希永久保留", "deleted under R11; the hash stays"),
    "file.missing": ("存储文件缺失", "stored file missing"),
    "file.mismatch": ("存储文件哈希不一致", "stored file does not match its hash"),
    "file.not checked": ("存在，未重新计算哈希", "present, not re-hashed"),
    "events": ("事件（按账本顺序）", "Events (in ledger order)"),
    "seq": ("序号", "Seq"),
    "type": ("事件", "Event"),
    "time_utc": ("时间（UTC）", "Time (UTC)"),
    "time_bj": ("北京时间", "Beijing time"),
    "actor": ("操作人", "Actor"),
    "role": ("角色", "Role"),
    "details": ("内容", "Details"),
    "proof": ("包含证明", "Inclusion proof"),
    "verified": ("已验证", "verified"),
    "failed": ("验证失败", "FAILED"),
    "pending": ("待下一检查点", "pending: after the checkpoint"),
    "hashes": ("个哈希", "hashes"),
    "checkpoint": ("检查点", "Checkpoint"),
    "cosigned": ("证人联署", "Witness cosignatures"),
    "no_witness": ("无（未配置证人或尚未联署）", "none (no witness configured, or not cosigned yet)"),
    "ok_banner": ("全部校验通过", "All checks passed"),
    "fail_banner": ("校验失败 — 本报告不能作为完整性证明",
                    "VERIFICATION FAILED — this report does not prove integrity"),
    "closing": ("校验说明与离线复核方法", "What was verified, and how to re-check it offline"),
    "verified_events": ("{n} 个事件已逐一验证包含于检查点（树大小 {size}）",
                        "{n} events each proven included in the checkpoint (tree size {size})"),
    "pending_events": ("{n} 个事件在检查点之后，由下一个检查点覆盖",
                       "{n} events come after the checkpoint and are covered by the next one"),
}

# event type names (a type not listed shows its own name: future types appear as they are)
TYPE_NAMES: dict[str, tuple[str, str]] = {
    "session.start": ("接入开始", "docking started"), "session.end": ("接入结束", "docking ended"),
    "ingest": ("入库", "ingest"), "analysis": ("分析", "analysis"),
    "review.flag": ("复核标记", "review flag"), "review.resolve": ("复核处理", "review resolved"),
    "label": ("标注", "label"), "evidence.designate": ("指定为证据", "designated as evidence"),
    "access.view": ("调阅登记", "viewing registered"), "access.copy": ("复制登记", "copy registered"),
    "access.copy.done": ("复制完成", "copy written"),
    "access.release.request": ("外发申请", "release requested"),
    "access.release.approve": ("外发批准", "release approved"),
    "hold.place": ("保全", "hold placed"), "hold.release": ("解除保全", "hold released"),
    "retention.sweep": ("保存期限清点", "retention sweep"),
    "deletion.request": ("申请删除", "deletion requested"),
    "deletion": ("删除（墓碑）", "deletion (tombstone)"),
    "disc.burn": ("刻录光盘", "disc burned"), "disc.verify": ("光盘校验", "disc verified"),
    "ledger.export": ("导出", "export"), "ledger.export.done": ("导出完成", "export written"),
    "report": ("报告", "report"), "case.end": ("执法终结", "enforcement ended"),
    "case.close": ("案卷形成", "case file formed"),
}


def text(key: str, lang: str, **values: Any) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**values)


def type_name(kind: str, lang: str) -> str:
    names = TYPE_NAMES.get(kind)
    return (names[1] if lang == "en" else names[0]) if names else kind


def subject(report: CustodyReport, lang: str) -> str:
    return f"{text('case', lang)} {report.case_number}" if report.case_number else report.subject


def render_body(report: CustodyReport, lang: str) -> str:
    """The report's body (no <html>): shared by the printable page and the web page."""
    return _TEMPLATES.get_template("custody_body.html").render(
        r=report, lang=lang, t=lambda key, **kw: text(key, lang, **kw),
        type_name=lambda kind: type_name(kind, lang), subject=subject(report, lang))


def render_html(report: CustodyReport, lang: str) -> str:
    return _TEMPLATES.get_template("custody.html").render(
        body=render_body(report, lang), lang=lang, title=text("title", lang),
        subject=subject(report, lang))


def render_csv(report: CustodyReport) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(csv_rows(report))
    return buffer.getvalue()


def write_custody(report: CustodyReport, out: Path, formats: tuple[str, ...], lang: str) -> list[Path]:
    """Write ``out`` with each format's suffix (durable); the PDF is printed from the HTML,
    which is written first even when only a PDF is asked for, and then removed."""
    written: list[Path] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    html_path = out.with_suffix(".html")
    if "html" in formats or "pdf" in formats:
        write_file_durably(html_path, render_html(report, lang).encode())
        if "html" in formats:
            written.append(html_path)
    if "pdf" in formats:
        pdf_path = out.with_suffix(".pdf")
        try:
            html_to_pdf(html_path, pdf_path)
        finally:
            if "html" not in formats:
                html_path.unlink(missing_ok=True)
        written.append(pdf_path)
    if "csv" in formats:
        csv_path = out.with_suffix(".csv")
        # a BOM so spreadsheet programs on clerks' PCs read the Chinese as UTF-8
        write_file_durably(csv_path, ("\ufeff" + render_csv(report)).encode())
        written.append(csv_path)
    return written
