"""Merkle trees of a log, exactly as RFC 9162 (Certificate Transparency v2), section 2.1, defines them.

Pure functions over leaf hashes; no I/O. A leaf hash is ``SHA-256(0x00 || leaf)`` and an inner
node ``SHA-256(0x01 || left || right)``, so a leaf can never pass for a node. Names follow the
RFC: ``MTH`` is :func:`tree_root`, ``PATH`` :func:`inclusion_proof`, ``PROOF``
:func:`consistency_proof`; the two verifiers are the RFC's algorithms of 2.1.3.2 and 2.1.4.2
step by step, so a proof made by any RFC 6962/9162 log verifies here and the other way round
(tests/hub/test_merkle.py checks the published transparency-dev/merkle vectors).

Proof generation recomputes subtree hashes from the leaf hashes: O(n) hashing per proof. A log
that keeps the compact range (``TreeBuilder.frontier``) of an old size extends it with the new
leaves only (``TreeBuilder.restore``), and proves consistency from that size with the new leaves
only (``consistency_proof_from``): O(new) for the checkpoints a hub writes and shows its peers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hub.errors import HubError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}): the hash of the empty string
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleProofError(HubError):
    """A proof that does not verify, or arguments no proof can have; the message says which."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the leaf hashes ``leaves`` (RFC 9162 2.1.1)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 2.1.3.1): the audit path of leaf ``index`` (0-based)."""
    if not 0 <= index < len(leaves):
        raise MerkleProofError(f"leaf index {index} is not in a tree of size {len(leaves)}")
    return _path(index, leaves)


def _path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, leaves[:k]), tree_root(leaves[k:])]
    return [*_path(m - k, leaves[k:]), tree_root(leaves[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 2.1.4.1); empty when m is 0 or n (nothing to prove)."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise MerkleProofError(f"old size {old_size} is not within a tree of size {n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [tree_root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), tree_root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), tree_root(leaves[:k])]


def _frontier_ranges(size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) of a frontier's nodes, largest first."""
    ranges = []
    start = 0
    for bit in range(size.bit_length() - 1, -1, -1):
        if size >> bit & 1:
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


def consistency_proof_from(old_size: int, frontier: Sequence[bytes], later: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[old_size + len(later)]) from the old tree's frontier and the leaf hashes
    after it: exactly ``consistency_proof`` over the whole list, without the old leaves. Every node
    the RFC's SUBPROOF takes from the old part is a whole frontier node; every other one lies in
    ``later`` (the split point k of a range that holds old_size is below it or at least it)."""
    if len(frontier) != old_size.bit_count():
        raise MerkleProofError(
            f"a frontier of size {old_size} has {old_size.bit_count()} hashes, not {len(frontier)}"
        )
    new_size = old_size + len(later)
    if old_size in (0, new_size):
        return []
    old_nodes = dict(zip(_frontier_ranges(old_size), frontier, strict=True))

    def mth(start: int, end: int) -> bytes:
        if start >= old_size:
            return tree_root(later[start - old_size : end - old_size])
        node = old_nodes.get((start, end))
        if node is None or end > old_size:  # cannot happen for ranges SUBPROOF asks for
            raise MerkleProofError(f"leaves [{start}, {end}) are neither a frontier node nor new")
        return node

    def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [mth(start, end)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, whole), mth(start + k, end)]
        return [*subproof(m - k, start + k, end, False), mth(start, start + k)]

    return subproof(old_size, 0, new_size, True)


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise MerkleProofError(f"{what}[{position}] is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` makes of leaf hash ``leaf`` at ``index`` in a tree of ``size``
    (RFC 9162 2.1.3.2, steps 1-5 without the final comparison)."""
    if not 0 <= index < size:
        raise MerkleProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hashes("leaf hash", [leaf])
    _check_hashes("inclusion proof", proof)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise MerkleProofError(f"inclusion proof is longer than a tree of size {size} allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError(f"inclusion proof is shorter than a tree of size {size} needs")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ``MerkleProofError`` unless ``proof`` shows leaf hash ``leaf`` at ``index`` under ``root``."""
    _check_hashes("root", [root])
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise MerkleProofError(f"inclusion proof of leaf {index} does not lead to the root of size {size}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``MerkleProofError`` unless ``proof`` shows the tree ``old_root`` of ``old_size``
    is a prefix of ``new_root`` of ``new_size`` (RFC 9162 2.1.4.2)."""
    _check_hashes("old root", [old_root])
    _check_hashes("new root", [new_root])
    _check_hashes("consistency proof", proof)
    if not 0 <= old_size <= new_size:
        raise MerkleProofError(f"old size {old_size} is not within new size {new_size}")
    if old_size == new_size:
        if proof:
            raise MerkleProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise MerkleProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise MerkleProofError("a consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise MerkleProofError("the root of size 0 is not the empty tree's")
        return
    # 1. An empty path proves nothing between different, non-empty sizes.
    if not proof:
        raise MerkleProofError(f"empty consistency proof from size {old_size} to {new_size}")
    path = list(proof)
    # 2. A first tree that is a whole subtree is its own first node.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5-6.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleProofError(f"consistency proof is longer than sizes {old_size} -> {new_size} allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise MerkleProofError(f"consistency proof is shorter than sizes {old_size} -> {new_size} need")
    if fr != old_root:
        raise MerkleProofError(f"consistency proof does not lead to the root of size {old_size}")
    if sr != new_root:
        raise MerkleProofError(f"consistency proof does not lead to the root of size {new_size}")


class TreeBuilder:
    """Appends leaf hashes one at a time and gives MTH of the leaves so far, in O(log n) memory:
    the roots of the perfect subtrees the tree splits into, largest first (a "compact range")."""

    def __init__(self) -> None:
        self._size = 0
        self._subtrees: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        self._subtrees.append(leaf)
        self._size += 1
        # Each trailing 1-bit of the new size is a pair of equal subtrees to merge.
        merges = (self._size & -self._size).bit_length() - 1
        for _ in range(merges):
            right = self._subtrees.pop()
            left = self._subtrees.pop()
            self._subtrees.append(node_hash(left, right))

    @property
    def frontier(self) -> list[bytes]:
        """The compact range: roots of the perfect subtrees [0, size) splits into, largest first
        (one per 1-bit of size, from the highest)."""
        return list(self._subtrees)

    @classmethod
    def restore(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """A builder at ``size`` from its ``frontier``, to append the leaves after it."""
        if size < 0 or len(frontier) != size.bit_count():
            raise MerkleProofError(
                f"a frontier of size {size} has {size.bit_count()} hashes, not {len(frontier)}"
            )
        _check_hashes("frontier", frontier)
        builder = cls()
        builder._size = size
        builder._subtrees = list(frontier)
        return builder

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded from the right, as 2.1.1 splits them."""
        if not self._subtrees:
            return EMPTY_ROOT
        r = self._subtrees[-1]
        for left in reversed(self._subtrees[:-1]):
            r = node_hash(left, r)
        return r
