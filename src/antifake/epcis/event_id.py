"""The identity of an event: its CBV 2.0 event id ``ni:///sha-256;<hex>?ver=CBV2.0`` and the
32 bytes of SHA-256 it names, converted one way and the other (one event, or in bulk)."""

from __future__ import annotations

import re

import numpy as np

from antifake.errors import RegistryError

__all__ = ["ID_PREFIX", "ID_SUFFIX", "hash_ids", "hash_to_id", "id_to_hash"]

ID_PREFIX = "ni:///sha-256;"
ID_SUFFIX = "?ver=CBV2.0"
_ID_RE = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def id_to_hash(event_id: str) -> bytes:
    """The 32 bytes of a CBV 2.0 event id ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    if (isinstance(event_id, str) and len(event_id) == 89 and event_id.startswith(ID_PREFIX)
            and event_id.endswith(ID_SUFFIX)):
        hexpart = event_id[14:78]
        if hexpart.islower() or hexpart.isdigit():
            try:
                return bytes.fromhex(hexpart)
            except ValueError:
                pass
    if isinstance(event_id, str) and _ID_RE.fullmatch(event_id):
        return bytes.fromhex(event_id[14:78])
    raise RegistryError(f"not a CBV 2.0 event id: {str(event_id)[:100]!r}")


def hash_to_id(digest: bytes) -> str:
    """Inverse of [`id_to_hash`][antifake.epcis.event_id.id_to_hash]."""
    return f"{ID_PREFIX}{bytes(digest).hex()}{ID_SUFFIX}"


def hash_ids(hashes: np.ndarray, block: int = 262_144) -> np.ndarray:
    """Event id strings (object array) of an ``(n, 32)`` uint8 array of hashes, built in bulk
    (``bytes.hex``, one decode and split per block; no Python loop per event)."""
    n = int(hashes.shape[0])
    out = np.empty(n, dtype=object)
    pre = np.frombuffer(ID_PREFIX.encode(), dtype=np.uint8)
    suf = np.frombuffer((ID_SUFFIX + "\n").encode(), dtype=np.uint8)
    width = len(pre) + 64 + len(suf)
    for lo in range(0, n, block):
        h = np.ascontiguousarray(hashes[lo: lo + block])
        k = h.shape[0]
        m = np.empty((k, width), dtype=np.uint8)
        m[:, : len(pre)] = pre
        m[:, len(pre): len(pre) + 64] = np.frombuffer(h.tobytes().hex().encode("ascii"),
                                                      dtype=np.uint8).reshape(k, 64)
        m[:, len(pre) + 64:] = suf
        out[lo: lo + k] = m.tobytes().decode("ascii").split("\n")[:k]
    return out
