"""Witness cosigning (issue 18, C2SP tlog-witness): origins, the cosignature format, the
witness's status codes and the attacks, over real HTTP to `witness serve` processes on
127.0.0.1."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidence_station.casework.service import record_own
from evidence_station.clock import FixedClock
from evidence_station.config import Config
from evidence_station.errors import LedgerProblem
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station, init_station, origin_for
from evidence_station.witness.client import ask_witnesses
from evidence_station.witness.protocol import (
    RequestMalformed,
    encode_request,
    parse_request,
    parse_size_answer,
)
from hashing.checkpoint import Checkpoint, read_checkpoint, sign_checkpoint
from hashing.cosignature import (
    Cosigner,
    CosignerVerifier,
    add_signature_lines,
    cosigner_key_id,
    signed_message,
    verify_cosignatures,
)
from hashing.merkle import EMPTY_ROOT
from hashing.note import Signer, split_note
from tests.conftest import plant_checkpoint_of_another_history
from tests.witness_helpers import (
    WitnessProcess,
    cli,
    config_for,
    free_port,
    new_station,
    post,
    write_config,
)

ROOT_ACTOR = Actor(ROOT_ACCOUNT, "admin", 0, "cli")
ORIGIN = "ybj.dxh.wuhan.example/station-01"


def append(station: Station, count: int = 1, what: str = "x") -> None:
    for number in range(count):
        record_own(station, ROOT_ACTOR, "report", {"kind": f"{what}-{number}"})


# -- origins -------------------------------------------------------------------------------

def test_url_like_name_is_the_origin_verbatim(tmp_path: Path) -> None:
    vkey = new_station(tmp_path / "a", ORIGIN)
    assert vkey.startswith(ORIGIN + "+")
    with Station.open(tmp_path / "a", Config()) as station:
        checkpoint, note = station.latest_checkpoint() or (None, "")
        assert checkpoint is not None and checkpoint.origin == ORIGIN
        assert note.startswith(ORIGIN + "\n")
        assert station.ledger.event(0).fields["station"] == ORIGIN


@pytest.mark.parametrize("name", ["station-01", "station.01", "s_1"])
def test_short_names_keep_their_origin(tmp_path: Path, name: str) -> None:
    new_station(tmp_path / "a", name)
    with Station.open(tmp_path / "a", Config()) as station:
        latest = station.latest_checkpoint()
        assert latest is not None and latest[0].origin == f"evidence-station/{name}"
    assert origin_for(name) == f"evidence-station/{name}"


@pytest.mark.parametrize("name", ["https://ybj.example/s1", "ybj/station", "YBJ.example/s1",
                                  "ybj.example/", "ybj.example/s 1", "ybj.example/s+1",
                                  "-ybj.example/s1", "ybj..example/s1"])
def test_bad_url_like_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(LedgerProblem):
        init_station(tmp_path / "a", name, "root")
    assert not (tmp_path / "a" / "station.json").exists()


# -- tlog-cosignature ----------------------------------------------------------------------

def test_cosignature_format_follows_the_spec() -> None:
    cosigner = Cosigner.generate("witness.example/w1")
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = cosigner.cosign(body, 1679315147)
    name, blob = line[len("— "):].rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    public = cosigner.verifier.public_key.public_bytes_raw()
    # key id over 0x04, timestamp big-endian u64, then the Ed25519 signature
    assert name == "witness.example/w1" and len(raw) == 4 + 8 + 64
    assert raw[:4] == cosigner_key_id(name, public)
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    assert signed_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + body.encode())
    cosigner.verifier.public_key.verify(raw[12:], signed_message(body, 1679315147))
    vkey = cosigner.verifier.encode()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert CosignerVerifier.parse(vkey) == cosigner.verifier
    assert Cosigner.parse(cosigner.encode()).verifier == cosigner.verifier

    log = Signer.generate("example.com/behind-the-sofa")
    note = add_signature_lines(log.sign(body), [line])
    good, problems = verify_cosignatures(note, [cosigner.verifier])
    assert [g.timestamp for g in good] == [1679315147] and problems == []
    other = Cosigner.generate("witness.example/w2")
    assert verify_cosignatures(note, [other.verifier]) == ([], [])  # unknown keys ignored
    forged = note.replace("20852163", "20852164")
    assert verify_cosignatures(forged, [cosigner.verifier])[1]  # a known key failing is named
    with pytest.raises(ValueError):
        cosigner.cosign(body, 0)  # tlog-witness: "the timestamp MUST NOT be zero"


def test_request_body_round_trip_and_refusals() -> None:
    root = base64.b64encode(b"x" * 32).decode()
    note = Signer.generate("a.example/s").sign(f"a.example/s\n3\n{root}\n")
    body = encode_request(2, [b"\x01" * 32, b"\x02" * 32], note)
    assert body.startswith(b"old 2\nAQEB")
    parsed = parse_request(body)
    assert parsed.old_size == 2 and parsed.proof == [b"\x01" * 32, b"\x02" * 32]
    assert parsed.note == note
    for bad in (b"old 02\n\n" + note.encode(), b"old 1\n", b"new 1\n\n" + note.encode(),
                b"old 1\nAAAA\n\n" + note.encode(),
                b"old 1\n" + b"".join([base64.b64encode(b"\x00" * 32) + b"\n"] * 64) + b"\n" + note.encode(),
                b"\xff\n\n"):
        with pytest.raises(RequestMalformed):
            parse_request(bad)
    assert parse_size_answer(b"17\n") == 17
    assert parse_size_answer(b"017\n") is None


# -- the witness over HTTP ------------------------------------------------------------------

@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Path, WitnessProcess, Config]]:
    """Station A (a URL-like origin) and a witness process run from station B's data dir,
    following A; A's config names the witness."""
    a_vkey = new_station(tmp_path / "a", ORIGIN)
    new_station(tmp_path / "b", "ybj.dxh.wuhan.example/central")
    witness = WitnessProcess(tmp_path / "b", write_config(tmp_path / "b.toml", logs=[a_vkey]),
                             free_port())
    witness.start()
    try:
        yield tmp_path / "a", witness, config_for([witness.url], [witness.key])
    finally:
        witness.stop()


