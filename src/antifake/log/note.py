"""Log keys, C2SP signed notes and tlog checkpoints.

A checkpoint (C2SP `tlog-checkpoint`) is the body of a C2SP `signed-note`:

```text
<origin>\\n<tree size, decimal>\\n<root hash, base64>\\n[<extension line>\\n ...]
\\n
\\u2014 <key name> <base64(key id || Ed25519 signature of the body)>\\n
```

The key id is the first 4 bytes of `SHA-256(key name || 0x0A || 0x01 || public key)` and the
log's public key is published as a verifier key string
`<key name>+<key id, 8 hex digits>+<base64(0x01 || public key)>` (Go's `sumdb/note` form), so
existing note and witness clients read both unchanged. The log key signs nothing but notes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

import blake3
import nacl.exceptions
import nacl.signing

from antifake._sodium import ed25519_ok
from antifake.errors import InvalidKey, KeyFileError, LogError
from antifake.keys import read_key_file, write_key_file

__all__ = [
    "LogKey",
    "NoteVerifier",
    "Checkpoint",
    "SIG_PREFIX",
    "key_id",
    "format_checkpoint",
    "parse_checkpoint",
    "open_note",
    "open_checkpoint",
]

SIG_PREFIX = "\u2014 "
_ALG_ED25519 = 0x01
LOG_KEY_FORMAT = "antifake-log-key"
_FILE_MAC_CONTEXT = "antifake 2026-12 log-key file MAC secret v1"
_MAX_NOTE = 1 << 20
_MAX_SIGS = 100
_NAME_RE = re.compile(r"^[^\s+]+$")
_DEC_RE = re.compile(r"^(0|[1-9][0-9]{0,19})$")
_B64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > 256 or not _NAME_RE.match(name) \
            or not name.isprintable():
        raise InvalidKey("a log key name is 1-256 printable characters without spaces or '+', "
                         f"got {name!r:.80}")
    return name


def key_id(name: str, public_key: bytes) -> int:
    """The note key id of an Ed25519 key: first 4 bytes (big-endian) of
    `SHA-256(name || 0x0A || 0x01 || public key)`."""
    d = hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()
    return int.from_bytes(d[:4], "big")


def _b64decode(s: str, what: str) -> bytes:
    if not _B64_RE.match(s) or len(s) % 4:
        raise LogError(f"{what} is not standard base64")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise LogError(f"{what} is not standard base64") from None


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """The public half of a log key, as read from a verifier key string."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: Any) -> NoteVerifier:
        """Parse `<name>+<key id hex>+<base64(0x01 || public key)>`; the key id must match."""
        if not isinstance(vkey, str):
            raise LogError(f"a verifier key is a string, not {type(vkey).__name__}")
        if len(vkey) > 1024:
            raise LogError("verifier key too long")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise LogError("a verifier key has the form <name>+<key id>+<key>")
        name, hexid, b64 = parts
        try:
            _check_name(name)
        except InvalidKey as exc:
            raise LogError(f"verifier key: {exc}") from None
        if not re.fullmatch(r"[0-9a-fA-F]{8}", hexid):
            raise LogError("verifier key: the key id is 8 hex digits")
        raw = _b64decode(b64, "verifier key")
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise LogError("verifier key: not an Ed25519 key (0x01 || 32 bytes)")
        kid = key_id(name, raw[1:])
        if kid != int(hexid, 16):
            raise LogError("verifier key: the key id does not match the name and key")
        return cls(name, kid, raw[1:])

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        return (f"{self.name}+{self.key_id:08x}+"
                f"{base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode()}")

    def verify(self, message: bytes, signature: bytes) -> bool:
        return ed25519_ok(self.public_key, message, signature)


class LogKey:
    """The Ed25519 key of a transparency log: signs checkpoints as C2SP signed notes.

    `name` is the note key name (usually the log's origin, e.g.
    `registry.example.vn/antifake`). Saved and loaded as issuer keys are (0600, sealable with a
    passphrase); its repr and exceptions never show the secret.
    """

    __slots__ = ("_signing", "_verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise InvalidKey("a log key seed is 32 bytes")
        self._signing = nacl.signing.SigningKey(seed)
        pub = bytes(self._signing.verify_key)
        self._verifier = NoteVerifier(name, key_id(name, pub), pub)

    @classmethod
    def generate(cls, name: str) -> LogKey:
        """A fresh key from the OS CSPRNG."""
        return cls(name, secrets.token_bytes(32))

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def public_key(self) -> bytes:
        return self._verifier.public_key

    @property
    def verifier(self) -> NoteVerifier:
        return self._verifier

    @property
    def vkey(self) -> str:
        """The verifier key string to publish: `<name>+<key id hex>+<base64(0x01 || pub)>`."""
        return self._verifier.vkey

    def __repr__(self) -> str:
        return f"LogKey(name={self.name!r}, key_id={self.key_id:08x}, secret=<hidden>)"

    def __reduce__(self) -> Any:
        raise TypeError("LogKey cannot be pickled; use save()/load() with a passphrase")

    def sign_note(self, body: str) -> str:
        """The signed note of `body` (text ending in a newline) with this key's signature."""
        _check_body(body)
        sig = self._signing.sign(body.encode()).signature
        blob = self.key_id.to_bytes(4, "big") + sig
        return f"{body}\n{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"

    def save(self, path: str | os.PathLike[str], passphrase: bytes | None = None, *,
             kdf: str = "moderate") -> None:
        """Write the key file (0600, atomic; sealed when a passphrase is given)."""
        seed = bytes(self._signing)
        meta = {"format": LOG_KEY_FORMAT, "version": 1, "name": self.name,
                "public_key": self.public_key.hex()}
        write_key_file(path, meta, seed, _file_mac_secret(seed), passphrase, kdf=kdf)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None = None) -> LogKey:
        """Read a key file written by `save`."""
        meta, seed = read_key_file(path, LOG_KEY_FORMAT, ("name", "public_key"), 32,
                                   _file_mac_secret, passphrase)
        try:
            key = cls(meta["name"], seed)
        except InvalidKey:
            raise KeyFileError(f"{path}: malformed log key file") from None
        if key.public_key.hex() != meta["public_key"]:
            raise KeyFileError(f"{path}: the secret does not match the public key")
        return key


