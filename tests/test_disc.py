"""Disc burn-out to a `stdio:` file drive (the same xorriso path as a real burner), read
back and verified; a corrupted image caught; the on-disc verifier run in a virtualenv
with only `cryptography`; the written note's PDF rendered to PNG and looked at."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evidence_station.cli import main
from evidence_station.demo import make_demo_camera
from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.note import Signer
from retention.disc import MEDIA, RESERVED, DiscError, DiscFile, plan_discs, volume_id
from tests.conftest import ROOT, plant_checkpoint_of_another_history, tree_snapshot

Run = Callable[..., tuple[int, str, str]]
pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")


def test_plan_splits_across_discs_and_refuses_what_cannot_fit() -> None:
    cd = MEDIA["cd"] - RESERVED
    files = [DiscFile(f"c{n}", cd // 3) for n in range(7)]
    plans = plan_discs(files, "cd")
    assert len(plans) == 4 and sum(len(p.files) for p in plans) == 7
    assert all(p.size <= cd for p in plans)
    assert len(plan_discs(files, "dvd")) == 1
    with pytest.raises(DiscError, match="use dvd"):
        plan_discs([DiscFile("big", MEDIA["cd"])], "cd")
    with pytest.raises(DiscError, match="removable drive"):
        plan_discs([DiscFile("huge", MEDIA["bd"])], "bd")
    assert volume_id("东罚决字〔2026〕12号", 1, 2) == "2026_12_1OF2"
    assert volume_id("ab-12/3", 2, 2) == "AB_12_3_2OF2"


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), "--lang", "en", *args])
        out, err = capsys.readouterr()
        return code, out, err

    camera = make_demo_camera(tmp_path / "cam", count=3, seconds=0.5)
    assert run("init", "--station", "disc-station")[0] == 0
    assert run("ingest", str(camera))[0] == 0
    ids = [c["id"] for c in json.loads(run("clips", "--json")[1])]
    assert run("label", *ids, "--case-number", "A-12", "--party", "张三", "--handler", "李四")[0] == 0
    for clip in ids[:2]:
        assert run("evidence", clip, "--collector", "李四", "--collected-at", "2026-11-03T14:30",
                   "--location", "人民路", "--fact-to-prove", "当事人占道经营")[0] == 0
    return run


@pytest.mark.slow
def test_burn_verify_and_self_verifying_disc(cli: Run, tmp_path: Path,
                                              cryptography_only_python: Path) -> None:
    image = tmp_path / "disc.iso"
    code, out, err = cli("disc", "plan", "--case-number", "A-12", "--media", "cd", "--json")
    assert code == 0 and len(json.loads(out)) == 1 and len(json.loads(out)[0]["files"]) == 2
    code, out, err = cli("disc", "burn", "--case-number", "A-12", "--drive", f"stdio:{image}",
                         "--media", "cd", "--maker", "王五", "--extractor", "李四")
    assert code == 0, out + err
    assert "案号 A-12" in out and "制作人 王五" in out and "提取人 李四" in out  # the label text
    code, out, err = cli("disc", "verify", "--case-number", "A-12", "--drive", f"stdio:{image}")
    assert code == 0 and "VERIFIED" in out, out + err
    assert "NOT PINNED" not in out  # the station reads its discs back pinned to its own key

    # what an auditor does: extract, and run the disc's verify.py with only cryptography
    root = tmp_path / "extracted"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", f"stdio:{image}", "-extract", "/",
                    str(root)], check=True, capture_output=True)
    assert sorted(p.name for p in root.iterdir()) == [
        "README.txt", "checkpoint", "evidence", "hashing", "manifest.json", "note.html", "note.pdf",
        "proofs", "station.vkey", "verify.html", "verify.py"]
    done = subprocess.run([str(cryptography_only_python), "-I", "verify.py", str(root)], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "VERIFIED" in done.stdout, done.stdout + done.stderr
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["disc_maker"] == "王五" and manifest["files"][0]["fact_to_prove"] == "当事人占道经营"

    # the written note as PDF, rendered to PNG: a real page with ink on it
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(root / "note.pdf"),
                    str(tmp_path / "note")], check=True)
    png = next(tmp_path.glob("note*.png"))
    assert png.stat().st_size > 5000
    shots = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, shots / "disc-note.png")

    # a tampered copy of the disc is caught
    (root / manifest["files"][0]["path"]).chmod(0o644)
    with (root / manifest["files"][0]["path"]).open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00")
    done = subprocess.run([str(cryptography_only_python), "-I", "verify.py", str(root)], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "FAIL" in done.stdout

    # the ledger has the burn and the verification
    events = [json.loads(line) for line in
              (tmp_path / "data" / "ledger" / "events.jsonl").read_text().splitlines()]
    burn = next(e for e in events if e["type"] == "disc.burn")
    assert burn["verified"] is True and burn["extractor"] == "李四" and len(burn["clip_ids"]) == 2
    assert any(e["type"] == "disc.verify" and e["verified"] for e in events)


@pytest.mark.slow
def test_corrupted_image_fails_verification(cli: Run, tmp_path: Path) -> None:
    image = tmp_path / "disc.iso"
    assert cli("disc", "burn", "--case-number", "A-12", "--drive", f"stdio:{image}",
               "--maker", "m", "--extractor", "e")[0] == 0
    data = bytearray(image.read_bytes())
    starts = [data.find(p.read_bytes()[200:264]) for p in (tmp_path / "cam" / "DCIM" / "100MEDIA").iterdir()]
    start = max(starts)  # a clip that is on the disc (two of the three are evidence)
    assert start > 0
    data[start + 10] ^= 0xFF  # one flipped byte inside a clip on the disc
    image.write_bytes(bytes(data))
    code, out, err = cli("disc", "verify", "--case-number", "A-12", "--drive", f"stdio:{image}")
    assert code == 1 and ("MD5" in err or "FAIL" in out), out + err


def test_no_evidence_no_disc(cli: Run, tmp_path: Path) -> None:
    code, out, err = cli("disc", "plan", "--case-number", "NOPE")
    assert code == 2 and "no clips designated as evidence" in out + err


# --- the disc's verify.py: the station key and malformed input ----------------------------

@pytest.fixture(scope="module")
def burned_disc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real disc (init, ingest, label, designate, ``disc burn`` to an image, extracted
    as an auditor would) and the station's verifier key; each test corrupts a copy."""
    base = tmp_path_factory.mktemp("burned")
    data = base / "data"

    def run(*args: str) -> int:
        return main(["--data-dir", str(data), "--lang", "en", *args])

    camera = make_demo_camera(base / "cam", count=2, seconds=0.5)
    assert run("init", "--station", "disc-station") == 0
    assert run("ingest", str(camera)) == 0
    ingests = [json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text()
                .splitlines() if json.loads(line)["type"] == "ingest"]
    ids = [event["clip_id"] for event in ingests]
    assert run("label", *ids, "--case-number", "B-7", "--party", "张三", "--handler", "李四") == 0
    assert run("evidence", ids[0], "--collector", "李四", "--collected-at", "2026-11-03T14:30",
               "--location", "人民路", "--fact-to-prove", "当事人占道经营") == 0
    image = base / "disc.iso"
    assert run("disc", "burn", "--case-number", "B-7", "--drive", f"stdio:{image}",
               "--maker", "王五", "--extractor", "李四") == 0
    root = base / "extracted"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", f"stdio:{image}", "-extract", "/",
                    str(root)], check=True, capture_output=True)
    return root, (data / "keys" / "station.vkey").read_text().strip()


