#!/usr/bin/env python3
"""Verify this evidence disc: `python3 verify.py DISC_ROOT [--key VKEY]` (needs Python
3.11+ and the `cryptography` package, nothing else; the `hashing/` folder beside this file
is the station's own verification code).

Checks: the checkpoint is signed by the station key (station.vkey, or the key pinned with
--key, which station.vkey must then equal); manifest.json names that same checkpoint;
every file listed in manifest.json has the SHA-256 stated; each file's ingest event (in
proofs/) names that hash and is included in the signed checkpoint's Merkle tree (RFC 6962
inclusion proof); no unlisted file sits in evidence/.

The disc does not carry the ledger's event 0 (station.init, where the station recorded
its key), so without --key nothing on the disc can tell the station's real key from a key
a forger burned onto a copy: the output then says "KEY NOT PINNED / 未固定公钥" loudly.
Pin the key printed on the docking receipts and reports with --key.

Exit 0 when all hold, 1 when a check fails, 2 when a part of the disc is missing or
cannot be parsed (the message names the file and the place, e.g.
`proofs/X.json: hashes[3] is not a hex string`; never a traceback).

本光盘自校验：python3 verify.py 光盘根目录 [--key 公钥]（仅需 Python 与 cryptography）。
未用 --key 固定公钥时，输出会醒目提示"未固定公钥"：请用回执或报告上印的验证公钥。
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path, PurePosixPath
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
_CLIP_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")

try:  # the station's verification code beside this file, loaded by main() when run as
    from hashing import fields  # ``python3 -I verify.py DISC`` (no script dir on the path)
except ImportError:  # pragma: no cover - main() imports it, or says it is missing
    fields = None  # type: ignore[assignment]

KEY_NOT_PINNED = (
    "未固定公钥 KEY NOT PINNED: 签名只用光盘自带的 station.vkey 核对，伪造的光盘可以连公钥一起"
    "换掉。请用 --key 固定回执或报告上印的验证公钥。 The signature was checked only against "
    "the disc's own station.vkey; a forged copy can carry its own key. Pin the verifier key "
    "printed on the docking receipts and reports with --key."
)


class DiscUnreadable(Exception):
    """A part of the disc is missing or cannot be parsed (exit 2); the message starts with
    the file and the place in it, so the auditor needs no traceback to see what is wrong."""






def _read_text(root: Path, name: str) -> str:
    try:
        return (root / name).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DiscUnreadable(f"{name} is missing from the disc") from err
    except UnicodeDecodeError as err:
        raise DiscUnreadable(f"{name}: byte {err.start} is not UTF-8") from err
    except OSError as err:
        raise DiscUnreadable(f"{name} cannot be read: {err.strerror or err}") from err






def _object(value: Any, name: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise DiscUnreadable(f"{name} is {fields.kind(value)}, not a JSON object")
    return value






def _hex_hash(value: dict[str, Any], key: str, name: str) -> str:
    item = fields.text(value, key, name)
    if not fields.HASH_HEX.fullmatch(item):
        raise DiscUnreadable(f"{name}: {key} is not a hex string of 32 bytes ({item[:72]!r})")
    return item.lower()




def _disc_path(value: dict[str, Any], key: str, name: str) -> str:
    """A manifest path: relative, under evidence/, no '..' (a path trick would make the
    verifier hash a file that is not on the disc)."""
    path = fields.text(value, key, name)
    parts = PurePosixPath(path).parts
    if ("\x00" in path or "\\" in path or PurePosixPath(path).is_absolute() or ".." in parts
            or len(parts) < 2 or parts[0] != "evidence"):
        raise DiscUnreadable(f"{name}: {key} {path[:80]!r} is not a file under evidence/")
    return path


def _read_manifest(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """manifest.json, every field the verifier uses type-checked (exit 2 on the first)."""
    manifest = _object(fields.parse_json(_read_text(root, "manifest.json"), "manifest.json"),
                       "manifest.json")
    stated = _object(manifest.get("checkpoint"), "manifest.json: checkpoint")
    fields.natural(stated, "size", "manifest.json: checkpoint")
    _hex_hash(stated, "root", "manifest.json: checkpoint")
    files = manifest.get("files")
    if type(files) is not list:
        raise DiscUnreadable(f"manifest.json: files is {fields.kind(files)}, not a list")
    items = []
    for index, raw in enumerate(files):
        place = f"manifest.json: files[{index}]"
        item = _object(raw, place)
        clip_id = fields.text(item, "clip_id", place)
        if not _CLIP_ID.fullmatch(clip_id) or clip_id.startswith("."):
            raise DiscUnreadable(f"{place}: clip_id {clip_id[:80]!r} is not a clip id")
        items.append({"path": _disc_path(item, "path", place), "clip_id": clip_id,
                      "sha256": _hex_hash(item, "sha256", place)})
    return manifest, items


def _read_proof(root: Path, clip_id: str) -> dict[str, Any]:
    """The clip's inclusion proof, type-checked; its event must be a JSON object."""
    name = f"proofs/{clip_id}.json"
    proof = _object(fields.parse_json(_read_text(root, name), name), name)
    event_text = fields.text(proof, "event", name)
    event = fields.parse_json(event_text, f"{name}: event")
    _object(event, f"{name}: event")
    return {"seq": fields.natural(proof, "seq", name), "tree_size": fields.natural(proof, "tree_size", name),
            "hashes": fields.hash_list(proof, "hashes", name), "event_text": event_text,
            "event": event}