def _cosigned(station: Station, witness_key: str) -> int:
    latest = station.latest_checkpoint()
    assert latest is not None
    note = station.cosigned_note(latest[0].size)
    assert note is not None, "no cosigned checkpoint stored"
    good, problems = verify_cosignatures(note, [CosignerVerifier.parse(witness_key)])
    assert problems == [] and len(good) == 1
    return latest[0].size


def _held(witness: WitnessProcess) -> tuple[int, bytes] | None:
    db = sqlite3.connect(witness.data_dir / "witness.sqlite")
    try:
        row = db.execute("select size, root from checkpoint").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))
    finally:
        db.close()


@pytest.mark.slow
def test_station_gets_cosignatures_after_each_checkpoint(pair: tuple[Path, WitnessProcess, Config]) -> None:
    a, witness, config = pair
    with Station.open(a, config, writable=True) as station:
        station.issue_checkpoint()
        first = _cosigned(station, witness.key)
        append(station, 5)
        station.issue_checkpoint()  # old = the size the witness acknowledged, with a proof
        second = _cosigned(station, witness.key)
        assert second == first + 5
        assert _held(witness) == (second, station.ledger.root())
        # asking again at the same size is a same-root re-cosign, not an error
        assert [o.result for o in ask_witnesses(station, force=True)] == ["cosigned"]


