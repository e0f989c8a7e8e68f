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
        return [row["id"] for row in station.catalog.footage.clips()]


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


# -- sessions end on the station (finding: cookie sessions survived logout and passwords) --

def ledger_and_accounts(data: Path) -> tuple[bytes, bytes]:
    return ((data / "ledger" / "events.jsonl").read_bytes(), (data / "accounts.sqlite").read_bytes())


def sessions_of(data: Path, username: str) -> int:
    from evidence_station.casework.logins import LoginSessions, sessions_path

    store = LoginSessions(sessions_path(data))
    try:
        return store.count(username)
    finally:
        store.close()


def with_cookies_of(web: TestClient) -> TestClient:
    """A second browser holding a copy of ``web``'s cookie (what a thief would keep)."""
    copy = TestClient(web.app, follow_redirects=False)
    copy.cookies.update(dict(web.cookies))
    return copy


def test_logout_ends_the_session_even_for_a_copied_cookie(data: Path) -> None:
    clip = clip_ids(data)[0]
    web = client(data)
    login(web, "li")
    token = csrf(web.get("/clips").text)
    kept = with_cookies_of(web)
    assert kept.get("/clips").status_code == 200  # the copy works while the session lives
    assert web.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    before = ledger_and_accounts(data)
    response = kept.get("/clips")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    refused = kept.post("/clips/label", data={"clip_ids": clip, "case_number": "X", "party": "P",
                                              "handler": "H", "csrf_token": token})
    assert refused.status_code == 303 and refused.headers["location"] == "/login"
    assert ledger_and_accounts(data) == before and events(data, "label") == []
    assert sessions_of(data, "li") == 0
    file_mode = (data / "web-sessions.sqlite").stat().st_mode & 0o777
    assert file_mode == 0o600


def test_password_change_ends_every_session_of_the_account(data: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, other = client(data), client(data), client(data)
    login(first, "li")
    login(second, "li")
    login(other, "zhao")
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["--data-dir", str(data), "user", "passwd", "li", "--password-stdin"]) == 0
    for web in (first, second):
        response = web.get("/clips")
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert other.get("/ledger").status_code == 200  # other accounts keep their sessions
    login(first, "li", "a brand new password")
    assert first.get("/clips").status_code == 200


def test_the_password_act_ends_the_sessions_in_the_store(data: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's act step removes the rows, whichever process performs it."""
    first, second = client(data), client(data)
    login(first, "li")
    login(second, "li")
    login(client(data), "zhao")
    assert sessions_of(data, "li") == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["--data-dir", str(data), "user", "passwd", "li", "--password-stdin"]) == 0
    assert (sessions_of(data, "li"), sessions_of(data, "zhao")) == (0, 1)


def test_a_session_older_than_the_password_is_over_even_if_the_act_missed_it(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways: the web request itself compares the session with the password's age."""
    web = client(data)
    login(web, "li")
    monkeypatch.setattr("evidence_station.casework.service.end_sessions_of", lambda *a: 0)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["--data-dir", str(data), "user", "passwd", "li", "--password-stdin"]) == 0
    assert sessions_of(data, "li") == 1
    assert web.get("/clips").headers["location"] == "/login"
    assert sessions_of(data, "li") == 0


