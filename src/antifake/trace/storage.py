"""Registry storage: the [`Storage`][antifake.trace.storage.Storage] interface and its SQLite
backend.

The registry (`antifake.trace.registry`) holds the rules (lifecycle, claims, what an event
means); a storage backend holds the rows, makes every write transactional and answers the few
queries the registry needs. A PostgreSQL backend will implement the same
[`Storage`][antifake.trace.storage.Storage] protocol; the SQL here is kept portable where that is
cheap (``ON CONFLICT``, ``RETURNING``-free statements, integer keys, no triggers) and what is
SQLite's own is isolated in [`SQLiteStorage`][antifake.trace.storage.SQLiteStorage]'s connection
set-up, DDL and locking.

Data model (schema version 1)
-----------------------------
``parties``      one row per party id (role, region, coordinates); events name parties by row.
``nodes``        one row per EPC ever seen (stamps, containers, EPCs of imported events), keyed
                 by its canonical form (GS1 EPC URNs become canonical Digital Links, as in the
                 CBV 2.0 hash), with the 64-bit serial of a stamp.
``batches``      one row per registered batch (or streamed chunk of one): issuer, key id, batch
                 id, index range, a digest of its stamps, and ``first_node``: stamp ``i`` of the
                 batch is node ``first_node + i - first_index``, except for the few stamps whose
                 EPC was already a node (listed in ``stamp_nodes``). No row per stamp is needed,
                 so 1 M stamps are 1 M ``nodes`` rows and nothing else; the ``stamps`` view shows
                 them as (epc, issuer, key_id, batch_id, idx, serial) rows.
``events``       one row per event: the 32-byte CBV 2.0 hash (unique: re-submitting is a
                 no-op), time, `EventKind`, parties, aggregation
                 parent, coordinates, and the EPCIS JSON as written. A commissioning event of a
                 registered batch covers a node range (``first_node``, ``n_nodes``) and leaves
                 its ``epcList`` to the ``nodes`` rows.
``incidence``    (node, event) for every EPC an event lists (range events excepted).
``lifecycle``    sparse state per node: decommissioned (reason, since) and claim state (claimed
                 / locked, wrong PINs, attempts). Absent row: active and unclaimed.
``columns``      the integer columns of the events and incidences, packed as little-endian
                 arrays (``EV_DTYPE``, ``INC_DTYPE``) in append-only chunks written in the same
                 transaction as the rows.
                 [`Storage.graph_columns`][antifake.trace.storage.Storage.graph_columns] reads a few
                 blobs instead of millions of rows (``sqlite3`` needs about 2 us per row and column:
                 8 s for 4 M events). Small chunks are merged as they accumulate (a binary counter:
                 each chunk is more than twice the next, so there are O(log n) of them and a row is
                 rewritten O(log n) times), up to ``CHUNK_CAP`` rows.
``contexts``     the JSON-LD namespaces of events read from other documents.
``meta``         schema version (also in ``PRAGMA user_version``), creation data.

SQLite settings
---------------
WAL journal (readers never block the writer and see a consistent snapshot); every write is one
``BEGIN IMMEDIATE`` transaction, so a read-check-write (a claim) is atomic across threads and
processes; ``busy_timeout`` lets writers queue instead of failing; ``foreign_keys=ON``.

``synchronous=FULL`` by default. In WAL mode NORMAL is already safe against a crashed or killed
process (a committed transaction is in the WAL, which the OS holds), and never corrupts the
database; what it gives up is durability of the last transactions on power loss or an OS crash.
The registry records legal facts (a decommissioning, the first claim of a stamp, after which a
second claim is proof of a copy): losing an acknowledged claim would let a copy be claimed as
genuine. FULL costs one ``fsync`` of the WAL per commit, which bulk writes (``register``,
``record_many``, ``import_epcis``: one transaction each) amortise and a claim (a person typing a
PIN) does not notice. Bulk loaders that can replay their input may pass ``synchronous="normal"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from antifake.errors import RegistryError

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "EV_DTYPE",
    "INC_DTYPE",
    "CHUNK_CAP",
    "BatchPart",
    "EventRow",
    "Inserted",
    "NodeState",
    "Suspicion",
    "StampRow",
    "Storage",
    "SQLiteStorage",
    "open_storage",
    "hash_to_id",
    "id_to_hash",
    "hash_ids",
]

SCHEMA_VERSION = 2
APPLICATION_ID = 0x4146_5247  # "AFRG" in PRAGMA application_id: an antifake registry file
#: Packed per-event columns for the trace graph (database row ids; -1: none).
EV_DTYPE = np.dtype([
    ("event", "<i8"), ("time", "<i8"), ("parent", "<i8"), ("by", "<i4"), ("src", "<i4"),
    ("dst", "<i4"), ("kind", "u1"), ("lat", "<f8"), ("lon", "<f8"), ("hash", "V32"),
])
#: Packed incidence rows (database row ids).
INC_DTYPE = np.dtype([("event", "<i8"), ("node", "<i8")])
#: Column chunks are merged only while the result stays at or under this many rows.
CHUNK_CAP = 1_000_000
_IN_CHUNK = 500  # bound parameters per IN (...) list: portable and well under every limit
_dump_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

# ----------------------------------------------------------------------------------------
# event id <-> 32-byte hash
# ----------------------------------------------------------------------------------------
_ID_PREFIX = "ni:///sha-256;"
_ID_SUFFIX = "?ver=CBV2.0"
_ID_RE = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def id_to_hash(event_id: str) -> bytes:
    """The 32 bytes of a CBV 2.0 event id ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    if (isinstance(event_id, str) and len(event_id) == 89 and event_id.startswith(_ID_PREFIX)
            and event_id.endswith(_ID_SUFFIX)):
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
    """Inverse of [`id_to_hash`][antifake.trace.storage.id_to_hash]."""
    return f"{_ID_PREFIX}{bytes(digest).hex()}{_ID_SUFFIX}"


def hash_ids(hashes: np.ndarray, block: int = 262_144) -> np.ndarray:
    """Event id strings (object array) of an ``(n, 32)`` uint8 array of hashes, built in bulk
    (``bytes.hex``, one decode and split per block; no Python loop per event)."""
    n = int(hashes.shape[0])
    out = np.empty(n, dtype=object)
    pre = np.frombuffer(_ID_PREFIX.encode(), dtype=np.uint8)
    suf = np.frombuffer((_ID_SUFFIX + "\n").encode(), dtype=np.uint8)
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


def _names(dtype: np.dtype) -> tuple[str, ...]:
    """The field names of a structured dtype."""
    if dtype.names is None:
        raise TypeError(f"{dtype} is not a structured dtype")
    return dtype.names


def _pack(rec: np.ndarray) -> bytes:
    """A structured array as column-major bytes: every field's values, one field after the
    other (so that reading a column is one contiguous copy)."""
    return b"".join(np.ascontiguousarray(rec[name]).tobytes() for name in _names(rec.dtype))


def _unpack(blob: bytes, dtype: np.dtype, n: int) -> dict[str, np.ndarray]:
    """Inverse of `_pack`: read-only views of each field."""
    out: dict[str, np.ndarray] = {}
    off = 0
    for name in _names(dtype):
        ft = dtype[name]
        out[name] = np.frombuffer(blob, dtype=ft, count=n, offset=off)
        off += ft.itemsize * n
    if off != len(blob):
        raise RegistryError("column store chunk of the wrong size (run Registry.check())")
    return out


