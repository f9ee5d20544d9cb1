"""RFC 9162 Merkle trees over SHA-256: hashing, roots, proofs and their verifiers.

Leaf hash `SHA-256(0x00 || data)`, interior node `SHA-256(0x01 || left || right)`, the tree of
`n` leaves split at the largest power of two below `n` (RFC 9162 section 2.1.1). Proofs are
generated from a [`NodeSource`][antifake.log.merkle.NodeSource]: anything that returns the
hashes of complete, aligned subtrees (`level`, `index`: the subtree of the `2**level` leaves
starting at leaf `index * 2**level`). The verifiers follow RFC 9162 sections 2.1.3.2 and
2.1.4.2 step by step and answer `False` for any proof that does not check, whatever its
shape; arguments of the wrong type raise [`FormatError`][antifake.errors.FormatError].
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from antifake.errors import FormatError
from antifake.log._native import hash_pairs as _hash_pairs

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "MAX_SIZE",
    "leaf_hash",
    "node_hash",
    "NodeSource",
    "MemoryTree",
    "InclusionProof",
    "ConsistencyProof",
    "root_hash",
    "inclusion_proof",
    "consistency_proof",
    "verify_inclusion",
    "verify_consistency",
    "subtree_ranges",
]

HASH_SIZE = 32
#: Root of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Largest tree size or leaf index accepted (RFC 9162 sizes are 64-bit).
MAX_SIZE = (1 << 64) - 1
#: A proof of a tree of at most 2**64 leaves has at most 64 hashes (consistency: 65).
_MAX_PROOF = 65
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """`SHA-256(0x00 || data)`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"leaf data must be bytes, not {type(data).__name__}")
    return _sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """`SHA-256(0x01 || left || right)`."""
    return _sha256(b"\x01" + left + right).digest()


class NodeSource(Protocol):
    """Hashes of complete, aligned subtrees of one tree (what proofs are made of)."""

    def nodes(self, wanted: Sequence[tuple[int, int]]) -> list[bytes]:
        """The hash of each `(level, index)`; every one lies in the tree's complete part."""
        ...


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves."""

    index: int
    size: int
    hashes: list[bytes]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """An RFC 9162 consistency proof from the tree of `size1` leaves to that of `size2`."""

    size1: int
    size2: int
    hashes: list[bytes]


def _check_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise FormatError(f"{name} must be an integer, not {type(v).__name__}")
    return v


def _check_size(name: str, v: Any) -> int:
    _check_int(name, v)
    if not 0 <= v <= MAX_SIZE:
        raise FormatError(f"{name} must lie in 0..2**64-1, got {v}")
    return v


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly smaller than `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_ranges(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees, `(level, index)` left to right, whose right fold is the
    hash of leaves `[lo, hi)` (as RFC 9162 splits them; `lo` a multiple of the split sizes)."""
    out: list[tuple[int, int]] = []
    while hi > lo:
        n = hi - lo
        if n & (n - 1) == 0 and lo & (n - 1) == 0:
            level = n.bit_length() - 1
            out.append((level, lo >> level))
            break
        level = (n - 1).bit_length() - 1  # the largest power of two below n
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def _fold(hashes: list[bytes]) -> bytes:
    h = hashes[-1]
    for x in reversed(hashes[:-1]):
        h = node_hash(x, h)
    return h


def _resolve(src: NodeSource, ranges: list[tuple[int, int]]) -> list[bytes]:
    """Hashes of the ranges `[lo, hi)`, fetching every node they need in one call."""
    parts = [subtree_ranges(lo, hi) for lo, hi in ranges]
    flat = list(dict.fromkeys(p for part in parts for p in part))
    got = dict(zip(flat, src.nodes(flat), strict=True)) if flat else {}
    return [got[part[0]] if len(part) == 1 else _fold([got[p] for p in part])
            for part in parts]