def test_disabled_account_is_logged_out_and_cannot_log_in(data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    web = client(data)
    login(web, "li")
    assert main(["--data-dir", str(data), "user", "disable", "li"]) == 0
    response = web.get("/clips")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert sessions_of(data, "li") == 0
    before = ledger_and_accounts(data)
    again = client(data)
    again.get("/lang/en")
    refused = again.post("/login", data={"username": "li", "password": PASSWORD,
                                         "csrf_token": csrf(again.get("/login").text)})
    assert refused.headers["location"] == "/login"  # the right password, a disabled account
    assert "Wrong user name or password" in again.get("/login").text  # told as any failure
    assert ledger_and_accounts(data) == before
    assert main(["--data-dir", str(data), "user", "disable", "li", "--enable"]) == 0
    login(again, "li")


def test_a_disabled_account_is_refused_by_the_request_itself(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways: even with its session row left in place, a disabled account is out."""
    web = client(data)
    login(web, "li")
    monkeypatch.setattr("evidence_station.casework.service.end_sessions_of", lambda *a: 0)
    assert main(["--data-dir", str(data), "user", "disable", "li"]) == 0
    assert sessions_of(data, "li") == 1
    assert web.get("/clips").headers["location"] == "/login"
    assert sessions_of(data, "li") == 0


def test_role_change_applies_at_the_next_request(data: Path) -> None:
    clerk = client(data)
    login(clerk, "li")
    assert clerk.get("/admin").status_code == 403
    admin = client(data)
    login(admin, USERS["admin"])
    token = csrf(admin.get("/admin").text)
    assert admin.post("/admin/users/li/role", data={"role": "auditor",
                                                    "csrf_token": token}).status_code == 303
    assert clerk.get("/ledger").status_code == 200  # the same session, the new role
    assert clerk.get("/review").status_code == 200
    clip = clip_ids(data)[0]
    token = csrf(clerk.get("/clips").text)
    refused = clerk.post("/clips/label", data={"clip_ids": clip, "case_number": "X", "party": "P",
                                               "handler": "H", "csrf_token": token})
    assert refused.status_code == 403 and events(data, "label") == []


@pytest.mark.parametrize("expired", ["idle", "lifetime"])
def test_sessions_expire_when_idle_and_after_their_lifetime(data: Path, expired: str) -> None:
    import sqlite3

    web = client(data)
    login(web, "li")
    assert web.get("/clips").status_code == 200
    change = ("last_seen = last_seen - 31 * 60" if expired == "idle"  # default idle: 30 min
              else "created_at = created_at - 13 * 3600")  # default lifetime: 12 h
    with sqlite3.connect(data / "web-sessions.sqlite") as db:
        db.execute(f"update login_sessions set {change}")
    response = web.get("/clips")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert sessions_of(data, "li") == 0


def test_session_store_expiry_with_a_clock(tmp_path: Path) -> None:
    from evidence_station.casework.logins import LoginSessions

    now = [1000.0]
    store = LoginSessions(tmp_path / "s.sqlite", clock=lambda: now[0])
    sid = store.create("li")
    now[0] += 29 * 60
    assert store.get(sid, idle_s=30 * 60, lifetime_s=3600) is not None  # a hit restarts idling
    now[0] += 29 * 60
    assert store.get(sid, idle_s=30 * 60, lifetime_s=3600) is not None
    now[0] += 3 * 60  # 61 min after login: past the lifetime though never idle
    assert store.get(sid, idle_s=30 * 60, lifetime_s=3600) is None
    assert store.count("li") == 0
    assert store.get("not-a-session", idle_s=60, lifetime_s=60) is None


# -- login throttle (finding: X-Forwarded-For trusted from anyone) ------------------------

def as_served(data: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The app wrapped exactly as `evidence-station web` hands it to uvicorn, reached from
    127.0.0.1 like every local browser."""
    import uvicorn

    captured: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: captured.update(app=app, **kwargs))
    assert main(["--data-dir", str(data), "web"]) == 0
    app = captured.pop("app")
    config = uvicorn.Config(app, **captured)  # type: ignore[arg-type]
    config.load()
    return TestClient(config.loaded_app, client=("127.0.0.1", 50000), follow_redirects=False)


def test_rotating_forwarded_for_gets_no_more_guesses(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = as_served(data, monkeypatch)
    token = csrf(web.get("/login").text)
    before = ledger_and_accounts(data)
    codes = [web.post("/login", headers={"X-Forwarded-For": f"203.0.113.{n}"},
                      data={"username": f"user{n}", "password": f"guess {n}", "csrf_token": token}
                      ).status_code for n in range(12)]
    assert codes == [303] * 5 + [429] * 7
    assert ledger_and_accounts(data) == before


def trusted_client(data: Path, **web: object) -> TestClient:
    from evidence_station.config import Config
    from evidence_station.web.app import create_app

    config = Config.model_validate({"web": {"trusted_proxies": ["127.0.0.1"], **web}})
    return TestClient(create_app(data, config), client=("127.0.0.1", 50000), follow_redirects=False)


@pytest.mark.parametrize("name", ["li", "nobody"])
def test_one_account_is_throttled_across_addresses(data: Path, name: str) -> None:
    """Behind a trusted proxy every guess may come from a new address; the account's own
    counter still stops them — for a name that exists and one that does not alike."""
    web = trusted_client(data)
    token = csrf(web.get("/login").text)
    before = ledger_and_accounts(data)

    def attempt(n: int, username: str, password: str) -> int:
        return web.post("/login", headers={"X-Forwarded-For": f"198.51.100.{n}"},
                        data={"username": username, "password": password, "csrf_token": token}
                        ).status_code

    codes = [attempt(n, name, f"guess number {n}") for n in range(7)]
    assert codes == [303] * 5 + [429] * 2
    assert attempt(50, name.upper(), PASSWORD) == 429  # the right password waits too (if any)
    assert ledger_and_accounts(data) == before
    assert sessions_of(data, "li") == 0 and web.get("/clips").status_code == 303  # nobody in
    assert attempt(51, "zhao", PASSWORD) == 303  # other accounts, other addresses: unaffected
    assert web.get("/ledger").status_code == 200


def test_trusted_proxy_addresses_decide_the_client() -> None:
    from ipaddress import ip_network

    from evidence_station.web.throttle import account_key, client_address

    proxy = [ip_network("10.0.0.1"), ip_network("10.1.0.0/16")]
    assert client_address("127.0.0.1", "203.0.113.9", []) == "127.0.0.1"  # nobody trusted
    assert client_address("192.0.2.7", "203.0.113.9", proxy) == "192.0.2.7"  # peer not a proxy
    assert client_address("10.0.0.1", "203.0.113.9", proxy) == "203.0.113.9"
    # the right-most address our proxies did not add is the client; what it sent is ignored
    assert client_address("10.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.2.3", proxy) == "203.0.113.9"
    assert client_address("10.0.0.1", "garbage", proxy) == "10.0.0.1"
    assert client_address("10.0.0.1", None, proxy) == "10.0.0.1"
    assert account_key(" Li ") == account_key("li")


def test_login_throttle_window() -> None:
    from evidence_station.web.throttle import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(2, clock=lambda: now[0])
    throttle.failed("a", "x")
    throttle.failed("b", "x")
    assert throttle.blocked("c", "x") and not throttle.blocked("a", "y")
    now[0] = 60.0
    assert not throttle.blocked("c", "x")


# -- blocking work off the event loop (finding: argon2 and check stalled every user) -------

@pytest.mark.parametrize("slow", ["verify", "login"])
def test_slow_work_does_not_block_other_users(data: Path, monkeypatch: pytest.MonkeyPatch,
                                              slow: str) -> None:
    import threading

    from evidence_station.casework.accounts import AccountStore
    from evidence_station.web.routes import ledger as ledger_routes

    started, release, order = threading.Event(), threading.Event(), []

    def held(real):  # type: ignore[no-untyped-def]
        def wait(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(5)
            order.append("slow done")
            return real(*args, **kwargs)
        return wait

    # one client in a `with` block: one event loop serves both threads' requests
    with TestClient(client(data).app, follow_redirects=False) as web:
        if slow == "verify":
            login(web, USERS["auditor"])
            token = csrf(web.get("/ledger").text)
            monkeypatch.setattr(ledger_routes, "check_station", held(ledger_routes.check_station))
            request = ("/ledger/verify", {"csrf_token": token})
        else:
            token = csrf(web.get("/login").text)
            monkeypatch.setattr(AccountStore, "verify", held(AccountStore.verify))
            request = ("/login", {"username": "li", "password": PASSWORD, "csrf_token": token})
        worker = threading.Thread(target=lambda: order.append(web.post(request[0], data=request[1])))
        worker.start()
        assert started.wait(10)
        assert web.get("/login").status_code == 200  # served while the slow work runs
        order.append("other served")
        release.set()
        worker.join(10)
    assert order[:2] == ["other served", "slow done"]
    assert order[2].status_code == 303  # type: ignore[attr-defined]


# -- relabelling keeps identities (finding: the form sent them empty) --------------------

def test_relabel_keeps_reporter_complainant_and_category(data: Path) -> None:
    from tests.accounts import run_as

    clip = clip_ids(data)[0]
    code, _, err = run_as(data, "li", "label", clip, "--case-number", "A-1", "--party", "张三",
                          "--handler", "李四", "--reporter", "举报人乙", "--complainant", "投诉人甲",
                          "--category", "complaint")
    assert code == 0, err
    web = client(data)
    login(web, "li")
    token = csrf(web.get(f"/clips/{clip}").text)
    form = {"clip_ids": clip, "case_number": "A-2", "party": "张三", "handler": "李四",
            "reporter": "", "complainant": "", "back": f"/clips/{clip}", "csrf_token": token}
    assert web.post("/clips/label", data=form).status_code == 303  # the form as a browser sends it
    page = web.get(f"/clips/{clip}").text
    assert "A-2" in page and "举报人乙" in page and "投诉人甲" in page
    relabel = events(data, "label")[-1]
    assert relabel["case_number"] == "A-2" and "reporter" not in relabel and "category" not in relabel
    from evidence_station.config import load_config
    from evidence_station.station import Station

    with Station.open(data, load_config(None)) as station:
        label = station.catalog.casework.label_of(clip)
        first = station.catalog.casework.label_history(clip)[0]
    assert label is not None and label["category"] == "complaint"  # R9 class kept as well
    assert label["reporter"] == first["reporter"]  # the same commitment, not a new one
    web.post("/clips/label", data={**form, "case_number": "A-3", "clear_reporter": "1"})
    page = web.get(f"/clips/{clip}").text
    assert "A-3" in page and "举报人乙" not in page and "投诉人甲" in page  # cleared on purpose only
    assert events(data, "label")[-1]["reporter"] is None


# -- routers and pages ---------------------------------------------------------------------

def test_routes_are_grouped_per_area() -> None:
    from evidence_station.web.routes import admin, clips, ledger, review, session

    paths = {area.__name__.rsplit(".", 1)[-1]: {route.path for route in area.router.routes}
             for area in (session, clips, review, ledger, admin)}
    assert "/login" in paths["session"] and "/clips/label" in paths["clips"]
    assert "/review" in paths["review"] and "/ledger/verify" in paths["ledger"]
    assert "/admin/users" in paths["admin"]


def test_clip_list_pages_come_from_the_catalog_query(data: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from evidence_station.catalog import Catalog
    from evidence_station.catalog.footage import FootageQueries
    from evidence_station.config import Config
    from evidence_station.web.app import create_app

    ids = clip_ids(data)
    with_pages = TestClient(create_app(data, Config.model_validate({"web": {"page_size": 1}})),
                            follow_redirects=False)
    login(with_pages, "li")

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the clip list reads one page, never every clip")
    monkeypatch.setattr(FootageQueries, "clips", refused)

    def shown_ids(url: str) -> list[str]:
        page = with_pages.get(url).text
        return [clip for clip in ids if f'href="/clips/{clip}"' in page]

    first = with_pages.get("/clips?show=all").text
    assert shown_ids("/clips?show=all") == ids[:1]
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert shown_ids("/clips?show=all&page=2") == ids[1:2]
    last = with_pages.get("/clips?show=all&page=2").text
    assert 'rel="next"' not in last and 'rel="prev"' in last
    assert shown_ids("/clips?show=all&page=3") == []
    assert with_pages.get("/clips?show=all&page=0").status_code == 422
    token = csrf(first)
    with_pages.post("/clips/label", data={"clip_ids": ids[0], "case_number": "A_%1", "party": "P",
                                          "handler": "H", "csrf_token": token})
    assert shown_ids("/clips") == ids[1:2]  # unlabelled, first page
    assert shown_ids("/clips?show=all&q=a_%251") == ids[:1]  # search in SQL, wildcards literal
    assert shown_ids("/clips?show=all&q=a__1") == []
    monkeypatch.undo()
    catalog = Catalog(data / "catalog.sqlite")
    try:
        everything = [row["id"] for row in catalog.footage.clips()]
        assert [r["id"] for r in catalog.footage.clip_list_page(limit=1, offset=1)] == everything[1:2]
        assert catalog.footage.clip_list_page(officer_id="999999") == []
    finally:
        catalog.close()