@pytest.fixture
def disc(burned_disc: tuple[Path, str], tmp_path: Path) -> Path:
    root = Path(shutil.copytree(burned_disc[0], tmp_path / "disc"))
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # an extracted ISO is read-only
    return root


def run_disc_verifier(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python3 verify.py DISC_ROOT``, isolated (-I): only the disc's own hashing/."""
    return subprocess.run([sys.executable, "-I", str(root / "verify.py"), str(root), *args],
                          capture_output=True, text=True, cwd=root)


@pytest.mark.slow
def test_disc_key_not_pinned_is_said_and_pinned_key_is_quiet(
        disc: Path, burned_disc: tuple[Path, str]) -> None:
    before = tree_snapshot(disc)
    unpinned = run_disc_verifier(disc)
    assert unpinned.returncode == 0, unpinned.stdout + unpinned.stderr
    assert "VERIFIED" in unpinned.stdout and "!!! 未固定公钥 KEY NOT PINNED" in unpinned.stdout
    pinned = run_disc_verifier(disc, "--key", burned_disc[1])
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert "NOT PINNED" not in pinned.stdout and "未固定" not in pinned.stdout
    assert f"key: {burned_disc[1]} (已固定 pinned with --key)" in pinned.stdout
    assert tree_snapshot(disc) == before


@pytest.mark.slow
def test_disc_resigned_with_another_key_caught_by_pinned_key(
        disc: Path, burned_disc: tuple[Path, str]) -> None:
    """A copy of the disc whose checkpoint is re-signed with a forger's key under the
    same station name, station.vkey swapped: only the pinned key tells."""
    real_key = burned_disc[1]
    origin, size, root = (disc / "checkpoint").read_text().split("\n")[:3]
    thief = Signer.generate(origin)
    (disc / "checkpoint").write_text(
        sign_checkpoint(Checkpoint(origin, int(size), base64.b64decode(root)), thief))
    (disc / "station.vkey").write_text(thief.verifier.encode() + "\n")
    before = tree_snapshot(disc)
    unpinned = run_disc_verifier(disc)
    assert unpinned.returncode == 0 and "KEY NOT PINNED" in unpinned.stdout  # the limit
    pinned = run_disc_verifier(disc, "--key", real_key)
    assert pinned.returncode == 1, pinned.stdout + pinned.stderr
    assert "FAIL station.vkey: 公钥不一致 key mismatch" in pinned.stdout
    assert real_key in pinned.stdout and thief.verifier.encode() in pinned.stdout
    assert "FAIL checkpoint: not signed by the pinned key" in pinned.stdout
    assert "NOT VERIFIED" in pinned.stdout and "Traceback" not in pinned.stderr
    assert tree_snapshot(disc) == before


@pytest.mark.slow
def test_disc_manifest_naming_another_checkpoint_fails(disc: Path) -> None:
    manifest = json.loads((disc / "manifest.json").read_text())
    manifest["checkpoint"]["size"] += 1
    (disc / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    before = tree_snapshot(disc)
    done = run_disc_verifier(disc)
    assert done.returncode == 1 and "FAIL manifest.json: names checkpoint" in done.stdout
    assert tree_snapshot(disc) == before


def _manifest(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        manifest = json.loads((root / "manifest.json").read_text())
        change(manifest)
        (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    return corrupt


def _proof(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        path = next((root / "proofs").iterdir())
        proof = json.loads(path.read_text())
        change(proof)
        path.write_text(json.dumps(proof, ensure_ascii=False))
    return corrupt


def _raw(name: str, data: bytes) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        (next((root / "proofs").iterdir()) if name == "PROOF" else root / name).write_bytes(data)
    return corrupt


def _set(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda value_of: value_of.__setitem__(key, value)


def _set_file(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda manifest: manifest["files"][0].__setitem__(key, value)


def _hash(index: int, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda proof: proof["hashes"].__setitem__(index, value)


def _no_proof(root: Path) -> None:
    next((root / "proofs").iterdir()).unlink()


DISC_MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest truncated": (_raw("manifest.json", b'{"files": ['), "manifest.json: not valid JSON"),
    "manifest a list": (_raw("manifest.json", b"[]"), "manifest.json is a list"),
    "manifest files a string": (_manifest(_set("files", "x")), "manifest.json: files is a string"),
    "manifest file a number": (_manifest(_set("files", [3])), "manifest.json: files[0] is a number"),
    "manifest path escapes": (_manifest(_set_file("path", "../../etc/passwd")),
                              "manifest.json: files[0]: path '../../etc/passwd' is not a file"),
    "manifest path absolute": (_manifest(_set_file("path", "/etc/passwd")),
                               "files[0]: path '/etc/passwd' is not a file under evidence/"),
    "manifest path null byte": (_manifest(_set_file("path", "evidence/a\x00b")),
                                "files[0]: path"),
    "manifest sha256 a number": (_manifest(_set_file("sha256", 7)),
                                 "files[0]: sha256 is a number, not a string"),
    "manifest sha256 not hex": (_manifest(_set_file("sha256", "xyz")),
                                "files[0]: sha256 is not a hex string"),
    "manifest clip_id a path": (_manifest(_set_file("clip_id", "../manifest")),
                                "files[0]: clip_id '../manifest' is not a clip id"),
    "manifest clip_id missing": (_manifest(lambda m: m["files"][0].pop("clip_id")),
                                 "files[0]: clip_id is missing"),
    "manifest checkpoint a string": (_manifest(_set("checkpoint", "3/ab")),
                                     "manifest.json: checkpoint is a string"),
    "manifest checkpoint size a string": (
        _manifest(lambda m: m["checkpoint"].__setitem__("size", "3")),
        "manifest.json: checkpoint: size is a string"),
    "proof missing": (_no_proof, "is missing from the disc"),
    "proof hash a number": (_proof(_hash(0, 5)), "hashes[0] is not a hex string (a number)"),
    "proof hash nested": (_proof(_hash(0, [["ab"]])), "hashes[0] is not a hex string (a list)"),
    "proof hashes null": (_proof(_set("hashes", None)), "hashes is null, not a list"),
    "proof seq null": (_proof(_set("seq", None)), "seq is null"),
    "proof seq a boolean": (_proof(_set("seq", False)), "seq is a boolean"),
    "proof event a number": (_proof(_set("event", 1)), "event is a number, not a string"),
    "proof event not JSON": (_proof(_set("event", "{nope")), "event: not valid JSON"),
    "proof event a list": (_proof(_set("event", "[]")), "event is a list"),
    "proof not JSON": (_raw("PROOF", b"\x00\x01"), "not valid JSON"),
    "proof NaN": (_raw("PROOF", b'{"seq": NaN}'), "not valid JSON (NaN"),
    "checkpoint size garbage": (_raw("checkpoint", b"o\nlots\nAAAA\n\n\xe2\x80\x94 o AAAAAAAA\n"),
                                "checkpoint: line 2 (tree size)"),
    "checkpoint not a note": (_raw("checkpoint", b"hello"), "checkpoint: malformed note"),
    "station.vkey garbage": (_raw("station.vkey", b"x+y+z"), "station.vkey: verifier key"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", DISC_MALFORMED, ids=list(DISC_MALFORMED))
def test_disc_malformed_input_exits_2_naming_file_and_place(case: str, disc: Path) -> None:
    corrupt, place = DISC_MALFORMED[case]
    corrupt(disc)
    before = tree_snapshot(disc)
    done = run_disc_verifier(disc)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "verify.py: 无法读取 cannot read: " in done.stderr and place in done.stderr, done.stderr
    assert "OK  " not in done.stdout  # refused before any file is called good
    assert tree_snapshot(disc) == before


@pytest.mark.slow
def test_disc_malformed_key_argument_exits_2(disc: Path) -> None:
    before = tree_snapshot(disc)
    done = run_disc_verifier(disc, "--key", "not-a-key")
    assert done.returncode == 2 and "cannot read: --key: verifier key" in done.stderr
    assert "Traceback" not in done.stderr and tree_snapshot(disc) == before


@pytest.mark.slow
def test_disc_carrying_cosignatures_requires_them(disc: Path) -> None:
    """Issue 18: a disc whose checkpoint carries witness cosignatures lists the witnesses in
    witness.vkeys, and its own verifier then requires them (or the --witness-key given)."""
    from hashing.cosignature import Cosigner, add_signature_lines
    from hashing.note import split_note

    witness = Cosigner.generate("ybj.dxh.wuhan.example/central/witness")
    note = (disc / "checkpoint").read_text()
    body, _ = split_note(note)
    cosigned = add_signature_lines(note, [witness.cosign(body, 1795000000)])
    (disc / "checkpoint").write_text(cosigned)
    (disc / "witness.vkeys").write_text(witness.verifier.encode() + "\n")
    done = run_disc_verifier(disc)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"witness: {witness.verifier.encode()} cosigned at 1795000000" in done.stdout
    other = Cosigner.generate("other.example/witness").verifier.encode()
    pinned_other = run_disc_verifier(disc, "--witness-key", other)
    assert pinned_other.returncode == 1 and "0 of the 1 required" in pinned_other.stdout
    (disc / "checkpoint").write_text(note)  # the cosignature stripped
    stripped = run_disc_verifier(disc)
    assert stripped.returncode == 1 and "0 of the 1 required" in stripped.stdout
    (disc / "witness.vkeys").write_text("garbage\n")
    assert run_disc_verifier(disc).returncode == 2


@pytest.mark.slow
def test_each_disc_clip_has_a_tlog_proof(disc: Path, burned_disc: tuple[Path, str]) -> None:
    """Issue 18: every clip on the disc has one self-contained C2SP tlog-proof file."""
    manifest = json.loads((disc / "manifest.json").read_text())
    for item in manifest["files"]:
        proof = disc / "proofs" / f"{item['clip_id']}.tlog-proof"
        done = subprocess.run([sys.executable, "-m", "hashing.verify", str(proof), "--key",
                               burned_disc[1], "--file", str(disc / item["path"])],
                              capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_latest_checkpoint_of_another_history_is_refused_before_burning(
        cli: Run, tmp_path: Path) -> None:
    """The disc's proofs are built on the latest checkpoint when it covers the clips; one
    that is not of this ledger is refused loudly before anything is written, never burned
    as the disc's checkpoint (its proofs would not verify against that root)."""
    image = tmp_path / "disc.iso"
    planted = plant_checkpoint_of_another_history(tmp_path / "data")
    def ledger() -> dict[bytes, str]:  # contents: the caches are rewritten, unchanged, at close
        return {path: content for path, (content, _, _) in
                tree_snapshot(tmp_path / "data" / "ledger").items()}

    ledger_before = ledger()
    code, _, err = cli("disc", "burn", "--case-number", "A-12", "--drive", f"stdio:{image}",
                         "--media", "cd", "--maker", "王五", "--extractor", "李四")
    said = " ".join(err.split())  # the console wraps long lines
    assert code == 1 and "integrity alarm" in said and "is not of this ledger" in said, err
    assert "Nothing was signed" in said and "evidence-station check" in said
    assert not image.exists()
    assert ledger() == ledger_before
    assert (tmp_path / "data" / "ledger" / "checkpoint").read_text() == planted
