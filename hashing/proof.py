"""One clip's self-contained, offline proof: C2SP tlog-proof (https://c2sp.org/tlog-proof).

    c2sp.org/tlog-proof@v1
    extra <base64 of the ledger event's canonical bytes>
    index <seq>
    <base64 inclusion proof hash>…
    <empty line>
    <the checkpoint, with the witnesses' cosignatures>

The spec leaves the leaf to the application ("Compute the leaf hash. This step is
application specific") and allows opaque ``extra`` data to rebuild it: here the extra
data is the event itself, so the leaf hash is ``SHA-256(0x00 ‖ extra)`` (RFC 6962) and the
file alone says which SHA-256 was ingested, when and from which camera. "Applications
MUST NOT implicitly trust the extra data": it is trusted only once its leaf hash is proven
included under a checkpoint signed by the pinned station key (and cosigned).

Files are named ``<something>.tlog-proof`` ("Proofs SHOULD be stored with file extension
`.tlog-proof`"). Only the standard library, ``cryptography`` and ``hashing/``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from hashing.checkpoint import CheckpointError, open_checkpoint, read_checkpoint
from hashing.cosignature import Cosigned, CosignerVerifier, verify_cosignatures
from hashing.merkle import HASH_SIZE, ProofError, leaf_hash, verify_inclusion
from hashing.note import Verifier

HEADER = "c2sp.org/tlog-proof@v1"
EXTENSION = ".tlog-proof"


class ProofFileMalformed(ValueError):
    """The file is not a tlog-proof (exit 2); the message names the line."""


@dataclass(frozen=True)
class ProofFile:
    index: int
    hashes: list[bytes]
    note: str
    extra: bytes | None


def encode_proof(index: int, hashes: list[bytes], note: str, extra: bytes | None) -> str:
    lines = [HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines += [base64.b64encode(h).decode() for h in hashes]
    return "\n".join(lines) + "\n\n" + note


def parse_proof(text: str) -> ProofFile:
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise ProofFileMalformed("no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise ProofFileMalformed(f"line 1 is not {HEADER!r}")
    position = 1
    extra = None
    if len(lines) > 1 and lines[1].startswith("extra "):
        try:
            extra = base64.b64decode(lines[1][6:], validate=True)
        except (binascii.Error, ValueError) as err:
            raise ProofFileMalformed("line 2 (extra) is not base64") from err
        position = 2
    if len(lines) <= position or not lines[position].startswith("index "):
        raise ProofFileMalformed(f"line {position + 1} is not 'index <n>'")
    number = lines[position][6:]
    if not (number.isascii() and number.isdigit()) or (number != "0" and number.startswith("0")):
        raise ProofFileMalformed(f"line {position + 1}: index {number[:30]!r} is not a decimal")
    hashes = []
    for line_number, line in enumerate(lines[position + 1:], start=position + 2):
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ProofFileMalformed(f"line {line_number} is not a base64 hash") from err
        if len(value) != HASH_SIZE:
            raise ProofFileMalformed(f"line {line_number} is not a {HASH_SIZE}-byte hash")
        hashes.append(value)
    return ProofFile(int(number), hashes, note, extra)


@dataclass
class ProofReport:
    origin: str = ""
    index: int = 0
    tree_size: int = 0
    event: dict[str, Any] | None = None
    witnesses: list[Cosigned] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_proof(text: str, *, key: Verifier, witnesses: list[CosignerVerifier],
                 min_witnesses: int, file_sha256: str | None = None) -> ProofReport:
    """The spec's four steps ("Verifying a tlog proof"): the leaf from the event in
    ``extra``; the checkpoint signed by ``key``; ``min_witnesses`` cosignatures by
    ``witnesses``; the inclusion proof. With ``file_sha256``, the event must be the ingest
    of exactly that content. Raises :class:`ProofFileMalformed` for unreadable input."""
    proof = parse_proof(text)
    try:
        checkpoint = read_checkpoint(proof.note)
    except CheckpointError as err:
        raise ProofFileMalformed(f"checkpoint: {err}") from err
    report = ProofReport(checkpoint.origin, proof.index, checkpoint.size)
    if proof.extra is None:
        raise ProofFileMalformed("no 'extra' line: the ledger event is needed for the leaf")
    try:
        event = json.loads(proof.extra)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProofFileMalformed(f"extra: the event is not JSON ({err})") from err
    if type(event) is not dict:
        raise ProofFileMalformed("extra: the event is not a JSON object")
    report.event = event
    try:
        open_checkpoint(proof.note, key)
    except CheckpointError as err:
        report.findings.append(f"checkpoint: {err}")
        return report
    good, problems = verify_cosignatures(proof.note, witnesses)
    report.witnesses = good
    report.findings += [f"checkpoint: {p}" for p in problems]
    if witnesses and len(good) < min_witnesses:
        report.findings.append(f"checkpoint: 证人联署不足 too few witness cosignatures: "
                               f"{len(good)} of the {min_witnesses} required")
    if event.get("seq") != proof.index:
        report.findings.append(f"the event is seq {event.get('seq')!r}, the proof's index is "
                               f"{proof.index}")
    try:
        verify_inclusion(index=proof.index, size=checkpoint.size, leaf=leaf_hash(proof.extra),
                         proof=proof.hashes, root=checkpoint.root)
    except ProofError as err:
        report.findings.append(f"inclusion proof fails: {err}")
    if file_sha256 is not None and (event.get("type") != "ingest"
                                    or event.get("sha256") != file_sha256):
        report.findings.append(f"the file's SHA-256 {file_sha256} is not the one this ingest "
                               f"event records ({event.get('sha256')!r})")
    return report
