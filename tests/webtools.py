"""A station with users and clips for the web tests."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evidence_station.cli import main
from evidence_station.config import load_config
from evidence_station.web.app import create_app

PASSWORD = "correct horse battery"
USERS = {"officer": "zhou", "clerk": "li", "auditor": "zhao", "admin": "wang"}


def make_station(data: Path, camera: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["--data-dir", str(data), "--lang", "en"]
    assert main([*base, "init", "--station", "web-test"]) == 0
    assert main([*base, "ingest", str(camera)]) == 0
    assert main([*base, "analyze"]) == 0
    for role, name in USERS.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        extra = ["--officer-id", "010203"] if role == "officer" else []
        assert main([*base, "user", "add", name, "--role", role, "--password-stdin",
                     *extra]) == 0


def client(data: Path) -> TestClient:
    return TestClient(create_app(data, load_config(None)), follow_redirects=False)


def csrf(page_html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(web: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf(web.get("/login").text)
    response = web.post("/login", data={"username": username, "password": password,
                                        "csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/", response.text


def make_station_lite(data: Path, camera: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """make_station without analysis and with only the auditor (zhao): for tests that need
    a logged-in page, not the review queue."""
    base = ["--data-dir", str(data), "--lang", "en"]
    assert main([*base, "init", "--station", "web-test"]) == 0
    assert main([*base, "ingest", str(camera)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*base, "user", "add", USERS["auditor"], "--role", "auditor",
                 "--password-stdin"]) == 0
