"""Labels, evidence designation, the access register and users, through the CLI, with
the rules that refuse (R5, R7, R8, R10, R12) and the ledger events they leave."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.cli import main
from hashing.checkpoint import open_checkpoint
from hashing.merkle import leaf_hash, verify_inclusion
from hashing.note import Verifier
from tests.accounts import run_as
from tests.conftest import ROOT, plant_checkpoint_of_another_history

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, demo_camera: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Run:
    data = tmp_path / "data"

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(data), "--lang", "en", *args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("init", "--station", "casework")[0] == 0
    assert run("ingest", str(demo_camera))[0] == 0
    for name, role in (("li", "clerk"), ("wang", "admin"), ("zhao", "auditor")):
        code, _, err = run("user", "add", name, "--role", role, "--password-stdin",
                           stdin="correct horse battery\n")
        assert code == 0, err
    return run


def clip_ids(cli: Run) -> list[str]:
    return [clip["id"] for clip in json.loads(cli("clips", "--json")[1])]


def events(tmp_path: Path, kind: str) -> list[dict[str, object]]:
    lines = (tmp_path / "data" / "ledger" / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == kind]


def test_label_a_docking_session_then_relabel_one(cli: Run, tmp_path: Path) -> None:
    session = json.loads(cli("clips", "--json")[1])[0]
    sessions = [e["session_id"] for e in events(tmp_path, "session.start")]
    code, _, err = run_as(tmp_path / "data", "li", "label", "--session", str(sessions[0]),
                          "--case-number", "东罚决字〔2026〕12号", "--party", "张三", "--handler", "李四",
                          "--reporter", "王五")
    assert code == 0, err
    ids = clip_ids(cli)
    code, _, _ = run_as(tmp_path / "data", "li", "label", ids[0], "--case-number", "东罚决字〔2026〕13号",
                        "--party", "张三", "--handler", "李四")
    shown = json.loads(cli("show", ids[0], "--json")[1])
    assert shown["labels"]["case_number"] == "东罚决字〔2026〕13号"
    history = [h["case_number"] for h in shown["label_history"]]
    assert history == ["东罚决字〔2026〕12号", "东罚决字〔2026〕13号"]
    assert all(h["actor"] == "li" for h in shown["label_history"])
    assert json.loads(cli("show", ids[1], "--json")[1])["labels"]["reporter"] == "王五"
    # R12: the ledger (and every bundle made from it) holds only a salted commitment
    ledger = (tmp_path / "data" / "ledger" / "events.jsonl").read_text()
    assert "王五" not in ledger
    from evidence_station.casework.identities import IdentityStore, commitment

    recorded = events(tmp_path, "label")[0]["reporter"]
    store = IdentityStore(tmp_path / "data" / "identities.sqlite")
    salt = next(iter(store.db.query("select salt from identities")))["salt"]
    assert recorded == commitment("王五", salt) and store.reveal(str(recorded)) == "王五"
    assert oct((tmp_path / "data" / "identities.sqlite").stat().st_mode & 0o777) == "0o600"
    label_events = events(tmp_path, "label")
    assert len(label_events) == 2 and sorted(label_events[0]["clip_ids"]) == sorted(ids)  # type: ignore[arg-type]
    assert session["id"] in ids


@pytest.mark.parametrize(("args", "message"), [
    (("--party", "p", "--handler", "h"), "Missing option '--case-number'"),
    (("--case-number", " ", "--party", "p", "--handler", "h"), "`case_number` is required"),
])
def test_label_refusals(cli: Run, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli("label", clip_ids(cli)[0], *args)
    assert code == 2 and message in out + err


def test_label_needs_a_selection(cli: Run) -> None:
    code, _, err = cli("label", "--case-number", "1", "--party", "p", "--handler", "h")
    assert code == 2 and "--session" in err


def test_evidence_designation_and_r8_for_audio(cli: Run, tmp_path: Path) -> None:
    clip = clip_ids(cli)[0]
    code, _, err = run_as(tmp_path / "data", "li", "evidence", clip, "--collector", "李四",
                          "--collected-at", "2026-11-03T14:30", "--location", "人民路",
                          "--fact-to-prove", "当事人占道经营")
    assert code == 0, err
    designation = json.loads(cli("show", clip, "--json")[1])["designation"]
    assert designation["fact_to_prove"] == "当事人占道经营" and designation["designated_by"] == "li"
    code, _, err = cli("evidence", clip, "--collector", "x", "--collected-at", "yesterday",
                       "--location", "l", "--fact-to-prove", "f")
    assert code == 2 and "collected_at" in err

    # an audio-only recording, analysed (no speech model): R8 wants a written transcript
    recorder = tmp_path / "recorder" / "RECORD" / "20261103"
    recorder.mkdir(parents=True)
    with wave.open(str(recorder / "143000_0001.WAV"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000))
    assert cli("ingest", str(tmp_path / "recorder"), "--device-id", "REC01")[0] == 0
    assert cli("analyze")[0] == 0
    audio = next(c["id"] for c in json.loads(cli("clips", "--json")[1]) if c["device_id"] == "REC01")
    base = ("evidence", audio, "--collector", "李四", "--collected-at", "2026-11-03T14:30",
            "--location", "人民路", "--fact-to-prove", "谈话内容")
    code, _, err = cli(*base)
    assert code == 2 and "R8" in err
    transcript = tmp_path / "transcript.txt"
    transcript.write_text("执法人员：您好，我们是……", encoding="utf-8")
    assert cli(*base, "--transcript-file", str(transcript))[0] == 0


def test_access_register_and_copy_with_proof(cli: Run, tmp_path: Path) -> None:
    clip = clip_ids(cli)[0]
    code, _, err = run_as(tmp_path / "data", "li", "access", "view", clip, "--viewer", "赵六",
                          "--approver", "wang", "--reason", "复核")
    assert code == 0, err
    out_dir = tmp_path / "copy"
    code, _, err = run_as(tmp_path / "data", "li", "access", "copy", clip, "--copier", "li",
                          "--approver", "wang", "--reason", "移送法院", "--out", str(out_dir))
    assert code == 0, err
    manifest = json.loads((out_dir / "manifest.json").read_text())
    import hashlib

    copied = (out_dir / manifest["file"]).read_bytes()
    assert hashlib.sha256(copied).hexdigest() == manifest["sha256"]
    # the inclusion proof ties the ingest event (which names the hash) to the signed checkpoint
    checkpoint = open_checkpoint((out_dir / "checkpoint").read_text(),
                                 Verifier.parse((out_dir / "station.vkey").read_text()))
    assert json.loads(manifest["ingest_event"])["sha256"] == manifest["sha256"]
    verify_inclusion(index=manifest["proof"]["seq"], size=checkpoint.size,
                     leaf=leaf_hash(manifest["ingest_event"].encode()),
                     proof=[bytes.fromhex(h) for h in manifest["proof"]["hashes"]], root=checkpoint.root)
    # issue 18: one self-contained C2SP tlog-proof beside the copy, checked with nothing else
    proof_file = out_dir / f"{manifest['file']}.tlog-proof"
    assert proof_file.read_text().startswith("c2sp.org/tlog-proof@v1\nextra ")
    key = (out_dir / "station.vkey").read_text().strip()
    verify = [sys.executable, "-m", "hashing.verify", str(proof_file), "--key", key]
    done = subprocess.run([*verify, "--file", str(out_dir / manifest["file"])],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr
    other = tmp_path / "other.bin"
    other.write_bytes(b"not the clip")
    done = subprocess.run([*verify, "--file", str(other)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "is not the one this ingest event records" in done.stdout
    assert subprocess.run(verify[:4], capture_output=True, text=True, cwd=ROOT).returncode == 2
    access = json.loads(cli("show", clip, "--json")[1])["access"]
    assert [(a["kind"], a["person"], a["approver"], a["actor"]) for a in access] == [
        ("view", "赵六", "wang", "li"), ("copy", "li", "wang", "li")]
    # the copy is an intent before and a done event after, naming the manifest
    done = events(tmp_path, "access.copy.done")
    assert len(done) == 1 and done[0]["copy_seq"] == manifest["register_seq"]
    assert done[0]["manifest_sha256"] == hashlib.sha256((out_dir / "manifest.json").read_bytes()).hexdigest()


def test_release_outside_is_a_request_and_another_admins_approval(cli: Run, tmp_path: Path) -> None:
    """R12: a release outside the unit is never a typed approver; it is a request, an
    approval by a different admin account, then one copy."""
    data = tmp_path / "data"
    clip = clip_ids(cli)[0]
    before = (data / "ledger" / "events.jsonl").read_bytes()
    out = tmp_path / "outside"
    # a clerk cannot register an outside release "approved by wang": refused, nothing written
    code, _, err = run_as(data, "li", "access", "copy", clip, "--copier", "li", "--approver", "wang",
                          "--reason", "律师申请", "--out", str(out), "--outside")
    assert code == 2 and "--outside takes" in err
    code, _, err = run_as(data, "li", "access", "view", clip, "--viewer", "律师", "--approver", "wang",
                          "--reason", "当事人申请", "--outside")
    assert code == 2
    assert not out.exists() and (data / "ledger" / "events.jsonl").read_bytes() == before
    # the request writes nothing out
    code, _, err = run_as(data, "li", "access", "copy", clip, "--outside", "--copier", "li",
                               "--reason", "律师申请")
    assert code == 0, err
    request = events(tmp_path, "access.release.request")[0]["seq"]
    code, _, err = run_as(data, "li", "access", "copy", "--request", str(request), "--out", str(out))
    assert code == 2 and "not approved" in err and not out.exists()
    # a clerk cannot approve; the requester cannot approve their own request
    code, _, err = run_as(data, "li", "access", "approve", str(request))
    assert code == 2 and "may not access.approve_outside" in err
    assert cli("user", "add", "sun", "--role", "admin", "--password-stdin",
               stdin="correct horse battery\n")[0] == 0
    assert run_as(data, "sun", "access", "copy", clip, "--outside", "--copier", "sun",
                  "--reason", "x")[0] == 0
    own = events(tmp_path, "access.release.request")[1]["seq"]
    code, _, err = run_as(data, "sun", "access", "approve", str(own))
    assert code == 2 and "another admin" in err
    assert run_as(data, "wang", "access", "approve", str(request))[0] == 0
    code, _, err = run_as(data, "wang", "access", "approve", str(request))
    assert code == 2 and "already approved" in err
    # then exactly one copy
    code, _, err = run_as(data, "li", "access", "copy", "--request", str(request), "--out", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["approver"] == "wang" and manifest["outside"] is True
    code, _, err = run_as(data, "li", "access", "copy", "--request", str(request),
                          "--out", str(tmp_path / "again"))
    assert code == 2 and "already used" in err and not (tmp_path / "again").exists()


def test_users_and_roles(cli: Run, tmp_path: Path) -> None:
    users = {u["username"]: u for u in json.loads(cli("user", "list", "--json")[1])}
    assert users["li"]["role"] == "clerk" and users["li"]["updated_by"] == "root"
    assert run_as(tmp_path / "data", "wang", "user", "role", "li", "auditor")[0] == 0
    users = {u["username"]: u for u in json.loads(cli("user", "list", "--json")[1])}
    assert users["li"]["role"] == "auditor" and users["li"]["updated_by"] == "wang"
    code, _, err = cli("user", "add", "xu", "--role", "clerk", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 10" in err
    # an existing name is refused before anything changes: not its password, not the ledger
    accounts_before = (tmp_path / "data" / "accounts.sqlite").read_bytes()
    ledger_before = (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes()
    code, _, err = cli("user", "add", "li", "--role", "admin", "--password-stdin",
                       stdin="another long password\n")
    assert code == 2 and "exists" in err
    assert (tmp_path / "data" / "accounts.sqlite").read_bytes() == accounts_before
    assert (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes() == ledger_before
    # a clerk manages no accounts
    code, _, err = run_as(tmp_path / "data", "zhao", "user", "role", "zhao", "admin")
    assert code == 2 and "may not users.manage" in err
    ledger = (tmp_path / "data" / "ledger" / "events.jsonl").read_text()
    assert "argon2" not in ledger and "correct horse" not in ledger  # no hashes in the ledger
    assert oct((tmp_path / "data" / "accounts.sqlite").stat().st_mode & 0o777) == "0o600"


def test_search_by_label_fields_and_date(cli: Run) -> None:
    ids = clip_ids(cli)
    assert cli("label", ids[0], "--case-number", "A-7", "--party", "张三丰", "--handler", "李四")[0] == 0
    found = json.loads(cli("clips", "--json", "--case-number", "A-7")[1])
    assert [c["id"] for c in found] == [ids[0]] and found[0]["label"]["party"] == "张三丰"
    assert [c["id"] for c in json.loads(cli("clips", "--json", "--party", "三丰")[1])] == [ids[0]]
    assert [c["id"] for c in json.loads(cli("clips", "--json", "--unlabelled")[1])] == ids[1:]
    recorded = json.loads(cli("clips", "--json")[1])[1]["recorded_at"]
    after = json.loads(cli("clips", "--json", "--from", recorded)[1])
    assert ids[0] not in [c["id"] for c in after] and ids[1] in [c["id"] for c in after]
    assert json.loads(cli("clips", "--json", "--to", "2000-01-01")[1]) == []


def test_a_copy_is_refused_when_the_latest_checkpoint_is_of_another_history(
        cli: Run, tmp_path: Path) -> None:
    """The copy's proof is built on the latest checkpoint; one that is not of this ledger
    (same size, another root) is refused before anything is recorded or written."""
    clip = clip_ids(cli)[0]
    plant_checkpoint_of_another_history(tmp_path / "data")
    before = (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes()
    out_dir = tmp_path / "copy"
    code, _, err = run_as(tmp_path / "data", "li", "access", "copy", clip, "--copier", "li",
                          "--approver", "wang", "--reason", "移送法院", "--out", str(out_dir))
    said = " ".join(err.split())  # the console wraps long lines
    assert code == 1 and "integrity alarm" in said and "is not of this ledger" in said, err
    assert not out_dir.exists()
    assert (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes() == before
    # `show` says so instead of giving a proof against a root that is not this ledger's
    shown = json.loads(cli("show", clip, "--json")[1])
    assert "inclusion_proof" not in shown and "is not of this ledger" in shown["checkpoint_alarm"]
