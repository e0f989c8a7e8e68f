"""The auditor's verifier against a bundle from a real ingest, and every tampering."""

from __future__ import annotations

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
from tests.conftest import ROOT

Opener = Callable[..., Station]


@pytest.fixture
def bundle(open_station: Opener, camera: Path, tmp_path: Path) -> Path:
    with open_station() as station:
        ingest_source(station, camera, actor="tester")
        clip = station.catalog.clips()[1]["id"]
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
