#!/usr/bin/env python3
"""Verify this evidence disc: `python3 verify.py DISC_ROOT` (needs Python 3.11+ and the
`cryptography` package, nothing else; the `hashing/` folder beside this file is the
station's own verification code).

Checks: the checkpoint is signed by the station key in station.vkey; every file listed in
manifest.json has the SHA-256 stated; each file's ingest event (in proofs/) names that
hash and is included in the signed checkpoint's Merkle tree (RFC 6962 inclusion proof);
no unlisted file sits in evidence/. Exit 0 when all hold, 1 otherwise.

本光盘自校验：python3 verify.py 光盘根目录（仅需 Python 与 cryptography）。
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent).resolve()
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True  # a disc is read-only
    from hashing.checkpoint import open_checkpoint
    from hashing.merkle import leaf_hash, verify_inclusion
    from hashing.note import Verifier

    problems: list[str] = []
    verifier = Verifier.parse((root / "station.vkey").read_text(encoding="utf-8"))
    checkpoint = open_checkpoint((root / "checkpoint").read_text(encoding="utf-8"), verifier)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    listed = set()
    for item in manifest["files"]:
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
        proof = json.loads((root / "proofs" / f"{item['clip_id']}.json").read_text(encoding="utf-8"))
        event = json.loads(proof["event"])
        if event.get("type") != "ingest" or event.get("sha256") != item["sha256"]:
            problems.append(f"{item['path']}: its ledger event does not record this hash")
            continue
        try:
            verify_inclusion(index=proof["seq"], size=checkpoint.size,
                             leaf=leaf_hash(proof["event"].encode("utf-8")),
                             proof=[bytes.fromhex(h) for h in proof["hashes"]], root=checkpoint.root)
        except Exception as err:  # ProofError, RootMismatchError
            problems.append(f"{item['path']}: inclusion proof fails ({err})")
            continue
        print(f"OK  {item['sha256']}  {item['path']}")
    for path in sorted((root / "evidence").rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in listed:
            problems.append(f"{relative}: on the disc but not in the manifest")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"checkpoint: {checkpoint.origin} size {checkpoint.size}; "
          f"{len(manifest['files'])} file(s); {'VERIFIED' if not problems else 'NOT VERIFIED'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
