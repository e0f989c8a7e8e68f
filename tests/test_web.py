"""Every permission boundary of the web UI (each role × each action), CSRF, login
throttling, and the clip bytes behind a registered viewing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evidence_station.cli import main
from tests.webtools import PASSWORD, USERS, client, csrf, login, make_station


@pytest.fixture
def data(tmp_path: Path, demo_camera: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_station(tmp_path / "data", demo_camera, monkeypatch)
    return tmp_path / "data"


def clip_ids(data: Path) -> list[str]:
    from evidence_station.config import load_config
    from evidence_station.station import Station

    with Station.open(data, load_config(None)) as station:
        return [row["id"] for row in station.catalog.clips()]


def events(data: Path, kind: str) -> list[dict[str, object]]:
    lines = (data / "ledger" / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == kind]


# action → (method, path template, form, who may)
ACTIONS = {
    "list clips": ("GET", "/clips?show=all", {}, {"officer", "clerk", "auditor", "admin"}),
    "label": ("POST", "/clips/label", {"case_number": "A1", "party": "P", "handler": "H"}, {"clerk"}),
    "designate": ("POST", "/clips/{clip}/evidence", {
        "collector": "li", "collected_at": "2026-11-03T14:30", "location": "L",
        "fact_to_prove": "F"}, {"clerk"}),
    "register viewing": ("POST", "/clips/{clip}/view", {"approver": "wang", "reason": "r"}, {"clerk"}),
    "review page": ("GET", "/review", {}, {"clerk", "auditor", "admin"}),
    "resolve flag": ("POST", "/review/{flag}/resolve", {"resolution": "ok"}, {"clerk"}),
    "ledger page": ("GET", "/ledger", {}, {"auditor", "admin"}),
    "verify ledger": ("POST", "/ledger/verify", {}, {"auditor"}),
    "admin page": ("GET", "/admin", {}, {"admin"}),
    "add user": ("POST", "/admin/users", {"username": "new1", "password": "long enough pw",
                                          "role": "clerk"}, {"admin"}),
    "change role": ("POST", "/admin/users/li/role", {"role": "clerk"}, {"admin"}),
}


@pytest.mark.parametrize("role", sorted(USERS))
def test_each_role_each_action(data: Path, role: str) -> None:
    clip = clip_ids(data)[0]
    flag = events(data, "analysis")[0]["flags"][0]["flag_id"]  # type: ignore[index]
    web = client(data)
    login(web, USERS[role])
    token = csrf(web.get("/clips?show=all").text)
    for action, (method, template, form, allowed) in ACTIONS.items():
        path = template.format(clip=clip, flag=flag)
        if method == "GET":
            response = web.get(path)
        else:
            body = {**form, "csrf_token": token}
            if action == "label":
                body["clip_ids"] = clip
            response = web.post(path, data=body)
        if role in allowed:
            assert response.status_code in (200, 303), (role, action, response.status_code)
        else:
            assert response.status_code == 403, (role, action, response.status_code)


def test_allowed_actions_leave_ledger_events_with_the_user_as_actor(data: Path) -> None:
    clip = clip_ids(data)[0]
    web = client(data)
    login(web, "li")
    token = csrf(web.get("/clips").text)
    web.post("/clips/label", data={"clip_ids": [clip], "case_number": "A-1", "party": "张三",
                                   "handler": "李四", "complainant": "投诉人甲", "csrf_token": token})
    web.post(f"/clips/{clip}/view", data={"approver": "wang", "reason": "复核", "csrf_token": token})
    label = events(data, "label")[-1]
    view = events(data, "access.view")[-1]
    assert (label["actor"], label["case_number"], view["actor"], view["viewer"]) == ("li", "A-1", "li", "li")


def test_identities_are_masked_for_roles_without_identity_view(data: Path) -> None:
    clip = clip_ids(data)[0]
    clerk = client(data)
    login(clerk, "li")
    token = csrf(clerk.get("/clips").text)
    clerk.post("/clips/label", data={"clip_ids": [clip], "case_number": "A-2", "party": "张三",
                                     "handler": "李四", "reporter": "举报人乙", "csrf_token": token})
    assert "举报人乙" in clerk.get(f"/clips/{clip}").text
    auditor = client(data)
    login(auditor, "zhao")
    page = auditor.get(f"/clips/{clip}").text
    assert "举报人乙" not in page and "***" in page
    assert "举报人乙" not in auditor.get("/ledger").text
    assert "举报人乙" not in (data / "ledger" / "events.jsonl").read_text()


def test_officer_sees_only_own_clips(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = client(data)
    login(web, "zhou")  # officer 010203: the demo camera's officer
    assert web.get("/clips?show=all").text.count('href="/clips/') == len(clip_ids(data))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["--data-dir", str(data), "user", "add", "qian", "--role", "officer",
                 "--officer-id", "999999", "--password-stdin"]) == 0
    other = client(data)
    login(other, "qian")
    assert 'href="/clips/' not in other.get("/clips?show=all").text
    assert other.get(f"/clips/{clip_ids(data)[0]}").status_code == 404


def test_clip_bytes_need_a_session_and_a_registered_viewing(data: Path) -> None:
    clip = clip_ids(data)[0]
    assert client(data).get(f"/media/{clip}").status_code == 401  # direct URL, no session
    web = client(data)
    login(web, "li")
    assert web.get(f"/media/{clip}").status_code == 403  # no viewing registered yet
    token = csrf(web.get(f"/clips/{clip}").text)
    web.post(f"/clips/{clip}/view", data={"approver": "wang", "reason": "复核", "csrf_token": token})
    whole = web.get(f"/media/{clip}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    part = web.get(f"/media/{clip}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == whole.content[:100]
    auditor = client(data)
    login(auditor, "zhao")
    assert auditor.get(f"/media/{clip}").status_code == 403  # auditors do not play footage


def test_csrf_is_required(data: Path) -> None:
    clip = clip_ids(data)[0]
    web = client(data)
    login(web, "li")
    form = {"clip_ids": clip, "case_number": "X", "party": "P", "handler": "H"}
    assert web.post("/clips/label", data=form).status_code == 403
    assert web.post("/clips/label", data={**form, "csrf_token": "forged"}).status_code == 403
    other = client(data)  # a token from another session is no good either
    login(other, "li")
    stolen = csrf(other.get("/clips").text)
    assert web.post("/clips/label", data={**form, "csrf_token": stolen}).status_code == 403
    assert events(data, "label") == []
    fresh = TestClient(web.app, follow_redirects=False)
    assert fresh.post("/login", data={"username": "li", "password": "x"}).status_code == 403


def test_login_failures_are_throttled(data: Path) -> None:
    web = client(data)
    token = csrf(web.get("/login").text)
    codes = [web.post("/login", data={"username": "li", "password": f"wrong{n}",
                                      "csrf_token": token}).status_code for n in range(7)]
    assert codes[:5] == [303] * 5 and codes[5:] == [429, 429]


def test_wrong_password_and_unknown_user_look_the_same(data: Path) -> None:
    web = client(data)
    web.get("/lang/en")
    token = csrf(web.get("/login").text)
    pages = []
    for name, password in (("li", "wrong password!"), ("nobody", "whatever12345")):
        response = web.post("/login", data={"username": name, "password": password, "csrf_token": token})
        assert response.headers["location"] == "/login"
        page = web.get("/login").text
        pages.append(page.replace(csrf(page), ""))
    assert pages[0] == pages[1] and "Wrong user name or password" in pages[0]


@pytest.mark.parametrize(("target", "expected"), [
    ("/clips?show=all", "/clips?show=all"), ("https://evil.example/x", "/"), ("//evil.example", "/"),
    ("javascript:alert(1)", "/"), ("http://testserver/review", "/review"), (None, "/"),
])
def test_redirects_stay_on_this_site(target: str | None, expected: str) -> None:
    from evidence_station.web.app import local_path

    assert local_path(target, host="testserver") == expected


def test_adding_an_existing_user_changes_nothing(data: Path) -> None:
    """Found before the one door: the web form reset an existing user's password, then
    refused. Now the name is refused first: the old password still logs in, the new one
    does not, and neither the accounts file nor the ledger changed."""
    accounts = (data / "accounts.sqlite").read_bytes()
    ledger = (data / "ledger" / "events.jsonl").read_bytes()
    web = client(data)
    login(web, USERS["admin"])
    token = csrf(web.get("/admin").text)
    response = web.post("/admin/users", data={"username": "li", "password": "taken over pw!",
                                              "role": "admin", "csrf_token": token})
    assert response.status_code == 303  # back to the page, which says why
    assert "exists" in web.get("/admin").text
    assert (data / "accounts.sqlite").read_bytes() == accounts
    assert (data / "ledger" / "events.jsonl").read_bytes() == ledger
    clerk = client(data)
    login(clerk, USERS["clerk"])  # the old password
    assert clerk.get("/review").status_code == 200
    other = client(data)
    refused = other.post("/login", data={"username": "li", "password": "taken over pw!",
                                         "csrf_token": csrf(other.get("/login").text)})
    assert refused.headers["location"] == "/login"  # the would-be new password does not log in
