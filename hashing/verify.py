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

* with ``--witness-key VKEY`` (repeatable): the checkpoint carries a valid C2SP
  tlog-cosignature from at least ``--min-witnesses`` (default: all) of those witnesses,
  each of which cosigns only a checkpoint that extends the one it saw before — so the
  station did not rebuild or fork its history after the witnesses saw it;

* the key in ``station.vkey`` (and ``--key``, when given) is the verifier key that event
  0, ``station.init``, recorded when the station was set up: a history re-signed with a
  new key under the same station name, and ``station.vkey`` swapped for it, is a finding.

What it cannot prove without ``--key``: that the bundle's key is the station's real key.
Whoever rewrites the whole history from event 0 on can put the new key in
``station.init`` too, so the comparison above only catches a careless forger. Hence the
loud "KEY NOT PINNED / 未固定公钥" line: pin the key printed on reports and discs with
``--key``.

Exit codes (a promise to auditors): 0 verified, 1 a check failed, 2 the bundle or the
arguments could not be read. Everything read from a bundle outside ``events.jsonl`` is
type-checked: a wrong type, bad JSON, base64 or hex exits 2 naming the file and the place
(``proofs/X.json: hashes[3] is not …``), never a traceback. A damaged *event* is a finding
(exit 1, with its seq): breaking the chain is what the chain check is there to catch.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashing.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointMalformedError,
    open_checkpoint,
    read_checkpoint,
)
from hashing.cosignature import Cosigned, CosignerVerifier, verify_cosignatures
from hashing.event_scan import EventScan, Finding
from hashing.fields import MalformedInput, hash_list, kind, natural, parse_json, shown
from hashing.merkle import EMPTY_ROOT, ProofError, verify_inclusion
from hashing.note import NoteError, Verifier

if TYPE_CHECKING:
    from hashing.parallel import EventsScan

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2

KEY_NOT_PINNED = (
    "未固定公钥 KEY NOT PINNED: 签名只用导出包自带的 station.vkey 核对（并与 station.init "
    "记录的公钥比对）；从第 0 条事件起重写全部历史的人可以把两处一起换掉。请用 --key 固定"
    "报告或光盘上印的公钥。 The signature was checked only against the bundle's own "
    "station.vkey (compared with the key station.init recorded); whoever rewrites the whole "
    "history from event 0 can replace both. Pin the key printed on reports and discs with "
    "--key."
)


class BundleUnreadable(MalformedInput):
    """The bundle is missing a part or a part cannot be parsed at all (exit 2).

    The message starts with the file and the place in it, so an auditor can see what is
    wrong without a traceback: ``proofs/X.json: hashes[3] is not a hex string``."""


@dataclass
class Report:
    tree_size: int = 0
    root: bytes = EMPTY_ROOT
    events: int = 0
    proofs_checked: int = 0
    files_checked: int = 0
    consistency_checked: int | None = None
    key: str = ""  # the verifier key the checkpoint was checked against
    key_pinned: bool = False  # True only when the auditor gave --key
    recorded_key: str | None = None  # what station.init (seq 0) recorded
    witnesses: list[Cosigned] = field(default_factory=list)  # valid cosignatures found
    min_witnesses: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _read_text(path: Path, name: str | None = None) -> str:
    name = name or path.name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        where = "" if name.startswith("--") else " from the bundle"  # an argument's file
        raise BundleUnreadable(f"{name} is missing{where}") from err
    except UnicodeDecodeError as err:
        raise BundleUnreadable(f"{name}: byte {err.start} is not UTF-8") from err
    except OSError as err:
        raise BundleUnreadable(f"{name} cannot be read: {err.strerror or err}") from err


def _parse_key(text: str, name: str) -> Verifier:
    """A verifier key line, or exit 2 naming where it came from (file or ``--key``)."""
    try:
        return Verifier.parse(text)
    except NoteError as err:
        raise BundleUnreadable(f"{name}: {err}") from err


