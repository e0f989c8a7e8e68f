"""C2SP signed-note with Ed25519 keys (https://c2sp.org/signed-note).

Key id = first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key). A signature line is
``— <name> <base64(key id ‖ signature)>``; the verifier key is
``<name>+<hex key id>+<base64(0x01 ‖ public key)>`` and the signer key, as in Go's
``golang.org/x/mod/sumdb/note``, ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# cryptography loads when a key is parsed or a signature made or checked, not on import:
# a command that lists clips never touches a key (issue 16, "a command answers at once").
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "— "


class NoteError(ValueError):
    """A note, key or signature is malformed or does not verify."""


class NoteMalformedError(NoteError):
    """The note's shape is wrong (no blank line, a garbled signature line): nothing to do
    with keys. Apart from :class:`NoteError` so a verifier can tell "unreadable input"
    (exit 2) from "a signature that does not verify" (exit 1)."""


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} must be non-empty without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def parse_public_key(vkey: str, algorithm: int, id_of: Callable[[str, bytes], bytes], what: str,
                     kind: str, error: type[Exception],
                     check_name: Callable[[str], None] = _check_name,
                     ) -> tuple[str, bytes, Ed25519PublicKey]:
    """``<name>+<hex key id>+base64(<algorithm> ‖ public key)``: a signed-note verifier key,
    which a witness's cosignature key shares with its own algorithm byte and key id. Gives
    name, key id and key, the id checked against name and key as ``id_of`` forms it."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise error(f"{what} {vkey!r} is not name+hexid+base64key")
    name, hex_id, encoded = parts
    check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as err:
        raise error(f"{what} {vkey!r}: {err}") from err
    if len(raw) != 33 or raw[0] != algorithm:
        raise error(f"{what} {vkey!r} is not {kind}")
    if id_of(name, raw[1:]) != wanted_id:
        raise error(f"{what} {vkey!r}: key id does not match name and key")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as err:
        raise error(f"{what} {vkey!r}: {err}") from err
    return name, wanted_id, public_key


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        return cls(*parse_public_key(vkey, ALG_ED25519, key_id, "verifier key", "an Ed25519 key",
                                     NoteError))

    def encode(self) -> str:
        raw = bytes([ALG_ED25519]) + _public_bytes(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"


def parse_private_key(skey: str, algorithm: int, what: str, kind: str, error: type[Exception],
                      check_name: Callable[[str], None] = _check_name,
                      ) -> tuple[str, str, Ed25519PrivateKey]:
    """``PRIVATE+KEY+<name>+<hex key id>+base64(<algorithm> ‖ seed)``: Go's note signer
    key format, which a witness's cosigner key shares with its own algorithm byte. Gives
    name, hex key id and key; the caller checks the id, formed as its verifier forms it."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise error(f"{what} is not PRIVATE+KEY+name+hexid+base64key")
    name, hex_id, encoded = parts[2:]
    check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as err:
        raise error(f"{what}: {err}") from err
    if len(raw) != 33 or raw[0] != algorithm:
        raise error(f"{what} is not {kind}")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return name, hex_id, Ed25519PrivateKey.from_private_bytes(raw[1:])


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Signer:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, skey: str) -> Signer:
        name, hex_id, private_key = parse_private_key(skey, ALG_ED25519, "signer key",
                                                      "an Ed25519 key", NoteError)
        signer = cls(name, private_key)
        if signer.verifier.key_id.hex() != hex_id:
            raise NoteError("signer key: key id does not match name and key")
        return signer

    @property
    def verifier(self) -> Verifier:
        public = _public_bytes(self.private_key.public_key())
        return Verifier(self.name, key_id(self.name, public), self.private_key.public_key())

    def encode(self) -> str:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = bytes([ALG_ED25519]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def sign(self, text: str) -> str:
        """Return the signed note for ``text`` (which must end in a newline)."""
        _check_text(text)
        signature = self.private_key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split ``note`` into its text and its ``(name, key id ‖ signature)`` lines, checking
    only the shape (raises :class:`NoteMalformedError`), no key and no signature."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteMalformedError("malformed note: no blank line before the signatures")
    text = note[: split + 1]
    try:
        _check_text(text)
    except NoteError as err:
        raise NoteMalformedError(f"malformed note: {err}") from err
    signatures: list[tuple[str, bytes]] = []
    for number, line in enumerate(note[split + 2 : -1].split("\n"), start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteMalformedError(f"signature line {number} {line[:80]!r} does not start "
                                     f"with {SIGNATURE_PREFIX!r}")
        try:
            name, blob = line[len(SIGNATURE_PREFIX) :].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as err:
            raise NoteMalformedError(f"signature line {number} {line[:80]!r} is not "
                                     "'— name base64'") from err
        if len(raw) < 5:
            raise NoteMalformedError(f"signature line {number} {line[:80]!r} is too short")
        signatures.append((name, raw))
    return text, signatures


def open_note(note: str, verifier: Verifier) -> str:
    """Verify ``note`` against ``verifier`` and return its text.

    Signatures by other keys are ignored (a note may carry cosignatures); at least one
    line must be ours and valid.
    """
    from cryptography.exceptions import InvalidSignature

    text, signatures = split_note(note)
    found = False
    for name, raw in signatures:
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(raw[4:], text.encode())
        except InvalidSignature as err:
            raise NoteError(f"signature by {name} does not verify: the note was changed") from err
        found = True
    if not found:
        raise NoteError(f"note is not signed by {verifier.name}+{verifier.key_id.hex()}")
    return text