def _witness_keys(root: Path, pinned: list[str], min_witnesses: int | None) -> tuple[list[Any], int]:
    """The witnesses whose cosignatures the checkpoint must carry: ``--witness-key`` when
    given (pinned), else the disc's ``witness.vkeys`` (one key a line) when the disc
    carries cosignatures; and how many of them must have cosigned (default all)."""
    from hashing.cosignature import CosignerVerifier
    from hashing.note import NoteError

    lines, source = pinned, "--witness-key"
    if not lines and (root / "witness.vkeys").is_file():
        lines = [line for line in _read_text(root, "witness.vkeys").splitlines() if line.strip()]
        source = "witness.vkeys"
    keys = []
    for number, line in enumerate(lines, start=1):
        try:
            keys.append(CosignerVerifier.parse(line))
        except NoteError as err:
            raise DiscUnreadable(f"{source} #{number}: {err}") from err
    wanted = len(keys) if min_witnesses is None else min_witnesses
    if min_witnesses is not None and not 0 < wanted <= len(keys):
        raise DiscUnreadable(f"--min-witnesses {wanted}: give 1 … {len(keys)} (the witness keys)")
    return keys, wanted


def verify(root: Path, pinned_key: str | None, witness_keys: list[str] | None = None,
           min_witnesses: int | None = None) -> int:
    """Check the disc at ``root`` and print the result; raises DiscUnreadable (exit 2)."""
    from hashing.checkpoint import (
        CheckpointError,
        CheckpointMalformedError,
        open_checkpoint,
        read_checkpoint,
    )
    from hashing.merkle import ProofError, leaf_hash, verify_inclusion
    from hashing.note import NoteError, Verifier

    def parse_key(text: str, name: str) -> Verifier:
        try:
            return Verifier.parse(text)
        except NoteError as err:
            raise DiscUnreadable(f"{name}: {err}") from err

    problems: list[str] = []
    on_disc = parse_key(_read_text(root, "station.vkey"), "station.vkey")
    pinned = parse_key(pinned_key, "--key") if pinned_key is not None else None
    verifier = pinned or on_disc
    note = _read_text(root, "checkpoint")
    try:
        checkpoint = read_checkpoint(note)
    except CheckpointMalformedError as err:
        raise DiscUnreadable(f"checkpoint: {err}") from err
    manifest, items = _read_manifest(root)
    proofs = {item["clip_id"]: _read_proof(root, item["clip_id"]) for item in items}
    witnesses, wanted = _witness_keys(root, witness_keys or [], min_witnesses)

    # Everything is readable; from here on a difference is a finding (exit 1).
    if pinned is not None and on_disc.encode() != pinned.encode():
        problems.append(f"station.vkey: 公钥不一致 key mismatch: the disc carries "
                        f"{on_disc.encode()}, not the key you pinned with --key "
                        f"{pinned.encode()}")
    try:
        open_checkpoint(note, verifier)
    except CheckpointError as err:
        problems.append(f"checkpoint: not signed by the "
                        f"{'pinned' if pinned is not None else 'disc'} key ({err})")
    if witnesses:  # C2SP tlog-cosignature: the witnesses saw no other history
        from hashing.cosignature import verify_cosignatures

        good, failing = verify_cosignatures(note, witnesses)
        problems.extend(f"checkpoint: {problem}" for problem in failing)
        if len(good) < wanted:
            problems.append(f"checkpoint: 证人联署不足 {len(good)} of the {wanted} required witness "
                            "cosignatures")
        for cosigned in good:
            print(f"witness: {cosigned.witness} cosigned at {cosigned.timestamp} (POSIX)")
    stated = manifest["checkpoint"]
    if stated["size"] != checkpoint.size or stated["root"].lower() != checkpoint.root.hex():
        problems.append(f"manifest.json: names checkpoint {stated['size']}/{stated['root']}, "
                        f"the signed checkpoint is {checkpoint.size}/{checkpoint.root.hex()}")
    listed = set()
    for item in items:
        path = root / item["path"]
        listed.add(item["path"])
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as err:
            problems.append(f"{item['path']}: cannot be read ({err})")
            continue
        if digest.hexdigest() != item["sha256"]:
            problems.append(f"{item['path']}: SHA-256 {digest.hexdigest()} is not the recorded "
                            f"{item['sha256']}")
            continue
        proof = proofs[item["clip_id"]]
        event = proof["event"]
        if event.get("type") != "ingest" or event.get("sha256") != item["sha256"]:
            problems.append(f"{item['path']}: its ledger event does not record this hash")
            continue
        if proof["tree_size"] != checkpoint.size:
            problems.append(f"{item['path']}: its proof is for tree size {proof['tree_size']}, "
                            f"the checkpoint is {checkpoint.size}")
            continue
        try:
            verify_inclusion(index=proof["seq"], size=checkpoint.size,
                             leaf=leaf_hash(proof["event_text"].encode("utf-8")),
                             proof=proof["hashes"], root=checkpoint.root)
        except ProofError as err:  # RootMismatchError too
            problems.append(f"{item['path']}: inclusion proof fails ({err})")
            continue
        print(f"OK  {item['sha256']}  {item['path']}")
    for path in sorted((root / "evidence").rglob("*")):
        relative = fields.shown(path.relative_to(root).as_posix())
        if path.is_file() and relative not in listed:
            problems.append(f"{relative}: on the disc but not in the manifest")
    for problem in problems:
        print(f"FAIL {problem}")
    state = "已固定 pinned with --key" if pinned is not None else "未固定 NOT PINNED"
    print(f"key: {verifier.encode()} ({state})")
    print(f"checkpoint: {checkpoint.origin} size {checkpoint.size}; {len(items)} file(s); "
          f"{'VERIFIED 校验通过' if not problems else 'NOT VERIFIED 校验失败'}")
    if pinned is None:
        print(f"!!! {KEY_NOT_PINNED}")
    return EXIT_OK if not problems else EXIT_FAILED


