"""RFC 6962 §2.1 Merkle tree hashing and RFC 9162 §2.1.3–2.1.4 proof verification.

Tiny pure functions in the manner of transparency-dev/merkle ``rfc6962.go`` and
``proof/verify.go``. Keyword-only arguments wherever two hashes could be swapped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof is malformed or does not verify."""


class RootMismatchError(ProofError):
    """The root a proof leads to differs from the expected one."""

    def __init__(self, *, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"root mismatch: expected {expected.hex()}, calculated {calculated.hex()}"
        )
        self.expected = expected
        self.calculated = calculated


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly less than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> tuple[int, bytes]:
    """Stream leaf hashes into a compact range and return ``(size, root)``.

    Keeps one hash per set bit of the size (the perfect subtrees on the right edge), so
    memory is O(log n) however many leaves pass through.
    """
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    size = 0
    for item in leaf_hashes:
        node = (1, item)
        while stack and stack[-1][0] == node[0]:
            left = stack.pop()
            node = (left[0] * 2, node_hash(left[1], node[1]))
        stack.append(node)
        size += 1
    if not stack:
        return 0, EMPTY_ROOT
    root = stack[-1][1]
    for _, left_hash in reversed(stack[:-1]):
        root = node_hash(left_hash, root)
    return size, root


def _check_hashes(proof: Sequence[bytes]) -> None:
    for index, item in enumerate(proof):
        if len(item) != HASH_SIZE:
            raise ProofError(f"proof element {index} has {len(item)} bytes, want {HASH_SIZE}")


def root_from_inclusion_proof(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """RFC 9162 §2.1.3.2: the root that ``proof`` implies for ``leaf`` at ``index``.

    Preconditions (checked): 0 <= index < size; leaf is a 32-byte leaf hash.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf)} bytes, want {HASH_SIZE}")
    _check_hashes(proof)
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise unless ``proof`` shows ``leaf`` at ``index`` in the tree with ``root``."""
    calculated = root_from_inclusion_proof(index=index, size=size, leaf=leaf, proof=proof)
    if calculated != root:
        raise RootMismatchError(expected=root, calculated=calculated)


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """RFC 9162 §2.1.4.2: raise unless ``proof`` shows the old tree is a prefix of the new.

    Preconditions (checked): 0 <= old_size <= new_size.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"sizes {old_size} -> {new_size}: a log never shrinks")
    _check_hashes(proof)
    if old_size == new_size:
        if proof:
            raise ProofError("proof must be empty for equal sizes")
        if old_root != new_root:
            raise RootMismatchError(expected=old_root, calculated=new_root)
        return
    if old_size == 0:
        if proof:
            raise ProofError("proof must be empty when the old tree is empty")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    # Step 2: if first is an exact power of 2, prepend first_hash to the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    # Step 4: while LSB(fn) is set, right-shift both.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(sibling, fr)
            sr = node_hash(sibling, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise RootMismatchError(expected=old_root, calculated=fr)
    if sr != new_root:
        raise RootMismatchError(expected=new_root, calculated=sr)
