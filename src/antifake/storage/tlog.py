"""The registry's transparency log: every stored event is a leaf of an RFC 9162 Merkle tree
kept in the registry's own store, written in the same transaction as the events.

Leaf data of an event: the UTF-8 bytes of its CBV 2.0 event id
(`ni:///sha-256;<64 hex>?ver=CBV2.0`), so anyone holding the event's EPCIS JSON recomputes the
leaf. Leaves follow storage order (the order in which transactions committed their events; in
one transaction, event row order); an event stored again appends nothing.

Tables (created on first use, on SQLite and PostgreSQL alike):

``log_head``   one row: the tree size. PostgreSQL writers lock it (``FOR UPDATE``) at the end of
               their transaction, so racing writers append in one order, without gaps.
``log_nodes``  the tree's complete nodes, in tiles of 256 hashes: tile `t` of level `l` holds
               nodes `256 t .. 256 t + 255` of that level (node `i` is the hash of leaves
               `[i 2^l, (i + 1) 2^l)`), packed. Levels 0 (the leaf hashes), 4 and 8 and up
               are stored, 34.2 bytes per leaf; a node of levels 1-3 or 5-7 lies inside
               one leaf tile and is recomputed from it when a proof or an append needs it
               (a log begun before level 4 was stored keeps its layout: no level 4).
``log_runs``   event row ids to leaf indexes: a run of consecutive row ids
               (`first_event .. first_event + n - 1`) at leaves `first_leaf ..`. A writer alone
               appends to one run; concurrent PostgreSQL writers add a row per transaction.

Proofs come from the proof path (`antifake.storage._tlog_proofs`: levels from 8 up kept in
memory, 1 KB read and 29 native node hashes per proof), or from `antifake.log.merkle`'s generic
path over `RegistryLog.nodes` where that path stands aside; both give the same bytes.

A registry whose store holds these tables appends to the log whether or not it was given a log
key (the key only signs checkpoints); opening a registry with a log key for the first time
creates the tables and logs the events already stored, in row order. Enable the log while no
other process writes to the registry: a process that opened it before the tables existed does
not append until it opens the registry again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from antifake.epcis.event_hash import DEFAULT_CONTEXT, EPCIS_CONTEXT_URL
from antifake.epcis.event_id import hash_to_id, id_to_hash
from antifake.errors import RegistryError
from antifake.log.merkle import (
    HASH_SIZE,
    ConsistencyProof,
    InclusionProof,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_hash,
)
from antifake.log.merkle import hash_pairs as _hash_pairs
from antifake.log.note import Checkpoint, LogKey, format_checkpoint
from antifake.storage._sql import _with_list
from antifake.storage._tlog_proofs import _LOW_LEVELS, _MID, _TILE_BYTES, TILE, ProofPath
from antifake.storage.abc import EventRow, Inserted, Storage
from antifake.storage.sqlite import SQLiteStorage

__all__ = ["RegistryLog", "TILE", "event_leaf_hash", "event_documents", "log_exists", "open_log"]

_BACKFILL_CHUNK = 100_000
#: Tiles of the upper levels kept in memory (64 MB), at most.
_CACHE_MAX = 8192
_sha256 = hashlib.sha256
# 0x00 || "ni:///sha-256;" || hex || "?ver=CBV2.0": the leaf of an event id (hash_to_id's form)
_LEAF_PREFIX = b"\x00ni:///sha-256;"
_LEAF_SUFFIX = b"?ver=CBV2.0"


def _ddl(sqlite: bool) -> list[str]:
    blob = "BLOB" if sqlite else "bytea"
    # PostgreSQL: hashes do not compress; store tiles out of line without trying
    extra = [] if sqlite else ["ALTER TABLE log_nodes ALTER COLUMN data SET STORAGE EXTERNAL"]
    return [
        "CREATE TABLE IF NOT EXISTS log_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "size BIGINT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS log_nodes (level INTEGER NOT NULL, tile BIGINT NOT NULL, "
        f"data {blob} NOT NULL, PRIMARY KEY (level, tile))",
        "CREATE TABLE IF NOT EXISTS log_runs (first_event BIGINT PRIMARY KEY, "
        "first_leaf BIGINT NOT NULL UNIQUE, n BIGINT NOT NULL)",
        *extra,
    ]




def event_leaf_hash(event_hash: bytes) -> bytes:
    """The leaf hash of an event: `SHA-256(0x00 || UTF-8 of its CBV 2.0 event id)`."""
    return _sha256(_LEAF_PREFIX + event_hash.hex().encode() + _LEAF_SUFFIX).digest()


def _is_sqlite(store: Storage) -> bool:
    return isinstance(store, SQLiteStorage)


def log_exists(store: Storage) -> bool:
    """Whether the store holds a transparency log."""
    sql = ("SELECT count(*) FROM sqlite_master WHERE name = 'log_head'" if _is_sqlite(store)
           else "SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relname = 'log_head' "
                "AND pg_catalog.pg_table_is_visible(c.oid)")
    with store.snapshot():
        return bool(store._x(sql).fetchone()[0])  # type: ignore[attr-defined]


class RegistryLog(ProofPath):
    """The transparency log of one registry (`reg.log`): checkpoints and proofs.

    Proof sizes default to the current tree size. Checkpoints need the log key the registry
    was opened with; proofs and roots do not.
    """

    def __init__(self, store: Storage, key: LogKey | None = None,
                 origin: str | None = None) -> None:
        if key is not None and not isinstance(key, LogKey):
            raise RegistryError(f"log_key must be an antifake LogKey, not {type(key).__name__}")
        self._store = store
        self.key = key
        self.origin = origin if origin is not None else (key.name if key is not None else None)
        self._pending: list[tuple[int, bytes]] = []
        self._tiles: dict[tuple[int, int], bytearray] = {}
        self._read_cache: dict[tuple[int, int], bytes] = {}
        self._low_cache: dict[int, list[bytes]] = {}
        # the proof path: complete nodes of levels 8 and up (committed, so a prefix of every
        # later tree), enough for trees of `_upper_n` leaves; levels of a few leaf tiles
        self._upper: list[bytearray] = []
        self._upper_n = 0
        self._known_head = 0  # a committed tree size seen: every size up to it exists for good
        self._leaf_levels: dict[int, tuple[bytearray, int]] = {}
        self._mid: bool | None = None

    def __repr__(self) -> str:
        return f"RegistryLog(origin={self.origin!r}, size={self.size()})"

    # -- set-up -----------------------------------------------------------------------------
    def create(self) -> None:
        """Create the tables if missing and log the events stored before, in row order."""
        st = self._store
        with st.transaction():
            for stmt in _ddl(_is_sqlite(st)):
                st._x(stmt)  # type: ignore[attr-defined]
            if st._x("SELECT size FROM log_head WHERE id = 1").fetchone() is None:  # type: ignore[attr-defined]
                st._x("INSERT INTO log_head(id, size) VALUES (1, 0)")  # type: ignore[attr-defined]
                size = self._lock_size()
                last = 0
                while True:
                    rows = st._x("SELECT id, hash FROM events WHERE id > ? ORDER BY id "  # type: ignore[attr-defined]
                                 "LIMIT ?", (last, _BACKFILL_CHUNK)).fetchall()
                    if not rows:
                        break
                    pairs = [(int(r[0]), bytes(r[1])) for r in rows]
                    size = self._append_locked(size, pairs)
                    last = pairs[-1][0]
                self._tiles.clear()

    # -- writing (inside the registry's transactions) ---------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The registry's write transaction, with the log appended at its end (after every
        other row lock the transaction takes, so log writers never wait in a cycle)."""
        with self._store.transaction():
            try:
                yield
                self.flush()
            finally:
                self._pending.clear()
                self._tiles.clear()

    def stage(self, rows: Sequence[EventRow], ins: Sequence[Inserted]) -> None:
        """Remember the events this transaction stored for the first time."""
        for r, i in zip(rows, ins, strict=True):
            if i.new:
                self._pending.append((i.event, r.hash))

    def flush(self) -> None:
        """Append the staged events as leaves, in row order (inside the transaction)."""
        if not self._pending:
            return
        pend = sorted(self._pending)
        self._pending.clear()
        size = self._lock_size()
        self._append_locked(size, pend)

    def _lock_size(self) -> int:
        sql = "SELECT size FROM log_head WHERE id = 1"
        if not _is_sqlite(self._store):
            sql += " FOR UPDATE"
        row = self._store._x(sql).fetchone()  # type: ignore[attr-defined]
        if row is None:
            raise RegistryError("the registry's transparency log is damaged (no log_head row)")
        return int(row[0])

    def _append_locked(self, size: int, events: list[tuple[int, bytes]]) -> int:
        st = self._store
        pre, suf = _LEAF_PREFIX, _LEAF_SUFFIX
        leaves = b"".join(_sha256(pre + h.hex().encode() + suf).digest() for _, h in events)
        self._write_nodes(size, leaves)
        # runs of consecutive event row ids
        last = st._x("SELECT first_event, first_leaf, n FROM log_runs "  # type: ignore[attr-defined]
                     "ORDER BY first_leaf DESC LIMIT 1").fetchone()
        leaf = size
        j = 0
        while j < len(events):
            k = j + 1
            while k < len(events) and events[k][0] == events[k - 1][0] + 1:
                k += 1
            first, n = events[j][0], k - j
            if (last is not None and int(last[0]) + int(last[2]) == first
                    and int(last[1]) + int(last[2]) == leaf):
                st._x("UPDATE log_runs SET n = n + ? WHERE first_event = ?",  # type: ignore[attr-defined]
                      (n, int(last[0])))
            else:
                st._x("INSERT INTO log_runs(first_event, first_leaf, n) VALUES (?, ?, ?)",  # type: ignore[attr-defined]
                      (first, leaf, n))
            last = None
            leaf += n
            j = k
        st._x("UPDATE log_head SET size = ? WHERE id = 1", (leaf,))  # type: ignore[attr-defined]
        return leaf

    def _stored(self, level: int) -> bool:
        """Whether the tiles of this level are stored (0, 4 and from 8 up; the others are
        recomputed from a leaf tile)."""
        return level == 0 or level >= _LOW_LEVELS or (level == _MID and self._has_mid())

    def _has_mid(self) -> bool:
        """Whether this log stores level 4: every log created by this version does; a log
        begun by an earlier one (no level-4 tile beyond 15 leaves) keeps that layout, and
        its proofs hash whole leaf tiles."""
        if self._mid is None:
            st = self._store
            row = st._x("SELECT size FROM log_head WHERE id = 1").fetchone()  # type: ignore[attr-defined]
            size = 0 if row is None else int(row[0])
            self._mid = size < (1 << _MID) or st._x(  # type: ignore[attr-defined]
                "SELECT count(*) FROM log_nodes WHERE level = ? AND tile = 0", (_MID,)
            ).fetchone()[0] > 0
        return self._mid

    def _old_node(self, level: int, index: int) -> bytes:
        """A node of the tree before this append (the left sibling of the first new one)."""
        if self._stored(level):
            t, off = divmod(index, TILE)
            node = bytes(self._tile(level, t)[off * HASH_SIZE:(off + 1) * HASH_SIZE])
        else:  # levels 1-7 not stored: hash its 2**level leaves, all in one leaf tile
            first = index << level
            t, off = divmod(first, TILE)
            node = bytes(self._tile(0, t)[off * HASH_SIZE:(off + (1 << level)) * HASH_SIZE])
            for _ in range(level):
                node = bytes(_hash_pairs(node))
        if len(node) != HASH_SIZE:
            raise RegistryError(f"the transparency log is damaged: node ({level}, {index}) "
                                "is missing")
        return node

    def _tile(self, level: int, tile: int) -> bytearray:
        t = self._tiles.get((level, tile))
        if t is None:
            row = self._store._x("SELECT data FROM log_nodes WHERE level = ? AND tile = ?",  # type: ignore[attr-defined]
                                 (level, tile)).fetchone()
            t = bytearray(row[0]) if row is not None else bytearray()
            self._tiles[(level, tile)] = t
        return t

    def _write_nodes(self, size: int, leaves: bytes) -> None:
        """Append leaf hashes to the tree of `size` leaves: the leaf tiles and the tiles of
        levels 8 and up are stored; levels 1-7 are not (recomputed from a leaf tile)."""
        level, start = 0, size
        carry: bytes | bytearray = leaves
        dirty: set[tuple[int, int]] = set()
        while carry:
            cnt = len(carry) // HASH_SIZE
            pos = 0
            while self._stored(level) and pos < cnt:  # append `carry` to this level's tiles
                idx = start + pos
                t, off = divmod(idx, TILE)
                tile = self._tile(level, t)
                if len(tile) != off * HASH_SIZE:
                    raise RegistryError(f"the transparency log is damaged: tile ({level}, {t}) "
                                        f"holds {len(tile) // HASH_SIZE} nodes, expected {off}")
                take = min(TILE - off, cnt - pos)
                tile += carry[pos * HASH_SIZE:(pos + take) * HASH_SIZE]
                dirty.add((level, t))
                pos += take
            if start & 1:
                left = self._old_node(level, start - 1)
                buf: bytes | bytearray = left + carry
                first = start - 1
            else:
                buf, first = carry, start
            pairs = len(buf) // (2 * HASH_SIZE)
            carry = _hash_pairs(buf[: pairs * 2 * HASH_SIZE]) if pairs else b""
            start = first // 2
            level += 1
        st = self._store
        sql = ("INSERT INTO log_nodes(level, tile, data) VALUES (?, ?, ?) "
               "ON CONFLICT (level, tile) DO UPDATE SET data = excluded.data")
        for key in sorted(dirty):
            st._x(sql, (key[0], key[1], bytes(self._tiles[key])))  # type: ignore[attr-defined]

    # -- reading ----------------------------------------------------------------------------
    def nodes(self, wanted: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of complete subtrees `(level, index)` (the proof generators' source).

        Nodes of levels 1-7 lie inside one tile of leaf hashes (256 leaves): they are
        recomputed from that tile (one row read and at most 255 native hashes) rather than
        read row by row, so a proof reads one leaf tile plus the upper levels. Tiles of
        levels 8 and up (1/128 of the nodes) are kept in memory once read: the tree only
        grows, so a tile read once stays valid for every node it holds."""
        out: list[bytes | None] = [None] * len(wanted)
        low: dict[int, list[int]] = {}  # leaf tile -> wanted entries of levels 0-7
        miss_tile: dict[tuple[int, int], list[int]] = {}
        cache = self._read_cache
        for k, (level, index) in enumerate(wanted):
            if level < _LOW_LEVELS:
                low.setdefault((index << level) >> 8, []).append(k)
                continue
            t, off = divmod(index, TILE)
            tile = cache.get((level, t))
            if tile is not None and len(tile) >= (off + 1) * HASH_SIZE:
                out[k] = tile[off * HASH_SIZE:(off + 1) * HASH_SIZE]
            else:
                miss_tile.setdefault((level, t), []).append(k)
        keys = [(0, t) for t, ks in low.items() if not self._low_hit(t, ks, wanted)]
        keys += list(miss_tile)
        got = self._read_tiles(keys, cache_from=_LOW_LEVELS) if keys else {}
        for key, ks in miss_tile.items():
            tile = got.get(key, b"")
            for k in ks:
                off = wanted[k][1] % TILE
                out[k] = tile[off * HASH_SIZE:(off + 1) * HASH_SIZE]
        for t, ks in low.items():
            levels = self._low_levels(t, got.get((0, t), b""))
            for k in ks:
                level, index = wanted[k]
                off = index - (t << (8 - level))
                out[k] = levels[level][off * HASH_SIZE:(off + 1) * HASH_SIZE]
        for w, h in zip(wanted, out, strict=True):
            if h is None or len(h) != HASH_SIZE:
                raise RegistryError(f"the transparency log is damaged: node {w} is missing")
        return out  # type: ignore[return-value]

    def _low_hit(self, t: int, ks: list[int], wanted: Sequence[tuple[int, int]]) -> bool:
        """Whether the kept levels of leaf tile `t` hold every node `ks` asks for."""
        hit = self._low_cache.get(t)
        if hit is None:
            return False
        for k in ks:
            level, index = wanted[k]
            if len(hit[level]) < (index - (t << (8 - level)) + 1) * HASH_SIZE:
                return False
        return True

    def _low_levels(self, t: int, tile: bytes) -> list[bytes]:
        """Levels 0-7 of the nodes above leaf tile `t`. The tiles at the right edge (partial)
        are asked for by every proof of a tree size: their levels are kept (the last few)."""
        hit = self._low_cache.get(t)
        if hit is not None and len(hit[0]) >= len(tile):  # tile b"": not read, kept ones do
            return hit
        levels = [tile]
        for _ in range(1, _LOW_LEVELS):
            below = levels[-1]
            levels.append(bytes(_hash_pairs(below[: len(below) // 64 * 64])))
        if 0 < len(tile) < _TILE_BYTES and getattr(self._store, "_tx", None) != "write":
            if len(self._low_cache) >= 8:
                self._low_cache.pop(next(iter(self._low_cache)))
            self._low_cache[t] = levels
        return levels

    def _read_tiles(self, keys: list[tuple[int, int]], cache_from: int
                    ) -> dict[tuple[int, int], bytes]:
        """Whole tiles by `(level, tile)`, one statement per 200; tiles of levels from
        `cache_from` up are cached (never uncommitted ones, read inside a write)."""
        got: dict[tuple[int, int], bytes] = {}
        cacheable = getattr(self._store, "_tx", None) != "write"
        part = "SELECT level, tile, data FROM log_nodes WHERE level = ? AND tile = ?"
        for lo in range(0, len(keys), 200):
            chunk = keys[lo: lo + 200]
            sql = " UNION ALL ".join([part] * len(chunk))
            args = [a for key in chunk for a in key]
            for level, t, data in self._store._x(sql, args).fetchall():  # type: ignore[attr-defined]
                key = (int(level), int(t))
                got[key] = tile = bytes(data)
                if cacheable and key[0] >= cache_from:
                    if len(self._read_cache) >= _CACHE_MAX:
                        self._read_cache.clear()
                    self._read_cache[key] = tile
        return got

    def size(self) -> int:
        """The number of leaves (events logged)."""
        with self._store.snapshot():
            row = self._store._x("SELECT size FROM log_head WHERE id = 1").fetchone()  # type: ignore[attr-defined]
        return 0 if row is None else int(row[0])

    def _tree_size(self, size: int | None) -> int:
        """`size`, checked against the tree, or the current size when None. A size no larger
        than one seen committed needs no read: the log only grows."""
        if (size is not None and not isinstance(size, bool) and isinstance(size, int)
                and 0 <= size <= self._known_head):
            return size
        return self._size_arg(size, self._head())

    def _size_arg(self, size: int | None, current: int) -> int:
        if size is None:
            return current
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= current:
            raise RegistryError(f"tree size must be an integer in 0..{current}, got {size!r}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree of `size` leaves (default: all)."""
        with self._store.snapshot():
            n = self._size_arg(size, self._head())
            return root_hash(self, n)

    def _head(self) -> int:
        row = self._store._x("SELECT size FROM log_head WHERE id = 1").fetchone()  # type: ignore[attr-defined]
        n = 0 if row is None else int(row[0])
        if getattr(self._store, "_tx", None) != "write":  # committed: it stays
            self._known_head = max(self._known_head, n)
        return n

    def tree_head(self) -> Checkpoint:
        """The current tree head, unsigned."""
        if self.origin is None:
            raise RegistryError("this log has no origin: open the registry with log_key=")
        with self._store.snapshot():
            n = self._head()
            return Checkpoint(self.origin, n, root_hash(self, n))

    def checkpoint(self) -> str:
        """The current tree head as a signed note (C2SP tlog-checkpoint), signed with the log
        key."""
        if self.key is None:
            raise RegistryError("signing a checkpoint needs the log key: open the registry with "
                                "log_key=af.LogKey.load(...)")
        cp = self.tree_head()
        return self.key.sign_note(format_checkpoint(cp.origin, cp.size, cp.root))

    def leaf_index(self, event_id: str) -> int:
        """The leaf index of a stored event ([`RegistryError`][antifake.errors.RegistryError]
        when the event is not in the log)."""
        with self._store.committed_reads():
            return self._leaf_index(event_id)

    def _leaf_index(self, event_id: str) -> int:
        st = self._store
        try:
            h = id_to_hash(event_id)
        except Exception:
            raise RegistryError(f"not an event id: {event_id!r:.100}") from None
        row = st._x("SELECT id FROM events WHERE hash = ?", (h,)).fetchone()  # type: ignore[attr-defined]
        if row is None:
            raise RegistryError(f"no event {event_id} in this registry")
        eid = int(row[0])
        run = st._x("SELECT first_event, first_leaf, n FROM log_runs WHERE first_event <= ? "  # type: ignore[attr-defined]
                    "ORDER BY first_event DESC LIMIT 1", (eid,)).fetchone()
        if run is None or eid >= int(run[0]) + int(run[2]):
            raise RegistryError(f"event {event_id} is not in the transparency log")
        return int(run[1]) + eid - int(run[0])

    def leaf_indexes(self, event_ids: Sequence[str]) -> list[int]:
        with self._store.committed_reads():
            return [self._leaf_index(e) for e in event_ids]

    def inclusion_proof(self, event_id: str, size: int | None = None) -> InclusionProof:
        """RFC 9162 inclusion proof of a stored event in the tree of `size` leaves (default:
        the current tree). `.index`, `.size`, `.hashes`."""
        with self._store.committed_reads():
            n = self._tree_size(size)
            i = self._leaf_index(event_id)
            if i >= n:
                raise RegistryError(f"event {event_id} was logged at leaf {i}, after the tree "
                                    f"of size {n}")
            return self._inclusion(i, n)

    def inclusion_proof_at(self, index: int, size: int | None = None) -> InclusionProof:
        """RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves (default: the
        current tree), for callers that know the leaf index (a monitor, an auditor)."""
        with self._store.committed_reads():
            n = self._tree_size(size)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
                raise RegistryError(f"leaf index must be an integer in 0..{n - 1}, "
                                    f"got {index!r:.40}")
            return self._inclusion(index, n)

    def _inclusion(self, i: int, n: int) -> InclusionProof:
        hashes = self._proof_hashes(0, i, n)
        if hashes is None:
            return inclusion_proof(self, i, n)
        return InclusionProof(i, n, hashes)

    def inclusion_proofs(self, event_ids: Sequence[str], size: int) -> list[InclusionProof]:
        """Inclusion proofs of several events in one tree (one read transaction)."""
        with self._store.committed_reads():
            n = self._size_arg(size, self._head())
            out = []
            for e in event_ids:
                i = self._leaf_index(e)
                if i >= n:
                    raise RegistryError(f"event {e} is not in the tree of size {n}")
                out.append(self._inclusion(i, n))
            return out

    def consistency_proof(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """RFC 9162 consistency proof from the tree of `size1` leaves to that of `size2`
        (default: the current tree). `.hashes`."""
        with self._store.committed_reads():
            n2 = self._tree_size(size2)
            n1 = self._size_arg(size1, n2)
            return self._consistency(n1, n2)

    def _consistency(self, n1: int, n2: int) -> ConsistencyProof:
        hashes = self._proof_hashes(1, n1, n2) if 0 < n1 < n2 else None
        if hashes is None:
            return consistency_proof(self, n1, n2)
        return ConsistencyProof(n1, n2, hashes)

    def check(self) -> list[str]:
        """Recompute the whole tree from the stored events and compare (problems found)."""
        problems: list[str] = []
        st = self._store
        with st.snapshot():
            n = self._head()
            runs = st._x("SELECT first_event, first_leaf, n FROM log_runs ORDER BY first_leaf"  # type: ignore[attr-defined]
                         ).fetchall()
            tree = MemoryTree()
            expect = 0
            for first, leaf, cnt in runs:
                if int(leaf) != expect:
                    problems.append(f"log runs leave a gap at leaf {expect}")
                    break
                rows = st._x("SELECT id, hash FROM events WHERE id >= ? AND id < ? ORDER BY id",  # type: ignore[attr-defined]
                             (int(first), int(first) + int(cnt))).fetchall()
                if len(rows) != int(cnt):
                    problems.append(f"log run at leaf {leaf}: {cnt} events expected, "
                                    f"{len(rows)} found")
                    break
                tree.append_hashes(b"".join(event_leaf_hash(bytes(r[1])) for r in rows))
                expect += int(cnt)
            if not problems:
                if expect != n:
                    problems.append(f"log size {n} but runs cover {expect} leaves")
                else:
                    events = int(st._x("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[attr-defined]
                    if events != n:
                        problems.append(f"{events} events stored but {n} logged")
                    if n and tree.root(n) != root_hash(self, n):
                        problems.append("the stored tree's root differs from the events' root")
                    problems += self._check_tiles(tree, n)
        return problems

    def _check_tiles(self, tree: MemoryTree, n: int) -> list[str]:
        """Every stored tile against the nodes recomputed from the events (proofs read
        them), tile by tile."""
        st = self._store
        for level in range(len(tree.levels)):
            if not self._stored(level):
                continue
            want = memoryview(tree.levels[level])[: (n >> level) * HASH_SIZE]
            expect = 0
            while True:  # 1,000 tiles (8 MB) a statement
                rows = st._x("SELECT tile, data FROM log_nodes WHERE level = ? AND tile >= ? "  # type: ignore[attr-defined]
                             "ORDER BY tile LIMIT 1000", (level, expect)).fetchall()
                for t, data in rows:
                    lo = expect * _TILE_BYTES
                    if int(t) != expect or bytes(data) != want[lo: lo + _TILE_BYTES]:
                        return [f"the stored nodes of level {level} differ from the events' "
                                f"tree (tile {int(t)})"]
                    expect += 1
                if len(rows) < 1000:
                    break
            if expect * _TILE_BYTES < len(want):
                return [f"the stored nodes of level {level} differ from the events' tree "
                        f"(tile {expect} missing)"]
        return []




def open_log(store: Storage, key: LogKey | None) -> RegistryLog | None:
    """The log of a registry's store: created when a key is given the first time, attached
    when the store holds one already, None otherwise."""
    if key is not None and not isinstance(key, LogKey):
        raise RegistryError(f"log_key must be an antifake LogKey, not {type(key).__name__}")
    exists = log_exists(store)
    if not exists and key is None:
        return None
    log = RegistryLog(store, key)
    if not exists:
        log.create()
    return log


def event_documents(store: Storage, event_ids: Sequence[str]
                    ) -> list[tuple[dict[str, Any], list[Any]]]:
    """The EPCIS 2.0 JSON-LD of stored events, in the order asked, each with the ``@context``
    under which it hashes to its id (with ``eventID``; range-stored ``epcList`` restored)."""
    hashes = [id_to_hash(e) for e in event_ids]
    found: dict[bytes, tuple[dict[str, Any], list[Any]]] = {}
    with store.snapshot():
        contexts = store.contexts()
        for lo in range(0, len(hashes), 500):
            part = hashes[lo: lo + 500]
            q = ",".join("?" * len(part))
            rows = store._x(f"SELECT hash, doc, ctx, first_node, n_nodes FROM events "  # type: ignore[attr-defined]  # noqa: S608
                            f"WHERE hash IN ({q})", part).fetchall()
            for h, doc, ctx, first_node, n_nodes in rows:
                d = json.loads(doc)
                if first_node is not None:
                    epcs = [r[0] for r in store._x(  # type: ignore[attr-defined]
                        "SELECT epc FROM nodes WHERE id >= ? AND id < ? ORDER BY id",
                        (int(first_node), int(first_node) + int(n_nodes))).fetchall()]
                    d = _with_list(d, "epcList", epcs)
                eid = hash_to_id(bytes(h))
                if "eventID" not in d:
                    d = {"type": d.get("type"), "eventID": eid, **d}
                ctx_list: list[Any] = ([EPCIS_CONTEXT_URL, dict(DEFAULT_CONTEXT[1])] if ctx is None
                                       else [EPCIS_CONTEXT_URL, contexts[int(ctx)]])
                found[bytes(h)] = (d, ctx_list)
    missing = [e for e, h in zip(event_ids, hashes, strict=True) if h not in found]
    if missing:
        raise RegistryError(f"no event {missing[0]} in this registry")
    return [found[h] for h in hashes]