def _load_fields() -> None:
    global fields
    from hashing import fields as loaded

    fields = loaded


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="校验本光盘 Verify this evidence disc (Python 3.11+ and cryptography).",
        epilog="退出码 Exit status: 0 verified, 1 a check failed, 2 the disc could not be read.")
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parent,
                        help="the disc's root folder (default: the folder of this file)")
    parser.add_argument("--key", metavar="VKEY",
                        help="固定公钥：回执或报告上印的验证公钥 the verifier key printed on "
                             "receipts and reports; without it the disc's own key is used")
    parser.add_argument("--witness-key", metavar="VKEY", action="append", default=[],
                        help="要求该证人联署 require this witness's cosignature (repeatable); "
                             "default: the keys in the disc's witness.vkeys, if any")
    parser.add_argument("--min-witnesses", metavar="N", type=int, default=None,
                        help="how many of the witnesses must have cosigned (default: all)")
    args = parser.parse_args(argv[1:])
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True  # a disc is read-only
    try:
        if not root.is_dir():
            raise DiscUnreadable(f"{root} is not a directory")
        if not (root / "hashing" / "checkpoint.py").is_file():
            raise DiscUnreadable("hashing/ (the station's verification code) is missing from "
                                 "the disc")
        _load_fields()
        try:
            return verify(root, args.key, args.witness_key, args.min_witnesses)
        except fields.MalformedInput as err:  # a field of the disc's JSON, named
            raise DiscUnreadable(str(err)) from err
    except DiscUnreadable as err:
        print(f"verify.py: 无法读取 cannot read: {err}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main(sys.argv))