@pytest.mark.slow
def test_status_codes(pair: tuple[Path, WitnessProcess, Config], tmp_path: Path) -> None:
    a, witness, config = pair
    signer = Signer.parse((a / "keys" / "station.key").read_text())
    with Station.open(a, config, writable=True) as station:
        append(station, 6)
        station.issue_checkpoint(witness=False)
        size = station.ledger.size
        root = station.ledger.root()
        proof_4 = station.ledger.consistency_proof(4, size)
        root_4 = station.ledger.root(4)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)
    note_4 = sign_checkpoint(Checkpoint(ORIGIN, 4, root_4), signer)

    assert post(witness.url, b"garbage")[0] == 400
    assert post(witness.url, encode_request(0, [], "not a note\n"))[0] == 400
    # unknown log → 404
    stranger = Signer.generate("other.example/station")
    strange = sign_checkpoint(Checkpoint("other.example/station", 1, b"\x00" * 32), stranger)
    assert post(witness.url, encode_request(0, [], strange))[0] == 404
    # the right origin signed by another key → 403; a trusted key's line that fails → 403
    impostor = Signer.generate(ORIGIN)
    assert post(witness.url, encode_request(0, [], sign_checkpoint(
        Checkpoint(ORIGIN, size, root), impostor)))[0] == 403
    broken = note.replace(str(size) + "\n", str(size + 1) + "\n", 1)
    assert post(witness.url, encode_request(0, [], broken))[0] == 403
    # old size larger than the checkpoint → 400
    assert post(witness.url, encode_request(size + 1, [], note))[0] == 400
    # first contact: old 0, no proof → 200 at size 4
    status, _, body = post(witness.url, encode_request(0, [], note_4))
    assert status == 200 and body.startswith("— ") and body.endswith("\n")
    good, _ = verify_cosignatures(add_signature_lines(note_4, [body]), [CosignerVerifier.parse(witness.key)])
    assert len(good) == 1 and good[0].timestamp > 0
    # old size that is not the one held → 409 with the held size as text/x.tlog.size
    status, content_type, body = post(witness.url, encode_request(0, [], note))
    assert (status, body) == (409, "4\n") and content_type.startswith("text/x.tlog.size")
    # a proof that does not verify → 422; a proof from 0 that is not empty → 422
    bad_proof = [bytes(32)] * len(proof_4)
    assert post(witness.url, encode_request(4, bad_proof, note))[0] == 422
    # equal sizes, different roots → 422
    other_4 = sign_checkpoint(Checkpoint(ORIGIN, 4, b"\x07" * 32), signer)
    assert post(witness.url, encode_request(4, [], other_4))[0] == 422
    assert _held(witness) == (4, root_4)  # nothing refused changed the state
    # the right proof → 200
    assert post(witness.url, encode_request(4, proof_4, note))[0] == 200
    assert _held(witness) == (size, root)
    # size 0 must have the empty root (checked on a fresh log the witness follows)
    assert read_checkpoint(note).size == size


@pytest.mark.slow
def test_size_zero_checkpoint_needs_the_empty_root(tmp_path: Path) -> None:
    log = Signer.generate("zero.example/log")
    new_station(tmp_path / "b", "zero.example/witness-host")
    witness = WitnessProcess(tmp_path / "b", write_config(tmp_path / "b.toml",
                                                          logs=[log.verifier.encode()]), free_port())
    witness.start()
    try:
        bad = sign_checkpoint(Checkpoint("zero.example/log", 0, b"\x01" * 32), log)
        assert post(witness.url, encode_request(0, [], bad))[0] == 422
        empty = sign_checkpoint(Checkpoint("zero.example/log", 0, EMPTY_ROOT), log)
        assert post(witness.url, encode_request(0, [b"\x00" * 32], empty))[0] == 422
        assert post(witness.url, encode_request(0, [], empty))[0] == 200
    finally:
        witness.stop()


