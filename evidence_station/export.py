"""``ledger export``: write the bundle an auditor verifies (DESIGN.md, "Export bundle")."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from evidence_station.casework.service import record_own
from evidence_station.errors import ClipNotFoundError, EvidenceStationError
from evidence_station.identity import Actor
from evidence_station.station import Station
from retention.browser_verifier import write_browser_verifier


class ExportTargetError(EvidenceStationError):
    zh = "导出目录 {out} 已存在且非空；请指定新的目录"
    en = "export folder {out} exists and is not empty; choose a new folder"


@dataclass(frozen=True)
class ExportResult:
    out: Path
    events: int
    proofs: int
    files: int
    tree_size: int
    root: str


def export_bundle(station: Station, out: Path, clip_ids: list[str], *, actor: Actor) -> ExportResult:
    if out.exists() and any(out.iterdir()):
        raise ExportTargetError(out=out)
    clips = []
    for wanted in clip_ids:
        matches = station.catalog.footage.find_clip(wanted)
        if len(matches) != 1:
            raise ClipNotFoundError(clip=wanted)
        clips.append(matches[0])
    # The export itself is a change worth recording (invariant 3); then sign it all.
    record_own(station, actor, "ledger.export", {"out": str(out), "clip_ids": [c["id"] for c in clips]})
    checkpoint, note = station.issue_checkpoint()
    out.mkdir(parents=True, exist_ok=True)
    ledger = station.ledger
    with open(out / "events.jsonl", "wb") as handle:
        # exactly the events the checkpoint covers: a witness alarm recorded while the
        # witnesses were asked lands after it, and goes in the next bundle
        for seq, body in ledger.raw_events(0):
            if seq >= checkpoint.size:
                break
            handle.write(body + b"\n")
    # the witnesses' cosignatures, when they gave them (DESIGN.md, "Witnesses")
    (out / "checkpoint").write_text(station.best_note(checkpoint, note), encoding="utf-8")
    (out / "station.vkey").write_text(station.verifier.encode() + "\n", encoding="utf-8")
    write_browser_verifier(out)  # the same checks in a browser, for those without Python
    if clips:
        (out / "proofs").mkdir()
        (out / "files").mkdir()
    for clip in clips:
        seq = clip["ledger_seq"]
        proof = {
            "clip_id": clip["id"], "sha256": clip["sha256"], "seq": seq,
            "tree_size": checkpoint.size,
            "hashes": [h.hex() for h in ledger.inclusion_proof(seq, checkpoint.size)],
            "event": ledger.event(seq).data.decode("utf-8"),
        }
        (out / "proofs" / f"{clip['id']}.json").write_text(
            json.dumps(proof, ensure_ascii=False, indent=1), encoding="utf-8")
        target = out / "files" / clip["sha256"]
        shutil.copyfile(station.store.path_for(clip["sha256"]), target)
        os.chmod(target, 0o444)
    return ExportResult(out, checkpoint.size, len(clips), len(clips), checkpoint.size,
                        checkpoint.root.hex())
