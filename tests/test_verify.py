"""The auditor's verifier against a bundle from a real ingest, and every tampering."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.export import export_bundle
from evidence_station.identity import Actor
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station
from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.note import Signer
from hashing.verify import verify_bundle
from tests.conftest import ROOT, tree_snapshot

Opener = Callable[..., Station]


@pytest.fixture
def bundle(open_station: Opener, camera: Path, tmp_path: Path) -> Path:
    with open_station() as station:
        ingest_source(station, camera, actor="tester")
        clip = station.catalog.footage.clips()[1]["id"]
        export_bundle(station, tmp_path / "bundle", [clip], actor=Actor("auditor", "auditor"))
    return tmp_path / "bundle"


def lines(bundle: Path) -> list[bytes]:
    return (bundle / "events.jsonl").read_bytes().splitlines(keepends=True)


def write_lines(bundle: Path, body: list[bytes]) -> None:
    (bundle / "events.jsonl").write_bytes(b"".join(body))


def first_failure(bundle: Path, **kwargs: object) -> str:
    report = verify_bundle(bundle, **kwargs)  # type: ignore[arg-type]
    assert not report.ok, "tampering was not detected"
    return str(report.findings[0])


def test_honest_bundle_verifies(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert report.ok, report.findings
    assert report.proofs_checked == 1 and report.files_checked == 1
    assert report.events == report.tree_size == len(lines(bundle))


def test_cli_exit_codes(bundle: Path, tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "hashing.verify", str(bundle)],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "tree size" in ok.stdout and "OK" in ok.stdout
    missing = subprocess.run([sys.executable, "-m", "hashing.verify", str(tmp_path / "nope")],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2


def test_flipped_byte_in_event(bundle: Path) -> None:
    body = lines(bundle)
    body[3] = body[3].replace(b'"actor":"tester"', b'"actor":"tester2"')
    write_lines(bundle, body)
    assert first_failure(bundle).startswith("seq 4:")  # the next prev link breaks


def test_flipped_byte_in_last_event_caught_by_root(bundle: Path) -> None:
    body = lines(bundle)
    body[-1] = body[-1].replace(b'"actor":"auditor"', b'"actor":"auditos"')
    write_lines(bundle, body)
    assert "differs from the signed checkpoint" in first_failure(bundle)


def test_dropped_event(bundle: Path) -> None:
    body = lines(bundle)
    del body[2]
    write_lines(bundle, body)
    assert first_failure(bundle).startswith("seq 2: event carries seq 3")


def test_reordered_events(bundle: Path) -> None:
    body = lines(bundle)
    body[2], body[3] = body[3], body[2]
    write_lines(bundle, body)
    assert first_failure(bundle).startswith("seq 2:")


def test_inserted_event(bundle: Path) -> None:
    body = lines(bundle)
    fake = json.loads(body[2])
    fake["sha256"] = "0" * 64
    body.insert(3, (json.dumps(fake, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False) + "\n").encode())
    write_lines(bundle, body)
    assert first_failure(bundle).startswith("seq 3:")


def test_truncated_ledger(bundle: Path) -> None:
    body = lines(bundle)
    write_lines(bundle, body[:-2])
    assert "events are missing" in first_failure(bundle)
    write_lines(bundle, [*body[:-1], body[-1][:-10]])
    assert "incomplete" in first_failure(bundle)


def _resign(bundle: Path, checkpoint: Checkpoint, signer: Signer) -> None:
    (bundle / "checkpoint").write_text(sign_checkpoint(checkpoint, signer))


def test_checkpoint_with_changed_size_or_root(bundle: Path) -> None:
    note = (bundle / "checkpoint").read_text()
    _origin, size, root = note.split("\n")[:3]
    (bundle / "checkpoint").write_text(note.replace(f"\n{size}\n", f"\n{int(size) - 1}\n", 1))
    assert first_failure(bundle).startswith("checkpoint:")
    changed_root = root[:5] + ("A" if root[5] != "A" else "B") + root[6:]
    (bundle / "checkpoint").write_text(note.replace(root, changed_root))
    assert first_failure(bundle).startswith("checkpoint:")


def test_checkpoint_signed_by_another_key(bundle: Path) -> None:
    origin, size, root = (bundle / "checkpoint").read_text().split("\n")[:3]
    import base64

    thief = Signer.generate(origin)
    _resign(bundle, Checkpoint(origin, int(size), base64.b64decode(root)), thief)
    assert "not signed by" in first_failure(bundle)


def test_clip_file_replaced(bundle: Path) -> None:
    clip = next((bundle / "files").iterdir())
    os.chmod(clip, 0o644)
    clip.write_bytes(clip.read_bytes()[:-1] + b"\x00")
    message = first_failure(bundle)
    assert message.startswith(f"files/{clip.name}:") and "replaced" in message


def test_rewritten_history_caught_by_older_checkpoint(bundle: Path, data_dir: Path) -> None:
    """Someone with the key rewrites event 2 and re-signs: the bundle is self-consistent,
    but not with the checkpoint the auditor kept from before."""
    older = (data_dir / "ledger" / "checkpoints")
    old_note = sorted(older.iterdir())[1].read_text()  # issued after the docking session
    assert verify_bundle(bundle, older_checkpoint=old_note).ok
    signer = Signer.parse((data_dir / "keys" / "station.key").read_text())
    body = lines(bundle)
    import hashlib

    from hashing.canonical import canonical_json
    from hashing.merkle import leaf_hash, root_from_leaf_hashes

    rewritten = [json.loads(line) for line in body]
    rewritten[2]["sha256"] = "f" * 64
    prev = "0" * 64
    new_lines = []
    for value in rewritten:
        value["prev"] = prev
        data = canonical_json(value)
        prev = hashlib.sha256(data).hexdigest()
        new_lines.append(data + b"\n")
    write_lines(bundle, new_lines)
    size, root = root_from_leaf_hashes(leaf_hash(line[:-1]) for line in new_lines)
    origin = (bundle / "checkpoint").read_text().split("\n")[0]
    shutil.rmtree(bundle / "proofs")
    shutil.rmtree(bundle / "files")
    _resign(bundle, Checkpoint(origin, size, root), signer)
    assert verify_bundle(bundle).ok  # consistent with itself …
    message = first_failure(bundle, older_checkpoint=old_note)
    assert "rewritten" in message  # … but not with what was signed before


@pytest.mark.slow
def test_verifier_runs_with_only_cryptography(bundle: Path, tmp_path: Path,
                                              cryptography_only_python: Path) -> None:
    """A bare virtualenv holding only `cryptography` and a copy of hashing/."""
    python = cryptography_only_python
    workdir = tmp_path / "auditor"
    shutil.copytree(ROOT / "hashing", workdir / "hashing",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([str(python), "-I", "-c",
                           "import sys; sys.path.insert(0, '.'); from hashing.verify import main;"
                           f" sys.exit(main([{str(bundle)!r}]))"],
                          cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


# --- the station's key: station.init, station.vkey, --key ---------------------------------

def run_verifier(*args: str) -> subprocess.CompletedProcess[str]:
    """The auditor's command line, in its own process, so a traceback would show."""
    return subprocess.run([sys.executable, "-m", "hashing.verify", *args],
                          capture_output=True, text=True, cwd=ROOT)