def _concat(parts: list[dict[str, np.ndarray]], dtype: np.dtype) -> bytes:
    return b"".join(np.concatenate([p[name] for p in parts]).tobytes()
                    for name in _names(dtype))


# ----------------------------------------------------------------------------------------
# rows exchanged with the registry
# ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class EventRow:
    """One event to store. ``epcs`` and ``parent`` are node keys (canonical EPCs); ``nodes``
    may give the node ids of ``epcs`` already (registered stamps); ``range_key`` names the list
    of ``doc`` that may be left to the nodes table when those ids are one contiguous range."""

    hash: bytes
    time_us: int
    kind: int
    doc: dict[str, Any]
    epcs: Sequence[str] = ()
    parent: str | None = None
    by: str | None = None
    src: str | None = None
    dst: str | None = None
    lat: float | None = None
    lon: float | None = None
    namespaces: Mapping[str, str] | None = None  # None: the default context
    nodes: np.ndarray | None = None
    range_key: str | None = None


@dataclass(slots=True)
class Inserted:
    """What [`Storage.insert_events`][antifake.trace.storage.Storage.insert_events] did with one
    row: its event row id, whether it was new, and (for new rows) the node ids of its EPCs, in
    order."""

    event: int
    new: bool
    nodes: list[int] | None = None


@dataclass(slots=True)
class BatchPart:
    """A registered batch (or a streamed chunk of one: ``first_index`` > 0)."""

    issuer: str
    key_id: int
    batch_id: int
    first_index: int
    n: int
    digest: bytes
    owner: str | None = None
    gtin: str | None = None
    lot: str | None = None
    expiry: str | None = None
    registered_us: int = 0
    row: int | None = None  # database row id, once stored
    first_node: int | None = None


@dataclass(slots=True)
class StampRow:
    """A registered stamp as the store knows it."""

    node: int
    epc: str
    issuer: str
    key_id: int
    batch_id: int
    index: int
    serial: int | None


@dataclass(slots=True)
class NodeState:
    """Lifecycle and claim state of a node (defaults: active, unclaimed)."""

    node: int
    state: int = 0  # 0 active, 1 decommissioned
    reason: str | None = None
    since_us: int | None = None
    claim: int = 0  # 0 unclaimed, 1 claimed, 2 locked
    wrong_pins: int = 0
    attempts: int = 0
    claim_us: int | None = None


@dataclass(frozen=True)
class Suspicion:
    """Why a node's code is believed copied: the strongest detection alert that named it."""

    node: int
    kind: str  # the alert kind, e.g. "impossible_travel"
    score: float
    since_us: int  # first evidence (the alert's first event)
    evidence: str  # the alert's evidence event ids, as a JSON list


# ----------------------------------------------------------------------------------------
# the interface
# ----------------------------------------------------------------------------------------
@runtime_checkable
class Storage(Protocol):
    """What the registry needs from a store. Writes happen inside
    [`transaction`][antifake.trace.storage.Storage.transaction] (one
    atomic, serialised unit: all or nothing); reads outside a transaction see the last
    committed state, and [`snapshot`][antifake.trace.storage.Storage.snapshot] gives a consistent
    view across several reads."""

    url: str

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def snapshot(self) -> contextlib.AbstractContextManager[None]: ...
    def close(self) -> None: ...

    # parties
    def add_party(self, name: str, role: str | None, region: str | None,
                  lat: float | None, lon: float | None) -> int: ...
    def party_ids(self, names: Iterable[str]) -> dict[str, int]: ...

    # stamps
    def batch_parts(self, issuer: str, key_id: int, batch_id: int) -> list[BatchPart]: ...
    def insert_batch(self, part: BatchPart, epcs: Sequence[str],
                     serials: np.ndarray) -> np.ndarray: ...
    def stamp_by_index(self, issuer: str, key_id: int, batch_id: int,
                       index: int) -> StampRow | None: ...
    def stamp_by_node(self, node: int) -> StampRow | None: ...
    def node_by_key(self, key: str) -> int | None: ...
    def node_epc(self, node: int) -> str: ...

    # events
    def insert_events(self, rows: Sequence[EventRow]) -> list[Inserted]: ...
    def last_event(self, node: int) -> tuple[bytes, int] | None: ...
    def export_rows(self, since_us: int | None
                    ) -> Iterator[tuple[bytes, dict[str, Any], int | None]]: ...
    def contexts(self) -> dict[int, dict[str, str]]: ...
    def uses_text(self, needle: str, ctx_ids: Sequence[int | None],
                  since_us: int | None) -> bool: ...

    # lifecycle
    def states(self, nodes: Sequence[int]) -> dict[int, NodeState]: ...
    def put_state(self, state: NodeState) -> None: ...
    def suspicions(self, nodes: Sequence[int] | None = None) -> dict[int, Suspicion]: ...
    def put_suspicions(self, rows: Sequence[Suspicion]) -> None: ...
    def clear_suspicions(self, nodes: Sequence[int]) -> int: ...

    # bulk
    def graph_columns(self) -> dict[str, Any]: ...
    def counts(self) -> dict[str, int]: ...
    def version(self) -> tuple[int, int]: ...
    def check(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------------------
# SQLite
# ----------------------------------------------------------------------------------------
_SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE parties (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    role   TEXT,
    region TEXT,
    lat    REAL,
    lon    REAL
);
CREATE TABLE nodes (
    id     INTEGER PRIMARY KEY,
    epc    TEXT NOT NULL UNIQUE,
    serial INTEGER
);
CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    issuer        TEXT NOT NULL,
    key_id        INTEGER NOT NULL,
    batch_id      INTEGER NOT NULL,
    first_index   INTEGER NOT NULL,
    n             INTEGER NOT NULL CHECK (n > 0),
    first_node    INTEGER NOT NULL,
    digest        BLOB NOT NULL,
    owner         INTEGER REFERENCES parties(id),
    gtin          TEXT,
    lot           TEXT,
    expiry        TEXT,
    registered_us INTEGER NOT NULL,
    UNIQUE (issuer, key_id, batch_id, first_index)
);
CREATE INDEX batches_first_node ON batches(first_node);
CREATE TABLE stamp_nodes (
    batch INTEGER NOT NULL REFERENCES batches(id),
    idx   INTEGER NOT NULL,
    node  INTEGER NOT NULL UNIQUE REFERENCES nodes(id),
    PRIMARY KEY (batch, idx)
);
CREATE TABLE contexts (
    id INTEGER PRIMARY KEY,
    ns TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    time_us     INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    by_party    INTEGER REFERENCES parties(id),
    src         INTEGER REFERENCES parties(id),
    dst         INTEGER REFERENCES parties(id),
    parent      INTEGER REFERENCES nodes(id),
    lat         REAL,
    lon         REAL,
    recorded_us INTEGER NOT NULL,
    ctx         INTEGER REFERENCES contexts(id),
    first_node  INTEGER,
    n_nodes     INTEGER,
    doc         TEXT NOT NULL
);
CREATE INDEX events_time ON events(time_us);
CREATE INDEX events_parent ON events(parent) WHERE parent IS NOT NULL;
CREATE INDEX events_range ON events(first_node) WHERE first_node IS NOT NULL;
CREATE TABLE incidence (
    node  INTEGER NOT NULL REFERENCES nodes(id),
    event INTEGER NOT NULL REFERENCES events(id),
    PRIMARY KEY (node, event)
) WITHOUT ROWID;
CREATE TABLE lifecycle (
    node       INTEGER PRIMARY KEY REFERENCES nodes(id),
    state      INTEGER NOT NULL DEFAULT 0,
    reason     TEXT,
    since_us   INTEGER,
    claim      INTEGER NOT NULL DEFAULT 0,
    wrong_pins INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    claim_us   INTEGER
);
CREATE TABLE columns (
    id          INTEGER PRIMARY KEY,
    first_event INTEGER NOT NULL,
    last_event  INTEGER NOT NULL,
    n_events    INTEGER NOT NULL,
    n_inc       INTEGER NOT NULL,
    events      BLOB NOT NULL,
    inc         BLOB NOT NULL
);
CREATE VIEW stamps AS
    SELECT n.id AS node, n.epc AS epc, b.issuer AS issuer, b.key_id AS key_id,
           b.batch_id AS batch_id, b.first_index + (n.id - b.first_node) AS idx,
           n.serial AS serial
    FROM batches b JOIN nodes n ON n.id >= b.first_node AND n.id < b.first_node + b.n
    WHERE n.id NOT IN (SELECT node FROM stamp_nodes)
    UNION ALL
    SELECT n.id, n.epc, b.issuer, b.key_id, b.batch_id, s.idx, n.serial
    FROM stamp_nodes s JOIN batches b ON b.id = s.batch JOIN nodes n ON n.id = s.node;
