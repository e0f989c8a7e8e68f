"""C2SP tlog-cosignature, Ed25519 flavour (https://c2sp.org/tlog-cosignature).

A witness's cosignature is a signed-note signature line on the log's checkpoint, made with
its own key. The Ed25519 type differs from the log's plain note signature in three ways,
each from the spec's "Format" and "Ed25519 signed message" sections:

* the key id is ``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]`` (0x04, not 0x01), and a
  verifier key line carries the type byte 0x04: ``name+hexid+base64(0x04 ‖ key)``;
* the signature is a ``timestamped_signature``: ``u64 timestamp`` (big-endian, POSIX
  seconds) followed by the 64-byte Ed25519 signature;
* the signed message is ``cosignature/v1\\n`` ‖ ``time <timestamp>\\n`` ‖ the whole note
  body of the checkpoint (with its final newline, without signature lines).

Why Ed25519 and not ML-DSA-44 (which the spec recommends for new deployments):
``cryptography``, the only library the auditor's verifier may use, has no ML-DSA yet.

Imports only the standard library and ``cryptography``, like the rest of ``hashing/``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from hashing.note import (
    SIGNATURE_PREFIX,
    NoteError,
    NoteMalformedError,
    parse_private_key,
    parse_public_key,
    split_note,
)

ALG_COSIGNATURE_V1 = 0x04  # tlog-cosignature: Ed25519 cosignature/v1
COSIGNATURE_HEADER = "cosignature/v1\n"
_MAX_TIMESTAMP = 2**63 - 1  # "It MUST NOT exceed 2^63 - 1"
_SIGNATURE_LEN = 4 + 8 + 64  # key id ‖ u64 timestamp ‖ Ed25519 signature


class CosignatureError(NoteError):
    """A cosigner key or a cosignature is malformed or does not verify."""


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise CosignatureError(f"cosigner name {name!r} must be non-empty without spaces or '+'")


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature signs (tlog-cosignature, "Ed25519 signed message")."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class CosignerVerifier:
    """A witness's verifier key: ``name+hexid+base64(0x04 ‖ Ed25519 public key)``."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> CosignerVerifier:
        return cls(*parse_public_key(
            vkey, ALG_COSIGNATURE_V1, cosigner_key_id, "witness key",
            "an Ed25519 cosignature/v1 key (type 0x04)", CosignatureError, _check_name))

    def encode(self) -> str:
        raw = bytes([ALG_COSIGNATURE_V1]) + _raw(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verify_line(self, body: str, raw: bytes) -> int:
        """Check one cosignature (``key id ‖ timestamp ‖ signature``) on ``body``; return its
        timestamp. Raises :class:`CosignatureError` when it does not verify."""
        if len(raw) != _SIGNATURE_LEN or raw[:4] != self.key_id:
            raise CosignatureError(f"cosignature by {self.name} has the wrong length or key id")
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        if timestamp > _MAX_TIMESTAMP:
            raise CosignatureError(f"cosignature by {self.name}: timestamp beyond 2^63-1")
        try:
            self.public_key.verify(raw[12:], signed_message(body, timestamp))
        except InvalidSignature as err:
            raise CosignatureError(
                f"cosignature by {self.name} does not verify: the checkpoint was changed") from err
        return int(timestamp)


@dataclass(frozen=True)
class Cosigner:
    """A witness's signing key, stored like Go's note signer keys but with type 0x04:
    ``PRIVATE+KEY+<name>+<hex key id>+base64(0x04 ‖ seed)``."""

    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, skey: str) -> Cosigner:
        name, hex_id, private_key = parse_private_key(
            skey, ALG_COSIGNATURE_V1, "witness signer key", "an Ed25519 cosignature/v1 key",
            CosignatureError, _check_name)
        cosigner = cls(name, private_key)
        if cosigner.verifier.key_id.hex() != hex_id:
            raise CosignatureError("witness signer key: key id does not match name and key")
        return cosigner

    @property
    def verifier(self) -> CosignerVerifier:
        public = self.private_key.public_key()
        return CosignerVerifier(self.name, cosigner_key_id(self.name, _raw(public)), public)

    def encode(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = bytes([ALG_COSIGNATURE_V1]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line (with its newline) on checkpoint ``body``. The spec forbids
        a zero timestamp in tlog-witness answers, so one is refused here."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise CosignatureError(f"cosignature timestamp {timestamp} out of range")
        signature = self.private_key.sign(signed_message(body, timestamp))
        blob = base64.b64encode(self.verifier.key_id + struct.pack(">Q", timestamp) + signature)
        return f"{SIGNATURE_PREFIX}{self.name} {blob.decode()}\n"


@dataclass(frozen=True)
class Cosigned:
    """A witness that cosigned a checkpoint, and when (its own clock, POSIX seconds)."""

    witness: str  # the witness's verifier key line
    timestamp: int


def verify_cosignatures(note: str, witnesses: list[CosignerVerifier]) -> tuple[list[Cosigned], list[str]]:
    """Check every cosignature on ``note`` by one of ``witnesses``.

    Returns the witnesses whose cosignature verifies (each at most once) and one problem
    per line that names a known witness's key but does not verify (a finding, never
    silently skipped). Lines by unknown keys are ignored, as tlog-witness says clients
    MUST. Raises :class:`NoteMalformedError` for a note of the wrong shape."""
    body, signatures = split_note(note)
    by_id = {(w.name, w.key_id): w for w in witnesses}
    good: dict[str, Cosigned] = {}
    problems: list[str] = []
    for name, raw in signatures:
        witness = by_id.get((name, raw[:4]))
        if witness is None:
            continue
        try:
            timestamp = witness.verify_line(body, raw)
        except CosignatureError as err:
            problems.append(str(err))
            continue
        good.setdefault(witness.encode(), Cosigned(witness.encode(), timestamp))
    return list(good.values()), problems


def add_signature_lines(note: str, lines: list[str]) -> str:
    """``note`` with the signature ``lines`` appended, each once (a cosigned checkpoint)."""
    if not note.endswith("\n"):
        raise NoteMalformedError("malformed note: no final newline")
    have = set(note.split("\n"))
    extra = []
    for line in lines:
        bare = line.rstrip("\n")
        if bare and bare not in have:
            have.add(bare)
            extra.append(bare + "\n")
    return note + "".join(extra)