@pytest.mark.slow
def test_forked_station_is_refused_and_the_honest_one_keeps_going(
        pair: tuple[Path, WitnessProcess, Config], tmp_path: Path) -> None:
    """An insider copies the data dir and appends other events in the copy: the copy can
    sign them with the same key, but the witness will not cosign both histories."""
    a, witness, config = pair
    with Station.open(a, config, writable=True) as station:
        append(station, 3)
        station.issue_checkpoint()
        base = _cosigned(station, witness.key)
    fork, small_fork = tmp_path / "fork", tmp_path / "small-fork"
    shutil.copytree(a, fork)
    shutil.copytree(a, small_fork)
    with Station.open(a, config, writable=True) as honest:
        append(honest, 2, "honest")
        honest.issue_checkpoint()
        assert _cosigned(honest, witness.key) == base + 2
    with Station.open(fork, config, writable=True) as forked:
        append(forked, 4, "forged")  # larger than the honest tree: 409, then a bad proof
        forked.issue_checkpoint()
        latest = forked.latest_checkpoint()
        assert latest is not None and forked.cosigned_note(latest[0].size) is None
        alarms = [e for e in forked.ledger.events() if e.type == "witness.alarm"]
        assert len(alarms) == 1 and alarms[0].fields["kind"] == "refused"
        assert alarms[0].fields["actor"] == "station"
        assert "HTTP 422" in alarms[0].fields["detail"]
        assert [f["kind"] for f in forked.catalog.flags.review()] == ["witness_refused"]
    with Station.open(small_fork, config, writable=True) as forked:
        append(forked, 1, "forged")  # smaller than the honest tree: the witness is past it
        forked.issue_checkpoint()
        alarms = [e for e in forked.ledger.events() if e.type == "witness.alarm"]
        assert len(alarms) == 1 and f"holds size {base + 2}" in alarms[0].fields["detail"]
    db = sqlite3.connect(witness.data_dir / "witness.sqlite")
    refusals = db.execute("select origin, status, old_size from refusal").fetchall()
    db.close()
    assert refusals == [(ORIGIN, 422, base + 2)]  # the forged checkpoint is kept as evidence
    with Station.open(a, config, writable=True) as honest:
        append(honest, 1, "honest-again")
        honest.issue_checkpoint()
        assert _cosigned(honest, witness.key) == base + 3
    assert _held(witness) is not None and _held(witness)[0] == base + 3  # type: ignore[index]


@pytest.mark.slow
def test_rollback_is_refused(pair: tuple[Path, WitnessProcess, Config], tmp_path: Path) -> None:
    """A data dir restored from an older copy (a rollback to an older checkpoint) asks the
    witness, which holds a larger tree: refused, an alarm."""
    a, witness, config = pair
    with Station.open(a, config, writable=True) as station:
        station.issue_checkpoint()
    old_copy = tmp_path / "old"
    shutil.copytree(a, old_copy)
    with Station.open(a, config, writable=True) as station:
        append(station, 3)
        station.issue_checkpoint()
        held = _cosigned(station, witness.key)
    with Station.open(old_copy, config, writable=True) as rolled_back:
        outcomes = ask_witnesses(rolled_back, force=True)
        assert [o.result for o in outcomes] == ["refused"]
        assert f"holds size {held}" in outcomes[0].detail
        assert [e.fields["kind"] for e in rolled_back.ledger.events()
                if e.type == "witness.alarm"] == ["refused"]
    # the raw request too: an older checkpoint with the held size as old size → 400
    signer = Signer.parse((a / "keys" / "station.key").read_text())
    with Station.open(a, Config()) as station:
        older = sign_checkpoint(Checkpoint(ORIGIN, 1, station.ledger.root(1)), signer)
    assert post(witness.url, encode_request(held, [], older))[0] == 400
    assert post(witness.url, encode_request(0, [], older))[0] == 409
    assert _held(witness) is not None and _held(witness)[0] == held  # type: ignore[index]