"""

# v2: codes that detection found copied (Registry.flag_suspected); verify says SUSPECTED_CLONE.
_SCHEMA_V2 = """
CREATE TABLE suspicions (
    node     INTEGER PRIMARY KEY REFERENCES nodes(id),
    kind     TEXT NOT NULL,
    score    REAL NOT NULL,
    since_us INTEGER NOT NULL,
    evidence TEXT NOT NULL
);
"""

#: Upgrades: MIGRATIONS[v] takes a database at schema v - 1 to v (run in one transaction).
MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}


def _chunks(seq: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i: i + size]


def _now_us() -> int:
    return time.time_ns() // 1000


def _id_map(ids: np.ndarray) -> tuple[bool, np.ndarray]:
    """Whether database ids ``ids`` (ascending) are exactly 1..n, and the ids themselves."""
    n = len(ids)
    dense = n == 0 or (int(ids[0]) == 1 and int(ids[-1]) == n)
    return dense, ids


def _to_index(values: np.ndarray, dense: bool, ids: np.ndarray, what: str) -> np.ndarray:
    """Map database ids to 0-based positions in ``ids`` (-1, none, stays -1)."""
    v = np.asarray(values, dtype=np.int64)
    if dense:
        out = v - 1
        out[v < 0] = -1
        if len(v) and int(out.max(initial=-1)) >= len(ids):
            raise RegistryError(f"column store names an unknown {what} row")
        return out
    if not len(ids):
        if np.any(v >= 0):
            raise RegistryError(f"column store names an unknown {what} row")
        return np.full(len(v), -1, dtype=np.int64)
    pos = np.searchsorted(ids, v)
    ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == v)
    if np.any(~ok & (v >= 0)):
        raise RegistryError(f"column store names an unknown {what} row")
    return np.where(v >= 0, pos, -1).astype(np.int64)


class _SQLRows:
    """What the SQLite and PostgreSQL backends share: the row queries both run, written once
    with ``?`` placeholders (`_x` adapts them to the driver), and the error mapping."""

    _db: Any
    _lock: threading.RLock
    _tx: str | None
    _canonical: Callable[[str], str | None] | None
    _ctx_cache: dict[str, int]  # context ids committed
    _pending_ctx: dict[str, int]  # context ids of the open transaction
    #: the driver's exception classes, turned into RegistryError by `_storage_error`
    _db_errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def _x(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Execute ``sql`` (``?`` placeholders) on the connection; returns the cursor."""
        return self._db.execute(sql, args)

    def _storage_error(self, exc: BaseException) -> RegistryError:
        return RegistryError(f"registry storage error: {exc}")

    def _rollback(self) -> None:
        with contextlib.suppress(*self._db_errors):
            self._x("ROLLBACK")

    def _need_tx(self) -> None:
        if self._tx != "write":
            raise RegistryError("internal: write outside a transaction")

    def close(self) -> None:
        with self._lock, contextlib.suppress(*self._db_errors):
            self._db.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._lock:
            try:
                yield self._db
            except self._db_errors as exc:
                raise self._storage_error(exc) from exc

    def _one(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        try:
            with self._lock:
                return self._x(sql, args).fetchone()
        except self._db_errors as exc:
            raise self._storage_error(exc) from exc

    def _all(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._x(sql, args).fetchall()
        except self._db_errors as exc:
            raise self._storage_error(exc) from exc

    def party_rows(self) -> list[tuple[Any, ...]]:
        return self._all("SELECT name, role, region, lat, lon FROM parties ORDER BY id")

    def _stamp_row(self, node: int, b: Sequence[Any], idx: int) -> StampRow | None:
        row = self._x("SELECT epc, serial FROM nodes WHERE id = ?", (node,)).fetchone()
        if row is None:
            return None
        serial = None if row[1] is None else int(row[1]) & 0xFFFF_FFFF_FFFF_FFFF
        return StampRow(node, row[0], b[0], int(b[1]), int(b[2]), idx, serial)

    def stamp_by_index(self, issuer: str, key_id: int, batch_id: int,
                       index: int) -> StampRow | None:
        with self._reading():
            b = self._x(
                "SELECT issuer, key_id, batch_id, id, first_index, first_node FROM batches "
                "WHERE issuer = ? AND key_id = ? AND batch_id = ? AND first_index <= ? "
                "AND first_index + n > ? ORDER BY first_index DESC LIMIT 1",
                (issuer, key_id, batch_id, index, index)).fetchone()
            if b is None:
                return None
            ex = self._x("SELECT node FROM stamp_nodes WHERE batch = ? AND idx = ?",
                                  (b[3], index)).fetchone()
            node = int(ex[0]) if ex else int(b[5]) + index - int(b[4])
            return self._stamp_row(node, b, index)

    def stamp_by_node(self, node: int) -> StampRow | None:
        with self._reading():
            ex = self._x(
                "SELECT b.issuer, b.key_id, b.batch_id, s.idx FROM stamp_nodes s "
                "JOIN batches b ON b.id = s.batch WHERE s.node = ?", (node,)).fetchone()
            if ex is not None:
                return self._stamp_row(node, ex, int(ex[3]))
            b = self._x(
                "SELECT issuer, key_id, batch_id, id, first_index, first_node, n FROM batches "
                "WHERE first_node <= ? ORDER BY first_node DESC LIMIT 1", (node,)).fetchone()
            if b is None or node >= int(b[5]) + int(b[6]):
                return None
            idx = int(b[4]) + node - int(b[5])
            taken = self._x("SELECT 1 FROM stamp_nodes WHERE batch = ? AND idx = ?",
                                     (b[3], idx)).fetchone()
            if taken is not None:  # a hole: this id was never this stamp's node
                return None
            return self._stamp_row(node, b, idx)

    def node_by_key(self, key: str) -> int | None:
        """The node of an EPC, as written or (failing that) in its canonical form."""
        row = self._one("SELECT id FROM nodes WHERE epc = ?", (key,))
        if row is None and self._canonical is not None:
            alias = self._canonical(key)
            if alias is not None and alias != key:
                row = self._one("SELECT id FROM nodes WHERE epc = ?", (alias,))
        return None if row is None else int(row[0])

    def node_epc(self, node: int) -> str:
        row = self._one("SELECT epc FROM nodes WHERE id = ?", (node,))
        if row is None:
            raise RegistryError(f"internal: no node {node}")
        return str(row[0])

    def _ctx_id(self, ns: Mapping[str, str] | None) -> int | None:
        if ns is None:
            return None
        text = json.dumps(dict(ns), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        cid = self._ctx_cache.get(text, self._pending_ctx.get(text))
        if cid is None:
            self._x("INSERT INTO contexts(ns) VALUES (?) ON CONFLICT(ns) DO NOTHING",
                             (text,))
            cid = int(self._x("SELECT id FROM contexts WHERE ns = ?",
                                       (text,)).fetchone()[0])
            self._pending_ctx[text] = cid
        return cid

    def contexts(self) -> dict[int, dict[str, str]]:
        return {int(i): json.loads(ns) for i, ns in self._all("SELECT id, ns FROM contexts")}

    def put_state(self, s: NodeState) -> None:
        self._need_tx()
        self._x(
            "INSERT INTO lifecycle(node, state, reason, since_us, claim, wrong_pins, attempts, "
            "claim_us) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(node) DO UPDATE SET "
            "state = excluded.state, reason = excluded.reason, since_us = excluded.since_us, "
            "claim = excluded.claim, wrong_pins = excluded.wrong_pins, "
            "attempts = excluded.attempts, claim_us = excluded.claim_us",
            (s.node, s.state, s.reason, s.since_us, s.claim, s.wrong_pins, s.attempts,
             s.claim_us))


class SQLiteStorage(_SQLRows):
    """The SQLite backend (see the module documentation for the schema and settings).

    ``path`` is a file path or ``":memory:"``; ``timeout`` (seconds) is how long a writer waits
    for another one; ``synchronous`` is ``"full"`` (default) or ``"normal"``. One connection,
    shared by the threads of one process under a lock; other processes open their own.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 synchronous: str = "full", cache_mb: int = 256,
                 canonical: Callable[[str], str | None] | None = None) -> None:
        sync = str(synchronous).lower()
        if sync not in ("full", "normal", "extra"):
            raise RegistryError(f"synchronous must be 'full', 'normal' or 'extra', not "
                                f"{synchronous!r}")
        self.path = os.fspath(path)
        self.url = "sqlite:///" + self.path
        self._canonical = canonical
        self._lock = threading.RLock()
        self._tx: str | None = None  # "write", "read" or None
        self._pending_ev: list[np.ndarray] = []
        self._pending_inc: list[np.ndarray] = []
        self._party_cache: dict[str, int] = {}
        self._pending_parties: dict[str, int] = {}
        self._ctx_cache: dict[str, int] = {}
        self._pending_ctx: dict[str, int] = {}
        self._timeout = float(timeout)
        try:
            if self.path != ":memory:":
                parent = Path(self.path).resolve().parent
                if not parent.is_dir():
                    raise RegistryError(f"no such directory for the registry: {parent}")
            self._db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry {self.path!r}: {exc}") from None
        try:
            self._configure(sync, cache_mb)
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- set-up (SQLite specific) ----------------------------------------------------------
    def _configure(self, sync: str, cache_mb: int) -> None:
        db = self._db
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            if self.path != ":memory:":
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise RegistryError(f"cannot switch {self.path!r} to WAL mode ({mode})")
            db.execute(f"PRAGMA synchronous = {sync.upper()}")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")
            db.execute("PRAGMA temp_store = MEMORY")
            db.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self.path!r} is not a usable SQLite database: {exc}") from None

    def _migrate(self) -> None:
        db = self._db
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app = db.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self.path!r} is not a usable SQLite database: {exc}") from None
        self._check_version(version, app)
        if version == SCHEMA_VERSION:
            self._check_meta()
            return
        with self.transaction():  # re-read under the write lock: another process may be here
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app = db.execute("PRAGMA application_id").fetchone()[0]
            self._check_version(version, app)
            if version == 0:
                n = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if n:
                    raise RegistryError(f"{self.path!r} is an SQLite database but not an "
                                        "antifake registry")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                self._run_script(MIGRATIONS[v])
                db.execute(f"PRAGMA user_version = {v}")
            from antifake import __version__

            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            meta = {"schema_version": str(SCHEMA_VERSION), "format": "antifake-registry",
                    "written_by": f"antifake {__version__}"}
            if version == 0:
                meta["created_us"] = str(_now_us())
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                           "DO UPDATE SET value = excluded.value", list(meta.items()))
        self._check_meta()

    def _run_script(self, script: str) -> None:
        # executescript would COMMIT the open transaction: run statement by statement
        for stmt in script.split(";\n"):
            if stmt.strip():
                self._db.execute(stmt)

    def _check_version(self, version: int, app: int) -> None:
        if version > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {self.path!r} has schema version {version}, newer than this antifake "
                f"supports ({SCHEMA_VERSION}); upgrade antifake to open it")
        if version > 0 and app != APPLICATION_ID:
            raise RegistryError(f"{self.path!r} is an SQLite database but not an antifake "
                                "registry (application_id differs)")

    def _check_meta(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise RegistryError(f"registry {self.path!r}: meta.schema_version {row and row[0]!r}"
                                f" disagrees with PRAGMA user_version {SCHEMA_VERSION}")

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: ``BEGIN IMMEDIATE`` (takes the write lock first, so what is read
        inside cannot change before the commit), ``COMMIT`` on success, ``ROLLBACK`` on any
        exception. Nested calls join the outer transaction."""
        with self._lock:
            if self._tx == "write":
                yield
                return
            if self._tx == "read":
                raise RegistryError("internal: a write inside a read snapshot")
            self._begin("BEGIN IMMEDIATE")
            self._tx = "write"
            try:
                yield
                self._flush_columns()
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise RegistryError(f"registry storage error: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            else:
                self._party_cache.update(self._pending_parties)
                self._ctx_cache.update(self._pending_ctx)
            finally:
                self._tx = None
                self._pending_ev.clear()
                self._pending_inc.clear()
                self._pending_parties.clear()
                self._pending_ctx.clear()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees one committed state."""
        with self._lock:
            if self._tx is not None:
                yield
                return
            self._begin("BEGIN")
            self._tx = "read"
            try:
                yield
            except sqlite3.Error as exc:
                raise RegistryError(f"registry storage error: {exc}") from exc
            finally:
                self._tx = None
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("COMMIT")

    def _begin(self, stmt: str) -> None:
        try:
            self._db.execute(stmt)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryError(f"registry is busy: another writer held it for more than "
                                    f"{self._timeout:g} s") from None
            raise RegistryError(f"cannot start a transaction: {exc}") from None

    # -- parties ---------------------------------------------------------------------------
    def add_party(self, name: str, role: str | None, region: str | None,
                  lat: float | None, lon: float | None) -> int:
        self._need_tx()
        self._db.execute(
            "INSERT INTO parties(name, role, region, lat, lon) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET role = coalesce(excluded.role, role), "
            "region = coalesce(excluded.region, region), lat = coalesce(excluded.lat, lat), "
            "lon = coalesce(excluded.lon, lon)", (name, role, region, lat, lon))
        pid = int(self._db.execute("SELECT id FROM parties WHERE name = ?", (name,)).fetchone()[0])
        self._pending_parties[name] = pid
        return pid

    def party_ids(self, names: Iterable[str]) -> dict[str, int]:
        """Row ids of parties by name, creating the unknown ones (inside a transaction)."""
        self._need_tx()
        out: dict[str, int] = {}
        missing = []
        for name in set(names):
            pid = self._party_cache.get(name, self._pending_parties.get(name))
            if pid is None:
                missing.append(name)
            else:
                out[name] = pid
        for part in _chunks(missing):
            q = ",".join("?" * len(part))
            for pid, name in self._db.execute(
                    f"SELECT id, name FROM parties WHERE name IN ({q})", list(part)):  # noqa: S608
                out[name] = int(pid)
                self._pending_parties[name] = int(pid)
        new = [n for n in missing if n not in out]
        if new:
            nxt = (self._db.execute("SELECT max(id) FROM parties").fetchone()[0] or 0) + 1
            rows = [(nxt + i, n) for i, n in enumerate(new)]
            self._db.executemany("INSERT INTO parties(id, name) VALUES (?, ?)", rows)
            for pid, name in rows:
                out[name] = pid
                self._pending_parties[name] = pid
        return out

    # -- stamps ----------------------------------------------------------------------------
    def batch_parts(self, issuer: str, key_id: int, batch_id: int) -> list[BatchPart]:
        rows = self._all(
            "SELECT id, first_index, n, digest, first_node FROM batches "
            "WHERE issuer = ? AND key_id = ? AND batch_id = ? ORDER BY first_index",
            (issuer, key_id, batch_id))
        return [BatchPart(issuer, key_id, batch_id, int(fi), int(n), bytes(d), row=int(r),
                          first_node=int(fn)) for r, fi, n, d, fn in rows]

    def _next_node(self) -> int:
        a = self._db.execute("SELECT max(id) FROM nodes").fetchone()[0] or 0
        b = self._db.execute("SELECT max(first_node + n - 1) FROM batches").fetchone()[0] or 0
        return max(int(a), int(b)) + 1

    def insert_batch(self, part: BatchPart, epcs: Sequence[str],
                     serials: np.ndarray) -> np.ndarray:
        """Store a batch part and its stamps' nodes; returns the node id of every stamp.

        Stamp ``i`` gets node ``first_node + i``; a stamp whose EPC is already a node (an
        imported event named it before it was registered) keeps that node, listed in
        ``stamp_nodes``; one that is already a registered stamp is refused."""
        self._need_tx()
        db = self._db
        n = len(epcs)
        if n != part.n or len(serials) != n:
            raise RegistryError("internal: batch part, EPCs and serials disagree")
        owner = self.party_ids([part.owner])[part.owner] if part.owner else None
        first = self._next_node()
        cur = db.execute(
            "INSERT INTO batches(issuer, key_id, batch_id, first_index, n, first_node, digest, "
            "owner, gtin, lot, expiry, registered_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (part.issuer, part.key_id, part.batch_id, part.first_index, n, first, part.digest,
             owner, part.gtin, part.lot, part.expiry, part.registered_us))
        part.row = int(cur.lastrowid)
        part.first_node = first
        sers = np.ascontiguousarray(serials, dtype=np.uint64).view(np.int64).tolist()
        before = db.total_changes
        db.executemany("INSERT INTO nodes(id, epc, serial) VALUES (?, ?, ?) "
                       "ON CONFLICT(epc) DO NOTHING",
                       zip(range(first, first + n), epcs, sers, strict=True))
        nodes = np.arange(first, first + n, dtype=np.int64)
        if db.total_changes - before != n:
            present = np.fromiter(
                (r[0] for r in db.execute("SELECT id FROM nodes WHERE id BETWEEN ? AND ?",
                                          (first, first + n - 1))), dtype=np.int64)
            holes = np.setdiff1d(nodes, present)
            for i in (holes - first).tolist():
                row = db.execute("SELECT id, serial FROM nodes WHERE epc = ?",
                                 (epcs[i],)).fetchone()
                node = int(row[0])
                if row[1] is not None or self.stamp_by_node(node) is not None:
                    raise RegistryError(f"stamp {epcs[i]} is already registered in another "
                                        "batch")
                db.execute("UPDATE nodes SET serial = ? WHERE id = ?", (sers[i], node))
                db.execute("INSERT INTO stamp_nodes(batch, idx, node) VALUES (?, ?, ?)",
                           (part.row, part.first_index + i, node))
                nodes[i] = node
        return nodes

    def _lookup_nodes(self, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in _chunks(keys):
            q = ",".join("?" * len(part))
            for nid, epc in self._db.execute(
                    f"SELECT id, epc FROM nodes WHERE epc IN ({q})", list(part)):  # noqa: S608
                out[epc] = int(nid)
        return out

    def _node_ids(self, keys: Iterable[str]) -> dict[str, int]:
        """Node ids of EPCs, creating the unknown ones (inside a transaction). An EPC not
        stored as written but whose canonical form is (a GS1 EPC URN of a registered stamp)
        is that node; other new EPCs are stored as written."""
        db = self._db
        uniq = list(dict.fromkeys(keys))
        out = self._lookup_nodes(uniq)
        new = [k for k in uniq if k not in out]
        if new and self._canonical is not None:
            alias = {}
            for k in new:
                c = self._canonical(k)
                if c is not None and c != k:
                    alias[k] = c
            if alias:
                found = self._lookup_nodes(list(set(alias.values())))
                for k, c in alias.items():
                    if c in found:
                        out[k] = found[c]
                new = [k for k in new if k not in out]
        if new:
            nxt = self._next_node()
            rows = [(nxt + i, k) for i, k in enumerate(new)]
            db.executemany("INSERT INTO nodes(id, epc) VALUES (?, ?)", rows)
            out.update((k, i) for i, k in rows)
        return out

    # -- events ----------------------------------------------------------------------------
    def insert_events(self, rows: Sequence[EventRow]) -> list[Inserted]:
        """Store events idempotently (a hash already stored, or met earlier in ``rows``, is
        skipped); parties and nodes they name are created as needed."""
        self._need_tx()
        db = self._db
        known: dict[bytes, int] = {}
        hashes = list({r.hash for r in rows})
        for part in _chunks(hashes):
            q = ",".join("?" * len(part))
            for eid, h in db.execute(f"SELECT id, hash FROM events WHERE hash IN ({q})",  # noqa: S608
                                     list(part)):
                known[bytes(h)] = int(eid)
        fresh: list[int] = []
        claimed: set[bytes] = set()
        for k, r in enumerate(rows):
            if r.hash not in known and r.hash not in claimed:
                claimed.add(r.hash)
                fresh.append(k)
        out: list[Inserted | None] = [None] * len(rows)
        if fresh:
            new_rows = [rows[k] for k in fresh]
            parties = self.party_ids(p for r in new_rows for p in (r.by, r.src, r.dst) if p)
            keys = [e for r in new_rows if r.nodes is None for e in r.epcs]
            keys += [r.parent for r in new_rows if r.parent is not None]
            node_of = self._node_ids(keys) if keys else {}
            nxt = (db.execute("SELECT max(id) FROM events").fetchone()[0] or 0) + 1
            now = _now_us()
            ev_rows: list[tuple[Any, ...]] = []
            inc_parts: list[np.ndarray] = []  # incidence of rows that came with node arrays
            inc_ev: list[int] = []
            inc_node: list[int] = []
            sql_rows = []
            sql_inc: list[tuple[int, int]] = []
            for j, (k, r) in enumerate(zip(fresh, new_rows, strict=True)):
                eid = nxt + j
                doc = r.doc
                first_node = n_nodes = None
                if r.nodes is not None:
                    arr = np.asarray(r.nodes, dtype=np.int64)
                    if len(arr) > 1:
                        _, first = np.unique(arr, return_index=True)
                        if len(first) != len(arr):
                            arr = arr[np.sort(first)]
                    if (r.range_key is not None and r.range_key in doc and len(arr)
                            and int(arr[-1]) - int(arr[0]) == len(arr) - 1
                            and bool(np.all(np.diff(arr) == 1))):
                        doc = {k2: v for k2, v in doc.items() if k2 != r.range_key}
                        first_node, n_nodes = int(arr[0]), len(arr)
                    else:
                        sql_inc.extend(zip(arr.tolist(), [eid] * len(arr), strict=True))
                    inc_part = np.empty(len(arr), dtype=INC_DTYPE)
                    inc_part["event"] = eid
                    inc_part["node"] = arr
                    inc_parts.append(inc_part)
                    nodes = arr.tolist()
                else:
                    nodes = [node_of[e] for e in r.epcs]
                    if len(nodes) > 1:
                        nodes = list(dict.fromkeys(nodes))
                    sql_inc.extend((n, eid) for n in nodes)
                    inc_ev.extend([eid] * len(nodes))
                    inc_node.extend(nodes)
                parent = node_of[r.parent] if r.parent is not None else None
                by = parties[r.by] if r.by else None
                src = parties[r.src] if r.src else None
                dst = parties[r.dst] if r.dst else None
                sql_rows.append((
                    eid, r.hash, r.time_us, int(r.kind), by, src, dst, parent, r.lat, r.lon, now,
                    self._ctx_id(r.namespaces), first_node, n_nodes,
                    _dump_json(doc)))
                ev_rows.append((eid, r.time_us, -1 if parent is None else parent,
                                -1 if by is None else by, -1 if src is None else src,
                                -1 if dst is None else dst, int(r.kind),
                                np.nan if r.lat is None else r.lat,
                                np.nan if r.lon is None else r.lon, r.hash))
                out[k] = Inserted(eid, True, nodes)
            db.executemany(
                "INSERT INTO events(id, hash, time_us, kind, by_party, src, dst, parent, lat, "
                "lon, recorded_us, ctx, first_node, n_nodes, doc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sql_rows)
            db.executemany("INSERT INTO incidence(node, event) VALUES (?, ?) "
                           "ON CONFLICT DO NOTHING", sql_inc)
            ev = np.array(ev_rows, dtype=EV_DTYPE)
            small = np.empty(len(inc_ev), dtype=INC_DTYPE)
            small["event"] = inc_ev
            small["node"] = inc_node
            # incidence in event order (node-array rows and the others may interleave)
            inc = np.concatenate([*inc_parts, small]) if inc_parts else small
            if inc_parts and len(small):
                inc = inc[np.argsort(inc["event"], kind="stable")]
            self._pending_ev.append(ev)
            self._pending_inc.append(inc)
            for r, k in zip(new_rows, fresh, strict=True):
                known.setdefault(r.hash, out[k].event)  # type: ignore[union-attr]
        for k, r in enumerate(rows):
            if out[k] is None:
                out[k] = Inserted(known[r.hash], False)
        return out  # type: ignore[return-value]

    def _flush_columns(self) -> None:
        """Append this transaction's packed columns, merging small trailing chunks."""
        if not self._pending_ev:
            return
        ev = np.concatenate(self._pending_ev)
        inc = np.concatenate(self._pending_inc)
        if not len(ev):
            return
        db = self._db
        size = len(ev) + len(inc)
        tail = db.execute("SELECT id, n_events + n_inc FROM columns ORDER BY id DESC LIMIT 64"
                          ).fetchall()
        merge_from = None
        acc = size
        for cid, csize in tail:
            if csize <= 2 * acc and csize + acc <= CHUNK_CAP:
                merge_from = int(cid)
                acc += int(csize)
            else:
                break
        first_event, n_ev, n_inc = int(ev["event"][0]), len(ev), len(inc)
        if merge_from is not None:
            old = db.execute("SELECT first_event, n_events, n_inc, events, inc FROM columns "
                             "WHERE id >= ? ORDER BY id", (merge_from,)).fetchall()
            first_event = int(old[0][0])
            n_ev += sum(int(o[1]) for o in old)
            n_inc += sum(int(o[2]) for o in old)
            ev_b = _concat([_unpack(o[3], EV_DTYPE, int(o[1])) for o in old]
                           + [{f: ev[f] for f in _names(EV_DTYPE)}], EV_DTYPE)
            inc_b = _concat([_unpack(o[4], INC_DTYPE, int(o[2])) for o in old]
                            + [{f: inc[f] for f in _names(INC_DTYPE)}], INC_DTYPE)
            del old
            db.execute("DELETE FROM columns WHERE id >= ?", (merge_from,))
        else:
            ev_b, inc_b = _pack(ev), _pack(inc)
        db.execute("INSERT INTO columns(id, first_event, last_event, n_events, n_inc, events, "
                   "inc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (merge_from, first_event, int(ev["event"][-1]), n_ev, n_inc, ev_b, inc_b))

    def last_event(self, node: int) -> tuple[bytes, int] | None:
        row = self._one(
            "SELECT hash, time_us FROM events WHERE id IN ("
            " SELECT event FROM incidence WHERE node = :n"
            " UNION ALL SELECT id FROM events WHERE parent = :n"
            " UNION ALL SELECT id FROM (SELECT id, first_node, n_nodes FROM events"
            "   WHERE first_node IS NOT NULL AND first_node <= :n"
            "   ORDER BY first_node DESC LIMIT 1) WHERE first_node + n_nodes > :n)"
            " ORDER BY time_us DESC, id DESC LIMIT 1", {"n": node})
        return None if row is None else (bytes(row[0]), int(row[1]))

    def uses_text(self, needle: str, ctx_ids: Sequence[int | None],
                  since_us: int | None) -> bool:
        """Whether the JSON of an event read with one of these contexts (None: the default)
        and with ``time >= since_us`` contains ``needle``."""
        ids = [c for c in ctx_ids if c is not None]
        conds = []
        if ids:
            conds.append(f"ctx IN ({','.join('?' * len(ids))})")
        if None in ctx_ids:
            conds.append("ctx IS NULL")
        if not conds:
            return False
        sql = f"SELECT 1 FROM events WHERE instr(doc, ?) > 0 AND ({' OR '.join(conds)})"  # noqa: S608
        args: list[Any] = [needle, *ids]
        if since_us is not None:
            sql += " AND time_us >= ?"
            args.append(since_us)
        return self._one(sql + " LIMIT 1", args) is not None

    def export_rows(self, since_us: int | None
                    ) -> Iterator[tuple[bytes, dict[str, Any], int | None]]:
        """``(hash, EPCIS event dict, context id)`` of every event (``time >= since_us``) in
        the order they were recorded; call inside
        [`snapshot`][antifake.trace.storage.SQLiteStorage.snapshot]."""
        db = self._db
        where, args = ("WHERE time_us >= ?", (since_us,)) if since_us is not None else ("", ())
        cur = db.execute(f"SELECT hash, doc, ctx, first_node, n_nodes FROM events {where} "  # noqa: S608
                         "ORDER BY id", args)
        while True:
            batch = cur.fetchmany(2048)
            if not batch:
                return
            for h, doc, ctx, first_node, n_nodes in batch:
                d = json.loads(doc)
                if first_node is not None:
                    epcs = [r[0] for r in db.execute(
                        "SELECT epc FROM nodes WHERE id BETWEEN ? AND ? ORDER BY id",
                        (first_node, first_node + n_nodes - 1))]
                    d = _with_list(d, "epcList", epcs)
                yield bytes(h), d, ctx

    # -- lifecycle -------------------------------------------------------------------------
    def states(self, nodes: Sequence[int]) -> dict[int, NodeState]:
        out = {int(n): NodeState(int(n)) for n in nodes}
        with self._reading():
            for part in _chunks(list(out)):
                q = ",".join("?" * len(part))
                cols = "node, state, reason, since_us, claim, wrong_pins, attempts, claim_us"
                sql = f"SELECT {cols} FROM lifecycle WHERE node IN ({q})"  # noqa: S608
                for row in self._db.execute(sql, list(part)):
                    out[int(row[0])] = NodeState(*row)
        return out

    # -- suspected copies ------------------------------------------------------------------
    def suspicions(self, nodes: Sequence[int] | None = None) -> dict[int, Suspicion]:
        """Suspicions of ``nodes`` (None: all)."""
        out: dict[int, Suspicion] = {}
        with self._reading():
            if nodes is None:
                for row in self._db.execute("SELECT node, kind, score, since_us, evidence "
                                            "FROM suspicions ORDER BY node"):
                    out[int(row[0])] = Suspicion(int(row[0]), row[1], float(row[2]),
                                                 int(row[3]), row[4])
                return out
            for part in _chunks(sorted({int(n) for n in nodes})):
                q = ",".join("?" * len(part))
                sql = ("SELECT node, kind, score, since_us, evidence FROM suspicions "  # noqa: S608
                       f"WHERE node IN ({q})")
                for row in self._db.execute(sql, list(part)):
                    out[int(row[0])] = Suspicion(int(row[0]), row[1], float(row[2]),
                                                 int(row[3]), row[4])
        return out

    def put_suspicions(self, rows: Sequence[Suspicion]) -> None:
        """Store suspicions; a node keeps the strongest one (ties: the newer)."""
        self._need_tx()
        self._db.executemany(
            "INSERT INTO suspicions(node, kind, score, since_us, evidence) VALUES (?,?,?,?,?) "
            "ON CONFLICT(node) DO UPDATE SET kind = excluded.kind, score = excluded.score, "
            "since_us = excluded.since_us, evidence = excluded.evidence "
            "WHERE excluded.score >= suspicions.score",
            [(r.node, r.kind, r.score, r.since_us, r.evidence) for r in rows])

    def clear_suspicions(self, nodes: Sequence[int]) -> int:
        self._need_tx()
        n = 0
        for part in _chunks(sorted({int(x) for x in nodes})):
            q = ",".join("?" * len(part))
            n += self._db.execute(f"DELETE FROM suspicions WHERE node IN ({q})",  # noqa: S608
                                  list(part)).rowcount
        return n

    # -- bulk ------------------------------------------------------------------------------
    def graph_columns(self) -> dict[str, Any]:
        """The keyword arguments of `TraceGraph.from_arrays`, read in one snapshot."""
        with self.snapshot():
            db = self._db
            n_nodes, max_node = db.execute("SELECT count(*), max(id) FROM nodes").fetchone()
            n_nodes = int(n_nodes)
            if n_nodes == (max_node or 0):
                node_ids = np.arange(1, n_nodes + 1, dtype=np.int64)
                cur = db.execute("SELECT epc FROM nodes ORDER BY id")
                epcs = np.empty(n_nodes, dtype=object)
                epcs[:] = [r[0] for r in cur.fetchall()]
            else:
                rows = db.execute("SELECT id, epc FROM nodes ORDER BY id").fetchall()
                node_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                epcs = np.empty(len(rows), dtype=object)
                epcs[:] = [r[1] for r in rows]
                del rows
            prow = db.execute("SELECT id, name FROM parties ORDER BY id").fetchall()
            n_ev, n_inc = db.execute("SELECT coalesce(sum(n_events), 0), "
                                     "coalesce(sum(n_inc), 0) FROM columns").fetchone()
            ev = {f: np.empty(int(n_ev), dtype=EV_DTYPE[f]) for f in _names(EV_DTYPE)}
            inc = {f: np.empty(int(n_inc), dtype=INC_DTYPE[f]) for f in _names(INC_DTYPE)}
            pe = pi = 0
            for ev_b, inc_b, ne, ni in db.execute(
                    "SELECT events, inc, n_events, n_inc FROM columns ORDER BY id"):
                a = _unpack(ev_b, EV_DTYPE, int(ne))
                b = _unpack(inc_b, INC_DTYPE, int(ni))
                for f in _names(EV_DTYPE):
                    ev[f][pe: pe + ne] = a[f]
                for f in _names(INC_DTYPE):
                    inc[f][pi: pi + ni] = b[f]
                pe, pi = pe + ne, pi + ni
                del a, b, ev_b, inc_b
            if pe != n_ev or pi != n_inc:
                raise RegistryError("column store sizes disagree (run Registry.check())")
            batches = db.execute("SELECT id, key_id, batch_id, first_node, n FROM batches"
                                 ).fetchall()
            exceptions = db.execute("SELECT s.node, b.key_id, b.batch_id FROM stamp_nodes s "
                                    "JOIN batches b ON b.id = s.batch").fetchall()
        return _graph_arrays(epcs, node_ids, prow, ev, inc, batches, exceptions)[0]

    def version(self) -> tuple[int, int]:
        """(last event row, last node row): changes whenever the graph would."""
        with self.snapshot():
            e = self._db.execute("SELECT max(last_event) FROM columns").fetchone()[0]
            n = self._db.execute("SELECT max(id) FROM nodes").fetchone()[0]
        return int(e or 0), int(n or 0)

    def counts(self) -> dict[str, int]:
        with self.snapshot():
            db = self._db
            events = db.execute("SELECT coalesce(sum(n_events), 0) FROM columns").fetchone()[0]
            stamps = db.execute("SELECT coalesce(sum(n), 0) FROM batches").fetchone()[0]
            parties = db.execute("SELECT count(*) FROM parties").fetchone()[0]
            nodes = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
            batches = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        return {"events": int(events), "stamps": int(stamps), "parties": int(parties),
                "nodes": int(nodes), "batches": int(batches)}

    def check(self) -> dict[str, Any]:
        """Consistency of the store: SQLite's integrity and foreign-key checks, and the
        invariants between tables (every batch complete, column store = event rows)."""
        problems: list[str] = []
        with self.snapshot():
            db = self._db
            integrity = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"]:
                problems += [f"integrity: {m}" for m in integrity[:20]]
            fk = db.execute("PRAGMA foreign_key_check").fetchall()
            if fk:
                problems.append(f"{len(fk)} foreign key violations, e.g. {fk[0]}")
            n_events, max_event = db.execute("SELECT count(*), max(id) FROM events").fetchone()
            if n_events != (max_event or 0):
                problems.append(f"event ids are not dense: {n_events} rows, max id {max_event}")
            c_ev, c_inc, c_last = db.execute(
                "SELECT coalesce(sum(n_events), 0), coalesce(sum(n_inc), 0), max(last_event) "
                "FROM columns").fetchone()
            if c_ev != n_events or (c_last or 0) != (max_event or 0):
                problems.append(f"column store holds {c_ev} events, the table {n_events}")
            n_inc = db.execute("SELECT count(*) FROM incidence").fetchone()[0]
            n_range = db.execute("SELECT coalesce(sum(n_nodes), 0) FROM events "
                                 "WHERE first_node IS NOT NULL").fetchone()[0]
            if c_inc != n_inc + n_range:
                problems.append(f"column store holds {c_inc} incidences, the tables "
                                f"{n_inc} + {n_range} in ranges")
            for bid, first_node, n in db.execute("SELECT id, first_node, n FROM batches"
                                                 ).fetchall():
                have = db.execute("SELECT count(*) FROM nodes WHERE id >= ? AND id < ?",
                                  (first_node, first_node + n)).fetchone()[0]
                moved = db.execute("SELECT count(*) FROM stamp_nodes WHERE batch = ?",
                                   (bid,)).fetchone()[0]
                if have + moved != n:
                    problems.append(f"batch row {bid}: {have + moved} of {n} stamps stored")
                covered = db.execute(
                    "SELECT coalesce(sum(n_nodes), 0) FROM events WHERE first_node >= ? AND "
                    "first_node < ?", (first_node, first_node + n)).fetchone()[0]
                if covered > n:
                    problems.append(f"batch row {bid}: commissioning ranges overlap")
            dup = db.execute("SELECT count(*) - count(DISTINCT hash) FROM events").fetchone()[0]
            if dup:
                problems.append(f"{dup} duplicate event hashes")
        return {"ok": not problems, "problems": problems, "integrity": integrity,
                "events": int(n_events), "incidences": int(n_inc + n_range)}


def _with_list(d: dict[str, Any], key: str, values: list[str]) -> dict[str, Any]:
    """``d`` with ``key`` restored after the event's time fields (where EPCIS puts lists)."""
    out: dict[str, Any] = {}
    placed = False
    for k, v in d.items():
        out[k] = v
        if k == "eventTimeZoneOffset" and not placed:
            out[key] = values
            placed = True
    if not placed:
        out[key] = values
    return out


def _graph_arrays(epcs: np.ndarray, node_ids: np.ndarray, prow: Sequence[Any],
                  ev: dict[str, np.ndarray], inc: dict[str, np.ndarray],
                  batches: Sequence[Any], exceptions: Sequence[Any]
                  ) -> tuple[dict[str, Any], np.ndarray]:
    """The keyword arguments of `TraceGraph.from_arrays` from what a backend read, and the
    stored event ids in the graph's event order. Input: nodes
    (ids ascending, their EPCs), party rows, the packed event and incidence columns, the
    batches and the stamp-node exceptions. Events are put in id order (concurrent PostgreSQL
    writers may commit chunks out of order; incidences follow their events)."""
    party_ids = np.array([r[0] for r in prow], dtype=np.int64)
    parties = np.empty(len(prow), dtype=object)
    parties[:] = [r[1] for r in prow]
    ev_db = ev["event"]
    if len(ev_db) > 1 and not np.all(ev_db[1:] > ev_db[:-1]):
        o = np.argsort(ev_db, kind="stable")
        ev = {f: a[o] for f, a in ev.items()}
        ev_db = ev["event"]
        if not np.all(ev_db[1:] > ev_db[:-1]):
            raise RegistryError("column store holds an event twice (run Registry.check())")
        oi = np.argsort(inc["event"], kind="stable")
        inc = {f: a[oi] for f, a in inc.items()}
    ev_dense, _ = _id_map(ev_db)
    node_dense, _ = _id_map(node_ids)
    party_dense, _ = _id_map(party_ids)
    node_key = np.full(len(node_ids), -1, dtype=np.int32)
    node_batch = np.full(len(node_ids), -1, dtype=np.int64)
    for _, key_id, batch_id, first_node, n in batches:
        ids = np.arange(first_node, first_node + n, dtype=np.int64)
        if node_dense:
            pos = ids - 1
            pos = pos[pos < len(node_ids)]
        else:
            p = np.searchsorted(node_ids, ids)
            ok = p < len(node_ids)
            ok[ok] = node_ids[p[ok]] == ids[ok]
            pos = p[ok]
        node_key[pos] = key_id
        node_batch[pos] = batch_id
    for node, key_id, batch_id in exceptions:
        p = _to_index(np.array([node]), node_dense, node_ids, "node")[0]
        node_key[p] = key_id
        node_batch[p] = batch_id
    hashes = ev.pop("hash").view(np.uint8).reshape(-1, 32)
    return {
        "epcs": epcs,
        "parties": parties,
        "ev_ids": hash_ids(hashes),
        "ev_time": ev["time"],
        "ev_kind": ev["kind"],
        "ev_by": _to_index(ev["by"], party_dense, party_ids, "party").astype(np.int32),
        "ev_src": _to_index(ev["src"], party_dense, party_ids, "party").astype(np.int32),
        "ev_dst": _to_index(ev["dst"], party_dense, party_ids, "party").astype(np.int32),
        "ev_lat": ev["lat"],
        "ev_lon": ev["lon"],
        "inc_event": _to_index(inc["event"], ev_dense, ev_db, "event"),
        "inc_node": _to_index(inc["node"], node_dense, node_ids, "node"),
        "agg_parent": _to_index(ev["parent"], node_dense, node_ids, "node"),
        "node_key": node_key,
        "node_batch": node_batch,
    }, ev_db


def open_storage(url: str | os.PathLike[str], **options: Any) -> Storage:
    """A storage backend for a path or URL: a file path, ``":memory:"``, ``sqlite:///path``
    (``sqlite:///:memory:``), or ``postgresql://...`` (the PostgreSQL backend,
    `antifake.trace.storage_pg`; needs the ``postgres`` extra)."""
    if isinstance(url, os.PathLike):
        return SQLiteStorage(url, **options)
    if not isinstance(url, str) or not url:
        raise RegistryError(f"expected a path or URL for the registry, not {url!r}")
    lower = url.lower()
    if lower.startswith(("postgresql://", "postgres://")):
        from antifake.trace.storage_pg import open_postgres
        return open_postgres(url, **options)
    if lower.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if rest.startswith("/"):
            rest = rest[1:]
        path, _, query = rest.partition("?")
        for item in filter(None, query.split("&")):
            k, _, v = item.partition("=")
            if k == "synchronous":
                options.setdefault("synchronous", v)
            elif k == "timeout":
                options.setdefault("timeout", float(v))
            else:
                raise RegistryError(f"unknown registry URL option {k!r}")
        if not path:
            raise RegistryError(f"no database path in {url!r}")
        return SQLiteStorage(path, **options)
    if "://" in url:
        raise RegistryError(f"unknown registry URL scheme in {url!r}")
    return SQLiteStorage(url, **options)
