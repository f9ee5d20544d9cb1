"""API keys for marketplace and inspector endpoints, stored hashed in a small SQLite file.

A key is ``afk_`` followed by 43 URL-safe characters (256 random bits from `secrets`); only
its SHA-256 is stored (a key is too random to guess, so a slow hash adds nothing). The file
lives next to the registry (``stamps.db`` -> ``stamps.db.apikeys``) or wherever
``--apikeys`` says; it is created 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from antifake.errors import AntifakeError

__all__ = ["ApiKeyStore", "ApiKeys", "default_path", "new_key"]

_PREFIX = "afk_"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name       TEXT PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


def new_key() -> str:
    """A fresh API key (256 random bits)."""
    return _PREFIX + secrets.token_urlsafe(32)


def _hash(key: str) -> bytes:
    return hashlib.sha256(b"antifake-api-key/1\x00" + key.encode("utf-8")).digest()


def default_path(db: str) -> str | None:
    """Where the keys of registry ``db`` live by default (None for a database URL other
    than ``sqlite:///``: pass a path explicitly)."""
    if db.startswith("sqlite:///"):
        db = db[len("sqlite:///"):].split("?", 1)[0]
    elif "://" in db or db == ":memory:":
        return None
    return db + ".apikeys"


class ApiKeyStore:
    """Named API keys in a SQLite file: `create` prints nothing and returns the key once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fresh = not self.path.exists()
        if fresh:
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            os.close(fd)
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                       isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise AntifakeError(f"{self.path}: not an API key file ({e})") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, name: str) -> str:
        """A new key for client ``name`` (which must not have an active one)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200 \
                or any(ord(c) < 32 for c in name):
            raise AntifakeError("an API key name is 1-200 printable characters")
        key = new_key()
        now = datetime.now(UTC).isoformat()
        with self._lock:
            row = self._db.execute("SELECT revoked_at FROM api_keys WHERE name = ?",
                                   (name,)).fetchone()
            if row is not None and row[0] is None:
                raise AntifakeError(f"client {name!r} has a key already; revoke it first")
            self._db.execute("INSERT OR REPLACE INTO api_keys(name, hash, created_at, "
                             "revoked_at) VALUES (?, ?, ?, NULL)", (name, _hash(key), now))
        return key

    def revoke(self, name: str) -> bool:
        """Revoke the key of ``name``; False when there was none."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            cur = self._db.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND "
                                   "revoked_at IS NULL", (now, name))
        return cur.rowcount > 0

    def names(self) -> list[tuple[str, str, str | None]]:
        """``(name, created_at, revoked_at)`` of every key."""
        with self._lock:
            return [(str(r[0]), str(r[1]), r[2]) for r in self._db.execute(
                "SELECT name, created_at, revoked_at FROM api_keys ORDER BY name")]

    def client(self, key: str) -> str | None:
        """The client name of an active key, else None."""
        with self._lock:
            row = self._db.execute("SELECT name FROM api_keys WHERE hash = ? AND revoked_at "
                                   "IS NULL", (_hash(key),)).fetchone()
        return None if row is None else str(row[0])


class ApiKeys:
    """The keys a service accepts: a mapping ``{client: key}`` and an optional store."""

    def __init__(self, keys: Mapping[str, str] | None, store: ApiKeyStore | None) -> None:
        self._plain = [(_hash(k), n) for n, k in (keys or {}).items()]
        self._store = store

    def __bool__(self) -> bool:
        return bool(self._plain) or self._store is not None

    def client(self, key: str) -> str | None:
        """The client holding ``key`` (compared in constant time), else None."""
        h = _hash(key)
        found = None
        for stored, name in self._plain:
            if hmac.compare_digest(stored, h):
                found = name
        if found is None and self._store is not None:
            found = self._store.client(key)
        return found
