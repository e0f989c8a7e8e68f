"""Disc burn-out for a case (R7): the evidence clips, a written note (HTML and PDF), a
SHA-256 manifest, the signed checkpoint with an inclusion proof per clip and the
standalone verifier — so the disc verifies itself on any machine with Python and
`cryptography`. Every burn and every read-back verification is a ledger event."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

import hashing
from evidence_station.identity import Actor
from evidence_station.pdf import html_to_pdf
from evidence_station.station import Station
from hashing.durable import write_file_durably
from hashing.ledger import Draft
from hashing.proof import EXTENSION as PROOF_EXTENSION
from hashing.proof import encode_proof
from hashing.stream import copy_and_hash
from retention.browser_verifier import page_sha256, write_browser_verifier
from retention.disc import DiscError, DiscFile, DiscPlan, burn, check_md5, extract, plan_discs, volume_id

_TEMPLATES = Environment(loader=PackageLoader("evidence_station", "templates"),
                         autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class EvidenceClip:
    clip: dict[str, Any]
    designation: dict[str, Any]
    label: dict[str, Any]


def case_evidence(station: Station, case_number: str) -> list[EvidenceClip]:
    """The clips designated as evidence (R7) in ``case_number``, still stored."""
    result = []
    for clip_id in station.catalog.casework.case_evidence_ids(case_number):
        clip = station.catalog.footage.find_clip(clip_id)[0]
        designation = station.catalog.casework.evidence_of(clip_id)
        label = station.catalog.casework.label_of(clip_id)
        assert designation is not None and label is not None
        result.append(EvidenceClip(clip, designation, label))
    if not result:
        raise DiscError(f"case {case_number!r} has no clips designated as evidence; label them "
                        "with the case number and designate them first (`evidence`)")
    return result


def plan_case(station: Station, case_number: str, medium: str) -> tuple[list[EvidenceClip], list[DiscPlan]]:
    clips = case_evidence(station, case_number)
    return clips, plan_discs([DiscFile(c.clip["id"], c.clip["size"]) for c in clips], medium)


def _stage(station: Station, case_number: str, plan: DiscPlan, total: int,
           clips: dict[str, EvidenceClip], staging: Path, *, maker: str, extractor: str) -> dict[str, Any]:
    # The disc's proofs are built on this checkpoint: it must cover every clip's ingest
    # and be of this ledger (a reused one is checked; otherwise a new one is signed).
    newest = max(clips[f.key].clip["ledger_seq"] for f in plan.files)
    checkpoint, note = station.checkpoint_covering(newest + 1)
    note = station.best_note(checkpoint, note)  # with the witnesses' cosignatures
    zone = ZoneInfo(station.config.station.timezone)
    extracted_at = station.clock.now().astimezone(zone).replace(microsecond=0).isoformat()
    (staging / "evidence").mkdir(parents=True)
    (staging / "proofs").mkdir()
    files = []
    for item in plan.files:
        entry = clips[item.key]
        clip = entry.clip
        name = f"evidence/{clip['id']}{Path(clip['source_path']).suffix.lower()}"
        source = station.store.path_for(clip["sha256"])
        with source.open("rb") as reader, (staging / name).open("wb") as writer:
            digest = copy_and_hash(reader.fileno(), writer.fileno())
        if digest.sha256 != clip["sha256"]:
            raise DiscError(f"stored clip {clip['id']} no longer matches its hash; run "
                            "`evidence-station check --verify-data` — nothing was burned")
        proof = {"seq": clip["ledger_seq"], "tree_size": checkpoint.size,
                 "hashes": [h.hex() for h in station.ledger.inclusion_proof(clip["ledger_seq"],
                                                                             checkpoint.size)],
                 "event": station.ledger.event(clip["ledger_seq"]).data.decode("utf-8")}
        write_file_durably(staging / "proofs" / f"{clip['id']}.json",
                           json.dumps(proof, ensure_ascii=False, indent=1).encode())
        write_file_durably(staging / "proofs" / f"{clip['id']}{PROOF_EXTENSION}", encode_proof(
            clip["ledger_seq"], station.ledger.inclusion_proof(clip["ledger_seq"], checkpoint.size),
            note, station.ledger.event(clip["ledger_seq"]).data).encode())
        files.append({"path": name, "clip_id": clip["id"], "sha256": clip["sha256"],
                      "size": clip["size"], "source_path": clip["source_path"],
                      "device_id": clip["device_id"], "officer_id": clip["officer_id"],
                      "recorded_at": clip["recorded_at"], "collector": entry.designation["collector"],
                      "collected_at": entry.designation["collected_at"],
                      "location": entry.designation["location"],
                      "fact_to_prove": entry.designation["fact_to_prove"],
                      "transcript": entry.designation.get("transcript")})
    manifest = {"station": station.name, "case_number": case_number, "disc": plan.number,
                "discs": total, "volume_id": volume_id(case_number, plan.number, total),
                "disc_maker": maker, "extractor": extractor, "extracted_at": extracted_at,
                "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex()},
                "files": files}
    write_file_durably(staging / "manifest.json",
                       json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    write_file_durably(staging / "checkpoint", note.encode())
    write_file_durably(staging / "station.vkey", station.layout.verifier_key.read_bytes())
    cosigned_by = _cosigned_by(station, note)
    if cosigned_by:  # the on-disc verifier then requires their cosignatures
        write_file_durably(staging / "witness.vkeys", "".join(k + "\n" for k in cosigned_by).encode())
    html = _TEMPLATES.get_template("disc_note.html").render(
        m=manifest, checkpoint=note, vkey=station.layout.verifier_key.read_text().strip(),
        page_sha256=page_sha256())
    write_file_durably(staging / "note.html", html.encode())
    html_to_pdf(staging / "note.html", staging / "note.pdf")
    _copy_verifier(staging)
    write_file_durably(staging / "README.txt", (
        f"Evidence disc {plan.number}/{total} of case {case_number} from station {station.name}.\n"
        "Verify with only a web browser: open verify.html, choose this disc's folder, and\n"
        "compare the station key it shows with the one printed on the paper note. Or, on any\n"
        "machine with Python 3.11+ and `pip install cryptography`, pinning the printed key:\n"
        "    python3 verify.py . --key KEY\n"
        f"本光盘为案件 {case_number} 的证据光盘（第 {plan.number}/{total} 张）。"
        "用浏览器打开 verify.html，选择本光盘文件夹即可校验，并将页面显示的站点公钥与纸质说明上"
        "印的公钥比对；或（公钥以纸质说明上印的为准）：python3 verify.py . --key 公钥\n"
    ).encode())
    return manifest


def _cosigned_by(station: Station, note: str) -> list[str]:
    """The configured witnesses whose valid cosignature ``note`` carries."""
    from hashing.cosignature import CosignerVerifier, verify_cosignatures

    keys = [CosignerVerifier.parse(k) for k in station.config.witness.keys]
    good, _ = verify_cosignatures(note, keys)
    return [g.witness for g in good]


def _copy_verifier(staging: Path) -> None:
    # verify.html for those with only a browser (a court's Windows PC), verify.py for auditors
    write_browser_verifier(staging)
    shutil.copyfile(Path(str(resources.files("retention").joinpath("disc_verify.py"))),
                    staging / "verify.py")
    package = Path(hashing.__file__).parent
    (staging / "hashing").mkdir()
    for source in sorted(package.glob("*.py")):
        shutil.copyfile(source, staging / "hashing" / source.name)


def label_text(manifest: dict[str, Any]) -> str:
    """What is written on the disc itself (光盘标签)."""
    return (f"案号 {manifest['case_number']} · 光盘 {manifest['disc']}/{manifest['discs']}\n"
            f"制作人 {manifest['disc_maker']} · 提取人 {manifest['extractor']} · "
            f"提取时间 {manifest['extracted_at']}\n"
            f"{len(manifest['files'])} 个文件 · 卷标 {manifest['volume_id']} · 检查点 "
            f"{manifest['checkpoint']['size']}/{manifest['checkpoint']['root'][:16]}")


def burn_case(station: Station, case_number: str, drive: str, *, medium: str, maker: str,
              extractor: str, actor: Actor, only: int | None = None) -> list[dict[str, Any]]:
    """Stage, burn, read back and verify each disc of the case; record each as a ledger
    event by the authenticated ``actor``, with its provenance like every other change."""
    clips, plans = plan_case(station, case_number, medium)
    by_id = {entry.clip["id"]: entry for entry in clips}
    results = []
    for plan in plans:
        if only is not None and plan.number != only:
            continue
        if len(plans) > 1 and only is None:
            raise DiscError(f"case {case_number} needs {len(plans)} {medium} discs; burn them one "
                            "at a time with --disc N (each needs its own blank disc)")
        with tempfile.TemporaryDirectory(prefix="disc-") as work:
            staging = Path(work) / "disc"
            manifest = _stage(station, case_number, plan, len(plans), by_id, staging,
                              maker=maker, extractor=extractor)
            manifest_sha = hashlib.sha256((staging / "manifest.json").read_bytes()).hexdigest()
            burn(staging, drive, manifest["volume_id"])
            report = verify_disc(drive, Path(work) / "readback",
                                 station.layout.verifier_key.read_text().strip())
        event = station.record(Draft("disc.burn", actor.account, {
            "case_number": case_number, "disc": plan.number, "discs": len(plans), "drive": drive,
            "medium": medium, "volume_id": manifest["volume_id"], "manifest_sha256": manifest_sha,
            "clip_ids": [f["clip_id"] for f in manifest["files"]], "disc_maker": maker,
            "extractor": extractor, "extracted_at": manifest["extracted_at"],
            "checkpoint_size": manifest["checkpoint"]["size"], "verified": report["verified"],
            "auth": actor.provenance()}))
        results.append({**manifest, "seq": event.seq, "label": label_text(manifest),
                        "verification": report})
    return results


def verify_disc(drive: str, readback: Path, key: str | None = None) -> dict[str, Any]:
    """Read the whole disc back: xorriso's MD5 check of the session, then every file's
    SHA-256 with the disc's own verifier in a separate Python (as an auditor would),
    pinned to ``key`` (the station's verifier key) so a disc signed by another key fails."""
    problems = []
    try:
        check_md5(drive)
    except DiscError as err:
        problems.append(str(err))
    try:
        extract(drive, readback)
    except DiscError as err:
        return {"verified": False, "problems": [*problems, str(err)], "output": ""}
    pin = ["--key", key] if key else []
    result = subprocess.run([sys.executable, "-I", str(readback / "verify.py"), str(readback), *pin],
                            capture_output=True, text=True, timeout=6 * 3600, check=False)
    if result.returncode != 0:
        problems.append("the disc's verifier failed:\n" + (result.stdout + result.stderr)[-2000:])
    manifest = json.loads((readback / "manifest.json").read_text(encoding="utf-8"))
    return {"verified": not problems, "problems": problems, "output": result.stdout,
            "manifest": manifest}
