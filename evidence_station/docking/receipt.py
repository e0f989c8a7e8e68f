"""The docking receipt: what the station took from a camera, and the proof of it.

Every file with size and SHA-256, what was skipped or failed and why, and the session's
signed checkpoint with the station's verifier key — so an officer leaves with something
an auditor can later check against the ledger. Written as text (console, plain printers)
and as a printable HTML page, both durably, under ``receipts/`` in the data dir.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from evidence_station.i18n import Lang, human_bytes, t
from evidence_station.ingest.model import SessionResult
from hashing.durable import make_directories_durably, write_file_durably

_TEMPLATES = Environment(loader=PackageLoader("evidence_station", "templates"),
                         autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class Receipt:
    """Everything on the receipt, as plain data (also stored as JSON)."""

    station: str
    session_id: str
    port: str
    device_id: str
    officer_id: str | None
    source: str
    state: str
    reason: str | None
    issued_at: str
    files: list[dict[str, Any]]  # path, size, sha256, status, flags
    problems: list[dict[str, Any]]  # path, reason, detail
    checkpoint_note: str
    verifier_key: str

    @property
    def safe_to_unplug(self) -> bool:
        return self.state == "completed" and not any(
            f["status"] == "failed" for f in self.files)


def build_receipt(result: SessionResult, *, station: str, port: str, verifier_key: str,
                  made_at: datetime) -> Receipt:
    files = [{"path": o.item.display, "size": o.item.file.size, "sha256": o.sha256,
              "status": o.status, "flags": [flag.kind for flag in o.flags]}
             for o in result.outcomes if o.problem is None]
    problems = [p.as_dict() for p in result.skipped]
    problems += [o.problem.as_dict() for o in result.outcomes if o.problem is not None]
    return Receipt(station, result.session_id, port, result.device_id, result.officer_id,
                   result.source, result.state, result.reason, made_at.astimezone(UTC).isoformat(),
                   files, problems, result.checkpoint_note, verifier_key.strip())


def render_text(receipt: Receipt, lang: Lang) -> str:
    lines = [t("receipt.title", lang), "=" * 40,
             f"station {receipt.station}  session {receipt.session_id}  port {receipt.port}",
             f"device {receipt.device_id}  officer {receipt.officer_id or '-'}  issued {receipt.issued_at}",
             ""]
    for item in receipt.files:
        sha = item["sha256"] or "(already in the store: see the earlier receipt)"
        lines.append(f"{item['status']:<10} {human_bytes(item['size']):>10}  {sha}  {item['path']}")
    for problem in receipt.problems:
        lines.append(f"{'NOT TAKEN':<10} {'':>10}  {problem['reason']}: {problem['detail']}  "
                     f"{problem['path']}")
    lines += ["", t("summary.safe" if receipt.safe_to_unplug else "summary.unsafe", lang)]
    if receipt.reason:
        lines.append(f"{t('session.interrupted', lang)}: {receipt.reason}")
    lines += ["", "signed checkpoint / 签名检查点:", receipt.checkpoint_note.rstrip("\n"),
              "", f"verifier key / 验证公钥: {receipt.verifier_key}"]
    return "\n".join(lines) + "\n"


def render_html(receipt: Receipt, lang: Lang) -> str:
    template = _TEMPLATES.get_template("receipt.html")
    return template.render(r=receipt, lang=lang, t=lambda key, **kw: t(key, lang, **kw),
                           human_bytes=human_bytes)


def write_receipt(receipt: Receipt, directory: Path, lang: Lang) -> Path:
    """Write ``<session>.json``, ``.txt`` and ``.html``; return the HTML path."""
    make_directories_durably(directory)  # the officer's receipt must survive a cut
    base = directory / receipt.session_id
    write_file_durably(base.with_suffix(".json"), json.dumps(
        receipt.__dict__, ensure_ascii=False, indent=1, sort_keys=True).encode())
    write_file_durably(base.with_suffix(".txt"), render_text(receipt, lang).encode())
    write_file_durably(base.with_suffix(".html"), render_html(receipt, lang).encode())
    return base.with_suffix(".html")


def load_receipt(directory: Path, session_id: str) -> Receipt:
    data = json.loads((directory / f"{session_id}.json").read_text(encoding="utf-8"))
    return Receipt(**data)
