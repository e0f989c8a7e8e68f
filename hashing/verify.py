"""The auditor's offline verifier: ``evidence-station-verify BUNDLE``.

Imports only the standard library, ``cryptography`` and this package, so an auditor can
run it in a bare virtualenv (or from a disc) against an export bundle (DESIGN.md,
"Export bundle"). What it proves, when it prints OK:

* every event in ``events.jsonl`` is canonical JSON with ``seq`` 0, 1, 2, … and each
  ``prev`` is the SHA-256 of the previous event's bytes (nothing changed, dropped,
  reordered or inserted without breaking the chain);
* the RFC 6962 root over those events equals the root in ``checkpoint``, whose size is
  the number of events, and the checkpoint is signed by the key in ``station.vkey``;
* each proof in ``proofs/`` shows its event in that tree (RFC 9162 §2.1.3);
* each file in ``files/`` hashes to its name and is the ``sha256`` of an ingest event;
* with ``--consistency OLD``: the first OLD-size events give OLD's root, so the history
  an older checkpoint committed to was not rewritten.

What it cannot prove: that ``station.vkey`` is the station's real key — compare it with
the key printed on reports and discs, or pin it with ``--key``.

Exit codes (a promise to auditors): 0 verified, 1 a check failed, 2 the bundle or the
arguments could not be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashing.canonical import NotCanonicalError, parse_canonical
from hashing.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from hashing.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    ProofError,
    node_hash,
    verify_inclusion,
)
from hashing.note import NoteError, Verifier

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
ZERO_HASH = "0" * 64


class BundleUnreadable(Exception):
    """The bundle is missing a part or a part cannot be parsed at all."""


@dataclass
class Finding:
    reason: str
    seq: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.file is not None:
            where.append(self.file)
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass
class Report:
    tree_size: int = 0
    root: bytes = EMPTY_ROOT
    events: int = 0
    proofs_checked: int = 0
    files_checked: int = 0
    consistency_checked: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise BundleUnreadable(f"{path.name} is missing from the bundle") from err
    except (OSError, UnicodeDecodeError) as err:
        raise BundleUnreadable(f"{path.name} cannot be read: {err}") from err


class _CompactRange:
    """Streaming RFC 6962 root: one hash per set bit of the size."""

    __slots__ = ("size", "stack")

    def __init__(self) -> None:
        self.stack: list[bytes] = []
        self.size = 0

    def push(self, leaf: bytes) -> None:
        stack = self.stack
        node = leaf
        size = self.size
        while size & 1:
            node = node_hash(stack.pop(), node)
            size >>= 1
        stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        root = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


@dataclass
class EventScan:
    """What one pass over an ``events.jsonl`` stream found."""

    count: int = 0
    root: bytes = EMPTY_ROOT
    findings: list[Finding] = field(default_factory=list)
    leaves: dict[int, bytes] = field(default_factory=dict)
    lines: dict[int, bytes] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)
    ingested: dict[str, int] = field(default_factory=dict)  # sha256 -> size


def scan_events(
    handle: Iterable[bytes], *, capture: set[int] | frozenset[int] = frozenset(),
    root_at: set[int] | frozenset[int] = frozenset(),
) -> EventScan:
    """Check chain, seq and canonical form of every event; compute the Merkle root.

    Stops at the first broken event (everything after it is unanchored). ``capture``
    keeps the leaf hash and bytes of chosen seqs; ``root_at`` keeps roots at sizes.
    """
    scan = EventScan()
    tree = _CompactRange()
    prev = ZERO_HASH
    sha256 = hashlib.sha256
    seq = 0
    if 0 in root_at:
        scan.roots[0] = EMPTY_ROOT
    for line in handle:
        if not line.endswith(b"\n"):
            scan.findings.append(Finding("last event is incomplete (truncated ledger)", seq=seq))
            break
        body = line[:-1]
        try:
            value = parse_canonical(body)
        except NotCanonicalError as err:
            scan.findings.append(Finding(f"event is not canonical JSON: {err}", seq=seq))
            break
        except ValueError as err:
            scan.findings.append(Finding(f"not valid JSON ({err})", seq=seq))
            break
        if type(value) is not dict:
            scan.findings.append(Finding("not a JSON object", seq=seq))
            break
        if value.get("seq") != seq:
            scan.findings.append(Finding(
                f"event carries seq {value.get('seq')!r}: an event was dropped, inserted or "
                "reordered", seq=seq))
            break
        if value.get("prev") != prev:
            scan.findings.append(Finding(
                "prev is not the SHA-256 of the previous event: the previous event was "
                "changed, or this one was moved", seq=seq))
            break
        leaf = sha256(LEAF_PREFIX + body).digest()
        if seq in capture:
            scan.leaves[seq] = leaf
            scan.lines[seq] = body
        tree.push(leaf)
        if value.get("type") == "ingest" and isinstance(value.get("sha256"), str):
            scan.ingested[value["sha256"]] = value.get("size", -1)
        elif value.get("type") == "deletion" and isinstance(value.get("sha256"), str):
            # an approved deletion after retention: the hash stays, the file may be gone
            scan.ingested.pop(value["sha256"], None)
        prev = sha256(body).hexdigest()
        seq += 1
        if seq in root_at:
            scan.roots[seq] = tree.root()
    scan.count = seq
    scan.root = tree.root()
    return scan


def _load_proofs(bundle: Path, report: Report) -> list[tuple[str, dict[str, Any]]]:
    proofs_dir = bundle / "proofs"
    proofs: list[tuple[str, dict[str, Any]]] = []
    if not proofs_dir.is_dir():
        return proofs
    for path in sorted(proofs_dir.iterdir()):
        name = f"proofs/{path.name}"
        try:
            value = json.loads(path.read_bytes())
            if not (
                isinstance(value, dict)
                and isinstance(value.get("seq"), int)
                and isinstance(value.get("tree_size"), int)
                and isinstance(value.get("hashes"), list)
            ):
                raise ValueError("needs integer seq, integer tree_size and a hashes list")
            value["hashes"] = [bytes.fromhex(item) for item in value["hashes"]]
        except (OSError, ValueError) as err:
            report.findings.append(Finding(f"malformed proof: {err}", file=name))
            continue
        proofs.append((name, value))
    return proofs


def verify_bundle(
    bundle: Path, *, older_checkpoint: str | None = None, pinned_key: str | None = None
) -> Report:
    """Check everything in ``bundle``; findings name the seq or file and the reason."""
    report = Report()
    vkey_text = pinned_key or _read_text(bundle / "station.vkey").strip()
    try:
        verifier = Verifier.parse(vkey_text)
    except NoteError as err:
        raise BundleUnreadable(f"station.vkey: {err}") from err
    if pinned_key is not None:
        bundled = (bundle / "station.vkey")
        if bundled.exists() and bundled.read_text(encoding="utf-8").strip() != pinned_key.strip():
            report.findings.append(
                Finding("differs from the key you pinned with --key", file="station.vkey")
            )
    try:
        checkpoint = open_checkpoint(_read_text(bundle / "checkpoint"), verifier)
    except CheckpointError as err:
        report.findings.append(Finding(str(err), file="checkpoint"))
        return report
    report.tree_size, report.root = checkpoint.size, checkpoint.root

    old: Checkpoint | None = None
    if older_checkpoint is not None:
        try:
            old = open_checkpoint(older_checkpoint, verifier, origin=checkpoint.origin)
        except CheckpointError as err:
            report.findings.append(Finding(f"older checkpoint: {err}", file="--consistency"))
            return report
    proofs = _load_proofs(bundle, report)
    wanted_leaves = {proof["seq"] for _, proof in proofs}
    events_path = bundle / "events.jsonl"
    if not events_path.exists():
        raise BundleUnreadable("events.jsonl is missing from the bundle")
    with open(events_path, "rb") as handle:
        scan = scan_events(
            handle,
            capture=wanted_leaves,
            root_at={old.size} if old is not None else set(),
        )
    report.findings.extend(scan.findings)
    seq = scan.count
    captured_leaves, captured_lines, ingested = scan.leaves, scan.lines, scan.ingested
    old_root = scan.roots.get(old.size) if old is not None else None
    root = scan.root
    report.events = seq
    if report.findings:
        return report

    if seq != checkpoint.size:
        report.findings.append(
            Finding(
                f"bundle has {seq} events but the checkpoint covers {checkpoint.size}: "
                + ("events are missing (truncated)" if seq < checkpoint.size
                   else "events after the checkpoint are not covered by any signature"),
                file="events.jsonl",
            )
        )
        return report
    if root != checkpoint.root:
        report.findings.append(
            Finding(
                f"Merkle root of the events {root.hex()} differs from the signed checkpoint "
                f"root {checkpoint.root.hex()}",
                file="checkpoint",
            )
        )
        return report

    if old is not None:
        if old.size > seq:
            report.findings.append(
                Finding(
                    f"older checkpoint has size {old.size}, larger than this bundle ({seq}): "
                    "the log was rolled back",
                    file="--consistency",
                )
            )
        elif old_root != old.root:
            report.findings.append(
                Finding(
                    f"the first {old.size} events do not give the older checkpoint's root: "
                    "history that was already signed has been rewritten",
                    file="--consistency",
                )
            )
        else:
            report.consistency_checked = old.size

    for name, proof in proofs:
        proof_seq, proof_size = proof["seq"], proof["tree_size"]
        if proof_size != checkpoint.size:
            report.findings.append(
                Finding(
                    f"proof is for tree size {proof_size}, the checkpoint is {checkpoint.size}",
                    seq=proof_seq,
                    file=name,
                )
            )
            continue
        if proof_seq not in captured_leaves:
            report.findings.append(Finding("no such event in the ledger", seq=proof_seq, file=name))
            continue
        event_text = proof.get("event")
        if event_text is not None and event_text.encode("utf-8") != captured_lines[proof_seq]:
            report.findings.append(
                Finding("event in the proof differs from the ledger", seq=proof_seq, file=name)
            )
            continue
        try:
            verify_inclusion(
                index=proof_seq,
                size=proof_size,
                leaf=captured_leaves[proof_seq],
                proof=proof["hashes"],
                root=checkpoint.root,
            )
        except ProofError as err:
            report.findings.append(
                Finding(f"inclusion proof fails: {err}", seq=proof_seq, file=name)
            )
            continue
        report.proofs_checked += 1

    files_dir = bundle / "files"
    if files_dir.is_dir():
        for path in sorted(files_dir.iterdir()):
            name = f"files/{path.name}"
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(8 << 20):
                    digest.update(chunk)
            actual = digest.hexdigest()
            if actual != path.name:
                report.findings.append(
                    Finding(f"content hashes to {actual}: the file was replaced or damaged",
                            file=name)
                )
            elif actual not in ingested:
                report.findings.append(Finding("no ingest event records this file", file=name))
            else:
                report.files_checked += 1
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="evidence-station-verify",
        description=(
            "Verify an evidence-station export bundle offline: hash chain, Merkle root, "
            "signed checkpoint, inclusion proofs and files. 校验导出包：哈希链、Merkle 根、"
            "签名检查点、包含证明与文件。"
        ),
        epilog="Exit status: 0 verified, 1 a check failed, 2 the bundle could not be read.",
    )
    parser.add_argument("bundle", type=Path, help="export bundle directory")
    parser.add_argument(
        "--consistency",
        metavar="OLD_CHECKPOINT",
        type=Path,
        help="an older signed checkpoint that this bundle's history must extend",
    )
    parser.add_argument(
        "--key", metavar="VKEY", help="verifier key to trust instead of the bundle's station.vkey"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        older = args.consistency.read_text(encoding="utf-8") if args.consistency else None
        if not args.bundle.is_dir():
            raise BundleUnreadable(f"{args.bundle} is not a directory")
        report = verify_bundle(args.bundle, older_checkpoint=older, pinned_key=args.key)
    except (BundleUnreadable, OSError) as err:
        print(f"evidence-station-verify: cannot read bundle: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "tree_size": report.tree_size,
                    "root": report.root.hex(),
                    "events": report.events,
                    "proofs_checked": report.proofs_checked,
                    "files_checked": report.files_checked,
                    "consistency_checked": report.consistency_checked,
                    "findings": [
                        {"seq": f.seq, "file": f.file, "reason": f.reason}
                        for f in report.findings
                    ],
                },
                ensure_ascii=False,
            )
        )
    else:
        print(f"tree size: {report.tree_size}")
        print(f"root:      {report.root.hex()} ({base64.b64encode(report.root).decode()})")
        if report.ok:
            extra = (f", consistent with checkpoint at size {report.consistency_checked}"
                     if report.consistency_checked is not None else "")
            print(
                f"OK 校验通过: {report.events} events, {report.proofs_checked} proofs, "
                f"{report.files_checked} files{extra}"
            )
        else:
            print(f"FAILED 校验失败: {report.findings[0]}")
            for finding in report.findings[1:]:
                print(f"  also: {finding}")
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
