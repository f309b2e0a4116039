"""hub.merkle against the published RFC 6962/9162 vectors (transparency-dev/merkle, testonly/constants.go
and proof/verify_test.go) and, by property, against itself: every proof for every size verifies,
and one changed byte anywhere makes it fail."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.merkle import (
    EMPTY_ROOT,
    MerkleProofError,
    TreeBuilder,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAF_INPUTS = [
    b"",
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
LEAVES = [leaf_hash(leaf) for leaf in LEAF_INPUTS]
# ROOTS[n]: MTH of the first n leaves.
ROOTS = [
    EMPTY_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (1-based leaf, tree size, audit path), as the vectors give them.
INCLUSION = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert tree_root([]) == hashlib.sha256(b"").digest() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert tree_root(LEAVES[:size]) == ROOTS[size]
    builder = TreeBuilder()
    for leaf in LEAVES[:size]:
        builder.append(leaf)
    assert builder.size == size
    assert builder.root() == ROOTS[size]


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(leaf: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(leaf - 1, LEAVES[:size]) == path
    verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], path, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(old: int, new: int, path: list[bytes]) -> None:
    assert consistency_proof(old, LEAVES[:new]) == path
    verify_consistency(old, new, ROOTS[old], ROOTS[new], path)


def _inclusion_probes(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes):  # type: ignore[no-untyped-def]
    """The wrong inputs transparency-dev/merkle tries (corruptInclusionProof), one at a time."""
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    yield index - 1, size, leaf, proof, root
    yield index + 1, size, leaf, proof, root
    yield index ^ 2, size, leaf, proof, root
    yield index, size * 2, leaf, proof, root
    yield index, size // 2, leaf, proof, root
    yield index, size, b"WrongLeaf", proof, root
    yield index, size, leaf, proof, EMPTY_ROOT
    yield index, size, leaf, proof, some
    yield index, size, leaf, [*proof, root], root
    yield index, size, leaf, [root, *proof], root
    if proof:
        yield index, size, leaf, proof[:-1], root
    if len(proof) > 1:
        yield index, size, leaf, [proof[0], some, *proof[1:]], root
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        yield index, size, leaf, flipped, root


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, path: list[bytes]) -> None:
    for probe in _inclusion_probes(leaf - 1, size, path, ROOTS[size], LEAVES[leaf - 1]):
        with pytest.raises(MerkleProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("old", "new", "path"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[bytes]) -> None:
    r1, r2 = ROOTS[old], ROOTS[new]
    probes = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, b"WrongRoot", r2, path),
        (old, new, r1, b"WrongRoot", path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [*path, r2]),
        (old, new, r1, r2, [r1, *path]),
        (old, new, r1, r2, [r2, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((old, new, r1, r2, flipped))
    for probe in probes:
        with pytest.raises(MerkleProofError):
            verify_consistency(*probe)


def test_edge_sizes() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    with pytest.raises(MerkleProofError, match="two different roots"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[4], [])
    with pytest.raises(MerkleProofError, match="not within"):
        verify_consistency(6, 5, ROOTS[6], ROOTS[5], [])
    with pytest.raises(MerkleProofError, match="must be empty"):
        verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    with pytest.raises(MerkleProofError, match="not in a tree"):
        verify_inclusion(0, 0, LEAVES[0], [], EMPTY_ROOT)
    with pytest.raises(MerkleProofError, match="not in a tree"):
        inclusion_proof(8, LEAVES)
    with pytest.raises(MerkleProofError, match="not within"):
        consistency_proof(9, LEAVES)


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies(case: tuple[int, int]) -> None:
    size, index = case
    leaves = _leaves(size)
    verify_inclusion(index, size, leaves[index], inclusion_proof(index, leaves), tree_root(leaves))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_every_consistency_proof_verifies(case: tuple[int, int]) -> None:
    old, new = case
    leaves = _leaves(new)
    proof = consistency_proof(old, leaves)
    verify_consistency(old, new, tree_root(leaves[:old]), tree_root(leaves), proof)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 120).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 31))
    ),
    st.data(),
)
def test_any_changed_leaf_or_proof_byte_fails_inclusion(
    case: tuple[int, int, int, int], data: st.DataObject
) -> None:
    size, index, other, byte = case
    leaves = _leaves(size)
    root = tree_root(leaves)
    proof = inclusion_proof(index, leaves)
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(leaves[index])
    changed[byte] ^= flip
    with pytest.raises(MerkleProofError):
        verify_inclusion(index, size, bytes(changed), proof, root)
    # A different leaf of the same tree, under this leaf's proof.
    if leaves[other] != leaves[index]:
        with pytest.raises(MerkleProofError):
            verify_inclusion(index, size, leaves[other], proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        element = bytearray(bad[at])
        element[byte] ^= flip
        bad[at] = bytes(element)
        with pytest.raises(MerkleProofError):
            verify_inclusion(index, size, leaves[index], bad, root)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 120).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n))),
    st.integers(0, 31),
    st.integers(1, 255),
    st.data(),
)
def test_any_changed_leaf_or_proof_byte_fails_consistency(
    case: tuple[int, int], byte: int, flip: int, data: st.DataObject
) -> None:
    old, new = case
    leaves = _leaves(new)
    proof = consistency_proof(old, leaves)
    old_root, new_root = tree_root(leaves[:old]), tree_root(leaves)
    at = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    element = bytearray(bad[at])
    element[byte] ^= flip
    bad[at] = bytes(element)
    with pytest.raises(MerkleProofError):
        verify_consistency(old, new, old_root, new_root, bad)
    # A log that changed any one leaf, before or after the old size, has a new root the old
    # one is not a prefix of (before) or a proof made over the changed tree (after) that the
    # honest old root still verifies against: only a change in the old part must fail.
    edited = list(leaves)
    where = data.draw(st.integers(0, old - 1))
    edited[where] = leaf_hash(b"edited")
    with pytest.raises(MerkleProofError):
        verify_consistency(old, new, old_root, tree_root(edited), consistency_proof(old, edited))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_a_frontier_and_the_new_leaves_give_the_same_root_and_proof(case: tuple[int, int]) -> None:
    old, new = case
    leaves = _leaves(new)
    builder = TreeBuilder()
    for leaf in leaves[:old]:
        builder.append(leaf)
    frontier = builder.frontier
    assert consistency_proof_from(old, frontier, leaves[old:]) == consistency_proof(old, leaves)
    restored = TreeBuilder.restore(old, frontier)
    for leaf in leaves[old:]:
        restored.append(leaf)
    assert (restored.size, restored.root()) == (new, tree_root(leaves))


def test_a_frontier_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(MerkleProofError, match="has 2 hashes, not 1"):
        TreeBuilder.restore(3, [LEAVES[0]])
    with pytest.raises(MerkleProofError, match="has 2 hashes, not 1"):
        consistency_proof_from(3, [LEAVES[0]], LEAVES[3:])