def root_hash(src: NodeSource, size: int) -> bytes:
    """Root of the first `size` leaves (`EMPTY_ROOT` for 0)."""
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return _resolve(src, [(0, size)])[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    # RFC 9162 2.1.3.1 PATH(m, D[n]), iteratively, from the leaf up
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_pow2_below(hi - lo)
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def inclusion_proof(src: NodeSource, index: int, size: int) -> InclusionProof:
    """RFC 9162 inclusion proof of leaf `index` in the first `size` leaves."""
    _check_size("size", size)
    _check_int("index", index)
    if not 0 <= index < size:
        raise FormatError(f"leaf index {index} is not in a tree of {size} leaves")
    return InclusionProof(index, size, _resolve(src, _inclusion_ranges(index, size)))


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    # RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b), iteratively
    out: list[tuple[int, int]] = []
    lo, hi, b = 0, n, True
    while True:
        if m == hi - lo:
            if not b:
                out.append((lo, hi))
            break
        k = _largest_pow2_below(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m -= k
            lo += k
            b = False
    out.reverse()
    return out


def consistency_proof(src: NodeSource, size1: int, size2: int) -> ConsistencyProof:
    """RFC 9162 consistency proof between the first `size1` and `size2` leaves (empty when
    `size1` is 0 or equals `size2`)."""
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise FormatError(f"size1 ({size1}) is larger than size2 ({size2})")
    if size1 == 0 or size1 == size2:
        return ConsistencyProof(size1, size2, [])
    return ConsistencyProof(size1, size2, _resolve(src, _consistency_ranges(size1, size2)))


class MemoryTree:
    """A whole tree in memory: level `l` holds the complete nodes of `2**l` leaves, packed."""

    def __init__(self, leaf_hashes: bytes | bytearray | memoryview = b"") -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.append_hashes(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self.levels[0]) // HASH_SIZE

    def append_hashes(self, leaf_hashes: bytes | bytearray | memoryview) -> None:
        """Append leaves given by their hashes (32 bytes each, concatenated)."""
        data = bytes(leaf_hashes)
        if len(data) % HASH_SIZE:
            raise FormatError("leaf hashes must be a multiple of 32 bytes")
        self.levels[0] += data
        lvl = 0
        while len(self.levels[lvl]) >= 2 * HASH_SIZE:
            below = self.levels[lvl]
            if lvl + 1 == len(self.levels):
                self.levels.append(bytearray())
            above = self.levels[lvl + 1]
            have = len(above) // HASH_SIZE
            want = len(below) // (2 * HASH_SIZE)
            if want > have:
                start = 2 * have * HASH_SIZE
                stop = 2 * want * HASH_SIZE
                above += hash_pairs(memoryview(below)[start:stop])
            lvl += 1

    def append(self, data: bytes) -> int:
        """Append one leaf by its data; returns its index."""
        self.append_hashes(leaf_hash(data))
        return self.size - 1

    def nodes(self, wanted: Sequence[tuple[int, int]]) -> list[bytes]:
        out = []
        for level, index in wanted:
            lv = self.levels[level]
            out.append(bytes(lv[index * HASH_SIZE:(index + 1) * HASH_SIZE]))
        return out

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self, self.size if size is None else size)


def hash_pairs(data: bytes | bytearray | memoryview) -> bytes | bytearray:
    """`node_hash` of each consecutive pair of 32-byte hashes (uses the native core)."""
    return _hash_pairs(data)


# -- verifiers (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------------
def _check_hash(name: str, h: Any) -> bytes | None:
    if not isinstance(h, bytes | bytearray):
        raise FormatError(f"{name} must be bytes, not {type(h).__name__}")
    return bytes(h) if len(h) == HASH_SIZE else None


def _check_path(hashes: Any) -> list[bytes] | None:
    if hashes is None:
        return []
    if isinstance(hashes, bytes | bytearray | str) or not isinstance(hashes, Sequence):
        raise FormatError(f"proof hashes must be a list of bytes, not {type(hashes).__name__}")
    if len(hashes) > _MAX_PROOF:
        return None
    out = []
    for i, h in enumerate(hashes):
        b = _check_hash(f"proof hash {i}", h)
        if b is None:
            return None
        out.append(b)
    return out


def verify_inclusion(leaf_hash: bytes, index: int, size: int, hashes: Sequence[bytes] | None,
                     root: bytes) -> bool:
    """Whether `hashes` prove leaf `leaf_hash` at `index` in the tree of `size` leaves with
    root `root` (RFC 9162 section 2.1.3.2)."""
    lh = _check_hash("leaf_hash", leaf_hash)
    rt = _check_hash("root", root)
    _check_int("index", index)
    _check_int("size", size)
    path = _check_path(hashes)
    if lh is None or rt is None or path is None:
        return False
    if not 0 <= index < size <= MAX_SIZE:
        return False
    fn, sn = index, size - 1
    r = lh
    for p in path:
        if sn == 0:
            return False
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
    return sn == 0 and r == rt


def verify_consistency(size1: int, root1: bytes, size2: int, root2: bytes,
                       hashes: Sequence[bytes] | None) -> bool:
    """Whether `hashes` prove the tree of `size2` leaves with root `root2` extends the tree of
    `size1` leaves with root `root1` (RFC 9162 section 2.1.4.2; equal sizes need an empty
    proof and equal roots; from the empty tree, an empty proof)."""
    r1 = _check_hash("root1", root1)
    r2 = _check_hash("root2", root2)
    _check_int("size1", size1)
    _check_int("size2", size2)
    path = _check_path(hashes)
    if r1 is None or r2 is None or path is None:
        return False
    if not 0 <= size1 <= size2 <= MAX_SIZE:
        return False
    if size1 == size2:
        return not path and r1 == r2
    if size1 == 0:
        return not path and r1 == EMPTY_ROOT
    if not path:
        return False
    if size1 & (size1 - 1) == 0:
        path = [r1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
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
    return fr == r1 and sr == r2 and sn == 0
