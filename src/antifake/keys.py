"""Issuer keys, their public halves, key files and the verifier's keyring.

An [`IssuerKey`][antifake.keys.IssuerKey] is an Ed25519 signing key plus a 32-byte MAC secret from
which the stamp-number tag key and the PIN key are derived (BLAKE3 derive-key mode, distinct
contexts). Key files are JSON, written 0600 and atomically; with a passphrase the secrets are sealed
with Argon2id (``nacl.pwhash``) and XSalsa20-Poly1305 (``nacl.secret.SecretBox``). Either way the
file's metadata is authenticated, so a corrupted or edited file is refused.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blake3
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing

from antifake._atomic import atomic_file, read_limited
from antifake._sodium import ed25519_ok
from antifake.codes import MAX_BATCH_ID, MAX_KEY_ID, short_key_id
from antifake.errors import InvalidKey, KeyFileError, WrongPassphrase
from antifake.timeutil import parse_time, to_iso

__all__ = ["IssuerKey", "IssuerPublicKey"]

TAG_CONTEXT = "antifake 2026-11 stamp-number tag key v1"
PIN_CONTEXT = "antifake 2026-11 stamp PIN key v1"
FILE_CONTEXT = "antifake 2026-11 key-file metadata MAC v1"
FILE_FORMAT = "antifake-issuer-key"
PUBLIC_FORMAT = "antifake-issuer-public-key"
DEFAULT_VALIDITY = timedelta(days=3 * 365)
#: Largest key or public-key file read (a key file is about 1 KiB).
MAX_KEY_FILE = 1 << 16
#: Argon2id parameters a sealed key file may ask for: at most what the "sensitive" preset
#: uses (opslimit 4, 1 GiB), so a crafted file cannot start a longer or larger run.
MIN_OPS, MAX_OPS = nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
MIN_MEM, MAX_MEM = nacl.pwhash.argon2id.MEMLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE
_ISSUER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_KDF = {
    "interactive": (nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
                    nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "sensitive": (nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE,
                  nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE),
}


def _check_issuer(issuer: str) -> str:
    if not isinstance(issuer, str) or not _ISSUER_RE.match(issuer):
        raise InvalidKey(
            "issuer must be 1-64 characters of letters, digits, '.', '_' or '-' "
            f"starting with a letter or digit, got {issuer!r:.80}"
        )
    return issuer


def _check_key_id(key_id: int) -> int:
    if not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
        raise InvalidKey(f"key_id must be an integer in 0..{MAX_KEY_ID}")
    return key_id


@dataclass(frozen=True, slots=True)
class IssuerPublicKey:
    """What a verifier needs to trust an issuer's key: no secret in it."""

    issuer: str
    key_id: int
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None

    def __post_init__(self) -> None:
        _check_issuer(self.issuer)
        _check_key_id(self.key_id)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise InvalidKey("an Ed25519 public key is 32 bytes")

    @property
    def fingerprint(self) -> str:
        """Short hex fingerprint of the public key (for humans and logs)."""
        return blake3.blake3(self.public_key).hexdigest(8)

    def valid_at(self, t: datetime) -> bool:
        """True when ``t`` lies in the key's issuing window."""
        return self.valid_from <= t and (self.valid_until is None or t <= self.valid_until)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PUBLIC_FORMAT,
            "version": 1,
            "issuer": self.issuer,
            "key_id": self.key_id,
            "public_key": self.public_key.hex(),
            "valid_from": to_iso(self.valid_from),
            "valid_until": to_iso(self.valid_until) if self.valid_until else None,
        }

    def to_json(self) -> str:
        """JSON form, safe to publish."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any) -> IssuerPublicKey:
        if not isinstance(d, dict) or d.get("format") != PUBLIC_FORMAT:
            raise InvalidKey("not an antifake public key (format field missing or wrong)")
        if d.get("version") != 1:
            raise InvalidKey(f"unsupported public key version {d.get('version')!r}")
        try:
            pk = bytes.fromhex(d["public_key"])
            until = d.get("valid_until")
            return cls(
                issuer=d["issuer"],
                key_id=d["key_id"],
                public_key=pk,
                valid_from=parse_time(d["valid_from"]),
                valid_until=parse_time(until) if until else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, InvalidKey):
                raise
            raise InvalidKey(f"malformed public key: {type(exc).__name__} {exc}"[:200]) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> IssuerPublicKey:
        """Parse [`to_json`][antifake.keys.IssuerPublicKey.to_json] output."""
        if not isinstance(text, str | bytes) or len(text) > MAX_KEY_FILE:
            raise InvalidKey("a public key is a JSON text of at most 64 KiB")
        try:
            d = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise InvalidKey(f"public key is not JSON: {type(exc).__name__}") from None
        return cls.from_dict(d)

    def verify_detached(self, message: bytes, signature: bytes) -> bool:
        """Ed25519 check of ``signature`` over ``message``."""
        return ed25519_ok(self.public_key, message, signature)


class IssuerKey:
    """An issuer's secret key: signs stamps, tags stamp numbers, derives PINs.

    Its repr and its exceptions never contain secret material. ``next_batch`` is the batch id
    [`antifake.issue`][antifake.issue.issue] allocates next; save the key after issuing to persist
    it.
    """

    __slots__ = ("_signing", "_mac", "_public", "next_batch", "_tag_key", "_pin_key")

    def __init__(
        self,
        issuer: str,
        key_id: int,
        seed: bytes,
        mac_secret: bytes,
        valid_from: datetime,
        valid_until: datetime | None,
        next_batch: int = 0,
    ) -> None:
        if len(seed) != 32 or len(mac_secret) != 32:
            raise InvalidKey("seed and MAC secret are 32 bytes each")
        self._signing = nacl.signing.SigningKey(seed)
        self._mac = bytes(mac_secret)
        self._public = IssuerPublicKey(
            issuer, key_id, bytes(self._signing.verify_key), valid_from, valid_until
        )
        if not 0 <= next_batch <= MAX_BATCH_ID + 1:
            raise InvalidKey("next_batch out of range")
        self.next_batch = next_batch
        self._tag_key = blake3.blake3(self._mac, derive_key_context=TAG_CONTEXT).digest()
        self._pin_key = blake3.blake3(self._mac, derive_key_context=PIN_CONTEXT).digest()

    @classmethod
    def generate(
        cls,
        issuer: str,
        *,
        key_id: int | None = None,
        valid_from: datetime | str | None = None,
        valid_until: datetime | str | None = None,
    ) -> IssuerKey:
        """A fresh key from the OS CSPRNG; ``key_id`` random unless given; valid 3 years."""
        _check_issuer(issuer)
        kid = secrets.randbelow(MAX_KEY_ID + 1) if key_id is None else _check_key_id(key_id)
        start = parse_time(valid_from) if valid_from is not None else datetime.now(UTC)
        end = parse_time(valid_until) if valid_until is not None else start + DEFAULT_VALIDITY
        if end <= start:
            raise InvalidKey("valid_until must be after valid_from")
        return cls(issuer, kid, secrets.token_bytes(32), secrets.token_bytes(32), start, end)

    # -- public facts -------------------------------------------------------------------
    @property
    def public(self) -> IssuerPublicKey:
        return self._public

    @property
    def issuer(self) -> str:
        return self._public.issuer

    @property
    def key_id(self) -> int:
        return self._public.key_id

    @property
    def short_id(self) -> int:
        """The 5-bit key id carried in stamp numbers."""
        return short_key_id(self._public.key_id)

    def __repr__(self) -> str:
        p = self._public
        return (
            f"IssuerKey(issuer={p.issuer!r}, key_id={p.key_id}, "
            f"fingerprint={p.fingerprint!r}, secret=<hidden>)"
        )

    def __reduce__(self) -> Any:
        raise TypeError("IssuerKey cannot be pickled; use save()/load() with a passphrase")

    # -- secret operations (kept narrow on purpose) -------------------------------------
    def sign(self, message: bytes) -> bytes:
        """Detached Ed25519 signature."""
        return self._signing.sign(message).signature

    def tag_key(self) -> bytes:
        """The 32-byte BLAKE3 key of stamp-number tags (secret)."""
        return self._tag_key

    def pin_key(self) -> bytes:
        """The 32-byte BLAKE3 key of PINs (secret)."""
        return self._pin_key

    def secret_key_bytes(self) -> bytes:
        """libsodium's 64-byte Ed25519 secret key (seed | public key) for the batch kernels."""
        return bytes(self._signing) + self._public.public_key

    def allocate_batch(self) -> int:
        """The next batch id of this key (ids are allocated in order)."""
        if self.next_batch > MAX_BATCH_ID:
            raise InvalidKey("this key has issued its last batch id; generate a new key")
        bid = self.next_batch
        self.next_batch += 1
        return bid

    # -- files --------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        d = self._public.to_dict()
        d["format"] = FILE_FORMAT
        d["next_batch"] = self.next_batch
        return d

    def save(
        self, path: str | os.PathLike[str], passphrase: bytes | None = None, *,
        kdf: str = "moderate",
    ) -> None:
        """Write the key file with mode 0600, atomically; sealed when a passphrase is given."""
        write_key_file(path, self._metadata(), bytes(self._signing) + self._mac, self._mac,
                       passphrase, kdf=kdf)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None = None) -> IssuerKey:
        """Read a key file; [`WrongPassphrase`][antifake.errors.WrongPassphrase] or
        [`KeyFileError`][antifake.errors.KeyFileError] when it won't open."""
        p = Path(path)
        meta, secret = read_key_file(
            p, FILE_FORMAT, ("issuer", "key_id", "public_key", "valid_from", "valid_until",
                             "next_batch"), 64, lambda s: s[32:], passphrase)
        try:
            until = meta["valid_until"]
            key = cls(meta["issuer"], meta["key_id"], secret[:32], secret[32:],
                      parse_time(meta["valid_from"]), parse_time(until) if until else None,
                      int(meta["next_batch"]))
        except (KeyError, TypeError, ValueError, InvalidKey) as e:
            raise KeyFileError(f"{p}: malformed key file ({type(e).__name__})") from None
        if key.public.public_key.hex() != meta["public_key"]:
            raise KeyFileError(f"{p}: the secret does not match the public key")
        return key