def _rewrite_history(bundle: Path, signer: Signer, *, rekey_station_init: bool = False) -> None:
    """What a forger does with a key of their own: change event 2, re-chain every event,
    re-sign the checkpoint with ``signer`` and put its verifier key in station.vkey. With
    ``rekey_station_init`` event 0 is rewritten to record the new key too."""
    import hashlib

    from hashing.canonical import canonical_json
    from hashing.merkle import leaf_hash, root_from_leaf_hashes

    rewritten = [json.loads(line) for line in lines(bundle)]
    rewritten[2]["sha256"] = "f" * 64
    if rekey_station_init:
        rewritten[0]["verifier_key"] = signer.verifier.encode()
    prev = "0" * 64
    new_lines = []
    for value in rewritten:
        value["prev"] = prev
        data = canonical_json(value)
        prev = hashlib.sha256(data).hexdigest()
        new_lines.append(data + b"\n")
    write_lines(bundle, new_lines)
    size, root = root_from_leaf_hashes(leaf_hash(line[:-1]) for line in new_lines)
    origin = (bundle / "checkpoint").read_text().split("\n")[0]
    shutil.rmtree(bundle / "proofs")
    for path in (bundle / "files").iterdir():
        path.chmod(0o644)
    shutil.rmtree(bundle / "files")
    _resign(bundle, Checkpoint(origin, size, root), signer)
    (bundle / "station.vkey").write_text(signer.verifier.encode() + "\n")


