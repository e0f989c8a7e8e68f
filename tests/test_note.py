"""C2SP signed-note and tlog-checkpoint: Go sumdb/note vectors and our own round trips."""

from __future__ import annotations

import pytest

from hashing.checkpoint import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint
from hashing.note import NoteError, Signer, Verifier, open_note

# From golang.org/x/mod/sumdb/note (note.go package documentation and note_test.go):
# the PeterNeumann key pair and its signed note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_vector_verifies() -> None:
    verifier = Verifier.parse(GO_VKEY)
    assert verifier.key_id.hex() == "c74f20a3"
    assert open_note(GO_NOTE, verifier) == GO_TEXT
    assert verifier.encode() == GO_VKEY


def test_go_signer_reproduces_the_note() -> None:
    signer = Signer.parse(GO_SKEY)  # Ed25519 is deterministic: same key, same signature
    assert signer.verifier.encode() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert signer.encode() == GO_SKEY


def test_tampered_note_and_other_key_rejected() -> None:
    verifier = Verifier.parse(GO_VKEY)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY", 1), verifier)
    other = Signer.generate("PeterNeumann")
    with pytest.raises(NoteError, match="not signed by"):
        open_note(other.sign(GO_TEXT), verifier)
    with pytest.raises(NoteError):
        open_note(GO_TEXT, verifier)


def test_bad_keys_rejected() -> None:
    with pytest.raises(NoteError):
        Verifier.parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(NoteError):
        Verifier.parse("just-a-name")
    with pytest.raises(NoteError):
        Signer.generate("has space")


def test_checkpoint_round_trip() -> None:
    signer = Signer.generate("evidence-station/test")
    checkpoint = Checkpoint("evidence-station/test", 42, bytes(range(32)))
    note = sign_checkpoint(checkpoint, signer)
    assert note.startswith("evidence-station/test\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n— ")
    assert open_checkpoint(note, signer.verifier) == checkpoint
    with pytest.raises(CheckpointError):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), signer.verifier)
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body("origin\n007\nAAAA\n")