def write_key_file(path: str | os.PathLike[str], meta: dict[str, Any], secret: bytes,
                   mac_secret: bytes, passphrase: bytes | None, *, kdf: str = "moderate") -> None:
    """Write an antifake key file (0600, atomic): ``meta`` (with ``format`` and ``version``)
    authenticated by a BLAKE3 MAC keyed from ``mac_secret``, and ``secret`` in the clear or,
    with a passphrase, sealed with Argon2id + XSalsa20-Poly1305. Every key kind uses this."""
    meta = dict(meta)
    meta.setdefault("version", 1)
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    if passphrase is None:
        meta["secret"] = base64.b64encode(secret).decode()
    else:
        if not isinstance(passphrase, bytes | bytearray) or not passphrase:
            raise InvalidKey("passphrase must be non-empty bytes")
        if kdf not in _KDF:
            raise InvalidKey(f"kdf must be one of {sorted(_KDF)}")
        ops, mem = _KDF[kdf]
        salt = secrets.token_bytes(nacl.pwhash.argon2id.SALTBYTES)
        box_key = nacl.pwhash.argon2id.kdf(32, bytes(passphrase), salt, opslimit=ops,
                                           memlimit=mem)
        plain = secret + blake3.blake3(meta_bytes).digest()
        sealed = nacl.secret.SecretBox(box_key).encrypt(plain)
        meta["sealed"] = {
            "kdf": "argon2id",
            "opslimit": ops,
            "memlimit": mem,
            "salt": base64.b64encode(salt).decode(),
            "box": base64.b64encode(bytes(sealed)).decode(),
        }
    meta["mac"] = blake3.blake3(
        meta_bytes, key=blake3.blake3(mac_secret, derive_key_context=FILE_CONTEXT).digest()
    ).hexdigest()
    _write_private(Path(path), json.dumps(meta, indent=1, sort_keys=True).encode())


