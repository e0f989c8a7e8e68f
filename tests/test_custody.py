"""`report custody`: a clip with every kind of event (ingest to deletion, with a witness
cosigning the checkpoint), checked against the ledger event by event — seq, type, actor,
canonical bytes, and each row's inclusion proof verified again here from the CSV alone
against the signed checkpoint; the PDF rendered to PNG; a forged checkpoint fails."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.casework.service import perform
from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.config import load_config
from evidence_station.custody import make_report, named_clips, select_clips
from evidence_station.demo import make_demo_camera
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station, init_station
from hashing.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from hashing.merkle import leaf_hash, verify_inclusion
from hashing.note import Verifier
from tests.accounts import run_as
from tests.conftest import ROOT
from tests.witness_helpers import WitnessProcess, free_port, new_station, write_config

Run = Callable[..., tuple[int, str, str]]
CASE = "武东医保罚〔2026〕7号"
SCREENS = Path("/work/screens/custody")

needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("chromium", "pdftoppm", "xorriso")),
    reason="chromium, poppler-utils and xorriso needed (make deps installs them)")


def test_named_clips_looks_at_every_value_but_the_ledgers_own() -> None:
    clip = "0123456789abcdef"
    assert named_clips({"clip_ids": ["x", clip]}, [clip]) == [clip]
    assert named_clips({"expired": [{"id": clip.upper()}]}, [clip]) == [clip]
    assert named_clips({"file": f"/out/{clip}99aa.mp4"}, [clip]) == [clip]  # a file named by its hash
    assert named_clips({"prev": clip * 4, "station": clip}, [clip]) == []
    assert named_clips({"scrub": {"objects": [{"sha256": clip + "ff" * 24}]}}, [clip]) == [clip]


@pytest.fixture
def custody_station(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                    ) -> Iterator[tuple[Path, Path, Run, FixedClock, WitnessProcess]]:
    """A station whose checkpoints a real witness (`witness serve`, its own process)
    cosigns, and a FixedClock for everything done in-process."""
    data = tmp_path / "data"
    docked = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = FixedClock(docked)
    vkey = init_station(data, "custody-station", "root", clock).encode()
    new_station(tmp_path / "w", "witness-w")
    witness = WitnessProcess(tmp_path / "w", write_config(tmp_path / "w.toml", logs=[vkey]),
                             free_port()).start()
    config = write_config(tmp_path / "station.toml", urls=[witness.url], keys=[witness.key])
    monkeypatch.setenv("EVIDENCE_STATION_CONFIG", str(config))

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--config", str(config), "--data-dir", str(data), "--lang", "en", *args],
                    clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    try:
        yield data, config, run, clock, witness
    finally:
        witness.stop()


def _every_kind_of_event(tmp_path: Path, data: Path, config: Path, run: Run,
                         clock: FixedClock) -> tuple[str, str]:
    """Clip A: ingest, analysis, label, evidence, viewing, copy (intent and done), a
    release outside the unit (request, another admin's approval, the copy), hold placed
    and released, review flag resolved, disc burned and verified, case end and case file.
    Clip B, same case: retention sweep, deletion request and approved deletion."""
    docked = clock.now()
    camera = make_demo_camera(tmp_path / "cam", count=2, seconds=0.5, start=docked - timedelta(hours=3))
    assert run("ingest", str(camera))[0] == 0
    assert run("analyze")[0] == 0
    a, b = (c["id"] for c in json.loads(run("clips", "--json")[1]))
    cfg = load_config(config)
    for name, role in (("wang", "admin"), ("li", "admin"), ("zhao", "clerk"), ("sun", "auditor")):
        assert run("user", "add", name, "--role", role, "--password-stdin",
                   stdin="correct horse battery\n")[0] == 0
    code, out, err = run_as(data, "zhao", "label", a, b, "--case-number", CASE, "--party", "张三",
                            "--handler", "李四", config=cfg, clock=clock)
    assert code == 0, out + err
    assert run_as(data, "zhao", "evidence", a, "--collector", "王五", "--collected-at",
                  "2026-11-23T09:00", "--location", "东西湖区", "--fact-to-prove", "违规收费",
                  config=cfg, clock=clock)[0] == 0
    assert run_as(data, "zhao", "access", "view", a, "--viewer", "赵六", "--approver", "科长",
                  "--reason", "复核", config=cfg, clock=clock)[0] == 0
    code, out, err = run("access", "copy", a, "--copier", "钱七", "--approver", "科长",
                         "--reason", "移送", "--out", str(tmp_path / "copy"))
    assert code == 0, out + err
    code, out, err = run_as(data, "wang", "access", "copy", a, "--outside", "--copier", "律师",
                            "--reason", "当事人申请", config=cfg, clock=clock)
    assert code == 0, out + err
    request = next(int(word.strip("#")) for word in out.split() if word.startswith("#"))
    assert run_as(data, "li", "access", "approve", str(request), config=cfg, clock=clock)[0] == 0
    code, out, err = run("access", "copy", "--request", str(request), "--out", str(tmp_path / "out"))
    assert code == 0, out + err
    assert run_as(data, "zhao", "hold", a, "--reason", "诉讼中", config=cfg, clock=clock)[0] == 0
    assert run_as(data, "zhao", "hold", a, "--reason", "诉讼结束", "--release", config=cfg,
                  clock=clock)[0] == 0
    flags = [f for f in json.loads(run("review", "--json")[1]) if f["clip_id"] == a]
    if flags:  # what analysis raises depends on the speech model; resolve what it raised
        assert run_as(data, "zhao", "review", "resolve", flags[0]["flag_id"], "--resolution",
                      "听取录音核实", config=cfg, clock=clock)[0] == 0
    image = tmp_path / "disc.iso"
    code, out, err = run_as(data, "zhao", "disc", "burn", "--case-number", CASE, "--drive",
                            f"stdio:{image}", "--media", "cd", "--maker", "王五", "--extractor",
                            "李四", config=cfg, clock=clock)
    assert code == 0, out + err
    assert run("disc", "verify", "--case-number", CASE, "--drive", f"stdio:{image}")[0] == 0
    assert run_as(data, "zhao", "case", "end", CASE, "--on", "2026-11-23", config=cfg,
                  clock=clock)[0] == 0
    clock.set(docked + timedelta(days=12))
    assert run_as(data, "zhao", "case", "close", CASE, "--on", "2026-12-04", config=cfg,
                  clock=clock)[0] == 0
    clock.set(datetime(2027, 8, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    for flag in json.loads(run("review", "--json")[1]):  # B's open time flags block deletion
        if flag["clip_id"] == b:
            assert run_as(data, "zhao", "review", "resolve", flag["flag_id"], "--resolution",
                          "核实", config=cfg, clock=clock)[0] == 0
    assert run("retention", "sweep")[0] == 0
    code, out, err = run_as(data, "wang", "delete", b, "--request", "--reason", "期满",
                            config=cfg, clock=clock)
    assert code == 0, out + err
    code, out, err = run_as(data, "li", "delete", b, "--approve", config=cfg, clock=clock)
    assert code == 0, out + err
    return a, b


def _expected(events: list[dict[str, object]], clips: list[str], case: str) -> set[int]:
    """The events a custody report must list, derived here independently: any event whose
    serialised fields (but ``prev``) mention a clip or the case number, and the docking
    sessions, flags and discs those introduced."""
    picked: set[int] = set()
    sessions, flag_ids, volumes = set(), set(), set()
    for event in events:
        body = json.dumps({k: v for k, v in event.items() if k not in ("prev", "station")},
                          ensure_ascii=False).lower()
        if any(clip in body for clip in clips) or case in body:
            picked.add(int(event["seq"]))  # type: ignore[call-overload]
            sessions.add(event.get("session_id"))
            flag_ids.update(f["flag_id"] for f in event.get("flags", []) or [])  # type: ignore[attr-defined]
            volumes.add(event.get("volume_id"))
    for event in events:
        if event["type"] in ("session.start", "session.end") and event.get("session_id") in sessions:
            picked.add(int(event["seq"]))  # type: ignore[call-overload]
        if event["type"] == "review.resolve" and event.get("flag_id") in flag_ids:
            picked.add(int(event["seq"]))  # type: ignore[call-overload]
        if event["type"] == "disc.verify" and event.get("volume_id") in volumes:
            picked.add(int(event["seq"]))  # type: ignore[call-overload]
    return picked


@needs_tools
@pytest.mark.slow
def test_custody_report_lists_every_event_and_each_proof_verifies(
        tmp_path: Path, custody_station: tuple[Path, Path, Run, FixedClock, WitnessProcess]) -> None:
    data, config, run, clock, witness = custody_station
    a, b = _every_kind_of_event(tmp_path, data, config, run, clock)
    events_before = (data / "ledger" / "events.jsonl").read_text().count("\n")

    # refused before anything is recorded: no clip, unknown clip, both selections
    assert run("report", "custody", "--out", str(tmp_path / "x"))[0] == 2
    assert run("report", "custody", "ffffffffffffffff", "--out", str(tmp_path / "x"))[0] == 2
    assert run("report", "custody", a, "--case-number", CASE, "--out", str(tmp_path / "x"))[0] == 2
    assert run("report", "retention", a)[0] == 2  # clips are for custody only
    # an officer may not read the custody of clips
    assert run("user", "add", "qian", "--role", "officer", "--password-stdin",
               stdin="correct horse battery\n")[0] == 0
    events_before += 1
    code, out, err = run_as(data, "qian", "report", "custody", a, "--out", str(tmp_path / "o"),
                            config=load_config(config), clock=clock)
    assert code != 0 and not list(tmp_path.glob("o.*"))
    assert (data / "ledger" / "events.jsonl").read_text().count("\n") == events_before
    assert not list(tmp_path.glob("x.*"))

    out_base = tmp_path / "custody"
    code, out, err = run_as(data, "sun", "report", "custody", "--case-number", CASE,
                            "--out", str(out_base), "--format", "csv", "--format", "html",
                            "--format", "pdf", config=load_config(config), clock=clock)
    assert code == 0, out + err
    ledger_lines = (data / "ledger" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in ledger_lines]
    report_event = events[-1] if events[-1]["type"] == "report" else \
        next(e for e in reversed(events) if e["type"] == "report")
    assert report_event["actor"] == "sun" and report_event["kind"] == "custody"
    assert sorted(report_event["clip_ids"]) == sorted([a, b]) and report_event["case_number"] == CASE

    rows = list(csv.DictReader(io.StringIO(out_base.with_suffix(".csv").read_text("utf-8-sig"))))
    listed = [int(row["seq"]) for row in rows]
    assert listed == sorted(listed), "ledger order"
    assert set(listed) == _expected(events, [a, b], CASE)
    kinds = {row["type"] for row in rows}
    for kind in ("session.start", "ingest", "session.end", "analysis", "label", "evidence.designate",
                 "access.view", "access.copy", "access.copy.done", "access.release.request",
                 "access.release.approve", "hold.place", "hold.release", "disc.burn", "disc.verify",
                 "case.end", "case.close", "retention.sweep", "deletion.request", "deletion",
                 "report"):
        assert kind in kinds, kind

    # every row against the ledger, and its proof checked here from the CSV alone
    note = (data / "ledger" / "checkpoints")
    checkpoints = sorted(note.glob("*.note"))
    verifier = Verifier.parse((data / "keys" / "station.vkey").read_text())
    roles = {"root": "admin (root)", "station": "system", "analysis": "system", "wang": "admin",
             "li": "admin", "zhao": "clerk", "sun": "auditor"}
    for row in rows:
        seq = int(row["seq"])
        assert row["event"] == ledger_lines[seq], seq
        assert row["type"] == events[seq]["type"] and row["actor"] == events[seq]["actor"]
        assert row["role"] == roles[row["actor"]], row
        assert row["time_utc"] == events[seq]["time"]
        assert row["verified"] == "yes", row
        size, root = int(row["tree_size"]), bytes.fromhex(row["root"])
        assert size == len(ledger_lines) or seq < size
        verify_inclusion(index=seq, size=size, leaf=leaf_hash(row["event"].encode()),
                         proof=[bytes.fromhex(h) for h in row["inclusion_proof"].split()], root=root)
        assert row["leaf_hash"] == leaf_hash(row["event"].encode()).hex()
    ingest = next(row for row in rows if row["type"] == "ingest" and a in row["clips"])
    for word in ("device_id=DEMO0001", "officer_id=", "session_id=", "sha256=", "size=",
                 "verified=✓", "port="):
        assert word in ingest["details"], word
    beijing = datetime.fromisoformat(ingest["time_utc"].replace("Z", "+00:00")).astimezone(
        ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert ingest["time_beijing"] == beijing
    # the checkpoint the rows name is signed by the station and cosigned by the witness
    size = int(rows[0]["tree_size"])
    signed = [p for p in checkpoints if open_checkpoint(p.read_text(), verifier).size == size]
    assert signed and open_checkpoint(signed[0].read_text(), verifier).root.hex() == rows[0]["root"]

    html = out_base.with_suffix(".html").read_text()
    for word in ("Chain of custody report", "All checks passed", CASE, "witness-w",
                 "evidence-station-verify", "ledger export", a, b, "Beijing time",
                 "deletion (tombstone)", "auditor", "clerk"):
        assert word in html, word
    # zh-CN is the default language
    assert main(["--config", str(config), "--data-dir", str(data), "report", "custody", a,
                 "--out", str(tmp_path / "zh"), "--format", "html"], clock=clock) == 0
    html = (tmp_path / "zh.html").read_text()
    for word in ("证据保管链报告", "全部校验通过", "北京时间", "入库", "调阅登记", "刻录光盘",
                 "离线复核", "witness-w"):
        assert word in html, word
    pages = tmp_path / "pdf"
    pages.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(out_base.with_suffix(".pdf")),
                    str(pages / "page")], check=True)
    first = sorted(pages.glob("page*.png"))
    assert first and first[0].stat().st_size > 20_000
    SCREENS.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(first[:3], start=1):
        shutil.copyfile(page, SCREENS / f"custody-pdf-page{number}.png")
    shutil.copyfile(out_base.with_suffix(".pdf"), SCREENS / "custody-report.pdf")

    # the bundle the closing statement names verifies with the auditor's verifier
    bundle = tmp_path / "bundle"
    assert run("ledger", "export", "--out", str(bundle), "--clip", a)[0] == 0
    done = subprocess.run([sys.executable, "-m", "hashing.verify", str(bundle), "--witness-key",
                           witness.key], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_a_failing_proof_is_a_finding_not_a_clean_report(tmp_path: Path) -> None:
    """A checkpoint whose root is not the ledger's (signed with the station's own key, as a
    rewritten history would be): every proof fails, and the report says so."""
    data = tmp_path / "data"
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    init_station(data, "forged", "root", clock)
    camera = make_demo_camera(tmp_path / "cam", count=1, seconds=0.5)
    assert main(["--data-dir", str(data), "ingest", str(camera)], clock=clock) == 0
    with Station.open(data, load_config(None), writable=True, clock=clock) as station:
        clips = select_clips(station, [station.catalog.footage.clips()[0]["id"]], None)
        forged = sign_checkpoint(Checkpoint(station.signer.name, station.ledger.size,
                                            b"\x07" * 32), station.signer)
        report = make_report(station, clips, note=forged, made_by="root")
        assert not report.ok and report.verified_count == 0
        assert all(entry.verified is False for entry in report.entries)
        assert any("inclusion proof fails" in finding for finding in report.findings)
        good = make_report(station, clips, note=station.issue_checkpoint(witness=False)[1],
                           made_by="root")
        assert good.ok and good.verified_count == len(good.entries) >= 3
        # events after the checkpoint are pending: listed, never shown as verified
        old_note = station.latest_checkpoint()[1]  # type: ignore[index]
        perform(station, Actor(ROOT_ACCOUNT, "admin", 0, "cli"), "hold.place",
                {"clip_ids": [clips[0]["id"]], "reason": "诉讼中"})
        later = make_report(station, clips, note=old_note, made_by="root")
        assert later.ok and [e.type for e in later.pending] == ["hold.place"]
        assert later.entries[-1].verified is None and not later.entries[-1].proof
        # a stored file changed behind the station's back is a finding too
        path = station.store.path_for(clips[0]["sha256"])
        path.chmod(0o644)
        path.write_bytes(b"not the footage")
        bad_file = make_report(station, clips, note=station.latest_checkpoint()[1],  # type: ignore[index]
                               made_by="root")
        assert not bad_file.ok and bad_file.clips[0].file_state == "mismatch"


def test_details_roles_and_csv_cells() -> None:
    """An ingest's port comes from its docking session; the role is the one the account
    had at that seq; a typed value cannot become a spreadsheet formula."""
    from evidence_station.custody import details_of, role_at, spreadsheet_safe
    from hashing.ledger import Event

    fields = {"seq": 9, "type": "ingest", "actor": "station", "time": "2026-11-23T02:00:00Z",
              "clip_id": "0123456789abcdef", "session_id": "S1", "sha256": "ab" * 32, "size": 7,
              "device_id": "CAM1", "officer_id": "0001", "source_path_b64": "eA==", "auth": {}}
    details = dict(details_of(Event(9, b"{}", fields), {"S1": {"dock": {"port": "usb-3"}}}))
    assert details["port"] == "usb-3" and details["verified"] == "✓" and details["device_id"] == "CAM1"
    assert "source_path_b64" not in details and "auth" not in details
    roles = {"li": [(3, "clerk"), (12, "auditor")]}
    assert [role_at("li", seq, roles) for seq in (5, 12, 20)] == ["clerk", "auditor", "auditor"]
    assert role_at("root", 1, roles) == "admin (root)" and role_at("analysis", 1, roles) == "system"
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and spreadsheet_safe("port=—") == "port=—"


def test_touching_events_follow_links_and_skip_other_clips(tmp_path: Path) -> None:
    """Direct mentions (any depth), the case number as the ledger escapes it, and the
    session, flag, disc and seq links — never another clip's events, never ``prev``."""
    from types import SimpleNamespace
    from typing import Any, cast

    from evidence_station.custody import touching_events
    from hashing.ledger import Draft, Ledger

    mine, other, case = "0123456789abcdef", "fedcba9876543210", 'A"1\\东'
    Ledger.create(tmp_path / "ledger")
    with Ledger.open(tmp_path / "ledger", station="t", writable=True) as ledger:
        ledger.append_many([
            Draft("session.start", "station", {"session_id": "S1", "dock": {"port": "p1"}}),  # 0
            Draft("session.start", "station", {"session_id": "S2"}),  # 1
            Draft("ingest", "station", {"clip_id": mine, "sha256": mine + "0" * 48,
                                        "session_id": "S1"}),  # 2
            Draft("ingest", "station", {"clip_id": other, "sha256": other + "0" * 48,
                                        "session_id": "S2"}),  # 3
            Draft("analysis", "analysis", {"clip_id": mine, "flags": [
                {"flag_id": "F1", "clip_id": mine}]}),  # 4
            Draft("review.resolve", "li", {"flag_id": "F1"}),  # 5
            Draft("review.resolve", "li", {"flag_id": "F2"}),  # 6
            Draft("disc.burn", "li", {"case_number": "B", "clip_ids": [mine], "volume_id": "V1"}),  # 7
            Draft("disc.verify", "li", {"case_number": "B", "volume_id": "V1"}),  # 8
            Draft("case.end", "li", {"case_number": case}),  # 9
            Draft("retention.sweep", "station", {"expired": [{"id": mine}]}),  # 10
            Draft("access.copy.done", "li", {"copy_seq": 7}),  # 11: refers to a touching seq
            Draft("session.end", "station", {"session_id": "S1"}),  # 12
            Draft("session.end", "station", {"session_id": "S2"}),  # 13
            Draft("user.add", "root", {"username": "li", "role": "clerk"}),  # 14
        ])
        station = cast(Any, SimpleNamespace(ledger=ledger))
        found, roles = touching_events(station, [mine], case)
        assert [event.seq for event, _ in found] == [0, 2, 4, 5, 7, 8, 9, 10, 11, 12]
        assert roles == {"li": [(14, "clerk")]}
        assert [names for event, names in found if event.seq == 2] == [[mine]]
        assert [event.seq for event, _ in touching_events(station, [other])[0]] == [1, 3, 13]