@pytest.mark.slow
def test_replayed_request_is_harmless(pair: tuple[Path, WitnessProcess, Config]) -> None:
    a, witness, config = pair
    signer = Signer.parse((a / "keys" / "station.key").read_text())
    with Station.open(a, config, writable=True) as station:
        append(station, 2)
        first_size, first_root = station.ledger.size, station.ledger.root()
        append(station, 2)
        second_size, second_root = station.ledger.size, station.ledger.root()
        proof = station.ledger.consistency_proof(first_size, second_size)
    first = encode_request(0, [], sign_checkpoint(Checkpoint(ORIGIN, first_size, first_root), signer))
    second = encode_request(first_size, proof,
                            sign_checkpoint(Checkpoint(ORIGIN, second_size, second_root), signer))
    assert post(witness.url, first)[0] == 200
    assert post(witness.url, second)[0] == 200
    for replay in (first, second, first):
        status, _, body = post(witness.url, replay)
        assert (status, body) == (409, f"{second_size}\n")
    assert _held(witness) == (second_size, second_root)


@pytest.mark.slow
def test_witness_killed_mid_request_keeps_a_consistent_state(
        pair: tuple[Path, WitnessProcess, Config]) -> None:
    """SIGKILL while a station keeps asking: after the restart the witness holds one of
    the checkpoints it was sent (never a mix, never a rollback) and the station catches up
    from whatever size it holds (409, then a proof from there)."""
    a, witness, config = pair
    sent: list[tuple[int, bytes]] = []
    with Station.open(a, config, writable=True) as station:
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                append(station, 1)
                station.issue_checkpoint()
                sent.append((station.ledger.size, station.ledger.root(station.ledger.size)))

        thread = threading.Thread(target=keep_asking)
        thread.start()
        while len(sent) < 5:
            threading.Event().wait(0.01)
        witness.kill()
        threading.Event().wait(0.2)
        stop.set()
        thread.join(60)
        held = _held(witness)
        db = sqlite3.connect(witness.data_dir / "witness.sqlite")
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        db.close()
        assert held is not None
        assert held[1] == station.ledger.root(held[0])  # a checkpoint of this very history
        witness.start()
        append(station, 1)
        station.issue_checkpoint()
        outcomes = ask_witnesses(station, force=True)
        assert [o.result for o in outcomes] == ["cosigned"]
        assert _held(witness) == (station.ledger.size, station.ledger.root())


@pytest.mark.slow
def test_offline_station_keeps_working_then_alarms_then_catches_up(tmp_path: Path) -> None:
    a_vkey = new_station(tmp_path / "a", ORIGIN)
    new_station(tmp_path / "b", "ybj.dxh.wuhan.example/central")
    witness = WitnessProcess(tmp_path / "b", write_config(tmp_path / "b.toml", logs=[a_vkey]),
                             free_port())
    # the witness's key is made on first use: ask it before the witness runs
    witness_key = cli("--config", tmp_path / "b.toml", "--data-dir", tmp_path / "b",
                      "witness", "key").stdout.strip()
    config = config_for([witness.url], [witness_key], alarm_after_s=600, retry_every_s=60)
    clock = FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    with Station.open(tmp_path / "a", config, writable=True, clock=clock) as station:
        station.issue_checkpoint()  # nobody listens: no cosignature, no alarm yet
        state = ask_witnesses(station)  # within retry_every_s: skipped, not waited for
        assert [o.result for o in state] == ["skipped"]
        append(station, 3)
        clock.advance(timedelta(seconds=120))
        station.issue_checkpoint()
        assert not [e for e in station.ledger.events() if e.type == "witness.alarm"]
        clock.advance(timedelta(seconds=900))  # past alarm_after_s
        assert [o.result for o in ask_witnesses(station, force=True)] == ["unreachable"]
        alarms = [e for e in station.ledger.events() if e.type == "witness.alarm"]
        assert [a.fields["kind"] for a in alarms] == ["unreachable"]
        assert [o.result for o in ask_witnesses(station, force=True)] == ["unreachable"]
        assert len([e for e in station.ledger.events() if e.type == "witness.alarm"]) == 1
        witness.start()
        try:
            clock.advance(timedelta(seconds=60))
            assert [o.result for o in ask_witnesses(station, force=True)] == ["cosigned"]
            assert [e.type for e in station.ledger.events()][-1] == "witness.recovered"
            station.issue_checkpoint()  # covers the recovery event, from the acked size
            assert _cosigned(station, witness_key) == station.ledger.size
        finally:
            witness.stop()