def read_key_file(path: str | os.PathLike[str], fmt: str, fields: tuple[str, ...],
                  secret_len: int, mac_secret_of: Callable[[bytes], bytes],
                  passphrase: bytes | None) -> tuple[dict[str, Any], bytes]:
    """Open a file written by `write_key_file`: check its format, version and MAC, unseal its
    secret; returns the metadata (``format``, ``version`` and ``fields``) and the secret."""
    p = Path(path)
    raw = read_limited(p, MAX_KEY_FILE, "key file", KeyFileError)
    try:
        d = json.loads(raw)
    except (ValueError, RecursionError):
        raise KeyFileError(f"{p} is not a key file (not JSON)") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise KeyFileError(f"{p} is not an {fmt} file")
    if d.get("version") != 1:
        raise KeyFileError(f"{p}: unsupported key file version {d.get('version')!r}")
    try:
        meta = {k: d[k] for k in ("format", "version", *fields)}
        meta_bytes = json.dumps(meta, sort_keys=True).encode()
        if "sealed" in d:
            if passphrase is None:
                raise WrongPassphrase(f"{p} is sealed: a passphrase is needed")
            s = d["sealed"]
            ops, mem = s["opslimit"], s["memlimit"]
            if (s.get("kdf") != "argon2id" or type(ops) is not int or type(mem) is not int
                    or not (MIN_OPS <= ops <= MAX_OPS and MIN_MEM <= mem <= MAX_MEM)):
                raise KeyFileError(
                    f"{p}: unsupported or unsafe KDF parameters (Argon2id opslimit "
                    f"{MIN_OPS}..{MAX_OPS}, memlimit {MIN_MEM}..{MAX_MEM} bytes)")
            salt = base64.b64decode(s["salt"], validate=True)
            box_key = nacl.pwhash.argon2id.kdf(32, bytes(passphrase), salt, opslimit=ops,
                                               memlimit=mem)
            try:
                plain = nacl.secret.SecretBox(box_key).decrypt(
                    base64.b64decode(s["box"], validate=True))
            except nacl.exceptions.CryptoError:
                raise WrongPassphrase(
                    f"{p} did not open: wrong passphrase or corrupted file") from None
            if len(plain) != secret_len + 32 or not secrets.compare_digest(
                    plain[secret_len:], blake3.blake3(meta_bytes).digest()):
                raise KeyFileError(f"{p}: metadata does not match the sealed secret")
            secret = plain[:secret_len]
        else:
            secret = base64.b64decode(d["secret"], validate=True)
            if len(secret) != secret_len:
                raise KeyFileError(f"{p}: secret has the wrong length")
        mac_key = blake3.blake3(mac_secret_of(secret), derive_key_context=FILE_CONTEXT).digest()
        want = blake3.blake3(meta_bytes, key=mac_key).hexdigest()
        if not secrets.compare_digest(want, str(d.get("mac", ""))):
            raise KeyFileError(f"{p}: the file was modified or corrupted (MAC mismatch)")
    except KeyFileError:
        raise
    except (KeyError, TypeError, ValueError, InvalidKey, nacl.exceptions.CryptoError) as e:
        raise KeyFileError(f"{p}: malformed key file ({type(e).__name__})") from None
    return meta, secret


def _write_private(path: Path, data: bytes) -> None:
    """Atomic write of a 0600 file (temp file in the same directory, fsync, rename)."""
    with atomic_file(path, "wb", private=True) as f:
        f.write(data)
