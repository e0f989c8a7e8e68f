"""The ``add-checkpoint`` request body of C2SP tlog-witness, as pure functions.

    old <size>\\n
    <base64 consistency proof hash>\\n   (zero to 63 lines)
    \\n
    <checkpoint note, signatures included>

"Each line MUST terminate in a newline character"; the old size is decimal "with no
leading zeroes (unless the size is zero …)"; "The client MUST NOT send more than 63
consistency proof lines" (tlog-witness, "add-checkpoint").
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from hashing.merkle import HASH_SIZE

ADD_CHECKPOINT_PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"  # the 409 answer's body: the size the witness holds
MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024  # a checkpoint with a few dozen signatures and 63 hashes is ~8 KiB


class RequestMalformed(ValueError):
    """The request body is not an add-checkpoint request (400 Bad Request)."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str


def _decimal(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or (text != "0" and text.startswith("0")) \
            or len(text) > 20:
        raise RequestMalformed(f"{what} {text[:40]!r} is not a decimal without leading zeroes")
    return int(text)


def encode_request(old_size: int, proof: list[bytes], note: str) -> bytes:
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_request(body: bytes) -> AddCheckpoint:
    if len(body) > MAX_BODY:
        raise RequestMalformed(f"request body over {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestMalformed(f"request body byte {err.start} is not UTF-8") from err
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise RequestMalformed("no empty line between the old size and proof and the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise RequestMalformed("the first line must be 'old <size>'")
    old_size = _decimal(lines[0][4:], "old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise RequestMalformed(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as err:
            raise RequestMalformed(f"line {number} is not a base64 hash") from err
        if len(value) != HASH_SIZE:
            raise RequestMalformed(f"line {number} is {len(value)} bytes, not a SHA-256 hash")
        proof.append(value)
    return AddCheckpoint(old_size, proof, note)


def parse_size_answer(body: bytes) -> int | None:
    """The size in a 409 answer (``<decimal>\\n``), or None if it is not one."""
    try:
        text = body.decode("ascii")
        if not text.endswith("\n"):
            return None
        return _decimal(text[:-1], "size")
    except (UnicodeDecodeError, RequestMalformed):
        return None
