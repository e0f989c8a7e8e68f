"""``ledger export``: write the bundle an auditor verifies (DESIGN.md, "Export bundle")."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from evidence_station.casework.service import record_own
from evidence_station.errors import EXIT_FINDING, ClipNotFoundError, EvidenceStationError
from evidence_station.identity import Actor
from evidence_station.station import Station
from hashing.durable import fsync_directory, make_directories_durably, write_file_durably
from hashing.stream import copy_and_hash
from retention.browser_verifier import write_browser_verifier


class ExportTargetError(EvidenceStationError):
    zh = "导出目录 {out} 已存在且非空；请指定新的目录"
    en = "export folder {out} exists and is not empty; choose a new folder"


class StoredFileChangedError(EvidenceStationError):
    exit_code = EXIT_FINDING
    zh = "存储的原始文件 {sha256} 与其哈希不再一致；请运行 `evidence-station check --verify-data`（未导出）"
    en = ("stored original {sha256} no longer matches its hash; run "
          "`evidence-station check --verify-data` (not exported)")


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
    # The export itself is a change worth recording (invariant 3), before the checkpoint
    # that signs the bundle (so the bundle holds it); its outcome is recorded after the
    # files are durable (DESIGN.md: an intent and an outcome around an act).
    record_own(station, actor, "ledger.export", {"out": str(out), "clip_ids": [c["id"] for c in clips]})
    checkpoint, note = station.issue_checkpoint()
    make_directories_durably(out)  # the bundle's name survives a cut, like its files
    ledger = station.ledger
    # exactly the events the checkpoint covers: a witness alarm recorded while the
    # witnesses were asked lands after it, and goes in the next bundle
    events = b"".join(body + b"\n" for seq, body in ledger.raw_events(0) if seq < checkpoint.size)
    write_file_durably(out / "events.jsonl", events)
    # the witnesses' cosignatures, when they gave them (DESIGN.md, "Witnesses")
    write_file_durably(out / "checkpoint", station.best_note(checkpoint, note).encode())
    write_file_durably(out / "station.vkey", (station.verifier.encode() + "\n").encode())
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
        write_file_durably(out / "proofs" / f"{clip['id']}.json",
                           json.dumps(proof, ensure_ascii=False, indent=1).encode())
        _copy_clip(station.store.path_for(clip["sha256"]), out / "files" / clip["sha256"],
                   clip["sha256"])
    for folder in (out / "proofs", out / "files", out):
        if folder.is_dir():
            fsync_directory(folder)
    record_own(station, actor, "ledger.export.done", {
        "out": str(out), "tree_size": checkpoint.size, "root": checkpoint.root.hex(),
        "events_sha256": hashlib.sha256(events).hexdigest(), "files": len(clips)})
    return ExportResult(out, checkpoint.size, len(clips), len(clips), checkpoint.size,
                        checkpoint.root.hex())


def _copy_clip(source: Path, target: Path, sha256: str) -> None:
    """Copy a stored original into the bundle, hashing what was written: a store file that
    no longer matches its name is never handed to an auditor as if it did."""
    with source.open("rb") as reader, target.open("xb") as writer:
        digest = copy_and_hash(reader.fileno(), writer.fileno())
        os.fchmod(writer.fileno(), 0o444)
        os.fsync(writer.fileno())
    if digest.sha256 != sha256:
        target.unlink()
        raise StoredFileChangedError(sha256=sha256)
