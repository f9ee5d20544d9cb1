"""Signed batch manifests: one signature that commits to every stamp of a batch.

A manifest lists, in index order, a 16-byte fingerprint of each stamp: keyed BLAKE3 of
``body | signature`` (the key is public and fixed; it only separates domains). The issuer signs
``b"antifake.manifest" | version | BLAKE3(header | fingerprints)`` with Ed25519. A verifier
holding the manifest confirms a code by comparing its fingerprint with the one at its index:
a hash instead of a signature check, and proof that the stamp was issued in that batch.
Fingerprints do not reveal serials, and matching one requires the stamp's real signature.

File layout: ``b"AFMANIF1" | u32 header length | header | fingerprints (16 n) | signature (64)``;
header: ``version u8 | key_id u16 | batch_id u32 | count u32 | issued_at i64 (µs UTC) |
len(issuer) u8 | issuer | flags u8 | [GS1 suffix as in the signed stamp message]``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import numpy as np
import numpy.typing as npt

from antifake.codes import GS1Attributes
from antifake.errors import ManifestError
from antifake.timeutil import from_micros, to_micros

if TYPE_CHECKING:
    from antifake.keys import IssuerKey, IssuerPublicKey

__all__ = ["Manifest", "FINGERPRINT_KEY", "fingerprint"]

MAGIC = b"AFMANIF1"
VERSION = 1
SIGN_CONTEXT = b"antifake.manifest"
FINGERPRINT_KEY = blake3.blake3(b"", derive_key_context="antifake 2026-11 manifest fingerprint v1"
                                ).digest()
MAX_COUNT = 1 << 24
_FIXED = struct.Struct(">BHIIqB")  # version, key_id, batch_id, count, issued_at, len(issuer)
#: Largest manifest file: magic, header length, the longest header, 2**24 fingerprints, signature.
MAX_FILE = 12 + 4096 + 16 * MAX_COUNT + 64
# the shortest header: the fixed fields, an empty issuer name and the flags byte (no product)
MIN_HEADER = _FIXED.size + 1


def fingerprint(body: bytes, signature: bytes) -> bytes:
    """The 16-byte manifest fingerprint of one stamp (reference implementation)."""
    return blake3.blake3(body + signature, key=FINGERPRINT_KEY).digest(16)


@dataclass(frozen=True, eq=False)
class Manifest:
    """The signed list of a batch's stamp fingerprints (immutable)."""

    key_id: int
    batch_id: int
    issuer: str
    issued_at: datetime
    product: GS1Attributes | None
    fingerprints: npt.NDArray[np.uint8]  # (count, 16)
    signature: bytes

    @property
    def count(self) -> int:
        return int(self.fingerprints.shape[0])

    def __repr__(self) -> str:
        return (f"Manifest(issuer={self.issuer!r}, key_id={self.key_id}, "
                f"batch_id={self.batch_id}, count={self.count}, issued_at={self.issued_at})")

    def header(self) -> bytes:
        return _header(self.key_id, self.batch_id, self.count, self.issued_at, self.issuer,
                       self.product)

    def root(self) -> bytes:
        """BLAKE3 of header and fingerprints: what the signature covers."""
        h = blake3.blake3(max_threads=blake3.blake3.AUTO)
        h.update(self.header())
        h.update(np.ascontiguousarray(self.fingerprints, dtype=np.uint8).tobytes())
        return h.digest()

    def signed_message(self) -> bytes:
        return SIGN_CONTEXT + bytes([VERSION]) + self.root()

    @classmethod
    def build(cls, key: IssuerKey, batch_id: int, issued_at: datetime,
              product: GS1Attributes | None, fingerprints: npt.NDArray[np.uint8]) -> Manifest:
        """Sign a manifest over ``fingerprints`` with the issuer's key."""
        fps = np.ascontiguousarray(fingerprints, dtype=np.uint8)
        if fps.ndim != 2 or fps.shape[1] != 16 or fps.shape[0] > MAX_COUNT:
            raise ManifestError("fingerprints must be a (n <= 2**24, 16) uint8 array")
        fps.setflags(write=False)
        unsigned = cls(key.key_id, batch_id, key.issuer, issued_at, product, fps, b"")
        return cls(key.key_id, batch_id, key.issuer, issued_at, product, fps,
                   key.sign(unsigned.signed_message()))

    def verify_signature(self, pub: IssuerPublicKey) -> bool:
        """True when ``pub`` signed this manifest (and it names that key)."""
        if pub.key_id != self.key_id or pub.issuer != self.issuer:
            return False
        return pub.verify_detached(self.signed_message(), self.signature)

    def contains(self, index: int, fp: bytes) -> bool:
        """True when the stamp at ``index`` has fingerprint ``fp``."""
        if not 0 <= index < self.count:
            return False
        import secrets

        return secrets.compare_digest(self.fingerprints[index].tobytes(), fp)

    # -- files --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        head = self.header()
        return (MAGIC + struct.pack(">I", len(head)) + head
                + np.ascontiguousarray(self.fingerprints).tobytes() + self.signature)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the manifest file (public: no secret in it)."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview,
                   verify_with: IssuerPublicKey | None = None) -> Manifest:
        """Parse a manifest (bytes, bytearray or memoryview); with ``verify_with`` a bad
        signature raises ManifestError."""
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise ManifestError(f"a manifest is bytes, not {type(data).__name__}")
        if len(data) > MAX_FILE:
            raise ManifestError("too large to be a manifest")
        try:
            if data[:8] != MAGIC:
                raise ManifestError("not an antifake manifest (bad magic)")
            (hlen,) = struct.unpack_from(">I", data, 8)
            head = data[12:12 + hlen]
            if len(head) != hlen or hlen < MIN_HEADER:
                raise ManifestError("manifest header truncated")
            version, key_id, batch_id, count, t_us, ilen = _FIXED.unpack_from(head, 0)
            if version != VERSION:
                raise ManifestError(f"unsupported manifest version {version}")
            if count > MAX_COUNT:
                raise ManifestError("manifest count out of range")
            off = _FIXED.size
            issuer = head[off:off + ilen].decode("ascii")
            off += ilen
            flags = head[off]
            off += 1
            product = None
            if flags == 1:
                gtin = head[off:off + 14].decode("ascii")
                exp = head[off + 14:off + 20]
                lot_len = head[off + 20]
                lot = head[off + 21:off + 21 + lot_len].decode("ascii")
                product = GS1Attributes(gtin, lot or None,
                                        None if exp == bytes(6) else exp.decode("ascii"))
                off += 21 + lot_len
            elif flags != 0:
                raise ManifestError("unknown manifest flags")
            if off != hlen:
                raise ManifestError("manifest header has trailing bytes")
            body = data[12 + hlen:]
            if len(body) != 16 * count + 64:
                raise ManifestError(
                    f"manifest body is {len(body)} bytes, expected {16 * count + 64}")
            fps = np.frombuffer(body, dtype=np.uint8, count=16 * count).reshape(count, 16)
            m = cls(key_id, batch_id, issuer, from_micros(t_us), product, fps, body[-64:])
        except ManifestError:
            raise
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest ({type(exc).__name__})") from None
        if m.header() != head:
            raise ManifestError("manifest header is not in canonical form")
        if verify_with is not None and not m.verify_signature(verify_with):
            raise ManifestError("manifest signature does not verify: tampered or wrong key")
        return m

    @classmethod
    def load(cls, path: str | os.PathLike[str],
             verify_with: IssuerPublicKey | None = None) -> Manifest:
        """Read a manifest file (see [`from_bytes`][antifake.manifest.Manifest.from_bytes])."""
        p = Path(path)
        try:
            with open(p, "rb") as f:  # reads only what the header announces (+1 byte), so a
                head = f.read(12)     # device or a huge file cannot exhaust memory
                if len(head) != 12 or head[:8] != MAGIC:
                    raise ManifestError(f"{p} is not an antifake manifest (bad magic)")
                (hlen,) = struct.unpack_from(">I", head, 8)
                if not MIN_HEADER <= hlen <= 4096:
                    raise ManifestError(f"{p}: manifest header length out of range")
                header = f.read(hlen)
                count = struct.unpack_from(">I", header, 7)[0] if len(header) >= 11 else 0
                if count > MAX_COUNT:
                    raise ManifestError(f"{p}: manifest count out of range")
                data = head + header + f.read(16 * count + 64 + 1)
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {p}: {exc.strerror}") from None
        return cls.from_bytes(data, verify_with)


def _header(key_id: int, batch_id: int, count: int, issued_at: datetime, issuer: str,
            product: GS1Attributes | None) -> bytes:
    iss = issuer.encode("ascii")
    head = _FIXED.pack(VERSION, key_id, batch_id, count, to_micros(issued_at), len(iss)) + iss
    if product is None:
        return head + b"\x00"
    return head + b"\x01" + product.signed_suffix()
