"""RFC 6962 Merkle tree: known-answer vectors and properties against a naive reference."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing.merkle import (
    EMPTY_ROOT,
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from hashing.tree import TreeStore
from tests import reference_merkle as ref

# Known answers from transparency-dev/merkle: testonly/constants.go (LeafInputs,
# RootHashes) and proof/verify_test.go (inclusionProofs, consistencyProofs) — the
# standard 8-leaf RFC 6962 test tree that Certificate Transparency implementations use.
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (leaf index 0-based, tree size, proof)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def _tree(tmp_path: Path, leaves: list[bytes]) -> TreeStore:
    tree = TreeStore(tmp_path / "tree")
    tree.append([leaf_hash(item) for item in leaves])
    tree.flush()
    return tree


def test_known_roots(tmp_path: Path) -> None:
    assert ROOTS[0] == EMPTY_ROOT
    tree = TreeStore(tmp_path / "tree")
    for size in range(len(LEAVES) + 1):
        assert ref.mth(LEAVES[:size]) == ROOTS[size]
        assert root_from_leaf_hashes(leaf_hash(x) for x in LEAVES[:size]) == (size, ROOTS[size])
        if size:
            tree.append([leaf_hash(LEAVES[size - 1])])
        assert tree.root() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_known_inclusion_proofs(tmp_path: Path, index: int, size: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert _tree(tmp_path, LEAVES).inclusion_proof(index, size) == expected
    verify_inclusion(index=index, size=size, leaf=leaf_hash(LEAVES[index]), proof=expected,
                     root=ROOTS[size])
    # The corruptions from transparency-dev/merkle's corruptInclusionProof must all fail.
    leaf = leaf_hash(LEAVES[index])
    bad = [
        dict(index=index + 1, size=size, leaf=leaf, proof=expected, root=ROOTS[size]),
        dict(index=index ^ 2, size=size, leaf=leaf, proof=expected, root=ROOTS[size]),
        dict(index=index, size=size * 2, leaf=leaf, proof=expected, root=ROOTS[size]),
        dict(index=index, size=size // 2, leaf=leaf, proof=expected, root=ROOTS[size]),
        dict(index=index, size=size, leaf=leaf_hash(b"WrongLeaf"), proof=expected,
             root=ROOTS[size]),
        dict(index=index, size=size, leaf=leaf, proof=expected, root=ROOTS[0]),
        dict(index=index, size=size, leaf=leaf, proof=[*expected, ROOTS[size]], root=ROOTS[size]),
        dict(index=index, size=size, leaf=leaf, proof=[ROOTS[size], *expected], root=ROOTS[size]),
        dict(index=index, size=size, leaf=leaf, proof=expected[:-1], root=ROOTS[size]),
    ]
    for position in range(len(expected)):
        flipped = list(expected)
        flipped[position] = bytes([flipped[position][0] ^ 8]) + flipped[position][1:]
        bad.append(dict(index=index, size=size, leaf=leaf, proof=flipped, root=ROOTS[size]))
    for kwargs in bad:
        with pytest.raises(ProofError):
            verify_inclusion(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_known_consistency_proofs(tmp_path: Path, old: int, new: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in proof]
    assert _tree(tmp_path, LEAVES).consistency_proof(old, new) == expected
    verify_consistency(old_size=old, new_size=new, old_root=ROOTS[old], new_root=ROOTS[new],
                       proof=expected)
    with pytest.raises(ProofError):
        verify_consistency(old_size=old, new_size=new, old_root=ROOTS[new], new_root=ROOTS[old],
                           proof=expected)
    with pytest.raises(ProofError):
        verify_consistency(old_size=old, new_size=new, old_root=ROOTS[old], new_root=ROOTS[new],
                           proof=expected[:-1])
    with pytest.raises(ProofError):
        verify_consistency(old_size=old + 1, new_size=new, old_root=ROOTS[old],
                           new_root=ROOTS[new], proof=expected)


def test_trivial_consistency() -> None:
    verify_consistency(old_size=0, new_size=5, old_root=b"\0" * 32, new_root=ROOTS[5], proof=[])
    verify_consistency(old_size=3, new_size=3, old_root=ROOTS[3], new_root=ROOTS[3], proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=3, new_size=3, old_root=ROOTS[3], new_root=ROOTS[4], proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=4, new_size=3, old_root=ROOTS[4], new_root=ROOTS[3], proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=1, new_size=2, old_root=ROOTS[1], new_root=ROOTS[2], proof=[])


def test_every_size_up_to_300_against_reference(tmp_path: Path) -> None:
    """Roots, all inclusion proofs and all consistency proofs for sizes 0…300."""
    leaves = [f"event-{i}".encode() for i in range(300)]
    tree = _tree(tmp_path, leaves)
    hashed = [leaf_hash(x) for x in leaves]
    reference = ref.Reference(leaves)
    for size in range(301):
        root = reference.mth(0, size)
        assert tree.root(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == reference.path(index, 0, size)
            verify_inclusion(index=index, size=size, leaf=hashed[index], proof=proof, root=root)
        for old in range(size + 1):
            proof = tree.consistency_proof(old, size)
            assert proof == reference.consistency(old, size)
            verify_consistency(old_size=old, new_size=size, old_root=tree.root(old),
                               new_root=root, proof=proof)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_wrong_proofs_rejected(tmp_path_factory: pytest.TempPathFactory, size: int,
                               data: st.DataObject) -> None:
    leaves = [f"e{i}".encode() for i in range(size)]
    tree = _tree(tmp_path_factory.mktemp("t"), leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index) if size > 1
                      else st.just(index))
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(index=index, size=size, leaf=leaf_hash(leaves[other]), proof=proof,
                             root=root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        tampered = list(proof)
        item = bytearray(tampered[position])
        item[bit // 8] ^= 1 << (bit % 8)
        tampered[position] = bytes(item)
        with pytest.raises(ProofError):
            verify_inclusion(index=index, size=size, leaf=leaf_hash(leaves[index]),
                             proof=tampered, root=root)
    old = data.draw(st.integers(1, size))
    cproof = tree.consistency_proof(old, size)
    if cproof:
        tampered = list(cproof)
        position = data.draw(st.integers(0, len(cproof) - 1))
        tampered[position] = bytes([tampered[position][0] ^ 1]) + tampered[position][1:]
        with pytest.raises(ProofError):
            verify_consistency(old_size=old, new_size=size, old_root=tree.root(old),
                               new_root=root, proof=tampered)
        with pytest.raises(ProofError):
            verify_consistency(old_size=old, new_size=size, old_root=leaf_hash(b"x"),
                               new_root=root, proof=cproof)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=70))
def test_streaming_root_matches_reference(leaves: list[bytes]) -> None:
    assert root_from_leaf_hashes(leaf_hash(x) for x in leaves) == (len(leaves), ref.mth(leaves))