@pytest.mark.slow
def test_two_stations_witness_each_other_over_http_between_processes(tmp_path: Path) -> None:
    """Each station's data dir runs a witness for the other; each station, as its own CLI
    process, gets its checkpoints cosigned by the other's witness process."""
    a_vkey = new_station(tmp_path / "a", "ybj.dxh.wuhan.example/station-01")
    b_vkey = new_station(tmp_path / "b", "ybj.dxh.wuhan.example/station-02")
    wa = WitnessProcess(tmp_path / "a", write_config(tmp_path / "wa.toml", logs=[b_vkey]), free_port())
    wb = WitnessProcess(tmp_path / "b", write_config(tmp_path / "wb.toml", logs=[a_vkey]), free_port())
    wa.start()
    wb.start()
    try:
        ca = write_config(tmp_path / "a.toml", urls=[wb.url], keys=[wb.key], logs=[b_vkey])
        cb = write_config(tmp_path / "b.toml", urls=[wa.url], keys=[wa.key], logs=[a_vkey])
        for _ in range(2):
            out_a = cli("--config", ca, "--data-dir", tmp_path / "a", "ledger", "checkpoint").stdout
            out_b = cli("--config", cb, "--data-dir", tmp_path / "b", "ledger", "checkpoint").stdout
            assert f"— {wb.key.split('+')[0]} " in out_a
            assert f"— {wa.key.split('+')[0]} " in out_b
        done = cli("--config", ca, "--data-dir", tmp_path / "a", "ledger", "witness", "--json")
        assert '"result": "cosigned"' in done.stdout
    finally:
        wa.stop()
        wb.stop()