def test_resigned_with_new_key_caught_by_station_init_without_key(bundle: Path,
                                                                   data_dir: Path) -> None:
    """Rewritten history, re-signed with a new key under the same station name and the
    bundle's station.vkey swapped: without --key it used to print OK."""
    real_key = (data_dir / "keys" / "station.vkey").read_text().strip()
    origin = (bundle / "checkpoint").read_text().split("\n")[0]
    thief = Signer.generate(origin)
    _rewrite_history(bundle, thief)
    before = tree_snapshot(bundle)
    done = run_verifier(str(bundle))
    assert done.returncode == 1, done.stdout + done.stderr
    first = next(line for line in done.stdout.splitlines() if line.startswith("FAILED"))
    assert "seq 0" in first and "key mismatch" in first and "station.init" in first
    assert real_key in first and thief.verifier.encode() in first  # both keys named
    assert "Traceback" not in done.stdout + done.stderr
    assert tree_snapshot(bundle) == before  # the verifier writes nothing
    # the same with the real key pinned: both the bundle's key and the signature are wrong
    done = run_verifier(str(bundle), "--key", real_key)
    assert done.returncode == 1 and "station.vkey" in done.stdout and "pinned" in done.stdout
    assert tree_snapshot(bundle) == before


def test_forger_who_also_rewrites_station_init_is_caught_only_by_a_pinned_key(
        bundle: Path, data_dir: Path) -> None:
    """The limit of the station.init check, and why the warning is loud: whoever rewrites
    event 0 too is self-consistent; only the key printed on reports and discs tells."""
    real_key = (data_dir / "keys" / "station.vkey").read_text().strip()
    thief = Signer.generate((bundle / "checkpoint").read_text().split("\n")[0])
    _rewrite_history(bundle, thief, rekey_station_init=True)
    before = tree_snapshot(bundle)
    unpinned = run_verifier(str(bundle))
    assert unpinned.returncode == 0 and "KEY NOT PINNED" in unpinned.stdout
    pinned = run_verifier(str(bundle), "--key", real_key)
    assert pinned.returncode == 1, pinned.stdout
    assert real_key in pinned.stdout and thief.verifier.encode() in pinned.stdout
    assert tree_snapshot(bundle) == before


def test_unpinned_key_is_said_loudly_and_pinned_key_is_quiet(bundle: Path,
                                                              data_dir: Path) -> None:
    before = tree_snapshot(bundle)
    unpinned = run_verifier(str(bundle))
    assert unpinned.returncode == 0, unpinned.stdout + unpinned.stderr
    assert "OK 校验通过 (未固定公钥 KEY NOT PINNED)" in unpinned.stdout
    assert "!!! 未固定公钥 KEY NOT PINNED" in unpinned.stdout and "--key" in unpinned.stdout
    as_json = json.loads(run_verifier(str(bundle), "--json").stdout)
    assert as_json["ok"] and not as_json["key_pinned"] and as_json["warnings"]
    assert as_json["recorded_key"] == as_json["key"]
    real_key = (data_dir / "keys" / "station.vkey").read_text().strip()
    pinned = run_verifier(str(bundle), "--key", real_key)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert "OK 校验通过:" in pinned.stdout and "NOT PINNED" not in pinned.stdout
    assert "未固定" not in pinned.stdout and real_key in pinned.stdout
    assert tree_snapshot(bundle) == before


