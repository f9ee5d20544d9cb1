"""The native kernels of the log: pairwise node hashing (tree building) and the stored log's
proof kernels, when the core has them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from antifake import _core
from antifake.errors import FormatError

__all__ = ["hash_pairs", "hash_pairs_py", "NATIVE", "tlog_proof", "tlog_tile_levels"]


def hash_pairs_py(data: bytes | bytearray | memoryview) -> bytes:
    """`SHA-256(0x01 || a || b)` of each consecutive pair of 32-byte hashes, in Python."""
    mv = memoryview(data).cast("B")
    if len(mv) % 64:
        raise FormatError("pairs of 32-byte hashes take a multiple of 64 bytes")
    sha = hashlib.sha256
    return b"".join(sha(b"\x01" + mv[i:i + 64]).digest() for i in range(0, len(mv), 64))


#: The native kernel (None in a core built without it).
_native_pairs: Callable[[memoryview], bytearray] | None = getattr(_core, "sha256_node_pairs", None)

NATIVE = _native_pairs is not None

#: The stored log's proof kernels (`_tlog.pxi`; None in a core built without them, and the
#: generic path of `antifake.log.merkle` serves).
tlog_proof: Callable[..., bytes | None] | None = getattr(_core, "tlog_proof", None)
tlog_tile_levels: Callable[..., bytearray] | None = getattr(_core, "tlog_tile_levels", None)


def hash_pairs(data: bytes | bytearray | memoryview) -> bytes | bytearray:
    """`SHA-256(0x01 || a || b)` of each consecutive pair of 32-byte hashes."""
    if _native_pairs is None:
        return hash_pairs_py(data)
    mv = memoryview(data).cast("B")
    if len(mv) % 64:
        raise FormatError("pairs of 32-byte hashes take a multiple of 64 bytes")
    return _native_pairs(mv)