def _verify(bundle: Path, *args: str) -> int:
    import subprocess
    import sys

    from tests.witness_helpers import ROOT, env

    return subprocess.run([sys.executable, "-m", "hashing.verify", str(bundle), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env()).returncode


@pytest.mark.slow
def test_export_carries_cosignatures_and_a_fork_fails_the_verifier(
        pair: tuple[Path, WitnessProcess, Config], tmp_path: Path) -> None:
    a, witness, _ = pair
    config = write_config(tmp_path / "a.toml", urls=[witness.url], keys=[witness.key])
    station_key = (a / "keys" / "station.vkey").read_text().strip()
    fork = tmp_path / "fork"
    shutil.copytree(a, fork)
    cli("--config", config, "--data-dir", a, "ledger", "export", "--out", tmp_path / "honest")
    assert "— " + witness.key.split("+")[0] in (tmp_path / "honest" / "checkpoint").read_text()
    assert _verify(tmp_path / "honest", "--key", station_key, "--witness-key", witness.key) == 0
    other = Cosigner.generate("other.example/witness").verifier.encode()
    assert _verify(tmp_path / "honest", "--key", station_key, "--witness-key", other) == 1
    # the forked copy signs a valid-looking bundle with the real key, but no witness cosigns it
    # (its refusal alarm lands after the checkpoint, so the bundle is still complete)
    cli("--config", config, "--data-dir", fork, "ledger", "export", "--out", tmp_path / "forked")
    assert _verify(tmp_path / "forked", "--key", station_key) == 0
    assert _verify(tmp_path / "forked", "--key", station_key, "--witness-key", witness.key) == 1


def test_tlog_proof_file_with_cosignatures() -> None:
    """hashing/proof.py: the C2SP tlog-proof form, the event in `extra`, cosignatures required."""
    from hashing.proof import ProofFileMalformed, encode_proof, parse_proof, verify_proof
    from tests.reference_merkle import Reference

    events = [f'{{"seq":{i},"sha256":"{i:064x}","type":"ingest"}}'.encode() for i in range(7)]
    tree = Reference(events)

    def reference_inclusion_proof(_: object, index: int) -> list[bytes]:
        return tree.path(index, 0, len(events))

    leaves = None
    log = Signer.generate("ybj.example/s1")
    note = sign_checkpoint(Checkpoint("ybj.example/s1", 7, tree.mth(0, 7)), log)
    witness = Cosigner.generate("ybj.example/central/witness")
    body, _ = split_note(note)
    cosigned = add_signature_lines(note, [witness.cosign(body, 1795000000)])
    text = encode_proof(5, reference_inclusion_proof(leaves, 5), cosigned, events[5])
    assert parse_proof(text).extra == events[5]
    keys = dict(key=log.verifier, witnesses=[witness.verifier], min_witnesses=1)
    report = verify_proof(text, **keys, file_sha256=f"{5:064x}")  # type: ignore[arg-type]
    assert report.ok, report.findings
    assert not verify_proof(encode_proof(5, reference_inclusion_proof(leaves, 5), note, events[5]),
                            **keys).ok  # type: ignore[arg-type]  # no cosignature
    assert not verify_proof(text, **keys, file_sha256="0" * 64).ok  # type: ignore[arg-type]
    assert not verify_proof(encode_proof(4, reference_inclusion_proof(leaves, 5), cosigned,
                                         events[5]), **keys).ok  # type: ignore[arg-type]
    with pytest.raises(ProofFileMalformed):
        parse_proof("c2sp.org/tlog-proof@v2\nindex 1\n\n" + note)


def test_witness_alarm_is_a_review_flag_that_review_and_check_handle(tmp_path: Path) -> None:
    """The alarm's review flag has no clip: `review` lists it, `check` compares it."""
    from evidence_station.cli import main
    from evidence_station.identity import STATION

    new_station(tmp_path / "a", ORIGIN)
    with Station.open(tmp_path / "a", Config(), writable=True) as station:
        record_own(station, STATION, "witness.alarm", {
            "witness": "w.example/w+00000000+AA", "url": "http://127.0.0.1:9", "kind": "refused",
            "checkpoint_size": 1, "detail": "HTTP 422: …", "since": None,
            "flags": [{"flag_id": "W1", "clip_id": None, "kind": "witness_refused",
                       "article": None, "figures": {"witness": "w.example/w"}}]})
    base = ["--data-dir", str(tmp_path / "a"), "--lang", "en"]
    assert main([*base, "review"], clock=FixedClock(datetime(2026, 11, 23, tzinfo=UTC))) == 0
    assert main([*base, "review", "--json"], clock=FixedClock(datetime(2026, 11, 23, tzinfo=UTC))) == 0
    assert main([*base, "check"], clock=FixedClock(datetime(2026, 11, 23, tzinfo=UTC))) == 0


@pytest.mark.slow
def test_the_witness_round_does_not_offer_a_checkpoint_of_another_history(
        pair: tuple[Path, WitnessProcess, Config]) -> None:
    """The daemon's periodic round asks the witnesses to cosign the latest checkpoint when
    the ledger has not grown; a latest that is not of this ledger (same size, another root:
    the events file restored alone) is an integrity alarm at the station, and no witness is
    asked to cosign it."""
    from evidence_station.docking.daemon import Daemon
    from evidence_station.errors import IntegrityAlarm

    a, witness, config = pair
    with Station.open(a, config, writable=True) as station:
        append(station, 2)
        station.issue_checkpoint()
        honest = (_cosigned(station, witness.key), station.ledger.root())
    planted = plant_checkpoint_of_another_history(a)
    events_before = (a / "ledger" / "events.jsonl").read_bytes()
    with Station.open(a, config, writable=True) as station:
        daemon = Daemon(station, lang="en")
        with pytest.raises(IntegrityAlarm, match="is not of this ledger"):
            daemon.witness_round()
        with pytest.raises(IntegrityAlarm, match="is not of this ledger"):  # `ledger witness`
            ask_witnesses(station, force=True)
    assert (a / "ledger" / "checkpoint").read_text() == planted  # nothing signed over it
    assert (a / "ledger" / "events.jsonl").read_bytes() == events_before  # no witness alarm
    assert _held(witness) == honest
