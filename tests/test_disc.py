"""Disc burn-out to a `stdio:` file drive (the same xorriso path as a real burner), read
back and verified; a corrupted image caught; the on-disc verifier run in a virtualenv
with only `cryptography`; the written note's PDF rendered to PNG and looked at."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.cli import main
from evidence_station.demo import make_demo_camera
from retention.disc import MEDIA, RESERVED, DiscError, DiscFile, plan_discs, volume_id

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

    # what an auditor does: extract, and run the disc's verify.py with only cryptography
    root = tmp_path / "extracted"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", f"stdio:{image}", "-extract", "/",
                    str(root)], check=True, capture_output=True)
    assert sorted(p.name for p in root.iterdir()) == [
        "README.txt", "checkpoint", "evidence", "hashing", "manifest.json", "note.html", "note.pdf",
        "proofs", "station.vkey", "verify.py"]
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
