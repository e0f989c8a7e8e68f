"""Every web page and report, rendered in zh-CN and in English, uses only translated text:
no key falls through untranslated, and no zh-CN page has an English header (nor an
English page a Chinese one). Rendered on a station with every kind of data
(``tests/compliance_station.py``) so that every table on every page has rows."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlite_utils

from evidence_station import compliance
from evidence_station.compliance_report import TEXT, render_html
from evidence_station.i18n import MESSAGES
from evidence_station.web import deps
from evidence_station.web.text import WEB_TEXT
from tests.compliance_station import AS_OF, PERIOD, ZONE, Built, compliance_station
from tests.webtools import client, login

__all__ = ["compliance_station"]
HEADERS = {"h1", "h2", "h3", "th", "legend", "button", "label", "title"}
# words that are the same in both languages: codes, units, names of formats and roles
# as stored (role names are identifiers the CLI takes), and the language switch itself
NEUTRAL = re.compile(r"SHA-256|CSV|PDF|HTML|JSON|OK|KiB|MiB|GiB|B/s|\b(officer|clerk|auditor|admin)\b"
                     r"|English|中文|R\d+|\d+:\d+")


class Headers(HTMLParser):
    """The text of every header-like element (nested text included), per element."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, list[str]]] = []
        self.found: list[tuple[str, str]] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "select", "code", "small"):
            self.skip += 1
        if tag in HEADERS:
            self.stack.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "select", "code", "small"):
            self.skip -= 1
        if self.stack and self.stack[-1][0] == tag:
            name, parts = self.stack.pop()
            self.found.append((name, " ".join("".join(parts).split())))

    def handle_data(self, data: str) -> None:
        if self.stack and not self.skip:
            self.stack[-1][1].append(data)


def headers(html: str) -> list[tuple[str, str]]:
    parser = Headers()
    parser.feed(html)
    return parser.found


def wrong_language(html: str, lang: str) -> list[str]:
    found = []
    for tag, words in headers(html):
        rest = NEUTRAL.sub("", words)
        if lang == "zh" and re.search(r"[A-Za-z]{3,}", rest) and not re.search(r"[\u4e00-\u9fff]", rest):
            found.append(f"<{tag}> {words}")
        if lang == "en" and re.search(r"[\u4e00-\u9fff]", rest):
            found.append(f"<{tag}> {words}")
    return found


@pytest.fixture
def strict_text(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Page text that records every key with no translation instead of falling back."""
    missing: list[str] = []
    original = deps.text

    def strict(key: str, lang: str, **values: object) -> str:
        if key not in WEB_TEXT and key not in MESSAGES:
            missing.append(key)
        return original(key, lang, **values)

    monkeypatch.setattr(deps, "text", strict)
    yield missing


def test_every_text_has_both_languages() -> None:
    for table in (WEB_TEXT, MESSAGES, TEXT):
        for key, pair in table.items():
            assert len(pair) == 2 and all(pair), key
            zh, en = pair
            assert re.findall(r"\{(\w+)\}", zh) == re.findall(r"\{(\w+)\}", en) or \
                sorted(re.findall(r"\{(\w+)\}", zh)) == sorted(re.findall(r"\{(\w+)\}", en)), key


def _pages(built: Built) -> list[str]:
    a, b = built.clips["CAM-A"], built.clips["CAM-B"]
    period = f"from={PERIOD[0]}&to={PERIOD[1]}&as_of={AS_OF}"
    return ["/clips", "/clips?show=all", f"/clips/{a[0]}", f"/clips/{b[0]}", "/review", "/ledger",
            "/admin", f"/reports/compliance?{period}", "/dashboard", "/dock",
            *(f"/reports/compliance/items?{period}&group=unit&key=&duty={duty}"
              for duty in ("late_storage", "card_full", "access"))]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_in_both_languages(compliance_station: Built, strict_text: list[str],
                                      lang: str) -> None:
    built = compliance_station
    web = client(built.data)
    assert web.get(f"/lang/{lang}").status_code in (302, 303, 307)
    login_page = web.get("/login").text
    problems = [f"/login: {word}" for word in wrong_language(login_page, lang)]
    login(web, "wang")  # an admin sees every page but the clerk's forms
    for url in _pages(built):
        answer = web.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        problems += [f"{url}: {word}" for word in wrong_language(answer.text, lang)]
    web = client(built.data)
    web.get(f"/lang/{lang}")
    login(web, "zhao")  # the auditor's ledger page has the verify and export forms
    problems += [f"/ledger (auditor): {word}" for word in wrong_language(web.get("/ledger").text, lang)]
    assert not strict_text, f"untranslated keys: {sorted(set(strict_text))}"
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compliance_report_in_both_languages(compliance_station: Built, lang: str) -> None:
    db = sqlite_utils.Database(sqlite3.connect(compliance_station.data / "catalog.sqlite"))
    options = compliance.Options(date.fromisoformat(PERIOD[0]), date.fromisoformat(PERIOD[1]),
                                 datetime(2027, 3, 1, 9, tzinfo=ZONE), ZONE)
    report = compliance.gather(db, "compliance-test", options)
    html = render_html(db, report, lang, "checkpoint", datetime(2027, 3, 1, 9, tzinfo=ZONE))
    assert not wrong_language(html, lang)


def test_templates_use_only_known_keys() -> None:
    """Every literal key a web template asks for is in a table (dynamic ones — flag kinds,
    states — are covered by rendering the pages above)."""
    folder = Path(deps.__file__).resolve().parent.parent / "templates" / "web"
    for template in folder.glob("*.html"):
        for key in re.findall(r"\bt\('([\w.]*\w)'\s*[,)]", template.read_text()):
            assert key in WEB_TEXT or key in MESSAGES, (template.name, key)
        for key in re.findall(r"\btt\('([\w.]*\w)'\s*[,)]", template.read_text()):
            assert key in TEXT, (template.name, key)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_docking_receipt_in_one_language(lang: str) -> None:
    """The receipt an officer takes away: every label in the chosen language."""
    from evidence_station.docking.receipt import Receipt, render_html, render_text

    receipt = Receipt("station-01", "s-1", "usb-1-1", "CAM-A", "100001", "/dev/sdb1", "completed",
                      None, "2026-11-02T02:00:00+00:00",
                      [{"path": "DCIM/A.MP4", "size": 1000, "sha256": "ab" * 32,
                        "status": "committed", "flags": []},
                       {"path": "DCIM/B.MP4", "size": 10, "sha256": None, "status": "already",
                        "flags": []}],
                      [{"path": "DCIM/x.lnk", "reason": "symlink", "detail": "not followed"}],
                      "station-01\n1\nroot\n", "station-01+abcd+key")
    html, text = render_html(receipt, lang), render_text(receipt, lang)  # type: ignore[arg-type]
    assert not wrong_language(html, lang)
    labels = ("Station", "Session", "Issued", "Signed checkpoint", "Verifier key", "NOT TAKEN")
    if lang == "zh":
        assert not [label for label in labels if label in html or label in text]
        assert "工作站" in html and "验证公钥" in text
    else:
        assert not re.search(r"[\u4e00-\u9fff]", text), text
        assert all(label in html for label in labels[:5])