def _read_checkpoint_shape(text: str, name: str) -> None:
    """Refuse a checkpoint that cannot even be parsed (exit 2) before any signature is
    judged: a garbled size line is unreadable input, not a forged signature."""
    try:
        read_checkpoint(text)
    except CheckpointMalformedError as err:
        raise BundleUnreadable(f"{name}: {err}") from err




def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True






def _load_json(path: Path, name: str) -> Any:
    """Parse a JSON file from the bundle; every way it can fail exits 2 with its name."""
    if not path.is_file():
        raise BundleUnreadable(f"{name}: not a regular file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BundleUnreadable(f"{name} cannot be read: {err.strerror or err}") from err
    return parse_json(data, name)






def _load_proofs(bundle: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every proof in ``proofs/``, type-checked: a malformed one exits 2 with its place."""
    proofs_dir = bundle / "proofs"
    proofs: list[tuple[str, dict[str, Any]]] = []
    if not proofs_dir.is_dir():
        return proofs
    for path in sorted(proofs_dir.iterdir()):
        name = f"proofs/{shown(path.name)}"
        value = _load_json(path, name)
        if type(value) is not dict:
            raise BundleUnreadable(f"{name}: the proof is {kind(value)}, not a JSON object")
        event = value.get("event")
        if event is not None and type(event) is not str:
            raise BundleUnreadable(f"{name}: event is {kind(event)}, not a string")
        if event is not None and not _is_unicode(event):
            raise BundleUnreadable(f"{name}: event holds a lone surrogate (\\ud800…), not text")
        proofs.append((name, {
            "seq": natural(value, "seq", name),
            "tree_size": natural(value, "tree_size", name),
            "hashes": hash_list(value, "hashes", name),
            "event": event,
        }))
    return proofs


def _recorded_key(scan: EventScan) -> tuple[Verifier | None, Finding | None]:
    """The verifier key event 0 (``station.init``) recorded, or why there is none.

    Event 0 is covered by the hash chain and the signed root, so it is the bundle's own
    word on the key the station was born with."""
    line = scan.lines.get(0)
    if line is None:
        return None, (Finding("events.jsonl has no event 0 (station.init): the station's key "
                              "cannot be checked", file="events.jsonl")
                      if not scan.findings else None)
    event = json.loads(line)
    recorded = event.get("verifier_key")
    if event.get("type") != "station.init" or type(recorded) is not str:
        return None, Finding("event 0 is not a station.init recording verifier_key: the "
                             "station's key cannot be checked", seq=0)
    try:
        return Verifier.parse(recorded), None
    except NoteError as err:
        return None, Finding(f"station.init's verifier_key cannot be read: {err}", seq=0)


def parse_witness_keys(keys: list[str], min_witnesses: int | None) -> tuple[list[CosignerVerifier], int]:
    """The ``--witness-key`` lines and the quorum; exit 2 naming the bad argument."""
    witnesses = []
    for number, key in enumerate(keys, start=1):
        try:
            witnesses.append(CosignerVerifier.parse(key))
        except NoteError as err:
            raise BundleUnreadable(f"--witness-key #{number}: {err}") from err
    wanted = len(witnesses) if min_witnesses is None else min_witnesses
    if min_witnesses is not None and not witnesses:
        raise BundleUnreadable("--min-witnesses needs the witnesses' keys (--witness-key)")
    if not 0 < wanted <= len(witnesses) and witnesses:
        raise BundleUnreadable(f"--min-witnesses {wanted}: give 1 … {len(witnesses)} "
                               f"(the number of --witness-key given)")
    return witnesses, wanted


def check_cosignatures(note: str, witnesses: list[CosignerVerifier], wanted: int,
                       report: Report, name: str = "checkpoint") -> None:
    """Require ``wanted`` valid cosignatures by ``witnesses`` on ``note`` (C2SP
    tlog-cosignature); a known witness's line that does not verify is a finding too."""
    if not witnesses:
        return
    good, problems = verify_cosignatures(note, witnesses)
    report.witnesses, report.min_witnesses = good, wanted
    for problem in problems:
        report.findings.append(Finding(problem, file=name))
    if len(good) < wanted:
        report.findings.append(Finding(
            f"证人联署不足 too few witness cosignatures: {len(good)} of the {wanted} required "
            f"(by {', '.join(w.name for w in witnesses)}); a checkpoint no witness cosigned may "
            "come from a rewritten or forked history", file=name))


def verify_bundle(
    bundle: Path, *, older_checkpoint: str | None = None, pinned_key: str | None = None,
    older_name: str = "--consistency", witness_keys: list[str] | None = None,
    min_witnesses: int | None = None,
) -> Report:
    """Check everything in ``bundle``; findings name the seq or file and the reason.

    Raises :class:`BundleUnreadable` (exit 2) for input that cannot be parsed;
    ``older_name`` says where ``older_checkpoint`` came from, for that message."""
    report = Report()
    witnesses, wanted = parse_witness_keys(witness_keys or [], min_witnesses)
    bundled = _parse_key(_read_text(bundle / "station.vkey").strip(), "station.vkey")
    pinned = _parse_key(pinned_key, "--key") if pinned_key is not None else None
    verifier = pinned or bundled  # the key the checkpoints must be signed by
    report.key, report.key_pinned = verifier.encode(), pinned is not None
    note = _read_text(bundle / "checkpoint")
    _read_checkpoint_shape(note, "checkpoint")
    if older_checkpoint is not None:
        _read_checkpoint_shape(older_checkpoint, older_name)
    proofs = _load_proofs(bundle)
    files_dir = bundle / "files"
    files = sorted(files_dir.iterdir()) if files_dir.is_dir() else []
    for path in files:
        if not path.is_file():
            raise BundleUnreadable(f"files/{shown(path.name)}: not a regular file")

    events_path = bundle / "events.jsonl"
    if not events_path.exists():
        raise BundleUnreadable("events.jsonl is missing from the bundle")
    if not events_path.is_file():
        raise BundleUnreadable("events.jsonl: not a regular file")
    # The events are scanned by one process per usable CPU (hashing.parallel), started
    # first, before this process has a second thread to copy; the files are hashed on a
    # thread while this process scans the first range: hashlib and file reads release
    # the GIL (issue 16: verify <= 2x hashing).
    from hashing.parallel import EventsScan  # here: hashing.parallel imports this module

    old_size: int | None = (read_checkpoint(older_checkpoint).size
                            if older_checkpoint is not None else None)
    file_bytes = sum(path.stat().st_size for path in files)
    try:
        events = EventsScan(events_path, capture={0} | {proof["seq"] for _, proof in proofs},
                            root_at={old_size} if old_size is not None else set(),
                            other_bytes=file_bytes)
    except OSError as err:
        raise BundleUnreadable(f"events.jsonl cannot be read: {err.strerror or err}") from err
    try:
        hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-files")
        stop = threading.Event()
        digests = hashing.submit(_hash_files, files, stop)
        try:
            return _verify_scanned(bundle, events, proofs, files, digests, note, verifier,
                                   bundled, pinned, report, witnesses, wanted,
                                   older_checkpoint)
        finally:
            stop.set()  # a verdict reached before the files were needed: stop reading them
            hashing.shutdown(wait=False)
    finally:
        events.close()  # no worker outlives the call, whatever it raised


def _verify_scanned(bundle: Path, events: EventsScan, proofs: list[tuple[str, dict[str, Any]]],
                    files: list[Path], digests: Future[list[str | OSError]], note: str,
                    verifier: Verifier, bundled: Verifier, pinned: Verifier | None,
                    report: Report, witnesses: list[CosignerVerifier], wanted: int,
                    older_checkpoint: str | None) -> Report:
    """The rest of :func:`verify_bundle`, once the files are being hashed."""
    try:
        scan = events.result()
    except OSError as err:
        raise BundleUnreadable(f"events.jsonl cannot be read: {err.strerror or err}") from err

    # The key first: a history re-signed with another key verifies against that key, so
    # the only thing that tells is the key the station recorded when it was set up.
    if pinned is not None and bundled.encode() != pinned.encode():
        report.findings.append(Finding(
            f"公钥不一致 key mismatch: station.vkey holds {bundled.encode()}, not the key you "
            f"pinned with --key {pinned.encode()}", file="station.vkey"))
    recorded, problem = _recorded_key(scan)
    if problem is not None:
        report.findings.append(problem)
    if recorded is not None:
        report.recorded_key = recorded.encode()
        if recorded.encode() != verifier.encode():
            source = "--key" if pinned is not None else "station.vkey"
            report.findings.append(Finding(
                f"公钥不一致 key mismatch: station.init recorded the station's key "
                f"{recorded.encode()}, but the checkpoint is checked against {source} "
                f"{verifier.encode()}: the history may have been re-signed with another key",
                seq=0))

    try:
        checkpoint = open_checkpoint(note, verifier)
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
        event_text = proof["event"]
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

    for path, actual in zip(files, digests.result(), strict=True):
        name = f"files/{shown(path.name)}"
        if isinstance(actual, OSError):
            raise BundleUnreadable(f"{name} cannot be read: {actual.strerror or actual}")
        if actual != path.name:
            report.findings.append(
                Finding(f"content hashes to {actual}: the file was replaced or damaged",
                        file=name)
            )
        elif actual not in ingested:
            report.findings.append(Finding("no ingest event records this file", file=name))
        else:
            report.files_checked += 1
    check_cosignatures(note, witnesses, wanted, report)
    return report


def _hash_files(files: list[Path], stop: threading.Event) -> list[str | OSError]:
    """The SHA-256 of each file, or the error reading it (raised later, in order).
    ``stop`` ends the work early when the verdict no longer needs the files."""
    result: list[str | OSError] = []
    for path in files:
        digest = hashlib.sha256()
        try:
            with open(path, "rb", buffering=0) as handle:
                while not stop.is_set() and (chunk := handle.read(8 << 20)):
                    digest.update(chunk)
        except OSError as err:
            result.append(err)
            continue
        result.append(digest.hexdigest())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="evidence-station-verify",
        description=(
            "校验导出包：哈希链、Merkle 根、签名检查点、包含证明与文件。 Verify an "
            "evidence-station export bundle offline: hash chain, Merkle root, signed "
            "checkpoint, inclusion proofs and files."
        ),
        epilog="退出码 Exit status: 0 verified, 1 a check failed, 2 the bundle could not be read.",
    )
    parser.add_argument("bundle", type=Path, help="export bundle directory")
    parser.add_argument(
        "--consistency",
        metavar="OLD_CHECKPOINT",
        type=Path,
        help="an older signed checkpoint that this bundle's history must extend",
    )
    parser.add_argument(
        "--key", metavar="VKEY",
        help="固定公钥：报告或光盘上印的验证公钥 the verifier key printed on reports and discs; "
             "without it only the bundle's own station.vkey is used (KEY NOT PINNED)",
    )
    parser.add_argument(
        "--witness-key", metavar="VKEY", action="append", default=[],
        help="要求该证人的联署 require a C2SP cosignature by this witness (its verifier key; "
             "repeatable)")
    parser.add_argument(
        "--min-witnesses", metavar="N", type=int, default=None,
        help="至少 N 个证人联署 how many of the --witness-key witnesses must have cosigned "
             "(default: all of them)")
    parser.add_argument(
        "--file", metavar="CLIP", type=Path, default=None,
        help="与 .tlog-proof 一起：该文件须是证明中的入库文件 with a .tlog-proof: the clip file the "
             "proof must be the ingest of")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.bundle.is_file() and args.bundle.name.endswith(".tlog-proof"):
        return _main_proof(args)
    try:
        older_name = f"--consistency {args.consistency}"
        older = _read_text(args.consistency, older_name) if args.consistency else None
        if not args.bundle.is_dir():
            raise BundleUnreadable(f"{args.bundle} is not a directory")
        report = verify_bundle(args.bundle, older_checkpoint=older, pinned_key=args.key,
                               older_name=older_name, witness_keys=args.witness_key,
                               min_witnesses=args.min_witnesses)
    except (MalformedInput, OSError) as err:
        print(f"evidence-station-verify: 无法读取 cannot read: {err}", file=sys.stderr)
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
                    "key": report.key,
                    "key_pinned": report.key_pinned,
                    "recorded_key": report.recorded_key,
                    "witnesses": [{"key": w.witness, "timestamp": w.timestamp}
                                  for w in report.witnesses],
                    "min_witnesses": report.min_witnesses,
                    "warnings": [] if report.key_pinned else [KEY_NOT_PINNED],
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
        pinned = "已用 --key 固定 pinned with --key" if report.key_pinned else (
            "未固定 NOT PINNED — 来自导出包 from the bundle")
        print(f"key:       {report.key} ({pinned})")
        for cosigned in report.witnesses:
            print(f"witness:   {cosigned.witness} cosigned at {cosigned.timestamp} (POSIX)")
        if report.ok:
            extra = (f", consistent with checkpoint at size {report.consistency_checked}"
                     if report.consistency_checked is not None else "")
            caveat = "" if report.key_pinned else " (未固定公钥 KEY NOT PINNED)"
            witnessed = (f", {len(report.witnesses)} witness cosignatures"
                         if report.min_witnesses else "")
            print(
                f"OK 校验通过{caveat}: {report.events} events, {report.proofs_checked} proofs, "
                f"{report.files_checked} files{extra}{witnessed}"
            )
        else:
            print(f"FAILED 校验失败: {report.findings[0]}")
            for finding in report.findings[1:]:
                print(f"  also: {finding}")
        if not report.key_pinned:
            print(f"!!! {KEY_NOT_PINNED}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _main_proof(args: argparse.Namespace) -> int:
    """``evidence-station-verify CLIP.tlog-proof --key VKEY [--witness-key …] [--file CLIP]``:
    one clip checked with nothing but its proof file (C2SP tlog-proof)."""
    from hashing.proof import ProofFileMalformed, verify_proof

    name = shown(args.bundle.name)
    try:
        if args.key is None:
            raise BundleUnreadable("--key is required with a .tlog-proof: the file carries no "
                                   "station key of its own; use the key printed on reports")
        key = _parse_key(args.key, "--key")
        witnesses, wanted = parse_witness_keys(args.witness_key, args.min_witnesses)
        text = _read_text(args.bundle, name)
        file_sha256 = None
        if args.file is not None:
            digest = hashlib.sha256()
            try:
                with open(args.file, "rb") as handle:
                    while chunk := handle.read(8 << 20):
                        digest.update(chunk)
            except OSError as err:
                raise BundleUnreadable(f"--file {args.file}: {err.strerror or err}") from err
            file_sha256 = digest.hexdigest()
        try:
            report = verify_proof(text, key=key, witnesses=witnesses, min_witnesses=wanted,
                                  file_sha256=file_sha256)
        except ProofFileMalformed as err:
            raise BundleUnreadable(f"{name}: {err}") from err
    except MalformedInput as err:
        print(f"evidence-station-verify: 无法读取 cannot read: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    event = report.event or {}
    if args.json:
        print(json.dumps({"ok": report.ok, "origin": report.origin, "index": report.index,
                          "tree_size": report.tree_size, "event": event,
                          "witnesses": [{"key": w.witness, "timestamp": w.timestamp}
                                        for w in report.witnesses],
                          "findings": report.findings}, ensure_ascii=False))
    else:
        print(f"log:       {report.origin} size {report.tree_size}, entry {report.index}")
        print(f"event:     {event.get('type')} sha256 {event.get('sha256')} at {event.get('time')}")
        for cosigned in report.witnesses:
            print(f"witness:   {cosigned.witness} cosigned at {cosigned.timestamp} (POSIX)")
        if report.ok:
            checked = " and the file" if args.file is not None else ""
            print(f"OK 校验通过: the event{checked} is in the log the pinned key signed"
                  + (f", cosigned by {len(report.witnesses)} witness(es)" if wanted else ""))
        else:
            for finding in report.findings:
                print(f"FAILED 校验失败: {finding}")
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