def _file_mac_secret(seed: bytes) -> bytes:
    return blake3.blake3(seed, derive_key_context=_FILE_MAC_CONTEXT).digest()


def _check_body(body: Any) -> None:
    if not isinstance(body, str):
        raise LogError(f"a note body is text, not {type(body).__name__}")
    if not body.endswith("\n") or "\n\n" in body or body.startswith("\n"):
        raise LogError("a note body is non-empty lines, each ending in a newline")
    if any((c < " " and c != "\n") or c == "\x7f" for c in body):
        raise LogError("a note body holds no control characters")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash (and extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root, self.extensions)


def format_checkpoint(origin: str, size: int, root: bytes,
                      extensions: tuple[str, ...] | list[str] = ()) -> str:
    """The checkpoint body (unsigned note text)."""
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise LogError("a checkpoint origin is one non-empty line")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 1 << 64:
        raise LogError("a checkpoint size is an integer in 0..2**64-1")
    if not isinstance(root, bytes) or len(root) != 32:
        raise LogError("a checkpoint root is 32 bytes")
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    body = "".join(line + "\n" for line in lines)
    _check_body(body)
    return body


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body (no signature check)."""
    _check_body(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise LogError("a checkpoint has an origin, a size and a root hash line")
    origin, size_s, root_s, *ext = lines
    if not _DEC_RE.match(size_s) or int(size_s) >= 1 << 64:
        raise LogError(f"checkpoint size {size_s!r:.40} is not a decimal 64-bit integer")
    root = _b64decode(root_s, "checkpoint root")
    if len(root) != 32:
        raise LogError("checkpoint root is not 32 bytes")
    return Checkpoint(origin, int(size_s), root, tuple(ext))


def open_note(note: Any, verifier: NoteVerifier | str) -> str:
    """The body of a signed note after checking the signature of `verifier` (a
    [`NoteVerifier`][antifake.log.note.NoteVerifier] or a verifier key string) on it;
    [`LogError`][antifake.errors.LogError] when malformed, unsigned by that key or forged."""
    v = verifier if isinstance(verifier, NoteVerifier) else NoteVerifier.from_vkey(verifier)
    if not isinstance(note, str):
        raise LogError(f"a signed note is text, not {type(note).__name__}")
    if len(note) > _MAX_NOTE:
        raise LogError("signed note too large")
    split = note.rfind("\n\n")
    if split < 0:
        raise LogError("not a signed note: no blank line before the signatures")
    body, sigs = note[: split + 1], note[split + 2:]
    _check_body(body)
    if not sigs.endswith("\n"):
        raise LogError("a signed note ends with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > _MAX_SIGS:
        raise LogError("too many signatures on the note")
    found = False
    msg = body.encode()
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise LogError(f"malformed signature line {line[:60]!r}")
        name_sig = line[len(SIG_PREFIX):].split(" ")
        if len(name_sig) != 2 or not name_sig[0]:
            raise LogError(f"malformed signature line {line[:60]!r}")
        name, b64 = name_sig
        blob = _b64decode(b64, "note signature")
        if len(blob) < 5:
            raise LogError("note signature too short")
        if name != v.name or int.from_bytes(blob[:4], "big") != v.key_id:
            continue  # another key's signature (e.g. a witness): not ours to check
        if len(blob) != 4 + 64 or not v.verify(msg, blob[4:]):
            raise LogError(f"the signature of {v.name} on the note is invalid (forged or "
                           "altered note)")
        found = True
    if not found:
        raise LogError(f"the note carries no signature of key {v.name}+{v.key_id:08x}")
    return body


def open_checkpoint(note: Any, verifier: NoteVerifier | str,
                    origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with `verifier` and parse it (its origin must be `origin`
    when given)."""
    cp = parse_checkpoint(open_note(note, verifier))
    if origin is not None and cp.origin != origin:
        raise LogError(f"checkpoint origin {cp.origin!r:.80} is not {origin!r:.80}")
    return cp