# --- malformed input: exit 2, the file and the place named, no traceback ------------------

@pytest.fixture(scope="module")
def pristine_bundle(tmp_path_factory: pytest.TempPathFactory, demo_camera: Path) -> Path:
    """One real export (init, ingest, ``ledger export`` with a clip) for the many
    malformed-input cases; each case corrupts a copy."""
    from evidence_station.config import Config
    from evidence_station.station import init_station

    base = tmp_path_factory.mktemp("pristine")
    init_station(base / "data", "test-station", "tester")
    camera = shutil.copytree(demo_camera, base / "cam")
    config = Config.model_validate({"ingest": {"reserve_mib": 0}})
    with Station.open(base / "data", config, writable=True) as station:
        ingest_source(station, camera, actor="tester")
        clip = station.catalog.footage.clips()[0]["id"]
        export_bundle(station, base / "bundle", [clip], actor=Actor("auditor", "auditor"))
    return base / "bundle"


def _proof_path(bundle: Path) -> Path:
    return next((bundle / "proofs").iterdir())


def _set_proof_field(key: str, value: object) -> Callable[[Path], str]:
    def corrupt(bundle: Path) -> str:
        path = _proof_path(bundle)
        proof = json.loads(path.read_text())
        if value is _MISSING:
            del proof[key]
        elif isinstance(value, tuple):  # (index, item): one element of the hashes list
            proof[key][value[0]] = value[1]
        else:
            proof[key] = value
        path.write_text(json.dumps(proof))
        return f"proofs/{path.name}"
    return corrupt


def _write_proof(data: bytes) -> Callable[[Path], str]:
    def corrupt(bundle: Path) -> str:
        path = _proof_path(bundle)
        path.write_bytes(data if data else path.read_bytes()[:-20])  # b"": truncate it
        return f"proofs/{path.name}"
    return corrupt


def _checkpoint_line(number: int, text: str) -> Callable[[Path], str]:
    def corrupt(bundle: Path) -> str:
        note = (bundle / "checkpoint").read_text().split("\n")
        note[number] = text if number < 3 else note[number][:2] + text
        (bundle / "checkpoint").write_text("\n".join(note))
        return "checkpoint"
    return corrupt


def _write_file(name: str, data: bytes) -> Callable[[Path], str]:
    def corrupt(bundle: Path) -> str:
        (bundle / name).write_bytes(data)
        return name
    return corrupt


def _directory_in_files(bundle: Path) -> str:
    (bundle / "files" / "not-a-clip").mkdir()
    return "files/not-a-clip"


_MISSING = object()
_SHORT_HASH = "ab" * 31

MALFORMED: dict[str, tuple[Callable[[Path], str], str]] = {
    "hash is a number": (_set_proof_field("hashes", (0, 12345)), "hashes[0] is not a hex string"),
    "hash is null": (_set_proof_field("hashes", (0, None)), "hashes[0] is not a hex string"),
    "hash is a nested list": (_set_proof_field("hashes", (1, ["ab"])),
                              "hashes[1] is not a hex string"),
    "hash is not hex": (_set_proof_field("hashes", (0, "zz" * 32)), "hashes[0] is not a hex"),
    "hash with spaces": (_set_proof_field("hashes", (0, " ".join(["ab"] * 32))),
                         "hashes[0] is not a hex"),
    "hash too short": (_set_proof_field("hashes", (0, _SHORT_HASH)), "hashes[0] is not a hex"),
    "hashes not a list": (_set_proof_field("hashes", "abcd"), "hashes is a string"),
    "hashes missing": (_set_proof_field("hashes", _MISSING), "hashes is missing"),
    "seq a string": (_set_proof_field("seq", "3"), "seq is a string"),
    "seq negative": (_set_proof_field("seq", -1), "seq is a number (-1)"),
    "seq a boolean": (_set_proof_field("seq", True), "seq is a boolean"),
    "tree_size null": (_set_proof_field("tree_size", None), "tree_size is null"),
    "tree_size missing": (_set_proof_field("tree_size", _MISSING), "tree_size is missing"),
    "event a number": (_set_proof_field("event", 7), "event is a number"),
    "event a lone surrogate": (_set_proof_field("event", "\ud800"), "event holds a lone"),
    "proof is a list": (_write_proof(b"[1, 2]"), "the proof is a list"),
    "proof is a string": (_write_proof(b'"seq"'), "the proof is a string"),
    "proof truncated": (_write_proof(b""), "not valid JSON at line"),
    "proof with NaN": (_write_proof(b'{"seq": 1, "tree_size": NaN, "hashes": []}'),
                       "not valid JSON (NaN"),
    "proof nested deeply": (_write_proof(b"[" * 100000 + b"]" * 100000), "JSON nested too deeply"),
    "proof not UTF-8": (_write_proof(b'{"seq": "\xff"}'), "byte 9 is not UTF-8"),
    "proof huge integer": (_write_proof(b'{"seq": ' + b"9" * 5000 + b"}"), "not valid JSON"),
    "checkpoint size a word": (_checkpoint_line(1, "abc"), "line 2 (tree size)"),
    "checkpoint size superscript": (_checkpoint_line(1, "²"), "line 2 (tree size)"),
    "checkpoint size 5000 digits": (_checkpoint_line(1, "9" * 5000), "line 2 (tree size)"),
    "checkpoint root not base64": (_checkpoint_line(2, "not*base64"), "line 3 (root hash)"),
    "checkpoint root short": (_checkpoint_line(2, "AAAA"), "line 3 (root hash) has 3 bytes"),
    "checkpoint origin empty": (_checkpoint_line(0, ""), "line 1 (origin)"),
    "checkpoint signature not base64": (_checkpoint_line(4, " station !!!"),
                                        "signature line 1"),
    "checkpoint without signatures": (_write_file("checkpoint", b"o\n1\nAAAA\n"),
                                      "malformed note"),
    "checkpoint not UTF-8": (_write_file("checkpoint", b"\xff\xfe\n"), "byte 0 is not UTF-8"),
    "station.vkey not a key": (_write_file("station.vkey", b"name+zz+!!!\n"), ""),
    "station.vkey bad base64": (_write_file("station.vkey", b"n+01020304+AAA*\n"), ""),
    "directory in files/": (_directory_in_files, "not a regular file"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_input_exits_2_naming_file_and_place(case: str, pristine_bundle: Path,
                                                       tmp_path: Path) -> None:
    corrupt, place = MALFORMED[case]
    bundle = Path(shutil.copytree(pristine_bundle, tmp_path / "bundle"))
    name = corrupt(bundle)
    before = tree_snapshot(bundle)
    done = run_verifier(str(bundle))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert f"cannot read: {name}: {place}" in message, message
    assert tree_snapshot(bundle) == before  # nothing written, nothing repaired


@pytest.mark.parametrize(("args", "place"), [
    (["--key", "not-a-key"], "--key: verifier key 'not-a-key'"),
    (["--key", "x+00+AQ=="], "--key: verifier key"),
    (["--consistency", "OLD"], "--consistency OLD: line 2 (tree size)"),
    (["--consistency", "MISSING"], "--consistency MISSING is missing"),
])
def test_malformed_arguments_exit_2(args: list[str], place: str, pristine_bundle: Path,
                                    tmp_path: Path) -> None:
    old = tmp_path / "OLD"
    old.write_text("origin\nbig\nAAAA\n\n— origin AAAAAAAA\n")
    args = [str(tmp_path / a) if a in ("OLD", "MISSING") else a for a in args]
    place = place.replace("OLD", str(old)).replace("MISSING", str(tmp_path / "MISSING"))
    before = tree_snapshot(pristine_bundle)
    done = run_verifier(str(pristine_bundle), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and place in done.stderr, done.stderr
    assert tree_snapshot(pristine_bundle) == before


# --- witnesses: --witness-key, --min-witnesses (issue 18) ----------------------------------

def _cosign_bundle(bundle: Path, *cosigners: object) -> None:
    from hashing.cosignature import Cosigner, add_signature_lines
    from hashing.note import split_note

    note = (bundle / "checkpoint").read_text()
    body, _ = split_note(note)
    lines_ = [c.cosign(body, 1795000000) for c in cosigners if isinstance(c, Cosigner)]
    (bundle / "checkpoint").write_text(add_signature_lines(note, lines_))


def test_witness_cosignatures_are_required_when_keys_are_given(bundle: Path) -> None:
    from hashing.cosignature import Cosigner

    w1, w2 = Cosigner.generate("a.example/w1"), Cosigner.generate("b.example/w2")
    k1, k2 = w1.verifier.encode(), w2.verifier.encode()
    uncosigned = run_verifier(str(bundle), "--witness-key", k1)
    assert uncosigned.returncode == 1 and "too few witness cosignatures: 0 of the 1" in uncosigned.stdout
    _cosign_bundle(bundle, w1)
    ok = run_verifier(str(bundle), "--witness-key", k1, "--json")
    assert ok.returncode == 0, ok.stdout
    result = json.loads(ok.stdout)
    assert result["witnesses"] == [{"key": k1, "timestamp": 1795000000}]
    assert result["min_witnesses"] == 1
    # both required by default; one of two with --min-witnesses 1
    assert run_verifier(str(bundle), "--witness-key", k1, "--witness-key", k2).returncode == 1
    assert run_verifier(str(bundle), "--witness-key", k1, "--witness-key", k2,
                        "--min-witnesses", "1").returncode == 0
    _cosign_bundle(bundle, w2)
    assert run_verifier(str(bundle), "--witness-key", k1, "--witness-key", k2).returncode == 0
    # a cosignature by a key nobody asked for counts for nothing
    stranger = Cosigner.generate("c.example/w3").verifier.encode()
    assert run_verifier(str(bundle), "--witness-key", stranger).returncode == 1


def test_forged_cosignature_is_a_finding(bundle: Path) -> None:
    from hashing.cosignature import Cosigner

    witness = Cosigner.generate("a.example/w1")
    _cosign_bundle(bundle, witness)
    note = (bundle / "checkpoint").read_text()
    line = note.rstrip("\n").split("\n")[-1]
    name, blob = line[2:].split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[8] ^= 1  # the timestamp: the signature covers it
    forged = note.replace(line, f"— {name} {base64.b64encode(bytes(raw)).decode()}")
    (bundle / "checkpoint").write_text(forged)
    done = run_verifier(str(bundle), "--witness-key", witness.verifier.encode())
    assert done.returncode == 1
    assert "cosignature by a.example/w1 does not verify" in done.stdout


def test_bad_witness_arguments_exit_2_naming_them(bundle: Path) -> None:
    from hashing.cosignature import Cosigner

    done = run_verifier(str(bundle), "--witness-key", "nonsense")
    assert done.returncode == 2 and "--witness-key #1" in done.stderr
    station_key = (bundle / "station.vkey").read_text().strip()  # a note key, type 0x01
    done = run_verifier(str(bundle), "--witness-key", station_key)
    assert done.returncode == 2 and "type 0x04" in done.stderr
    key = Cosigner.generate("a.example/w1").verifier.encode()
    done = run_verifier(str(bundle), "--witness-key", key, "--min-witnesses", "2")
    assert done.returncode == 2 and "--min-witnesses 2" in done.stderr
    done = run_verifier(str(bundle), "--min-witnesses", "1")
    assert done.returncode == 2 and "--witness-key" in done.stderr
    assert "Traceback" not in done.stderr
